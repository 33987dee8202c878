/*
 * akv.c - Key Vault / Managed HSM secure key release: POST, JWS validation, payload (akv.h).
 */
#include "akv.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "upstream.h"

void skr_akv_released_clear(struct skr_akv_released *rel)
{
    if (rel == NULL) {
        return;
    }
    shd_free(rel->enc);
    shd_free(rel->kty);
    json_decref(rel->key_ops);
    shd_free(rel->ciphertext);
    *rel = (struct skr_akv_released){0};
}

static bool kid_segment_ok(const char *p, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

shd_result skr_akv_kid_check(const char *kid)
{
    SHD_ENSURE_REF(kid);
    size_t n = strnlen(kid, SKR_AKV_KID_MAX + 1);
    const char *slash = memchr(kid, '/', n);
    size_t first = slash != NULL ? (size_t)(slash - kid) : n;
    bool ok = n <= SKR_AKV_KID_MAX && kid_segment_ok(kid, first) &&
              (slash == NULL || kid_segment_ok(slash + 1, n - first - 1));
    SHD_ENSURE_MSG(ok, SHD_ERR_INPUT, "invalid key identifier \"%.64s\"", kid);
    return SHD_OK;
}

/* ---- trust anchors ---- */

static shd_result roots_parse(const char *pem, size_t len, STACK_OF(X509) * *ret_roots)
{
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *roots = sk_X509_new_null();
    SHD_ENSURE(roots != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(len <= (size_t)INT32_MAX, SHD_ERR_TOO_LARGE);
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = BIO_new_mem_buf(pem, (int)len);
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    /* Like Go's AppendCertsFromPEM: take every certificate block until the first that does not
     * parse; the error queue left by the end of input is not an error. */
    for (;;) {
        X509 *cert = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
        if (cert == NULL) {
            ERR_clear_error();
            break;
        }
        if (sk_X509_num(roots) >= (int)SKR_AKV_ROOTS_MAX || sk_X509_push(roots, cert) <= 0) {
            X509_free(cert);
            SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "more than %u certificates", SKR_AKV_ROOTS_MAX);
        }
    }
    SHD_ENSURE_MSG(sk_X509_num(roots) > 0, SHD_ERR_INPUT, "no certificate found");
    *ret_roots = SHD_TAKE_PTR(roots);
    return SHD_OK;
}

shd_result skr_akv_roots_load(const char *ca_file, STACK_OF(X509) * *ret_roots)
{
    SHD_CLEANUP_FREE uint8_t *pem = NULL;
    size_t len = 0;

    SHD_ENSURE_REF(ret_roots);
    const char *path =
        ca_file != NULL && ca_file[0] != '\0' ? ca_file : X509_get_default_cert_file();
    shd_result r = shd_file_read(path, SKR_AKV_ROOTS_FILE_MAX, 0, &pem, &len);
    if (shd_is_ok(r)) {
        r = roots_parse((const char *)pem, len, ret_roots);
        if (shd_is_err(r)) {
            shd_error_wrap("%s", path);
        }
    }
    if (shd_is_err(r)) {
        shd_error_wrap("could not generate a system cert pool");
    }
    return r;
}

/* ---- JWS ---- */

/* The algorithms the original can verify with an RSA leaf key. */
static bool alg_is_rsa(enum shd_jws_alg alg)
{
    switch (alg) {
    case SHD_JWS_RS256:
    case SHD_JWS_RS384:
    case SHD_JWS_RS512:
    case SHD_JWS_PS256:
    case SHD_JWS_PS384:
    case SHD_JWS_PS512:
        return true;
    default:
        return false;
    }
}

static shd_result verify_failed(shd_result r)
{
    shd_error_wrap("failed to verify message");
    shd_error_wrap("jws token verification failed");
    return r;
}

/* x5c[0] must decode (std base64 DER) and carry an RSA key (§5.4 step 2). */
static shd_result leaf_check(const json_t *header)
{
    const json_t *x5c = json_object_get(header, "x5c");
    const json_t *first = json_is_array(x5c) ? json_array_get(x5c, 0) : NULL;
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;

    if (!json_is_string(first)) {
        /* The original panics on a missing x5c (D7). */
        shd_result r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "no x5c in JWS header");
        shd_error_wrap("parsing certificate X5C[0] failed");
        return r;
    }
    const char *b64 = json_string_value(first);
    shd_result r = shd_b64_decode(b64, json_string_length(first), SHD_B64_STD_PAD, &der, &der_len);
    if (shd_is_err(r)) {
        shd_error_wrap("decoding x509 certificate from string failed: %.64s", b64);
        shd_error_wrap("parsing certificate X5C[0] failed");
        return r;
    }
    r = shd_crypto_x509_load(der, der_len, &cert);
    if (shd_is_err(r)) {
        shd_error_wrap("parsing certificate failed");
        shd_error_wrap("parsing certificate X5C[0] failed");
        return r;
    }
    /* An unusable key (e.g. an EC point off its curve) is a parse failure, as in Go. */
    SHD_GUARD_CTX(shd_crypto_x509_pubkey(cert, &key), "parsing certificate X5C[0] failed");
    if (shd_crypto_key_kind(key) != SHD_CRYPTO_KEY_RSA) {
        r = shd_error_setf(SHD_ERR_BAD_KEY, __FILE__, __LINE__,
                           "x5c[0] does not hold an RSA public key");
        return verify_failed(r);
    }
    return SHD_OK;
}

