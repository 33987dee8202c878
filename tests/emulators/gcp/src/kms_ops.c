/*
 * kms_ops.c - the cryptographic operations of the KMS emulator with their CRC32C checks
 * (gcp-identity.md 6; kms_int.h). Plaintexts are secrets: they live in buffers wiped after use
 * and the response bodies that carry them are wiped after sending.
 */
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "iam.h"
#include "kms_int.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define KMS_CT_MAGIC "GKMS"
#define KMS_CT_FORMAT 0x01u
#define KMS_CT_HEADER (4u + 1u + 4u + SHD_CRYPTO_GCM_IV_LEN + SHD_CRYPTO_GCM_TAG_LEN)
#define KMS_CT_MAX (GEMU_KMS_MAX_PLAINTEXT + KMS_CT_HEADER)
#define KMS_RESP_MAX (512u * 1024u)
#define KMS_MSG_BAD_CIPHERTEXT                                                                     \
    "Decryption failed: verify that 'name' refers to the correct CryptoKey."

/* A decoded bytes field; data is wiped and freed by kms_bytes_clear. */
struct kms_bytes {
    uint8_t *data;
    size_t len;
    bool present;
};

static void kms_bytes_clear(struct kms_bytes *b)
{
    if (b->data != NULL) {
        shd_free_wipe(b->data, b->len + 1);
    }
    shd_memzero(b, sizeof(*b));
}

static shd_result kms_invalid(const char *msg, struct shd_http_resp *resp)
{
    return gemu_resp_google_error(400, "INVALID_ARGUMENT", msg, resp);
}

/*
 * Decodes a proto3-JSON bytes member (standard or URL-safe base64, padding optional). Answers
 * 400 itself and sets *ret_ok = false on bad input.
 */
static shd_result kms_bytes_get(const json_t *body, const char *key, size_t max,
                                struct kms_bytes *out, bool *ret_ok, struct shd_http_resp *resp)
{
    *ret_ok = false;
    shd_memzero(out, sizeof(*out));
    const json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v)) {
        *ret_ok = true;
        return SHD_OK;
    }
    char msg[128];
    (void)snprintf(msg, sizeof(msg), "Invalid value at '%s' (TYPE_BYTES), Base64 decoding failed",
                   key);
    if (!json_is_string(v)) {
        return kms_invalid(msg, resp);
    }
    size_t n = json_string_length(v);
    if (shd_b64_decoded_max(n) > max + 3) {
        (void)snprintf(msg, sizeof(msg), "The %s is too large.", key);
        return kms_invalid(msg, resp);
    }
    shd_result r = shd_b64_decode(json_string_value(v), n, SHD_B64_STD | SHD_B64_LENIENT,
                                  &out->data, &out->len);
    if (shd_is_err(r)) {
        shd_error_clear();
        return kms_invalid(msg, resp);
    }
    out->present = true;
    if (out->len > max) {
        kms_bytes_clear(out);
        (void)snprintf(msg, sizeof(msg), "The %s is too large.", key);
        return kms_invalid(msg, resp);
    }
    *ret_ok = true;
    return SHD_OK;
}

/*
 * Checks the optional CRC member crc_key against data. *ret_verified: a CRC was given and
 * matched. Answers 400 itself (*ret_ok = false) on a malformed value or a mismatch.
 */
static shd_result kms_crc_check(const json_t *body, const char *crc_key, const char *field,
                                const uint8_t *data, size_t len, bool *ret_verified, bool *ret_ok,
                                struct shd_http_resp *resp)
{
    *ret_ok = false;
    *ret_verified = false;
    bool present = false;
    uint32_t crc = 0;
    if (shd_is_err(gemu_crc32c_json_get(body, crc_key, &present, &crc))) {
        char msg[128];
        shd_error_clear();
        (void)snprintf(msg, sizeof(msg), "Invalid value at '%s' (TYPE_INT64)", crc_key);
        return kms_invalid(msg, resp);
    }
    if (present && gemu_crc32c(data, len) != crc) {
        /* gcp-identity.md 6: the exact message, with the proto (snake_case) field names. */
        char msg[160];
        (void)snprintf(msg, sizeof(msg),
                       "The checksum in field %s_crc32c did not match the data in field %s.", field,
                       field);
        return kms_invalid(msg, resp);
    }
    *ret_verified = present;
    *ret_ok = true;
    return SHD_OK;
}

