/*
 * unwrap.c - the unwrap step of the request path (polaris-protocol.md §1.3 polarisUnwrap).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "envelope.h"
#include "headers.h"
#include "keystore.h"
#include "unwrap.h"

/* The client's PEM public key, base64 in a header: SPKI of RSA-8192 is well under this. */
#define RESPONSE_KEY_MAX ((size_t)16 * 1024)

void proxy_inner_clear(struct proxy_inner *inner)
{
    if (inner == NULL) {
        return;
    }
    shd_free_wipe(inner->target, inner->target != NULL ? inner->target_len + 1 : 0);
    proxy_headers_clear(&inner->headers);
    shd_free_wipe(inner->owned_body, inner->owned_body != NULL ? inner->owned_len + 1 : 0);
    EVP_PKEY_free(inner->response_key);
    *inner = (struct proxy_inner){0};
}

shd_result proxy_target_check(const char *t, size_t n)
{
    SHD_ENSURE(t != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(n > 0 && t[0] == '/', SHD_ERR_INPUT, "the request path must start with '/'");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        SHD_ENSURE_MSG(c > 0x20 && c < 0x7f, SHD_ERR_INPUT,
                       "the request path contains a forbidden character at offset %zu", i);
    }
    return SHD_OK;
}

/* One JSON value as header text: strings as is, integers in decimal, booleans as words. */
static shd_result value_text(const json_t *v, char *num, size_t num_cap, const char **ret,
                             size_t *ret_len)
{
    if (json_is_string(v)) {
        *ret = json_string_value(v);
        *ret_len = json_string_length(v);
        return SHD_OK;
    }
    if (json_is_integer(v)) {
        int len = snprintf(num, num_cap, "%" PRId64, (int64_t)json_integer_value(v));
        SHD_ENSURE(len > 0 && (size_t)len < num_cap, SHD_ERR_INTERNAL);
        *ret = num;
        *ret_len = (size_t)len;
        return SHD_OK;
    }
    if (json_is_boolean(v)) {
        *ret = json_is_true(v) ? "true" : "false";
        *ret_len = strlen(*ret);
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "a header value is not a string, integer or boolean");
}

static shd_result field_add(const char *name, const json_t *v, struct proxy_headers *h)
{
    char num[32];
    const char *text = NULL;
    size_t len = 0;

    if (json_is_array(v)) {
        size_t i = 0;
        const json_t *item = NULL;
        json_array_foreach(v, i, item)
        {
            SHD_GUARD(value_text(item, num, sizeof(num), &text, &len));
            SHD_GUARD(proxy_headers_add(name, strlen(name), text, len, h));
        }
        return SHD_OK;
    }
    SHD_GUARD(value_text(v, num, sizeof(num), &text, &len));
    return proxy_headers_add(name, strlen(name), text, len, h);
}

shd_result proxy_headers_from_json(const uint8_t *json, size_t n, size_t max_bytes,
                                   struct proxy_headers *ret)
{
    const struct shd_json_limits lim = {.max_bytes = max_bytes, .max_depth = 2};
    SHD_CLEANUP_JSON json_t *obj = NULL;
    struct proxy_headers all;

    SHD_ENSURE(json != NULL && ret != NULL, SHD_ERR_NULL);
    SHD_GUARD_CTX(shd_json_parse((const char *)json, n, &lim, &obj), "decrypted headers");
    SHD_ENSURE_MSG(json_is_object(obj), SHD_ERR_INPUT, "decrypted headers: not a JSON object");
    proxy_headers_init(PROXY_HEADERS_MAX_COUNT, max_bytes, &all);
    const char *key = NULL;
    json_t *v = NULL;
    shd_result r = SHD_OK;
    json_object_foreach(obj, key, v)
    {
        r = field_add(key, v, &all);
        if (shd_is_err(r)) {
            break;
        }
    }
    const char *connection = proxy_headers_get(&all, "connection");
    for (size_t i = 0; shd_is_ok(r) && i < all.n; i++) {
        if (!proxy_header_is_hop(all.v[i].name, connection)) {
            r = proxy_headers_add(all.v[i].name, strlen(all.v[i].name), all.v[i].value,
                                  strlen(all.v[i].value), ret);
        }
    }
    proxy_headers_clear(&all);
    if (shd_is_err(r)) {
        shd_error_wrap("decrypted headers");
    }
    return r;
}