/* §5.4 steps 1-2 with the original's texts; returns the header's algorithm. */
static shd_result header_check(const char *jws, size_t len, enum shd_jws_alg *ret_alg)
{
    SHD_CLEANUP_FREE uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    SHD_CLEANUP_JSON json_t *header = NULL;
    const char *alg_name = NULL;
    enum shd_jws_alg alg = 0;

    const char *dot1 = memchr(jws, '.', len);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jws)) : NULL;
    bool three = dot2 != NULL && memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - jws)) == NULL;
    SHD_ENSURE_MSG(three, SHD_ERR_INPUT, "jws token validation failed");
    SHD_GUARD_CTX(shd_b64_decode(jws, (size_t)(dot1 - jws), SHD_B64_URL_NOPAD, &hdr, &hdr_len),
                  "decoding header failed");
    SHD_GUARD_CTX(shd_json_parse((const char *)hdr, hdr_len, NULL, &header),
                  "unmarshalling header failed");
    SHD_ENSURE_MSG(json_is_object(header), SHD_ERR_JSON,
                   "unmarshalling header failed: the header is not a JSON object");
    SHD_GUARD(leaf_check(header));
    shd_result r = shd_json_get_string(header, "alg", &alg_name);
    if (shd_is_ok(r)) {
        r = shd_jws_alg_parse(alg_name, &alg);
    }
    if (shd_is_ok(r) && !alg_is_rsa(alg)) {
        r = shd_error_setf(SHD_ERR_UNSUPPORTED, __FILE__, __LINE__, "algorithm %s needs an RSA key",
                           alg_name);
    }
    if (shd_is_err(r)) {
        return verify_failed(r);
    }
    *ret_alg = alg;
    return SHD_OK;
}

static shd_result verify(const char *jws, size_t len, STACK_OF(X509) * roots, const char *host,
                         enum shd_jws_alg alg, struct shd_jws **ret_jws)
{
    struct shd_jws *parsed = NULL;

    shd_result r = shd_jws_parse(jws, len, SKR_AKV_JWS_MAX, &parsed);
    if (shd_is_err(r)) {
        return verify_failed(r);
    }
    r = shd_jws_verify_x5c(roots, host, alg, parsed);
    if (shd_is_err(r)) {
        shd_jws_free(&parsed);
        if (r.err == SHD_ERR_BAD_CERT) {
            shd_error_wrap("x509");
            shd_error_wrap("verification of leaf's certificate chain failed");
            return r;
        }
        if (r.err == SHD_ERR_INPUT) {
            shd_error_wrap("parsing certificate X5C failed");
            return r;
        }
        return verify_failed(r);
    }
    *ret_jws = parsed;
    return SHD_OK;
}

/* ---- payload ---- */

/* An object member as Go would decode it into a struct: absent or null = NULL. */
static shd_result object_opt(const json_t *parent, const char *key, const json_t **ret)
{
    const json_t *v = parent != NULL ? json_object_get(parent, key) : NULL;

    *ret = NULL;
    if (v == NULL || json_is_null(v)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_object(v), SHD_ERR_JSON, "field '%s' is not an object", key);
    *ret = v;
    return SHD_OK;
}

static shd_result string_opt_dup(const json_t *parent, const char *key, char **ret)
{
    const char *s = NULL;

    if (parent != NULL) {
        SHD_GUARD(shd_json_get_string_opt(parent, key, &s));
    }
    char *copy = shd_strdup(s != NULL ? s : "");
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    return SHD_OK;
}

