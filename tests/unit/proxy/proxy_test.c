/*
 * proxy_test.c - a whole skr-proxy in this process between our client library and a counting
 * test workload (shd_http_server): round trips for GET/POST/PUT/DELETE, empty and 8 MiB bodies,
 * gzip; every malformed request answered 400 (or 413) without calling the workload; workload
 * down (400 ECONNREFUSED) and resetting (504); readiness; the key process killed under a
 * running proxy (503 without calling the workload, health 503, a non-clean stop); key hygiene
 * (non-dumpable, no key bytes and no decrypted data in any log line, even at trace).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "config.h"
#include "envelope.h"
#include "keystore.h"
#include "polaris_client.h"
#include "proxy.h"
#include "runtime.h"
#include "shd/buf.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

static char g_fixtures[1024];
static atomic_uint g_calls;
static struct shd_http_server *g_workload;
static uint16_t g_workload_port;
static int g_log_fd = -1;

/* ---- the test workload ---- */

static shd_result wl_handler(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    (void)ctx;
    atomic_fetch_add(&g_calls, 1u);
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    static const char *const NAMES[] = {"x-test", "x-drop", "upgrade", "host", "content-type"};
    static const char *const ECHO[] = {"X-Echo-Test", "X-Echo-Drop", "X-Echo-Upgrade",
                                       "X-Echo-Host", "X-Echo-Type"};
    for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++) {
        const char *v = shd_http_req_header(req, NAMES[i]);
        SHD_GUARD(shd_http_resp_header(ECHO[i], v != NULL ? v : "-", resp));
    }
    SHD_GUARD(shd_http_resp_header("X-Echo-Method", shd_http_req_method(req), resp));
    SHD_GUARD(shd_http_resp_header("X-Echo-Path", shd_http_req_path(req), resp));
    const char *q = shd_http_req_query(req, "q");
    SHD_GUARD(shd_http_resp_header("X-Echo-Q", q != NULL ? q : "-", resp));
    const char *gz = shd_http_req_query(req, "gzip");
    if (gz != NULL) {
        uLongf cap = compressBound((uLong)len) + 64;
        uint8_t *z = shd_alloc(cap);
        z_stream zs = {0};
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)body;
        zs.avail_in = (uInt)len;
        zs.next_out = z;
        zs.avail_out = (uInt)cap;
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        size_t zl = zs.total_out;
        (void)deflateEnd(&zs);
        SHD_GUARD(shd_http_resp_header("Content-Encoding", "gzip", resp));
        shd_http_resp_body_take(200, "application/octet-stream", z, zl, cap, resp);
        return SHD_OK;
    }
    unsigned status = strcmp(shd_http_req_path(req), "/teapot") == 0 ? 418 : 200;
    return shd_http_resp_body(status, "application/octet-stream", body, len, resp);
}

/* A listener that accepts, reads the request and resets the connection (ECONNRESET). */
static int g_reset_fd = -1;
static uint16_t g_reset_port;

static void *reset_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(g_reset_fd, NULL, NULL);
        if (c < 0) {
            return NULL;
        }
        char buf[4096];
        (void)recv(c, buf, sizeof(buf), 0);
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        (void)close(c);
    }
}

static uint16_t listen_any(int *ret_fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *ret_fd = fd;
    return ntohs(sa.sin_port);
}

/* ---- a key source with the fixed test key (so the log test knows the key's bytes) ---- */

static shd_result fixture_obtain(void *state, struct proxy_key_material *ret)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/test_rsa4096.pem", g_fixtures);
    size_t len = 0;
    uint8_t *pem = shd_test_read_file(path, &len);
    EVP_PKEY *key = NULL;
    shd_result r = shd_crypto_privkey_load(pem, len, &key);
    shd_free(pem);
    SHD_GUARD(r);
    *ret = (struct proxy_key_material){.private_key = key};
    return SHD_OK;
}

static const struct proxy_key_source FIXTURE_SOURCE = {
    .name = "test-fixture",
    .summary = "test",
    .obtain = fixture_obtain,
};