/* Appends "\"key\":\"<b64>\"," */
static shd_result kms_append_b64(struct shd_buf *b, const char *key, const uint8_t *data,
                                 size_t len)
{
    size_t enc = shd_b64_encoded_len(len, SHD_B64_STD);
    SHD_ENSURE(enc != SIZE_MAX, SHD_ERR_OVERFLOW);
    SHD_GUARD(shd_buf_appendf(b, "\"%s\":\"", key));
    SHD_GUARD(shd_buf_reserve(enc + 1, b));
    char *tmp = shd_alloc(enc + 1);
    SHD_ENSURE(tmp != NULL, SHD_ERR_NOMEM);
    shd_result r = shd_b64_encode_into(data, len, SHD_B64_STD, tmp, enc + 1, NULL);
    if (shd_is_ok(r)) {
        r = shd_buf_append(tmp, enc, b);
    }
    shd_free_wipe(tmp, enc + 1);
    SHD_GUARD(r);
    return shd_buf_append_str("\",", b);
}

static shd_result kms_append_crc(struct shd_buf *b, const char *key, const uint8_t *data,
                                 size_t len)
{
    char dec[11];
    gemu_crc32c_format(gemu_crc32c(data, len), dec);
    return shd_buf_appendf(b, "\"%s\":\"%s\",", key, dec);
}

/* Sends a SHD_BUF_SECRET buffer as the JSON body; the response wipes it after sending. */
static shd_result kms_send(struct shd_buf *b, struct shd_http_resp *resp)
{
    uint8_t *body = NULL;
    size_t len = 0;
    SHD_GUARD(shd_buf_take(b, &body, &len));
    shd_http_resp_body_take(200, "application/json; charset=UTF-8", body, len, len + 1, resp);
    return SHD_OK;
}

static shd_result kms_version_name(const struct gemu_kms_key *key, uint32_t number, char *out,
                                   size_t cap)
{
    int n = snprintf(out, cap, "%s/cryptoKeyVersions/%u", key->name, (unsigned)number);
    SHD_ENSURE(n > 0 && (size_t)n < cap, SHD_ERR_TOO_LARGE);
    return SHD_OK;
}

shd_result gemu_kms_op_public_key(const struct gemu_kms_key *key, const struct gemu_kms_version *v,
                                  struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(v);
    if (v->pem == NULL) {
        return gemu_resp_google_error(400, "FAILED_PRECONDITION",
                                      "The CryptoKeyVersion does not have a public key (its "
                                      "purpose is not asymmetric).",
                                      resp);
    }
    char name[GEMU_KMS_NAME_MAX];
    SHD_GUARD(kms_version_name(key, v->number, name, sizeof(name)));
    char crc[11];
    gemu_crc32c_format(gemu_crc32c((const uint8_t *)v->pem, strlen(v->pem)), crc);
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "pem", v->pem, "algorithm", gemu_kms_alg_name(key->alg),
                  "pemCrc32c", crc, "name", name, "protectionLevel", "SOFTWARE");
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(doc, 0, &text, &len));
    return shd_http_resp_json(200, text, resp);
}