/* key_ops: Go []string - absent/null ok, else an array of strings. */
static shd_result key_ops_get(const json_t *key, json_t **ret)
{
    const json_t *v = key != NULL ? json_object_get(key, "key_ops") : NULL;
    size_t i = 0;
    const json_t *op = NULL;

    *ret = NULL;
    if (v == NULL || json_is_null(v)) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_array(v), SHD_ERR_JSON, "field 'key_ops' is not an array");
    json_array_foreach(v, i, op)
    {
        SHD_ENSURE_MSG(json_is_string(op), SHD_ERR_JSON, "key_ops[%zu] is not a string", i);
    }
    *ret = json_incref((json_t *)(uintptr_t)v);
    return SHD_OK;
}

/* The members of §5.5 that the original reads, plus key_hsm. */
static shd_result payload_fields(const json_t *payload, struct skr_akv_released *rel,
                                 char **ret_key_hsm)
{
    const json_t *request = NULL;
    const json_t *response = NULL;
    const json_t *outer = NULL;
    const json_t *key = NULL;

    SHD_ENSURE_MSG(json_is_object(payload), SHD_ERR_JSON, "the payload is not a JSON object");
    SHD_GUARD(object_opt(payload, "request", &request));
    SHD_GUARD(object_opt(payload, "response", &response));
    SHD_GUARD(object_opt(response, "key", &outer));
    SHD_GUARD(object_opt(outer, "key", &key));
    SHD_GUARD(string_opt_dup(request, "enc", &rel->enc));
    SHD_GUARD(string_opt_dup(key, "kty", &rel->kty));
    SHD_GUARD(key_ops_get(key, &rel->key_ops));
    SHD_GUARD(string_opt_dup(key, "key_hsm", ret_key_hsm));
    return SHD_OK;
}

/* key_hsm = b64url(JSON3 {"ciphertext": b64url, ...}) -> ciphertext bytes. */
static shd_result key_hsm_open(const char *key_hsm, struct skr_akv_released *rel)
{
    SHD_CLEANUP_FREE uint8_t *json = NULL;
    size_t json_len = 0;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *ct = NULL;

    SHD_GUARD_CTX(shd_b64_decode(key_hsm, strlen(key_hsm), SHD_B64_URL_NOPAD, &json, &json_len),
                  "decoding keyHSM failed");
    SHD_GUARD_CTX(shd_json_parse((const char *)json, json_len, NULL, &doc),
                  "unmarshalling keyHSM failed");
    shd_result r = json_is_object(doc) ? shd_json_get_string_opt(doc, "ciphertext", &ct)
                                       : shd_error_setf(SHD_ERR_JSON, __FILE__, __LINE__,
                                                        "keyHSM is not a JSON object");
    if (shd_is_err(r)) {
        shd_error_wrap("unmarshalling keyHSM failed");
        return r;
    }
    ct = ct != NULL ? ct : "";
    SHD_GUARD_CTX(
        shd_b64_decode(ct, strlen(ct), SHD_B64_URL_NOPAD, &rel->ciphertext, &rel->ciphertext_len),
        "decoding keyHSM's ciphertext failed");
    return SHD_OK;
}

static shd_result payload_open(const struct shd_jws *jws, struct skr_akv_released *rel)
{
    const json_t *payload = NULL;
    SHD_CLEANUP_FREE char *key_hsm = NULL;

    shd_result r = shd_jws_payload_json(jws, &payload);
    if (shd_is_ok(r)) {
        r = payload_fields(payload, rel, &key_hsm);
    }
    if (shd_is_err(r)) {
        shd_error_wrap("unmarshalling jws response payload failed");
        return r;
    }
    return key_hsm_open(key_hsm, rel);
}

shd_result skr_akv_jws_open(const char *jws, size_t len, STACK_OF(X509) * roots, const char *host,
                            struct skr_akv_released *ret)
{
    enum shd_jws_alg alg = 0;
    struct shd_jws *verified = NULL;
    struct skr_akv_released rel = {0};

    SHD_ENSURE_REF(jws);
    SHD_ENSURE_REF(roots);
    SHD_ENSURE_REF(host);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(len <= SKR_AKV_JWS_MAX, SHD_ERR_TOO_LARGE, "jws token larger than %zu bytes",
                   SKR_AKV_JWS_MAX);
    SHD_GUARD(header_check(jws, len, &alg));
    SHD_GUARD(verify(jws, len, roots, host, alg, &verified));
    shd_result r = payload_open(verified, &rel);
    shd_jws_free(&verified);
    if (shd_is_err(r)) {
        skr_akv_released_clear(&rel);
        return r;
    }
    *ret = rel;
    return SHD_OK;
}