/* ---- proxies ---- */

struct env_row {
    const char *name;
    const char *value;
};

static const struct env_row *g_env;

static const char *table_getenv(const char *name)
{
    for (const struct env_row *r = g_env; r != NULL && r->name != NULL; r++) {
        if (strcmp(r->name, name) == 0) {
            return r->value;
        }
    }
    return NULL;
}

struct proxy {
    struct proxy_config cfg;
    struct proxy_runtime *rt;
    uint16_t port;
    char base[64];
};

/*
 * A proxy on the fixture key. key_process false keeps the key in this process: the proxies that
 * start while other proxies' connection threads live use it, since a child forked then would
 * count those threads' OpenSSL thread-local state as leaked (its threads do not exist there).
 */
static void proxy_up(uint16_t workload_port, bool obtain, bool key_process, struct proxy *p)
{
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/ignored/path", workload_port);
    const struct env_row env[] = {
        {"POLARIS_CONTAINER_WORKLOAD_BASE_URL", url},
        {"POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION", "true"},
        {"POLARIS_CONTAINER_ENABLE_OUTPUT_ENCRYPTION", "true"},
        {NULL, NULL},
    };
    const char *argv[] = {"skr-proxy", "--listen", "127.0.0.1", "--port", "1", "--max-body",
                          "9M"};
    g_env = env;
    EXPECT_OK(proxy_config_parse(7, argv, table_getenv, &p->cfg));
    g_env = NULL;
    p->cfg.port = 0;
    p->cfg.key_source = &FIXTURE_SOURCE;
    p->cfg.key_process = key_process;
    EXPECT_OK(proxy_runtime_start(&p->cfg, NULL, NULL, &p->rt, &p->port));
    if (obtain) {
        EXPECT_OK(proxy_runtime_obtain_key(p->rt));
    }
    (void)snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%u", p->port);
}

static void proxy_down(struct proxy *p)
{
    proxy_runtime_free(p->rt);
    proxy_config_clear(&p->cfg);
}

static struct proxy g_proxy;

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("SHD_SOURCE_DIR");
    (void)snprintf(g_fixtures, sizeof(g_fixtures), "%s/tests/unit/proxy/fixtures",
                   src != NULL ? src : ".");
    /* Every module at trace into a memory file: the hygiene test reads it back. */
    g_log_fd = memfd_create("proxy-test-log", MFD_CLOEXEC);
    assert_true(g_log_fd >= 0);
    shd_log_sink_fd(g_log_fd);
    shd_log_level_set_all(SHD_LOG_LEVEL_TRACE);
    static const struct shd_http_route routes[] = {
        {.method = NULL, .path = "/", .handler = wl_handler, .flags = SHD_HTTP_ROUTE_PREFIX},
    };
    const struct shd_http_server_options o = {.routes = routes, .nroutes = 1,
                                              .max_body_bytes = 32u << 20};
    EXPECT_OK(shd_http_server_create(&o, &g_workload));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, g_workload, &g_workload_port));
    /* The proxy first, as skr-proxy's main does: its key process is forked while this process
     * has one thread. A child forked beside other threads inherits their memory without them
     * (valgrind and LeakSanitizer count it as lost there) and, under ASan, possibly a locked
     * thread registry. The workload is bound already; it serves from here on. */
    proxy_up(g_workload_port, true, true, &g_proxy);
    EXPECT_OK(shd_http_server_start(g_workload));
    g_reset_port = listen_any(&g_reset_fd);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reset_loop, NULL), 0);
    assert_int_equal(pthread_detach(t), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proxy_down(&g_proxy);
    shd_http_server_free(g_workload);
    shd_log_sink_stderr();
    (void)close(g_log_fd);
    return 0;
}

/* ---- helpers ---- */

static struct proxy_client *client_new(const char *base)
{
    const struct proxy_client_options o = {.base_url = base, .key_bits = 2048};
    struct proxy_client *c = NULL;
    EXPECT_OK(proxy_client_create(&o, &c));
    return c;
}