shd_result gemu_kms_op_asymmetric_decrypt(const struct gemu_kms_key *key,
                                          const struct gemu_kms_version *v, const json_t *body,
                                          struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(body);
    if (v->rsa == NULL) {
        return kms_invalid("The request is not supported for the purpose of this key.", resp);
    }
    bool ok = false;
    struct kms_bytes ct;
    SHD_GUARD(kms_bytes_get(body, "ciphertext", 1024, &ct, &ok, resp));
    if (!ok) {
        return SHD_OK;
    }
    if (!ct.present) {
        kms_bytes_clear(&ct);
        return kms_invalid("ciphertext is required.", resp);
    }
    bool verified = false;
    shd_result r = kms_crc_check(body, "ciphertextCrc32c", "ciphertext", ct.data, ct.len, &verified,
                                 &ok, resp);
    if (shd_is_err(r) || !ok) {
        kms_bytes_clear(&ct);
        return r;
    }
    uint8_t pt[512];
    SHD_CLEANUP_ERASE(pt);
    size_t pt_len = 0;
    r = shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA256, ct.data, ct.len, v->rsa, pt, sizeof(pt),
                                    &pt_len);
    kms_bytes_clear(&ct);
    if (shd_is_err(r)) {
        shd_error_clear();
        return kms_invalid("Decryption failed: the ciphertext is invalid.", resp);
    }
    struct shd_buf b;
    shd_buf_init(KMS_RESP_MAX, SHD_BUF_SECRET, &b);
    r = shd_buf_append_str("{", &b);
    if (shd_is_ok(r)) {
        r = kms_append_b64(&b, "plaintext", pt, pt_len);
    }
    if (shd_is_ok(r)) {
        r = kms_append_crc(&b, "plaintextCrc32c", pt, pt_len);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_appendf(&b, "\"verifiedCiphertextCrc32c\":%s,\"protectionLevel\":\"SOFTWARE\"}",
                            verified ? "true" : "false");
    }
    if (shd_is_ok(r)) {
        r = kms_send(&b, resp);
    }
    shd_buf_free(&b);
    return r;
}

/* GCM AAD = key name | 0x00 | caller AAD (kms.h): into a fresh buffer (shd_free). */
static shd_result kms_gcm_aad(const struct gemu_kms_key *key, const struct kms_bytes *aad,
                              uint8_t **ret, size_t *ret_len)
{
    size_t nl = strlen(key->name);
    size_t n = nl + 1 + aad->len;
    uint8_t *b = shd_alloc(n);
    SHD_ENSURE(b != NULL, SHD_ERR_NOMEM);
    shd_memcpy(b, key->name, nl);
    b[nl] = 0;
    shd_memcpy(b + nl + 1, aad->data, aad->len);
    *ret = b;
    *ret_len = n;
    return SHD_OK;
}

/* Reads the AAD member and checks both CRCs of an encrypt/decrypt request. */
static shd_result kms_sym_inputs(const json_t *body, const char *data_field,
                                 const struct kms_bytes *data, struct kms_bytes *aad,
                                 bool *ret_data_verified, bool *ret_aad_verified, bool *ret_ok,
                                 struct shd_http_resp *resp)
{
    SHD_GUARD(
        kms_bytes_get(body, "additionalAuthenticatedData", GEMU_KMS_MAX_AAD, aad, ret_ok, resp));
    if (!*ret_ok) {
        return SHD_OK;
    }
    char crc_key[64];
    (void)snprintf(crc_key, sizeof(crc_key), "%sCrc32c", data_field);
    SHD_GUARD(kms_crc_check(body, crc_key, data_field, data->data, data->len, ret_data_verified,
                            ret_ok, resp));
    if (!*ret_ok) {
        return SHD_OK;
    }
    return kms_crc_check(body, "additionalAuthenticatedDataCrc32c", "additional_authenticated_data",
                         aad->data, aad->len, ret_aad_verified, ret_ok, resp);
}