static shd_result response_key_load(const struct proxy_config *cfg,
                                    const struct proxy_headers *h, EVP_PKEY **ret)
{
    const char *v = proxy_headers_get(h, cfg->response_key_header);
    SHD_ENSURE_MSG(v != NULL, SHD_ERR_INPUT, PROXY_MSG_RESPONSE_KEY);
    size_t n = strlen(v);
    SHD_ENSURE_MSG(n <= RESPONSE_KEY_MAX, SHD_ERR_TOO_LARGE, "response public key too large");
    SHD_CLEANUP_FREE uint8_t *pem = NULL;
    size_t pem_len = 0;
    SHD_GUARD_CTX(shd_b64_decode(v, n, SHD_B64_STD | SHD_B64_LENIENT, &pem, &pem_len),
                  "response public key");
    SHD_GUARD_CTX(proxy_envelope_recipient_load((const char *)pem, pem_len, ret),
                  "response public key");
    return SHD_OK;
}

/* A header carrying a base64 envelope, opened with the keystore. */
static shd_result header_open(const struct proxy_headers *h, const char *name, size_t max_plain,
                              struct proxy_keystore *ks, uint8_t **ret, size_t *ret_len)
{
    const char *v = proxy_headers_get(h, name);
    SHD_ENSURE_MSG(v != NULL, SHD_ERR_INPUT, "missing header %s", name);
    SHD_GUARD_CTX(proxy_envelope_open_b64(v, strlen(v), max_plain, proxy_keystore_unwrap, ks,
                                          ret, ret_len),
                  "header %s", name);
    return SHD_OK;
}

static shd_result inner_encrypted(const struct proxy_config *cfg, struct proxy_keystore *ks,
                                  const struct proxy_request *req, struct proxy_inner *in)
{
    uint8_t *url = NULL;
    size_t url_len = 0;
    SHD_GUARD(header_open(&req->headers, cfg->url_header, cfg->max_header, ks, &url, &url_len));
    in->target = (char *)url;
    in->target_len = url_len;
    SHD_GUARD(proxy_target_check(in->target, in->target_len));

    uint8_t *hdrs = NULL;
    size_t hdrs_len = 0;
    SHD_GUARD(header_open(&req->headers, cfg->secure_header, cfg->max_header, ks, &hdrs,
                          &hdrs_len));
    shd_result r = proxy_headers_from_json(hdrs, hdrs_len, cfg->max_header, &in->headers);
    shd_free_wipe(hdrs, hdrs_len + 1);
    SHD_GUARD(r);

    if (req->body_len > 0) {
        SHD_GUARD_CTX(proxy_envelope_open(req->body, req->body_len, cfg->max_body,
                                          proxy_keystore_unwrap, ks, &in->owned_body,
                                          &in->owned_len),
                      "body");
        in->body = in->owned_body;
        in->body_len = in->owned_len;
    }
    return SHD_OK;
}

static shd_result inner_plain(const struct proxy_request *req, struct proxy_inner *in)
{
    in->target_len = strlen(req->target);
    SHD_GUARD(proxy_target_check(req->target, in->target_len));
    in->target = shd_strndup(req->target, in->target_len);
    SHD_ENSURE(in->target != NULL, SHD_ERR_NOMEM);
    const char *connection = proxy_headers_get(&req->headers, "connection");
    for (size_t i = 0; i < req->headers.n; i++) {
        const struct proxy_header *f = &req->headers.v[i];
        if (!proxy_header_is_hop(f->name, connection)) {
            SHD_GUARD(proxy_headers_add(f->name, strlen(f->name), f->value, strlen(f->value),
                                        &in->headers));
        }
    }
    if (req->body_len > 0) {
        in->body = req->body;
        in->body_len = req->body_len;
    }
    return SHD_OK;
}

shd_result proxy_inner_build(const struct proxy_config *cfg, struct proxy_keystore *ks,
                             const struct proxy_request *req, struct proxy_inner *ret)
{
    SHD_ENSURE(cfg != NULL && req != NULL && ret != NULL, SHD_ERR_NULL);
    struct proxy_inner in = {0};
    proxy_headers_init(PROXY_HEADERS_MAX_COUNT, cfg->max_header, &in.headers);
    shd_result r = SHD_OK;
    /* Polaris checks the response key first (§1.3 step 1). */
    if (cfg->output_encryption) {
        r = response_key_load(cfg, &req->headers, &in.response_key);
    }
    if (shd_is_ok(r)) {
        r = cfg->input_encryption ? inner_encrypted(cfg, ks, req, &in) : inner_plain(req, &in);
    }
    if (shd_is_err(r)) {
        proxy_inner_clear(&in);
        return r;
    }
    *ret = in;
    return SHD_OK;
}
