/*
 * kms.c - Cloud KMS REST: publicKey (cached), asymmetricDecrypt, decrypt, encrypt, all with
 * CRC32C both ways (gcp-identity.md 6).
 */
#include "kms.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "gapi.h"
#include "shd/buf.h"
#include "shd/codec.h"
#include "shd/crc32c.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"
#include "wif.h"

#define KMS_URL_MAX ((size_t)8192)
#define KMS_PEM_MAX ((size_t)16 * 1024)
#define KMS_ALG_MAX 64u

struct pubkey_entry {
    char *version;
    char *pem;
    char *alg;
};

struct wif_kms {
    const struct shd_http_client *http;
    char *base_url;
    pthread_mutex_t mu;
    struct pubkey_entry cache[WIF_KMS_PUBKEY_CACHE];
    size_t ncache;
};

shd_result wif_kms_new(const struct shd_http_client *http, const char *base_url,
                       struct wif_kms **ret)
{
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(base_url);
    SHD_ENSURE_REF(ret);
    struct wif_kms *k = shd_alloc(sizeof(*k));
    SHD_ENSURE(k != NULL, SHD_ERR_NOMEM);
    k->http = http;
    k->base_url = shd_strdup(base_url);
    if (k->base_url == NULL || pthread_mutex_init(&k->mu, NULL) != 0) {
        shd_free(k->base_url);
        shd_free(k);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    *ret = k;
    return SHD_OK;
}

void wif_kms_free(struct wif_kms **k)
{
    if (k == NULL || *k == NULL) {
        return;
    }
    struct wif_kms *p = *k;
    for (size_t i = 0; i < p->ncache; i++) {
        shd_free(p->cache[i].version);
        shd_free(p->cache[i].pem);
        shd_free(p->cache[i].alg);
    }
    (void)pthread_mutex_destroy(&p->mu);
    shd_free(p->base_url);
    shd_free(p);
    *k = NULL;
}

/* One KMS call: method on <base>/v1/<name><suffix> with the bearer token and a JSON body. */
static shd_result kms_call(const struct wif_kms *k, const char *method, const char *name,
                           const char *suffix, const struct shd_buf *body, const char *access_token,
                           json_t **ret_doc)
{
    char *bearer = NULL;
    size_t bearer_len = 0;
    SHD_GUARD(wif_gapi_bearer(access_token, &bearer, &bearer_len));
    struct shd_buf url;
    shd_buf_init(KMS_URL_MAX, 0, &url);
    shd_result r = shd_buf_appendf(&url, "%s/v1/%s%s", k->base_url, name, suffix);
    if (shd_is_ok(r)) {
        const struct shd_http_header headers[] = {
            {"Authorization", bearer},
            {"Content-Type", "application/json"},
        };
        const struct shd_http_request req = {
            .method = method,
            .url = shd_buf_str(&url),
            .headers = headers,
            .nheaders = body != NULL ? 2 : 1,
            .body = body != NULL ? shd_buf_ptr(body) : NULL,
            .body_len = body != NULL ? shd_buf_len(body) : 0,
        };
        r = wif_gapi_call(k->http, &req, ret_doc);
    }
    shd_free_wipe(bearer, bearer_len + 1);
    shd_buf_free(&url);
    return r;
}

/* Appends "key":"<b64 of data>","keyCrc32c":"<crc>" to a JSON object under construction. */
static shd_result append_bytes_crc(struct shd_buf *b, const char *key, const uint8_t *data,
                                   size_t len)
{
    char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD(shd_b64_encode(data, len, SHD_B64_STD_PAD, &b64, &b64_len));
    char crc[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c(data, len), crc);
    shd_result r = shd_buf_appendf(b, "\"%s\":\"", key);
    if (shd_is_ok(r)) {
        r = shd_buf_append(b64, b64_len, b);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_appendf(b, "\",\"%sCrc32c\":\"%s\"", key, crc);
    }
    shd_free_wipe(b64, b64_len + 1);
    return r;
}

/* A CRC member the response must carry (Cloud KMS always sets the *Crc32c of returned data). */
static shd_result crc_required(const json_t *doc, const char *key, uint32_t *ret_crc)
{
    bool present = false;
    SHD_GUARD(shd_crc32c_json_get(doc, key, &present, ret_crc));
    SHD_ENSURE_MSG(present, SHD_ERR_INPUT, "missing field '%s'", key);
    return SHD_OK;
}

static shd_result require_true(const json_t *doc, const char *key)
{
    bool v = false;
    shd_result r = shd_json_get_bool(doc, key, &v);
    SHD_ENSURE_MSG(shd_is_ok(r) && v, SHD_ERR_INPUT,
                   "KMS did not confirm the request checksum (%s)", key);
    return SHD_OK;
}

/* Decodes doc[key] (standard base64) into a secret and checks doc[key + "Crc32c"]. */
static shd_result take_plaintext(const json_t *doc, struct shd_secret **ret)
{
    const char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD(shd_json_get_stringn(doc, "plaintext", &b64, &b64_len));
    uint32_t want = 0;
    SHD_GUARD(crc_required(doc, "plaintextCrc32c", &want));
    struct shd_secret *s = NULL;
    SHD_GUARD(shd_secret_alloc(shd_b64_decoded_max(b64_len), &s));
    size_t len = 0;
    shd_result r = shd_b64_decode_into(b64, b64_len, SHD_B64_STD_PAD, shd_secret_ptr(s),
                                       shd_secret_len(s), &len);
    if (shd_is_ok(r)) {
        r = shd_secret_shrink(s, len);
    }
    if (shd_is_ok(r) && shd_crc32c(shd_secret_data(s), len) != want) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "plaintext checksum mismatch");
    }
    if (shd_is_err(r)) {
        shd_secret_free(&s);
        return r;
    }
    *ret = s;
    return SHD_OK;
}