shd_result gemu_kms_op_encrypt(const struct gemu_kms_key *key, const struct gemu_kms_version *v,
                               const json_t *body, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(body);
    if (key->alg != GEMU_KMS_ALG_SYMMETRIC) {
        return kms_invalid("The request is not supported for the purpose of this key.", resp);
    }
    if (v == NULL) {
        v = gemu_kms_key_version(key, key->primary);
    }
    SHD_ENSURE(v != NULL, SHD_ERR_INTERNAL);
    bool ok = false;
    struct kms_bytes pt;
    struct kms_bytes aad;
    shd_memzero(&aad, sizeof(aad));
    SHD_GUARD(kms_bytes_get(body, "plaintext", GEMU_KMS_MAX_PLAINTEXT, &pt, &ok, resp));
    bool pt_ver = false;
    bool aad_ver = false;
    shd_result r = SHD_OK;
    if (ok) {
        r = kms_sym_inputs(body, "plaintext", &pt, &aad, &pt_ver, &aad_ver, &ok, resp);
    }
    uint8_t *ct = NULL;
    size_t ct_len = KMS_CT_HEADER + pt.len;
    uint8_t *gaad = NULL;
    size_t gaad_len = 0;
    if (shd_is_ok(r) && ok) {
        ct = shd_alloc(ct_len);
        r = ct != NULL ? kms_gcm_aad(key, &aad, &gaad, &gaad_len)
                       : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    if (shd_is_ok(r) && ok) {
        shd_memcpy(ct, KMS_CT_MAGIC, 4);
        ct[4] = KMS_CT_FORMAT;
        ct[5] = (uint8_t)(v->number >> 24);
        ct[6] = (uint8_t)(v->number >> 16);
        ct[7] = (uint8_t)(v->number >> 8);
        ct[8] = (uint8_t)v->number;
        uint8_t *iv = ct + 9;
        uint8_t *tag = iv + SHD_CRYPTO_GCM_IV_LEN;
        uint8_t *out = tag + SHD_CRYPTO_GCM_TAG_LEN;
        r = shd_crypto_random(iv, SHD_CRYPTO_GCM_IV_LEN);
        if (shd_is_ok(r)) {
            r = shd_crypto_aes256_gcm_encrypt(v->aes, iv, SHD_CRYPTO_GCM_IV_LEN, gaad, gaad_len,
                                              pt.data, pt.len, out, pt.len, tag);
        }
    }
    char name[GEMU_KMS_NAME_MAX];
    struct shd_buf b;
    shd_buf_init(KMS_RESP_MAX, 0, &b);
    if (shd_is_ok(r) && ok) {
        r = kms_version_name(key, v->number, name, sizeof(name));
    }
    if (shd_is_ok(r) && ok) {
        r = shd_buf_appendf(&b, "{\"name\":\"%s\",", name);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_append_b64(&b, "ciphertext", ct, ct_len);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_append_crc(&b, "ciphertextCrc32c", ct, ct_len);
    }
    if (shd_is_ok(r) && ok) {
        r = shd_buf_appendf(&b,
                            "\"verifiedPlaintextCrc32c\":%s,"
                            "\"verifiedAdditionalAuthenticatedDataCrc32c\":%s,"
                            "\"protectionLevel\":\"SOFTWARE\"}",
                            pt_ver ? "true" : "false", aad_ver ? "true" : "false");
    }
    if (shd_is_ok(r) && ok) {
        r = kms_send(&b, resp);
    }
    shd_buf_free(&b);
    shd_free(ct);
    shd_free(gaad);
    kms_bytes_clear(&pt);
    kms_bytes_clear(&aad);
    return r;
}

/* Splits our ciphertext format; false when it is not one. */
static bool kms_ct_parse(const struct kms_bytes *ct, uint32_t *ret_version)
{
    if (ct->len < KMS_CT_HEADER || shd_memcmp(ct->data, KMS_CT_MAGIC, 4) != 0 ||
        ct->data[4] != KMS_CT_FORMAT) {
        return false;
    }
    *ret_version = ((uint32_t)ct->data[5] << 24) | ((uint32_t)ct->data[6] << 16) |
                   ((uint32_t)ct->data[7] << 8) | ct->data[8];
    return true;
}

shd_result gemu_kms_op_decrypt(const struct gemu_kms_key *key, const json_t *body,
                               struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(body);
    if (key->alg != GEMU_KMS_ALG_SYMMETRIC) {
        return kms_invalid("The request is not supported for the purpose of this key.", resp);
    }
    bool ok = false;
    struct kms_bytes ct;
    struct kms_bytes aad;
    shd_memzero(&aad, sizeof(aad));
    SHD_GUARD(kms_bytes_get(body, "ciphertext", KMS_CT_MAX, &ct, &ok, resp));
    bool ct_ver = false;
    bool aad_ver = false;
    shd_result r = SHD_OK;
    if (ok && !ct.present) {
        ok = false;
        r = kms_invalid("ciphertext is required.", resp);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_sym_inputs(body, "ciphertext", &ct, &aad, &ct_ver, &aad_ver, &ok, resp);
    }
    uint32_t number = 0;
    const struct gemu_kms_version *v = NULL;
    if (shd_is_ok(r) && ok) {
        v = kms_ct_parse(&ct, &number) ? gemu_kms_key_version(key, number) : NULL;
        if (v == NULL) {
            ok = false;
            r = kms_invalid(KMS_MSG_BAD_CIPHERTEXT, resp);
        }
    }
    uint8_t *pt = NULL;
    size_t pt_len = ct.len >= KMS_CT_HEADER ? ct.len - KMS_CT_HEADER : 0;
    uint8_t *gaad = NULL;
    size_t gaad_len = 0;
    if (shd_is_ok(r) && ok) {
        pt = shd_alloc(pt_len + 1);
        r = pt != NULL ? kms_gcm_aad(key, &aad, &gaad, &gaad_len)
                       : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    if (shd_is_ok(r) && ok) {
        const uint8_t *iv = ct.data + 9;
        const uint8_t *tag = iv + SHD_CRYPTO_GCM_IV_LEN;
        const uint8_t *in = tag + SHD_CRYPTO_GCM_TAG_LEN;
        if (shd_is_err(shd_crypto_aes256_gcm_decrypt(v->aes, iv, SHD_CRYPTO_GCM_IV_LEN, gaad,
                                                     gaad_len, in, pt_len, tag, pt, pt_len + 1))) {
            shd_error_clear();
            ok = false;
            r = kms_invalid(KMS_MSG_BAD_CIPHERTEXT, resp);
        }
    }
    struct shd_buf b;
    shd_buf_init(KMS_RESP_MAX, SHD_BUF_SECRET, &b);
    if (shd_is_ok(r) && ok) {
        r = shd_buf_append_str("{", &b);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_append_b64(&b, "plaintext", pt, pt_len);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_append_crc(&b, "plaintextCrc32c", pt, pt_len);
    }
    if (shd_is_ok(r) && ok) {
        r = shd_buf_appendf(&b, "\"usedPrimary\":%s,\"protectionLevel\":\"SOFTWARE\"}",
                            number == key->primary ? "true" : "false");
    }
    if (shd_is_ok(r) && ok) {
        r = kms_send(&b, resp);
    }
    shd_buf_free(&b);
    if (pt != NULL) {
        shd_free_wipe(pt, pt_len + 1);
    }
    shd_free(gaad);
    kms_bytes_clear(&ct);
    kms_bytes_clear(&aad);
    return r;
}

static shd_result kms_time_json(int64_t t, char out[static 31])
{
    return gemu_rfc3339(t, out);
}

shd_result gemu_kms_op_key_json(const struct gemu_kms_key *key, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(key);
    char created[31];
    SHD_GUARD(kms_time_json(key->create_time, created));
    char primary[GEMU_KMS_NAME_MAX];
    SHD_GUARD(kms_version_name(key, key->primary, primary, sizeof(primary)));
    const char *alg = gemu_kms_alg_name(key->alg);
    const char *purpose = gemu_kms_purpose_name(gemu_kms_alg_purpose(key->alg));
    json_t *prim = NULL;
    if (key->alg == GEMU_KMS_ALG_SYMMETRIC) {
        /* Only symmetric keys have a primary version (resources.proto CryptoKey.primary). */
        prim = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", primary, "state", "ENABLED",
                         "protectionLevel", "SOFTWARE", "algorithm", alg, "createTime", created);
        SHD_ENSURE(prim != NULL, SHD_ERR_NOMEM);
    }
    SHD_CLEANUP_JSON json_t *doc = json_pack(
        "{s:s,s:o*,s:s,s:s,s:{s:s,s:s}}", "name", key->name, "primary", prim, "purpose", purpose,
        "createTime", created, "versionTemplate", "protectionLevel", "SOFTWARE", "algorithm", alg);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(doc, 0, &text, &len));
    return shd_http_resp_json(200, text, resp);
}

shd_result gemu_kms_op_ring_json(const struct gemu_kms_ring *ring, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(ring);
    char created[31];
    SHD_GUARD(kms_time_json(ring->create_time, created));
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:s,s:s}", "name", ring->name, "createTime", created);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(doc, 0, &text, &len));
    return shd_http_resp_json(200, text, resp);
}