static struct proxy_client_response *send_one(struct proxy_client *c, const char *method,
                                              const char *path, const char *body, size_t n)
{
    const struct proxy_client_header h[] = {{"X-Test", "SECRET-HEADER-VALUE"},
                                            {"Content-Type", "text/plain"}};
    const struct proxy_client_request req = {
        .method = method, .path = path, .headers = h, .nheaders = 2,
        .body = (const uint8_t *)body, .body_len = n,
    };
    struct proxy_client_response *resp = NULL;
    EXPECT_OK(proxy_client_do(c, &req, &resp));
    return resp;
}

/* ---- tests ---- */

static void test_dumpable_off(void **state)
{
    (void)state;
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

static void test_round_trips(void **state)
{
    (void)state;
    struct proxy_client *c = client_new(g_proxy.base);
    static const char *const METHODS[] = {"GET", "POST", "PUT", "DELETE"};
    for (size_t i = 0; i < 4; i++) {
        unsigned before = atomic_load(&g_calls);
        const char *body = i == 0 ? NULL : "SECRET-BODY-MARKER";
        struct proxy_client_response *r =
            send_one(c, METHODS[i], "/SECRET-PATH-MARKER/x?q=42", body, body ? 18 : 0);
        assert_int_equal(proxy_client_response_status(r), 200);
        assert_true(proxy_client_response_decrypted(r));
        size_t n = 0;
        const uint8_t *p = proxy_client_response_body(r, &n);
        assert_int_equal(n, body ? 18u : 0u);
        if (body != NULL) {
            assert_memory_equal(p, body, n);
        }
        assert_string_equal(proxy_client_response_header(r, "X-Echo-Method"), METHODS[i]);
        assert_string_equal(proxy_client_response_header(r, "X-Echo-Path"),
                            "/SECRET-PATH-MARKER/x");
        assert_string_equal(proxy_client_response_header(r, "X-Echo-Q"), "42");
        assert_string_equal(proxy_client_response_header(r, "X-Echo-Test"),
                            "SECRET-HEADER-VALUE");
        /* Host is set by the proxy to the workload (§6.5). */
        char host[32];
        (void)snprintf(host, sizeof(host), "127.0.0.1:%u", g_workload_port);
        assert_string_equal(proxy_client_response_header(r, "X-Echo-Host"), host);
        assert_int_equal(atomic_load(&g_calls), before + 1);
        proxy_client_response_free(r);
    }
    /* Workload errors are passed through, encrypted. */
    struct proxy_client_response *r = send_one(c, "POST", "/teapot", "tea", 3);
    assert_int_equal(proxy_client_response_status(r), 418);
    assert_true(proxy_client_response_decrypted(r));
    proxy_client_response_free(r);
    proxy_client_free(c);
}

static void test_bodies_empty_and_large(void **state)
{
    (void)state;
    struct proxy_client *c = client_new(g_proxy.base);
    struct proxy_client_response *r = send_one(c, "POST", "/empty", "", 0);
    assert_int_equal(proxy_client_response_status(r), 200);
    size_t n = 99;
    (void)proxy_client_response_body(r, &n);
    assert_int_equal(n, 0);
    proxy_client_response_free(r);

    size_t big = (size_t)8 << 20;
    char *b = shd_alloc(big);
    for (size_t i = 0; i < big; i++) {
        b[i] = (char)('a' + (i * 7) % 26);
    }
    r = send_one(c, "PUT", "/big", b, big);
    assert_int_equal(proxy_client_response_status(r), 200);
    const uint8_t *p = proxy_client_response_body(r, &n);
    assert_int_equal(n, big);
    assert_memory_equal(p, b, big);
    proxy_client_response_free(r);
    /* gzip from the workload: gunzipped, sealed, gzipped again; the client undoes it. */
    r = send_one(c, "POST", "/gz?gzip=1", b, 100000);
    assert_int_equal(proxy_client_response_status(r), 200);
    assert_string_equal(proxy_client_response_header(r, "Content-Encoding"), "gzip");
    p = proxy_client_response_body(r, &n);
    assert_int_equal(n, 100000);
    assert_memory_equal(p, b, n);
    proxy_client_response_free(r);
    shd_free(b);
    proxy_client_free(c);
}

/* ---- raw requests for the negative cases ---- */

static EVP_PKEY *proxy_pub(void)
{
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/test_rsa4096.pub.pem", g_fixtures);
    size_t len = 0;
    uint8_t *pem = shd_test_read_file(path, &len);
    EVP_PKEY *k = NULL;
    EXPECT_OK(proxy_envelope_recipient_load((const char *)pem, len, &k));
    shd_free(pem);
    return k;
}

static char *seal_text(const char *s)
{
    EVP_PKEY *k = proxy_pub();
    char *t = NULL;
    size_t n = 0;
    EXPECT_OK(proxy_envelope_seal_b64((const uint8_t *)s, strlen(s), k, 16, &t, &n));
    EVP_PKEY_free(k);
    return t;
}

static char *response_key_b64(void)
{
    EVP_PKEY *k = NULL;
    EXPECT_OK(shd_crypto_rsa_generate(2048, &k));
    char *pem = NULL;
    size_t n = 0;
    EXPECT_OK(shd_crypto_pubkey_export_spki_pem(k, &pem, &n));
    char *b64 = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)pem, n, SHD_B64_STD_PAD, &b64, NULL));
    shd_free(pem);
    EVP_PKEY_free(k);
    return b64;
}

