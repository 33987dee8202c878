/*
 * polaris_client.c - request encryption and response decryption for skr-proxy-client.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "envelope.h"
#include "envelope_gzip.h"
#include "polaris_client.h"

#define HEADER_JSON_MAX ((size_t)256 * 1024)
#define URL_MAX 2048u
#define PUBLIC_KEY_JSON_MAX ((size_t)64 * 1024)

SHD_DEFINE_CLEANUP(struct shd_http_response, shd_http_response_free, http_response_free_p)

struct proxy_client {
    char *base;
    struct shd_http_client *http;
    EVP_PKEY *own_key;   /* our response key (NULL with plain responses) */
    char *own_pem_b64;   /* base64 of its SPKI PEM, the polaris-response-public-key value */
    EVP_PKEY *proxy_key; /* the proxy's public key */
    size_t iv_len;
    size_t max_response;
};

struct proxy_client_response {
    struct shd_http_response *http;
    uint8_t *body; /* decrypted body, or NULL when the raw one is used */
    size_t body_len;
};

static shd_result own_key_create(unsigned bits, struct proxy_client *c)
{
    SHD_CLEANUP_FREE char *pem = NULL;
    size_t pem_len = 0;

    SHD_GUARD_CTX(shd_crypto_rsa_generate(bits, &c->own_key), "response key");
    SHD_GUARD(shd_crypto_pubkey_export_spki_pem(c->own_key, &pem, &pem_len));
    SHD_GUARD(shd_b64_encode((const uint8_t *)pem, pem_len, SHD_B64_STD_PAD, &c->own_pem_b64,
                             NULL));
    return SHD_OK;
}

static shd_result options_check(const struct proxy_client_options *o)
{
    SHD_ENSURE_MSG(o->base_url != NULL && strncmp(o->base_url, "http", 4) == 0, SHD_ERR_CONFIG,
                   "the proxy URL must be http:// or https://");
    SHD_ENSURE_MSG(strlen(o->base_url) < URL_MAX, SHD_ERR_CONFIG, "the proxy URL is too long");
    SHD_ENSURE_MSG(o->key_bits == 0 || o->key_bits == 2048 || o->key_bits == 3072 ||
                       o->key_bits == 4096,
                   SHD_ERR_CONFIG, "key bits must be 2048, 3072 or 4096");
    SHD_ENSURE_MSG(o->iv_len == 0 || o->iv_len == 12 || o->iv_len == 16, SHD_ERR_CONFIG,
                   "the IV length must be 12 or 16");
    return SHD_OK;
}

shd_result proxy_client_create(const struct proxy_client_options *opts,
                               struct proxy_client **ret_client)
{
    SHD_ENSURE(opts != NULL && ret_client != NULL, SHD_ERR_NULL);
    SHD_GUARD(options_check(opts));
    struct proxy_client *c = shd_alloc(sizeof(*c));
    SHD_ENSURE(c != NULL, SHD_ERR_NOMEM);
    c->iv_len = opts->iv_len != 0 ? opts->iv_len : 16u;
    c->max_response = opts->max_response != 0 ? opts->max_response
                                               : PROXY_CLIENT_DEFAULT_MAX_RESPONSE;
    /* The base without trailing slashes: request URLs are base + "/...". */
    size_t n = strlen(opts->base_url);
    while (n > 0 && opts->base_url[n - 1] == '/') {
        n--;
    }
    c->base = shd_strndup(opts->base_url, n);
    shd_result r = c->base != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    if (shd_is_ok(r)) {
        const struct shd_http_client_options ho = {
            .unix_socket_path = opts->unix_socket,
            .timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms
                                                : PROXY_CLIENT_DEFAULT_TIMEOUT_MS,
            .max_response_bytes = c->max_response,
            .user_agent = "skr-proxy-client",
        };
        r = shd_http_client_create(&ho, &c->http);
    }
    if (shd_is_ok(r) && !opts->plain_responses) {
        r = own_key_create(opts->key_bits != 0 ? opts->key_bits : PROXY_CLIENT_DEFAULT_KEY_BITS,
                           c);
    }
    if (shd_is_ok(r) && opts->proxy_key_pem != NULL) {
        r = proxy_envelope_recipient_load(opts->proxy_key_pem, opts->proxy_key_pem_len,
                                          &c->proxy_key);
    }
    if (shd_is_err(r)) {
        proxy_client_free(c);
        return r;
    }
    *ret_client = c;
    return SHD_OK;
}

void proxy_client_free(struct proxy_client *c)
{
    if (c == NULL) {
        return;
    }
    shd_free(c->base);
    shd_http_client_free(c->http);
    EVP_PKEY_free(c->own_key);
    EVP_PKEY_free(c->proxy_key);
    shd_free(c->own_pem_b64);
    shd_free(c);
}