static shd_result decrypt_common(const char *name, bool version, const char *verb,
                                 const uint8_t *ct, size_t ct_len, const char *access_token,
                                 struct wif_kms *k, struct shd_secret **ret_plain)
{
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(access_token);
    SHD_ENSURE_REF(k);
    SHD_ENSURE_REF(ret_plain);
    SHD_ENSURE(ct != NULL || ct_len == 0, SHD_ERR_NULL);
    SHD_GUARD_CTX(wif_gapi_kms_name_check(name, version), "KMS");
    SHD_ENSURE_MSG(ct_len > 0 && ct_len <= WIF_KMS_CIPHERTEXT_MAX, SHD_ERR_INPUT,
                   "KMS: ciphertext is empty or larger than %zu bytes", WIF_KMS_CIPHERTEXT_MAX);
    struct shd_buf body;
    shd_buf_init(2 * WIF_KMS_CIPHERTEXT_MAX, 0, &body);
    shd_result r = shd_buf_append("{", 1, &body);
    if (shd_is_ok(r)) {
        r = append_bytes_crc(&body, "ciphertext", ct, ct_len);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_append("}", 1, &body);
    }
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        r = kms_call(k, "POST", name, verb, &body, access_token, &doc);
    }
    shd_buf_free(&body);
    if (shd_is_ok(r) && version) {
        r = require_true(doc, "verifiedCiphertextCrc32c");
    }
    struct shd_secret *plain = NULL;
    if (shd_is_ok(r)) {
        r = take_plaintext(doc, &plain);
    }
    json_decref(doc);
    if (shd_is_err(r)) {
        shd_error_wrap("KMS %s %s", verb + 1, name);
        return r;
    }
    *ret_plain = plain;
    return SHD_OK;
}

shd_result wif_kms_asymmetric_decrypt(const char *version, const uint8_t *ct, size_t ct_len,
                                      const char *access_token, struct wif_kms *k,
                                      struct shd_secret **ret_plain)
{
    return decrypt_common(version, true, ":asymmetricDecrypt", ct, ct_len, access_token, k,
                          ret_plain);
}

shd_result wif_kms_decrypt(const char *key, const uint8_t *ct, size_t ct_len,
                           const char *access_token, struct wif_kms *k,
                           struct shd_secret **ret_plain)
{
    return decrypt_common(key, false, ":decrypt", ct, ct_len, access_token, k, ret_plain);
}

static shd_result encrypt_parse(const json_t *doc, uint8_t **ret_ct, size_t *ret_len)
{
    SHD_GUARD(require_true(doc, "verifiedPlaintextCrc32c"));
    const char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD(shd_json_get_stringn(doc, "ciphertext", &b64, &b64_len));
    uint32_t want = 0;
    SHD_GUARD(crc_required(doc, "ciphertextCrc32c", &want));
    uint8_t *ct = NULL;
    size_t len = 0;
    SHD_GUARD(shd_b64_decode(b64, b64_len, SHD_B64_STD_PAD, &ct, &len));
    if (shd_crc32c(ct, len) != want) {
        shd_free(ct);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "ciphertext checksum mismatch");
    }
    *ret_ct = ct;
    *ret_len = len;
    return SHD_OK;
}

shd_result wif_kms_encrypt(const char *key, const uint8_t *pt, size_t pt_len,
                           const char *access_token, struct wif_kms *k, uint8_t **ret_ct,
                           size_t *ret_len)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(access_token);
    SHD_ENSURE_REF(k);
    SHD_ENSURE_REF(ret_ct);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE(pt != NULL || pt_len == 0, SHD_ERR_NULL);
    SHD_GUARD_CTX(wif_gapi_kms_name_check(key, false), "KMS");
    SHD_ENSURE_MSG(pt_len > 0 && pt_len <= WIF_KMS_PLAINTEXT_MAX, SHD_ERR_INPUT,
                   "KMS: plaintext is empty or larger than %zu bytes", WIF_KMS_PLAINTEXT_MAX);
    /* The request carries the key in base64: a secret buffer, wiped as it grows and when freed. */
    struct shd_buf body;
    shd_buf_init(2 * WIF_KMS_PLAINTEXT_MAX, SHD_BUF_SECRET, &body);
    shd_result r = shd_buf_append("{", 1, &body);
    if (shd_is_ok(r)) {
        r = append_bytes_crc(&body, "plaintext", pt, pt_len);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_append("}", 1, &body);
    }
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        r = kms_call(k, "POST", key, ":encrypt", &body, access_token, &doc);
    }
    shd_buf_free(&body);
    if (shd_is_ok(r)) {
        r = encrypt_parse(doc, ret_ct, ret_len);
    }
    json_decref(doc);
    if (shd_is_err(r)) {
        shd_error_wrap("KMS encrypt %s", key);
    }
    return r;
}