struct raw {
    const char *url_env;   /* NULL: header left out */
    const char *hdr_env;   /* NULL: left out */
    const char *resp_key;  /* NULL: left out */
    const uint8_t *body;
    size_t body_len;
};

/* Sends one raw request; returns the status and (optionally) the body. */
static int raw_send(const struct raw *x, struct shd_http_response **ret)
{
    struct shd_http_header h[3];
    size_t n = 0;
    if (x->url_env != NULL) {
        h[n++] = (struct shd_http_header){"polaris-url", x->url_env};
    }
    if (x->hdr_env != NULL) {
        h[n++] = (struct shd_http_header){"polaris-secure", x->hdr_env};
    }
    if (x->resp_key != NULL) {
        h[n++] = (struct shd_http_header){"polaris-response-public-key", x->resp_key};
    }
    const struct shd_http_client_options o = {.max_response_bytes = 1u << 20};
    struct shd_http_client *c = NULL;
    EXPECT_OK(shd_http_client_create(&o, &c));
    char url[80];
    (void)snprintf(url, sizeof(url), "%s/", g_proxy.base);
    const struct shd_http_request req = {.method = "POST", .url = url, .headers = h,
                                         .nheaders = n, .body = x->body,
                                         .body_len = x->body_len};
    struct shd_http_response *resp = NULL;
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    int status = shd_http_response_status(resp);
    if (ret != NULL) {
        *ret = resp;
    } else {
        shd_http_response_free(resp);
    }
    shd_http_client_free(c);
    return status;
}

static void expect_400(const struct raw *x, const char *text)
{
    unsigned before = atomic_load(&g_calls);
    struct shd_http_response *resp = NULL;
    assert_int_equal(raw_send(x, &resp), 400);
    const char *body = (const char *)shd_http_response_body(resp, NULL);
    assert_true(strncmp(body, PROXY_ERROR_PREFIX, strlen(PROXY_ERROR_PREFIX)) == 0);
    if (text != NULL) {
        assert_string_equal(body + strlen(PROXY_ERROR_PREFIX), text);
    }
    shd_http_response_free(resp);
    assert_int_equal(atomic_load(&g_calls), before);
}