shd_result proxy_client_public_key_fetch(struct proxy_client *c)
{
    SHD_ENSURE_REF(c);
    char url[URL_MAX + 64];
    (void)snprintf(url, sizeof(url), "%s/polaris-container/publicKey", c->base);
    const struct shd_http_request req = {.method = "GET", .url = url};
    SHD_CLEANUP(http_response_free_p) struct shd_http_response *resp = NULL;
    SHD_GUARD_CTX(shd_http_client_do(c->http, &req, &resp, NULL), "fetching the proxy key");
    int status = shd_http_response_status(resp);
    SHD_ENSURE_MSG(status == 200, SHD_ERR_HTTP_STATUS,
                   "fetching the proxy key: http response status %d", status);
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);
    const struct shd_json_limits lim = {.max_bytes = PUBLIC_KEY_JSON_MAX};
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)body, len, &lim, &doc), "proxy key answer");
    const char *pem = NULL;
    SHD_GUARD_CTX(shd_json_get_string(doc, "publicKey", &pem), "proxy key answer");
    EVP_PKEY *key = NULL;
    SHD_GUARD_CTX(proxy_envelope_recipient_load(pem, strlen(pem), &key), "proxy key answer");
    EVP_PKEY_free(c->proxy_key);
    c->proxy_key = key;
    return SHD_OK;
}

/* {"name":"value" | ["v1","v2"], ...}: names compared case-insensitively and merged into an
 * array (a JSON object with duplicate keys would be refused by a strict parser). */
static shd_result headers_json(const struct proxy_client_request *req, struct shd_buf *out)
{
    bool first = true;

    SHD_GUARD(shd_buf_append_str("{", out));
    for (size_t i = 0; i < req->nheaders; i++) {
        bool seen = false;
        size_t count = 0;
        for (size_t j = 0; j < req->nheaders; j++) {
            if (strcasecmp(req->headers[i].name, req->headers[j].name) == 0) {
                seen = seen || j < i;
                count++;
            }
        }
        if (seen) {
            continue;
        }
        SHD_CLEANUP_FREE char *qname = NULL;
        size_t qname_len = 0;
        SHD_GUARD(shd_json_go_quote(req->headers[i].name, strlen(req->headers[i].name), &qname,
                                    &qname_len));
        SHD_GUARD(shd_buf_appendf(out, "%s%s:%s", first ? "" : ",", qname, count > 1 ? "[" : ""));
        first = false;
        bool first_value = true;
        for (size_t j = i; j < req->nheaders; j++) {
            if (strcasecmp(req->headers[i].name, req->headers[j].name) != 0) {
                continue;
            }
            char *qv = NULL;
            size_t qv_len = 0;
            SHD_GUARD(shd_json_go_quote(req->headers[j].value, strlen(req->headers[j].value),
                                        &qv, &qv_len));
            shd_result r = shd_buf_appendf(out, "%s%s", first_value ? "" : ",", qv);
            shd_free_wipe(qv, qv_len + 1);
            SHD_GUARD(r);
            first_value = false;
        }
        SHD_GUARD(shd_buf_append_str(count > 1 ? "]" : "", out));
    }
    return shd_buf_append_str("}", out);
}

struct sealed_request {
    char *url_env;
    char *hdr_env;
    uint8_t *body_env;
    size_t body_env_len;
};

static void sealed_clear(struct sealed_request *s)
{
    shd_free(s->url_env);
    shd_free(s->hdr_env);
    shd_free(s->body_env);
    *s = (struct sealed_request){0};
}

static shd_result request_seal(const struct proxy_client *c, const struct proxy_client_request *req,
                               struct sealed_request *s)
{
    SHD_GUARD(proxy_envelope_seal_b64((const uint8_t *)req->path, strlen(req->path), c->proxy_key,
                                      c->iv_len, &s->url_env, NULL));
    struct shd_buf json;
    shd_buf_init(HEADER_JSON_MAX, SHD_BUF_SECRET, &json);
    shd_result r = headers_json(req, &json);
    if (shd_is_ok(r)) {
        r = proxy_envelope_seal_b64(shd_buf_ptr(&json), shd_buf_len(&json), c->proxy_key,
                                    c->iv_len, &s->hdr_env, NULL);
    }
    shd_buf_free(&json);
    SHD_GUARD(r);
    if (req->body != NULL && req->body_len > 0) {
        SHD_GUARD(proxy_envelope_seal(req->body, req->body_len, c->proxy_key, c->iv_len,
                                      &s->body_env, &s->body_env_len));
    }
    return SHD_OK;
}