/* ---- public keys ---- */

static shd_result cache_lookup(struct wif_kms *k, const char *version, char **ret_pem,
                               char **ret_alg, bool *ret_hit)
{
    *ret_hit = false;
    shd_result r = SHD_OK;
    (void)pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < k->ncache; i++) {
        if (strcmp(k->cache[i].version, version) == 0) {
            *ret_pem = shd_strdup(k->cache[i].pem);
            *ret_alg = shd_strdup(k->cache[i].alg);
            if (*ret_pem == NULL || *ret_alg == NULL) {
                shd_free(*ret_pem);
                shd_free(*ret_alg);
                r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
            } else {
                *ret_hit = true;
            }
            break;
        }
    }
    (void)pthread_mutex_unlock(&k->mu);
    return r;
}

static void cache_store(struct wif_kms *k, const char *version, const char *pem, const char *alg)
{
    (void)pthread_mutex_lock(&k->mu);
    bool present = false;
    for (size_t i = 0; i < k->ncache; i++) {
        present = present || strcmp(k->cache[i].version, version) == 0;
    }
    if (!present && k->ncache < WIF_KMS_PUBKEY_CACHE) {
        struct pubkey_entry e = {shd_strdup(version), shd_strdup(pem), shd_strdup(alg)};
        if (e.version != NULL && e.pem != NULL && e.alg != NULL) {
            k->cache[k->ncache++] = e;
        } else {
            /* Out of memory only costs the cache entry. */
            shd_free(e.version);
            shd_free(e.pem);
            shd_free(e.alg);
        }
    }
    (void)pthread_mutex_unlock(&k->mu);
}

static shd_result pubkey_parse(const json_t *doc, char **ret_pem, char **ret_alg)
{
    const char *pem = NULL;
    size_t pem_len = 0;
    SHD_GUARD(shd_json_get_stringn(doc, "pem", &pem, &pem_len));
    SHD_ENSURE_MSG(pem_len > 0 && pem_len <= KMS_PEM_MAX && strlen(pem) == pem_len &&
                       strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0,
                   SHD_ERR_INPUT, "pem is not a PEM public key");
    bool crc_present = false;
    uint32_t want = 0;
    SHD_GUARD(shd_crc32c_json_get(doc, "pemCrc32c", &crc_present, &want));
    SHD_ENSURE_MSG(!crc_present || shd_crc32c((const uint8_t *)pem, pem_len) == want, SHD_ERR_INPUT,
                   "pem checksum mismatch");
    const json_t *alg = json_object_get(doc, "algorithm");
    char num[24];
    const char *alg_s = NULL;
    if (json_is_string(alg)) {
        alg_s = json_string_value(alg);
    } else if (json_is_integer(alg)) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(alg));
        alg_s = num;
    }
    SHD_ENSURE_MSG(alg_s != NULL && strlen(alg_s) <= KMS_ALG_MAX, SHD_ERR_INPUT,
                   "missing or bad field 'algorithm'");
    char *p = shd_strndup(pem, pem_len);
    char *a = shd_strdup(alg_s);
    if (p == NULL || a == NULL) {
        shd_free(p);
        shd_free(a);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    *ret_pem = p;
    *ret_alg = a;
    return SHD_OK;
}

shd_result wif_kms_public_key(const char *version, const char *access_token, struct wif_kms *k,
                              char **ret_pem, char **ret_alg)
{
    SHD_ENSURE_REF(version);
    SHD_ENSURE_REF(access_token);
    SHD_ENSURE_REF(k);
    SHD_ENSURE_REF(ret_pem);
    SHD_ENSURE_REF(ret_alg);
    SHD_GUARD_CTX(wif_gapi_kms_name_check(version, true), "KMS");
    bool hit = false;
    SHD_GUARD(cache_lookup(k, version, ret_pem, ret_alg, &hit));
    if (hit) {
        return SHD_OK;
    }
    json_t *doc = NULL;
    shd_result r = kms_call(k, "GET", version, "/publicKey", NULL, access_token, &doc);
    char *pem = NULL;
    char *alg = NULL;
    if (shd_is_ok(r)) {
        r = pubkey_parse(doc, &pem, &alg);
    }
    json_decref(doc);
    if (shd_is_err(r)) {
        shd_error_wrap("KMS publicKey %s", version);
        return r;
    }
    cache_store(k, version, pem, alg);
    *ret_pem = pem;
    *ret_alg = alg;
    return SHD_OK;
}