static void test_rejects_without_calling_workload(void **state)
{
    (void)state;
    char *url = seal_text("/ok");
    char *hdr = seal_text("{\"x-test\":\"1\"}");
    char *key = response_key_b64();
    struct raw good = {url, hdr, key, NULL, 0};
    assert_int_equal(raw_send(&good, NULL), 200);

    struct raw x = good;
    x.resp_key = NULL;
    expect_400(&x, "Response public key is required for output encryption");
    x = good;
    x.resp_key = "bm90IGEgcGVt"; /* "not a pem" */
    expect_400(&x, NULL);
    x = good;
    x.url_env = NULL;
    expect_400(&x, NULL);
    x = good;
    x.hdr_env = NULL;
    expect_400(&x, NULL);
    /* Paths with CR/LF, a space, or no leading slash. */
    static const char *const BAD_PATHS[] = {"/a\r\nX-Injected: 1", "/a\nb", "/a b", "a/b", ""};
    for (size_t i = 0; i < sizeof(BAD_PATHS) / sizeof(BAD_PATHS[0]); i++) {
        char *bad = seal_text(BAD_PATHS[i]);
        x = good;
        x.url_env = bad;
        expect_400(&x, NULL);
        shd_free(bad);
    }
    /* Header injection and bad JSON in the decrypted header set. */
    static const char *const BAD_HDRS[] = {"{\"x\":\"a\\r\\nb: c\"}", "{\"bad name\":\"v\"}",
                                           "[]", "{\"x\":{}}", "{\"x\":null}", "{"};
    for (size_t i = 0; i < sizeof(BAD_HDRS) / sizeof(BAD_HDRS[0]); i++) {
        char *bad = seal_text(BAD_HDRS[i]);
        x = good;
        x.hdr_env = bad;
        expect_400(&x, NULL);
        shd_free(bad);
    }
    /* Tampered envelopes: one generic message whatever failed (ciphertext, wrapped key). */
    size_t n = strlen(url);
    uint8_t *env = NULL;
    size_t env_len = 0;
    EXPECT_OK(shd_b64_decode(url, n, SHD_B64_STD, &env, &env_len));
    env[env_len - 1] ^= 0x01;
    char *t = NULL;
    EXPECT_OK(shd_b64_encode(env, env_len, SHD_B64_STD_PAD, &t, NULL));
    x = good;
    x.url_env = t;
    expect_400(&x, PROXY_ENVELOPE_DECRYPT_MSG);
    shd_free(t);
    env[env_len - 1] ^= 0x01;
    env[40] = env[40] == 'A' ? 'B' : 'A'; /* a base64 character of wrappedKey */
    EXPECT_OK(shd_b64_encode(env, env_len, SHD_B64_STD_PAD, &t, NULL));
    x = good;
    x.url_env = t;
    expect_400(&x, PROXY_ENVELOPE_DECRYPT_MSG);
    shd_free(t);
    /* Body: a valid envelope tampered, a truncated one, random bytes. */
    EVP_PKEY *k = proxy_pub();
    uint8_t *benv = NULL;
    size_t blen = 0;
    EXPECT_OK(proxy_envelope_seal((const uint8_t *)"body", 4, k, 12, &benv, &blen));
    EVP_PKEY_free(k);
    x = good;
    x.body = benv;
    x.body_len = blen;
    assert_int_equal(raw_send(&x, NULL), 200);
    benv[blen - 1] ^= 1;
    expect_400(&x, PROXY_ENVELOPE_DECRYPT_MSG);
    x.body_len = 100;
    expect_400(&x, NULL);
    x.body = (const uint8_t *)"\xff\xff\xff\xffjunk";
    x.body_len = 8;
    expect_400(&x, NULL);
    shd_free(benv);
    shd_free(env);
    shd_free(url);
    shd_free(hdr);
    shd_free(key);
}

static void test_oversized_body(void **state)
{
    (void)state;
    size_t big = (size_t)10 << 20; /* over --max-body 9M */
    uint8_t *b = shd_alloc(big);
    char *url = seal_text("/ok");
    char *hdr = seal_text("{}");
    char *key = response_key_b64();
    struct raw x = {url, hdr, key, b, big};
    unsigned before = atomic_load(&g_calls);
    assert_int_equal(raw_send(&x, NULL), 413);
    assert_int_equal(atomic_load(&g_calls), before);
    shd_free(b);
    shd_free(url);
    shd_free(hdr);
    shd_free(key);
}

