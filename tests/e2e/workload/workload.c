/*
 * workload.c - sample-workload: a tiny HTTP service for demos and end-to-end tests of
 * skr-proxy. It echoes what it received as JSON:
 *
 *   {"method":"POST","path":"/x","q":"<query parameter q or null>",
 *    "headers":{"content-type":"...",...},"body":"<body text>","body_len":N,
 *    "body_sha256":"<hex>"}
 *
 * The echoed headers are a fixed list (shd_http_server looks headers up by name). Special paths:
 *   /raw            the request body back verbatim (application/octet-stream)
 *   /status/NNN     the echo with status NNN
 *   ?gzip=1         the answer gzip-compressed with Content-Encoding: gzip
 *
 * Usage: sample-workload [--listen ADDR] [--port N] [--unix-socket PATH] [--max-body BYTES]
 * It prints "listening on PORT" once ready and serves until SIGTERM/SIGINT.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define ECHO_MAX ((size_t)64 * 1024 * 1024)

static const char *const ECHOED[] = {
    "host",       "content-type", "content-length", "accept",  "accept-encoding",
    "authorization", "user-agent", "x-test",        "x-request-id", "connection",
    "keep-alive", "upgrade",      "te",             "transfer-encoding", "polaris-url",
    "polaris-secure", "polaris-response-public-key",
};

static shd_result json_str(struct shd_buf *b, const char *s)
{
    SHD_CLEANUP_FREE char *e = NULL;
    SHD_GUARD(shd_http_json_escape(s, &e));
    return shd_buf_appendf(b, "\"%s\"", e);
}

static shd_result echo_build(const struct shd_http_req *req, struct shd_buf *b)
{
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    uint8_t digest[SHD_CRYPTO_SHA256_LEN];
    char hex[2 * SHD_CRYPTO_SHA256_LEN + 1];

    SHD_GUARD(shd_crypto_sha256(body, len, digest));
    SHD_GUARD(shd_hex_encode_into(digest, sizeof(digest), hex, sizeof(hex)));
    SHD_GUARD(shd_buf_append_str("{\"method\":", b));
    SHD_GUARD(json_str(b, shd_http_req_method(req)));
    SHD_GUARD(shd_buf_append_str(",\"path\":", b));
    SHD_GUARD(json_str(b, shd_http_req_path(req)));
    const char *q = shd_http_req_query(req, "q");
    SHD_GUARD(shd_buf_append_str(",\"q\":", b));
    SHD_GUARD(q != NULL ? json_str(b, q) : shd_buf_append_str("null", b));
    SHD_GUARD(shd_buf_append_str(",\"headers\":{", b));
    bool first = true;
    for (size_t i = 0; i < sizeof(ECHOED) / sizeof(ECHOED[0]); i++) {
        const char *v = shd_http_req_header(req, ECHOED[i]);
        if (v == NULL) {
            continue;
        }
        SHD_GUARD(shd_buf_appendf(b, "%s\"%s\":", first ? "" : ",", ECHOED[i]));
        SHD_GUARD(json_str(b, v));
        first = false;
    }
    SHD_GUARD(shd_buf_append_str("},\"body\":", b));
    SHD_GUARD(json_str(b, (const char *)body));
    SHD_GUARD(shd_buf_appendf(b, ",\"body_len\":%zu,\"body_sha256\":\"%s\"}", len, hex));
    return SHD_OK;
}

static shd_result gzip_take(const uint8_t *in, size_t n, uint8_t **ret, size_t *ret_len)
{
    z_stream zs = {0};
    SHD_ENSURE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
               SHD_ERR_NOMEM);
    uLong bound = deflateBound(&zs, (uLong)n);
    uint8_t *out = shd_alloc(bound);
    if (out == NULL) {
        (void)deflateEnd(&zs);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    *ret_len = zs.total_out;
    (void)deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        shd_free(out);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = out;
    return SHD_OK;
}

static unsigned status_of(const char *path)
{
    static const char prefix[] = "/status/";
    unsigned v = 0;
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
        return 200;
    }
    const char *p = path + sizeof(prefix) - 1;
    for (int i = 0; i < 3; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 200;
        }
        v = v * 10u + (unsigned)(p[i] - '0');
    }
    return v >= 200 && v <= 599 && p[3] == '\0' ? v : 200;
}

static shd_result on_any(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    (void)ctx;
    const char *path = shd_http_req_path(req);
    const char *gz = shd_http_req_query(req, "gzip");
    bool raw = strcmp(path, "/raw") == 0;
    struct shd_buf b;
    shd_buf_init(ECHO_MAX, 0, &b);
    shd_result r = SHD_OK;
    if (raw) {
        size_t len = 0;
        const uint8_t *body = shd_http_req_body(req, &len);
        r = shd_buf_append(body, len, &b);
    } else {
        r = echo_build(req, &b);
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&b, &out, &out_len);
    }
    shd_buf_free(&b);
    SHD_GUARD(r);
    const char *type = raw ? "application/octet-stream" : "application/json";
    if (gz != NULL && strcmp(gz, "1") == 0) {
        uint8_t *z = NULL;
        size_t z_len = 0;
        r = gzip_take(out, out_len, &z, &z_len);
        shd_free(out);
        SHD_GUARD(r);
        SHD_GUARD(shd_http_resp_header("Content-Encoding", "gzip", resp));
        shd_http_resp_body_take(status_of(path), type, z, z_len, z_len, resp);
        return SHD_OK;
    }
    SHD_GUARD(shd_http_resp_header("X-Sample-Workload", "1", resp));
    shd_http_resp_body_take(status_of(path), type, out, out_len, out_len + 1, resp);
    return SHD_OK;
}

static bool parse_u(const char *s, unsigned long max, unsigned long *ret)
{
    unsigned long v = 0;
    if (s == NULL || *s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (unsigned long)(*s - '0')) / 10u) {
            return false;
        }
        v = v * 10u + (unsigned long)(*s - '0');
    }
    *ret = v;
    return true;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1";
    const char *unix_path = NULL;
    unsigned long port = 8000;
    unsigned long max_body = 32ul * 1024 * 1024;

    if (shd_is_err(shd_http_signals_block())) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(argv[i], "--listen") == 0 && v != NULL) {
            listen = v;
        } else if (strcmp(argv[i], "--port") == 0) {
            ok = parse_u(v, 65535, &port);
        } else if (strcmp(argv[i], "--unix-socket") == 0 && v != NULL) {
            unix_path = v;
        } else if (strcmp(argv[i], "--max-body") == 0) {
            ok = parse_u(v, ECHO_MAX, &max_body);
        } else {
            ok = false;
        }
        if (!ok) {
            (void)fprintf(stderr, "usage: %s [--listen ADDR] [--port N] [--unix-socket PATH] "
                                  "[--max-body BYTES]\n", argv[0]);
            return 2;
        }
        i++;
    }
    static const struct shd_http_route routes[] = {
        {.method = NULL, .path = "/", .handler = on_any, .flags = SHD_HTTP_ROUTE_PREFIX},
    };
    const struct shd_http_server_options o = {
        .routes = routes, .nroutes = 1, .max_body_bytes = max_body,
    };
    struct shd_http_server *s = NULL;
    uint16_t bound = 0;
    int rc = 1;
    if (shd_is_err(shd_http_server_create(&o, &s))) {
        goto out;
    }
    if (unix_path != NULL) {
        if (shd_is_err(shd_http_server_listen_unix(unix_path, 0660, NULL, s))) {
            goto out;
        }
    } else if (shd_is_err(shd_http_server_listen_tcp(listen, (uint16_t)port, s, &bound))) {
        goto out;
    }
    if (shd_is_err(shd_http_server_start(s))) {
        goto out;
    }
    (void)printf("listening on %u\n", (unsigned)bound);
    (void)fflush(stdout);
    rc = shd_is_ok(shd_http_server_run_until_signal(s, NULL)) ? 0 : 1;
out:
    if (rc != 0) {
        char msg[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(msg, sizeof(msg));
        (void)fprintf(stderr, "sample-workload: %s\n", msg);
    }
    shd_http_server_free(s);
    return rc;
}