static shd_result client_unwrap(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                size_t *ret_len)
{
    return shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA256, in, n, (EVP_PKEY *)ctx, out, cap,
                                       ret_len);
}

/* gunzip (when gzip), base64, envelope: the reverse of the proxy's response sealing. */
static shd_result response_open(const struct proxy_client *c, struct proxy_client_response *r)
{
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(r->http, &len);
    const char *ce = shd_http_response_header(r->http, "content-encoding");
    SHD_CLEANUP_FREE uint8_t *inflated = NULL;
    size_t inflated_len = 0;

    if (ce != NULL && strcasecmp(ce, "gzip") == 0 && len > 0) {
        SHD_GUARD(proxy_gzip_inflate(body, len, c->max_response, &inflated, &inflated_len));
        body = inflated;
        len = inflated_len;
    }
    return proxy_envelope_open_b64((const char *)body, len, c->max_response, client_unwrap,
                                   c->own_key, &r->body, &r->body_len);
}

shd_result proxy_client_do(struct proxy_client *c, const struct proxy_client_request *req,
                           struct proxy_client_response **ret_resp)
{
    SHD_ENSURE(c != NULL && req != NULL && ret_resp != NULL, SHD_ERR_NULL);
    SHD_ENSURE(req->method != NULL && req->path != NULL, SHD_ERR_NULL);
    SHD_ENSURE(req->nheaders == 0 || req->headers != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(req->path[0] == '/', SHD_ERR_USAGE, "the path must start with '/'");
    if (c->proxy_key == NULL) {
        SHD_GUARD(proxy_client_public_key_fetch(c));
    }
    struct sealed_request s = {0};
    shd_result r = request_seal(c, req, &s);
    if (shd_is_err(r)) {
        sealed_clear(&s);
        return r;
    }
    struct shd_http_header hdrs[4];
    size_t n = 0;
    hdrs[n++] = (struct shd_http_header){"polaris-url", s.url_env};
    hdrs[n++] = (struct shd_http_header){"polaris-secure", s.hdr_env};
    if (c->own_pem_b64 != NULL) {
        hdrs[n++] = (struct shd_http_header){"polaris-response-public-key", c->own_pem_b64};
    }
    if (s.body_env != NULL) {
        hdrs[n++] = (struct shd_http_header){"Content-Type", "application/octet-stream"};
    }
    char url[URL_MAX + 8];
    (void)snprintf(url, sizeof(url), "%s/", c->base);
    const struct shd_http_request hreq = {
        .method = req->method,
        .url = url,
        .headers = hdrs,
        .nheaders = n,
        .body = s.body_env,
        .body_len = s.body_env_len,
    };
    struct proxy_client_response *resp = shd_alloc(sizeof(*resp));
    r = resp != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    if (shd_is_ok(r)) {
        r = shd_http_client_do(c->http, &hreq, &resp->http, NULL);
    }
    sealed_clear(&s);
    if (shd_is_ok(r) && c->own_key != NULL) {
        int status = shd_http_response_status(resp->http);
        shd_result d = response_open(c, resp);
        /* The proxy's own errors (and 204/304) are not envelopes: keep them as received. */
        if (shd_is_err(d) && status >= 200 && status < 300 && status != 204) {
            r = d;
        } else if (shd_is_err(d)) {
            shd_error_clear();
        }
    }
    if (shd_is_err(r)) {
        proxy_client_response_free(resp);
        return r;
    }
    *ret_resp = resp;
    return SHD_OK;
}

unsigned proxy_client_response_status(const struct proxy_client_response *resp)
{
    return resp != NULL ? (unsigned)shd_http_response_status(resp->http) : 0u;
}

const uint8_t *proxy_client_response_body(const struct proxy_client_response *resp,
                                          size_t *ret_len)
{
    if (resp->body != NULL) {
        if (ret_len != NULL) {
            *ret_len = resp->body_len;
        }
        return resp->body;
    }
    return shd_http_response_body(resp->http, ret_len);
}

bool proxy_client_response_decrypted(const struct proxy_client_response *resp)
{
    return resp != NULL && resp->body != NULL;
}

const char *proxy_client_response_header(const struct proxy_client_response *resp,
                                         const char *name)
{
    return resp != NULL ? shd_http_response_header(resp->http, name) : NULL;
}

void proxy_client_response_free(struct proxy_client_response *resp)
{
    if (resp == NULL) {
        return;
    }
    shd_http_response_free(resp->http);
    shd_free_wipe(resp->body, resp->body != NULL ? resp->body_len + 1 : 0);
    shd_free(resp);
}