static void test_hop_by_hop_dropped(void **state)
{
    (void)state;
    char *url = seal_text("/hop");
    char *hdr = seal_text("{\"Connection\":\"x-drop\",\"x-drop\":\"1\",\"Upgrade\":\"h2c\","
                          "\"Host\":\"evil.example\",\"x-test\":[\"a\",\"b\"]}");
    char *key = response_key_b64();
    struct raw x = {url, hdr, key, NULL, 0};
    struct shd_http_response *resp = NULL;
    assert_int_equal(raw_send(&x, &resp), 200);
    assert_string_equal(shd_http_response_header(resp, "X-Echo-Drop"), "-");
    assert_string_equal(shd_http_response_header(resp, "X-Echo-Upgrade"), "-");
    assert_string_equal(shd_http_response_header(resp, "X-Echo-Test"), "a");
    char host[32];
    (void)snprintf(host, sizeof(host), "127.0.0.1:%u", g_workload_port);
    assert_string_equal(shd_http_response_header(resp, "X-Echo-Host"), host);
    shd_http_response_free(resp);
    shd_free(url);
    shd_free(hdr);
    shd_free(key);
}

static void test_system_endpoints_and_readiness(void **state)
{
    (void)state;
    struct proxy p;
    proxy_up(g_workload_port, false, false, &p);
    const struct shd_http_client_options o = {0};
    struct shd_http_client *c = NULL;
    EXPECT_OK(shd_http_client_create(&o, &c));
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/polaris-container/health", p.base);
    const struct shd_http_request req = {.method = "GET", .url = url};
    struct shd_http_response *resp = NULL;
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 503);
    shd_http_response_free(resp);
    EXPECT_OK(proxy_runtime_obtain_key(p.rt));
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal((const char *)shd_http_response_body(resp, NULL), "{\"status\":\"ok\"}");
    shd_http_response_free(resp);
    (void)snprintf(url, sizeof(url), "%s/polaris-container/publicKey", p.base);
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_non_null(strstr((const char *)shd_http_response_body(resp, NULL),
                           "{\"publicKey\":\"-----BEGIN PUBLIC KEY-----\\n"));
    shd_http_response_free(resp);
    (void)snprintf(url, sizeof(url), "%s/polaris-container/logLevel", p.base);
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    assert_string_equal((const char *)shd_http_response_body(resp, NULL),
                        "{\"level\":\"silent\"}");
    shd_http_response_free(resp);
    shd_http_client_free(c);
    proxy_down(&p);
}

static void test_workload_down_and_reset(void **state)
{
    (void)state;
    int fd = -1;
    uint16_t closed = listen_any(&fd);
    (void)close(fd);
    struct proxy p;
    proxy_up(closed, true, false, &p);
    struct proxy_client *c = client_new(p.base);
    struct proxy_client_response *r = send_one(c, "GET", "/x", NULL, 0);
    assert_int_equal(proxy_client_response_status(r), 400);
    assert_false(proxy_client_response_decrypted(r));
    char want[96];
    (void)snprintf(want, sizeof(want), "%sconnect ECONNREFUSED 127.0.0.1:%u", PROXY_ERROR_PREFIX,
                   closed);
    assert_string_equal((const char *)proxy_client_response_body(r, NULL), want);
    proxy_client_response_free(r);
    proxy_client_free(c);
    proxy_down(&p);

    proxy_up(g_reset_port, true, false, &p);
    c = client_new(p.base);
    r = send_one(c, "POST", "/x", "abc", 3);
    assert_int_equal(proxy_client_response_status(r), 504);
    assert_string_equal(proxy_client_response_header(r, PROXY_TIMEOUT_HEADER),
                        PROXY_TIMEOUT_VALUE);
    size_t n = 1;
    (void)proxy_client_response_body(r, &n);
    assert_int_equal(n, 0);
    proxy_client_response_free(r);
    proxy_client_free(c);
    proxy_down(&p);
}