/* ---- the release request ---- */

static shd_result bearer_header(const char *bearer, struct shd_buf *buf)
{
    SHD_GUARD(shd_buf_append_str("Bearer ", buf));
    SHD_GUARD(shd_buf_append_str(bearer, buf));
    return SHD_OK;
}

static shd_result release_exchange(const struct shd_http_client *client, const char *url,
                                   const char *body, size_t body_len, const char *bearer,
                                   struct shd_http_response **ret_resp)
{
    struct shd_buf auth;
    struct shd_http_header headers[2] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    size_t nheaders = 1;

    shd_buf_init(64 * 1024, SHD_BUF_SECRET, &auth);
    shd_result r = SHD_OK;
    if (bearer != NULL && bearer[0] != '\0') {
        r = bearer_header(bearer, &auth);
        headers[1] = (struct shd_http_header){"Authorization", shd_buf_str(&auth)};
        nheaders = 2;
    }
    if (shd_is_ok(r)) {
        const struct shd_http_request req = {.method = "POST",
                                             .url = url,
                                             .headers = headers,
                                             .nheaders = nheaders,
                                             .body = (const uint8_t *)body,
                                             .body_len = body_len};
        r = skr_upstream_do(client, &req, ret_resp);
    }
    shd_buf_free(&auth);
    return r;
}

shd_result skr_akv_release_post(const struct shd_http_client *client, const char *url,
                                const char *maa_token, const char *bearer, char **ret_jws)
{
    char *body = NULL;
    size_t body_len = 0;
    struct shd_http_response *resp = NULL;

    SHD_ENSURE_REF(client);
    SHD_ENSURE_REF(url);
    SHD_ENSURE_REF(maa_token);
    SHD_ENSURE_REF(ret_jws);
    const struct shd_json_go_field target = {"target", maa_token, strlen(maa_token)};
    SHD_GUARD_CTX(shd_json_go_dump_strings(&target, 1, &body, &body_len),
                  "marshalling release key request failed");
    shd_result r = release_exchange(client, url, body, body_len, bearer, &resp);
    shd_free_wipe(body, body_len + 1);
    SHD_GUARD_CTX(r, "AKV post request failed");
    r = skr_upstream_status_check(resp);
    if (shd_is_err(r)) {
        shd_error_wrap("pulling AKV response body failed");
    } else {
        size_t len = 0;
        const uint8_t *data = shd_http_response_body(resp, &len);
        r = skr_upstream_json_string(data, len, "value", ret_jws);
        if (shd_is_err(r)) {
            shd_error_wrap("unmarshalling http response to releasekey response failed");
        }
    }
    shd_http_response_free(resp);
    return r;
}

shd_result skr_akv_release(const struct shd_http_client *client, STACK_OF(X509) * roots,
                           const char *akv_endpoint, const char *kid, const char *maa_token,
                           const char *bearer, struct skr_akv_released *ret)
{
    size_t host_len = 0;
    char host[SKR_UPSTREAM_ENDPOINT_MAX + 1];
    struct shd_buf url;
    SHD_CLEANUP_FREE char *jws = NULL;

    SHD_ENSURE_REF(akv_endpoint);
    SHD_ENSURE_REF(kid);
    SHD_ENSURE_REF(ret);
    shd_result r = skr_upstream_endpoint_check(akv_endpoint, &host_len);
    if (shd_is_ok(r)) {
        r = skr_akv_kid_check(kid);
    }
    if (shd_is_err(r)) {
        shd_error_wrap("AKV post request failed");
        return r;
    }
    (void)snprintf(host, sizeof(host), "%.*s", (int)host_len, akv_endpoint);
    shd_buf_init(1024, 0, &url);
    r = shd_buf_appendf(&url, "https://%s/keys/%s/release?api-version=%s", akv_endpoint, kid,
                        SKR_AKV_API_VERSION);
    if (shd_is_ok(r)) {
        r = skr_akv_release_post(client, shd_buf_str(&url), maa_token, bearer, &jws);
    }
    shd_buf_free(&url);
    SHD_GUARD(r);
    SHD_GUARD(skr_akv_jws_open(jws, strlen(jws), roots, host, ret));
    return SHD_OK;
}