static unsigned health_status(struct shd_http_client *c, const char *base)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/polaris-container/health", base);
    const struct shd_http_request req = {.method = "GET", .url = url};
    struct shd_http_response *resp = NULL;
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    unsigned status = (unsigned)shd_http_response_status(resp);
    shd_http_response_free(resp);
    return status;
}

/* Next to last (it ends the shared proxy's key process): requests that need the key get 503 at
 * once without reaching the workload, health answers 503, and the stop reports the death. */
static void test_key_process_killed(void **state)
{
    (void)state;
    pid_t key_pid = proxy_runtime_key_pid(g_proxy.rt);
    assert_true(key_pid > 0);
    assert_int_not_equal(key_pid, getpid());
    const struct shd_http_client_options o = {0};
    struct shd_http_client *h = NULL;
    EXPECT_OK(shd_http_client_create(&o, &h));
    struct proxy_client *c = client_new(g_proxy.base);
    struct proxy_client_response *r = send_one(c, "POST", "/x", "abc", 3);
    assert_int_equal(proxy_client_response_status(r), 200);
    proxy_client_response_free(r);
    assert_int_equal(health_status(h, g_proxy.base), 200);

    assert_int_equal(kill(key_pid, SIGKILL), 0);
    unsigned before = atomic_load(&g_calls);
    for (int i = 0; i < 2; i++) {
        r = send_one(c, "POST", "/x", "abc", 3);
        assert_int_equal(proxy_client_response_status(r), 503);
        assert_false(proxy_client_response_decrypted(r));
        assert_string_equal((const char *)proxy_client_response_body(r, NULL),
                            PROXY_ERROR_PREFIX "the key is not ready");
        proxy_client_response_free(r);
    }
    assert_int_equal(atomic_load(&g_calls), before);
    assert_int_equal(health_status(h, g_proxy.base), 503);
    /* main() turns this into exit status 1 (the supervisor restarts the proxy). */
    EXPECT_ERR(proxy_runtime_stop(g_proxy.rt), SHD_ERR_INTERNAL);
    proxy_client_free(c);
    shd_http_client_free(h);
}

/* Last: every line logged so far, at trace, with no key bytes and no decrypted data. */
static void test_logs_hold_no_secrets(void **state)
{
    (void)state;
    off_t end = lseek(g_log_fd, 0, SEEK_END);
    assert_true(end > 0);
    char *log = shd_alloc((size_t)end + 1);
    assert_int_equal(pread(g_log_fd, log, (size_t)end, 0), end);
    assert_non_null(strstr(log, "msg=\"request\"")); /* the log did record the requests */
    assert_null(strstr(log, "SECRET-PATH-MARKER"));
    assert_null(strstr(log, "SECRET-HEADER-VALUE"));
    assert_null(strstr(log, "SECRET-BODY-MARKER"));
    assert_null(strstr(log, "X-Injected"));
    /* No line of the private key's PEM, and no hex of its first bytes. */
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/test_rsa4096.pem", g_fixtures);
    size_t len = 0;
    char *pem = (char *)shd_test_read_file(path, &len);
    for (char *line = pem; line < pem + len;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (line[0] != '\0' && strncmp(line, "-----", 5) != 0) {
            assert_null(strstr(log, line));
        }
        line += strlen(line) + 1;
    }
    shd_free(pem);
    shd_free(log);
}

int main(void)
{
    shd_json_allocator_install();
    assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dumpable_off),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_bodies_empty_and_large),
        cmocka_unit_test(test_rejects_without_calling_workload),
        cmocka_unit_test(test_oversized_body),
        cmocka_unit_test(test_hop_by_hop_dropped),
        cmocka_unit_test(test_system_endpoints_and_readiness),
        cmocka_unit_test(test_workload_down_and_reset),
        cmocka_unit_test(test_key_process_killed),
        cmocka_unit_test(test_logs_hold_no_secrets),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
