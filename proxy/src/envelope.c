/*
 * envelope.c - open and seal Polaris envelopes (polaris-protocol.md §2.1). The header JSON is
 * parsed strictly (shd_json_parse: no duplicate keys, bounded size and depth); extra members are
 * ignored as the SDK's JSON.parse ignores them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

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

#include "envelope.h"

/* The decoded header of one envelope; the wrapped values are public (ciphertexts). */
struct envelope_parts {
    uint8_t wrapped_key[PROXY_ENVELOPE_WRAPPED_MAX];
    size_t wrapped_key_len;
    uint8_t wrapped_iv[PROXY_ENVELOPE_WRAPPED_MAX];
    size_t wrapped_iv_len;
    uint8_t tag[PROXY_ENVELOPE_TAG_LEN];
    const uint8_t *ct;
    size_t ct_len;
};

static shd_result field_decode(const json_t *hdr, const char *name, uint8_t *out, size_t cap,
                               size_t *ret_len)
{
    const char *s = NULL;

    SHD_GUARD_CTX(shd_json_get_string(hdr, name, &s), "envelope header");
    SHD_GUARD_CTX(shd_b64_decode_into(s, strlen(s), SHD_B64_STD | SHD_B64_LENIENT, out, cap,
                                      ret_len),
                  "envelope field %s", name);
    return SHD_OK;
}

/* BE32 H || JSON || ciphertext: the framing, from public bytes only. */
static shd_result envelope_parse(const uint8_t *in, size_t n, size_t max_plain,
                                 struct envelope_parts *p)
{
    struct shd_cursor cur;
    uint32_t h = 0;
    const uint8_t *json = NULL;

    shd_cursor_init(in, n, &cur);
    SHD_GUARD_CTX(shd_cursor_read_u32be(&cur, &h), "envelope length prefix");
    SHD_ENSURE_MSG(h <= PROXY_ENVELOPE_HEADER_MAX, SHD_ERR_TOO_LARGE,
                   "envelope header of %u bytes (at most %u)", h, PROXY_ENVELOPE_HEADER_MAX);
    SHD_GUARD_CTX(shd_cursor_take(h, &cur, &json), "envelope header of %u bytes", h);
    p->ct_len = shd_cursor_remaining(&cur);
    SHD_ENSURE_MSG(p->ct_len <= max_plain, SHD_ERR_TOO_LARGE,
                   "envelope payload of %zu bytes (at most %zu)", p->ct_len, max_plain);
    SHD_GUARD(shd_cursor_take(p->ct_len, &cur, &p->ct));

    const struct shd_json_limits lim = {.max_bytes = PROXY_ENVELOPE_HEADER_MAX, .max_depth = 2};
    SHD_CLEANUP_JSON json_t *hdr = NULL;
    SHD_GUARD_CTX(shd_json_parse((const char *)json, h, &lim, &hdr), "envelope header");
    SHD_GUARD(field_decode(hdr, "wrappedKey", p->wrapped_key, sizeof(p->wrapped_key),
                           &p->wrapped_key_len));
    SHD_GUARD(field_decode(hdr, "wrappedIV", p->wrapped_iv, sizeof(p->wrapped_iv),
                           &p->wrapped_iv_len));
    size_t tag_len = 0;
    uint8_t tag[PROXY_ENVELOPE_WRAPPED_MAX];
    SHD_GUARD(field_decode(hdr, "authTag", tag, sizeof(tag), &tag_len));
    /* §6.2: exactly 16 bytes; Node would accept a truncated tag. */
    SHD_ENSURE_MSG(tag_len == PROXY_ENVELOPE_TAG_LEN, SHD_ERR_INPUT,
                   "envelope authTag of %zu bytes (16 required)", tag_len);
    shd_memcpy(p->tag, tag, PROXY_ENVELOPE_TAG_LEN);
    return SHD_OK;
}

/*
 * Both unwraps always run, and a failure is replaced by a random key and IV so that the GCM step
 * below runs (and fails) the same way: the caller cannot tell which check rejected it.
 */
static shd_result envelope_unwrap(const struct envelope_parts *p, proxy_envelope_unwrap_fn unwrap,
                                  void *unwrap_ctx, uint8_t key[static PROXY_ENVELOPE_KEY_LEN],
                                  uint8_t iv[static SHD_CRYPTO_GCM_IV_LEN_LONG],
                                  size_t *ret_iv_len, bool *ret_ok)
{
    uint8_t k[64];
    uint8_t v[64];
    size_t k_len = 0;
    size_t v_len = 0;
    SHD_CLEANUP_ERASE(k);
    SHD_CLEANUP_ERASE(v);

    bool ok = shd_is_ok(unwrap(unwrap_ctx, p->wrapped_key, p->wrapped_key_len, k, sizeof(k),
                               &k_len)) &&
              k_len == PROXY_ENVELOPE_KEY_LEN;
    bool iv_ok = shd_is_ok(unwrap(unwrap_ctx, p->wrapped_iv, p->wrapped_iv_len, v, sizeof(v),
                                  &v_len)) &&
                 (v_len == SHD_CRYPTO_GCM_IV_LEN || v_len == SHD_CRYPTO_GCM_IV_LEN_LONG);
    ok = ok && iv_ok;
    if (!ok) {
        SHD_GUARD(shd_crypto_random(k, PROXY_ENVELOPE_KEY_LEN));
        SHD_GUARD(shd_crypto_random(v, SHD_CRYPTO_GCM_IV_LEN_LONG));
        v_len = SHD_CRYPTO_GCM_IV_LEN_LONG;
    }
    shd_memcpy(key, k, PROXY_ENVELOPE_KEY_LEN);
    shd_memcpy(iv, v, v_len);
    *ret_iv_len = v_len;
    *ret_ok = ok;
    return SHD_OK;
}

shd_result proxy_envelope_open(const uint8_t *in, size_t n, size_t max_plain,
                               proxy_envelope_unwrap_fn unwrap, void *unwrap_ctx,
                               uint8_t **ret_plain, size_t *ret_len)
{
    struct envelope_parts p = {0};
    uint8_t key[PROXY_ENVELOPE_KEY_LEN];
    uint8_t iv[SHD_CRYPTO_GCM_IV_LEN_LONG];
    size_t iv_len = 0;
    bool ok = false;
    SHD_CLEANUP_ERASE(key);
    SHD_CLEANUP_ERASE(iv);

    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(unwrap != NULL && ret_plain != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(max_plain < SHD_CRYPTO_AEAD_MAX_LEN, SHD_ERR_USAGE, "max_plain too large");
    SHD_GUARD(envelope_parse(in, n, max_plain, &p));
    SHD_GUARD(envelope_unwrap(&p, unwrap, unwrap_ctx, key, iv, &iv_len, &ok));

    uint8_t *plain = shd_alloc(p.ct_len + 1);
    SHD_ENSURE(plain != NULL, SHD_ERR_NOMEM);
    shd_result r = shd_crypto_aes256_gcm_decrypt(key, iv, iv_len, NULL, 0, p.ct, p.ct_len, p.tag,
                                                 plain, p.ct_len);
    if (shd_is_err(r) || !ok) {
        shd_free_wipe(plain, p.ct_len + 1);
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, PROXY_ENVELOPE_DECRYPT_MSG);
    }
    plain[p.ct_len] = '\0';
    *ret_plain = plain;
    *ret_len = p.ct_len;
    return SHD_OK;
}

shd_result proxy_envelope_open_b64(const char *text, size_t n, size_t max_plain,
                                   proxy_envelope_unwrap_fn unwrap, void *unwrap_ctx,
                                   uint8_t **ret_plain, size_t *ret_len)
{
    SHD_CLEANUP_FREE uint8_t *env = NULL;
    size_t env_len = 0;

    SHD_ENSURE(text != NULL || n == 0, SHD_ERR_NULL);
    /* An envelope is at most 4 + header + payload; refuse larger text before decoding it. */
    size_t env_max = 0;
    SHD_GUARD(shd_add_overflow(max_plain, 4u + PROXY_ENVELOPE_HEADER_MAX, &env_max));
    size_t text_max = shd_b64_encoded_len(env_max, SHD_B64_STD_PAD);
    SHD_ENSURE_MSG(text_max != SIZE_MAX && n <= text_max, SHD_ERR_TOO_LARGE,
                   "envelope text of %zu characters is too large", n);
    SHD_GUARD_CTX(shd_b64_decode(text, n, SHD_B64_STD | SHD_B64_LENIENT, &env, &env_len),
                  "envelope base64");
    return proxy_envelope_open(env, env_len, max_plain, unwrap, unwrap_ctx, ret_plain, ret_len);
}

/* The header JSON in the SDK's JSON.stringify order; base64 needs no JSON escaping. */
static shd_result seal_header(const char *wk, const char *wi, const uint8_t *tag,
                              struct shd_buf *hdr)
{
    char tag_b64[32];

    SHD_GUARD(shd_b64_encode_into(tag, PROXY_ENVELOPE_TAG_LEN, SHD_B64_STD_PAD, tag_b64,
                                  sizeof(tag_b64), NULL));
    shd_buf_clear(hdr);
    SHD_GUARD(shd_buf_appendf(hdr,
                              "{\"wrappedKey\":\"%s\",\"wrappedIV\":\"%s\",\"authTag\":\"%s\"}", wk,
                              wi, tag_b64));
    return SHD_OK;
}

/* RSA-OAEP-SHA256 of v to the recipient, as base64 text. */
static shd_result wrap_b64(const uint8_t *v, size_t n, EVP_PKEY *recipient, char **ret)
{
    SHD_CLEANUP_FREE uint8_t *w = NULL;
    size_t w_len = 0;

    SHD_GUARD(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, v, n, recipient, &w, &w_len));
    return shd_b64_encode(w, w_len, SHD_B64_STD_PAD, ret, NULL);
}

shd_result proxy_envelope_seal(const uint8_t *plain, size_t n, EVP_PKEY *recipient, size_t iv_len,
                               uint8_t **ret_env, size_t *ret_len)
{
    uint8_t key[PROXY_ENVELOPE_KEY_LEN];
    uint8_t iv[SHD_CRYPTO_GCM_IV_LEN_LONG];
    uint8_t tag[PROXY_ENVELOPE_TAG_LEN] = {0};
    SHD_CLEANUP_ERASE(key);
    SHD_CLEANUP_ERASE(iv);
    SHD_CLEANUP_FREE char *wk = NULL;
    SHD_CLEANUP_FREE char *wi = NULL;

    SHD_ENSURE(plain != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(recipient != NULL && ret_env != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(iv_len == SHD_CRYPTO_GCM_IV_LEN || iv_len == SHD_CRYPTO_GCM_IV_LEN_LONG,
                   SHD_ERR_USAGE, "IV of %zu bytes (12 or 16)", iv_len);
    SHD_ENSURE_MSG(shd_crypto_key_kind(recipient) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                   "the recipient key is not RSA");
    SHD_ENSURE_MSG(n <= SHD_CRYPTO_AEAD_MAX_LEN, SHD_ERR_TOO_LARGE, "plaintext too large");
    SHD_GUARD(shd_crypto_random(key, sizeof(key)));
    SHD_GUARD(shd_crypto_random(iv, iv_len));
    SHD_GUARD(wrap_b64(key, sizeof(key), recipient, &wk));
    SHD_GUARD(wrap_b64(iv, iv_len, recipient, &wi));

    /* The header's length does not depend on the tag's value (always 24 base64 characters):
     * size it with a zero tag, encrypt straight into the final block, then write the header. */
    struct shd_buf hdr;
    shd_buf_init(PROXY_ENVELOPE_HEADER_MAX, 0, &hdr);
    shd_result r = seal_header(wk, wi, tag, &hdr);
    size_t h = shd_buf_len(&hdr);
    size_t total = 0;
    uint8_t *env = NULL;
    if (shd_is_ok(r)) {
        r = shd_add_overflow(n, 4u + h, &total);
    }
    if (shd_is_ok(r)) {
        env = shd_alloc(total);
        r = env != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    if (shd_is_ok(r)) {
        r = shd_crypto_aes256_gcm_encrypt(key, iv, iv_len, NULL, 0, plain, n, env + 4u + h, n,
                                          tag);
    }
    if (shd_is_ok(r)) {
        r = seal_header(wk, wi, tag, &hdr);
    }
    if (shd_is_ok(r) && shd_buf_len(&hdr) != h) {
        shd_misuse("envelope header length changed with the tag");
    }
    if (shd_is_err(r)) {
        shd_free(env);
        shd_buf_free(&hdr);
        return r;
    }
    env[0] = (uint8_t)(h >> 24);
    env[1] = (uint8_t)(h >> 16);
    env[2] = (uint8_t)(h >> 8);
    env[3] = (uint8_t)h;
    shd_memcpy(env + 4u, shd_buf_ptr(&hdr), h);
    shd_buf_free(&hdr);
    *ret_env = env;
    *ret_len = total;
    return SHD_OK;
}

shd_result proxy_envelope_seal_b64(const uint8_t *plain, size_t n, EVP_PKEY *recipient,
                                   size_t iv_len, char **ret_text, size_t *ret_len)
{
    SHD_CLEANUP_FREE uint8_t *env = NULL;
    size_t env_len = 0;

    SHD_ENSURE(ret_text != NULL, SHD_ERR_NULL);
    SHD_GUARD(proxy_envelope_seal(plain, n, recipient, iv_len, &env, &env_len));
    return shd_b64_encode(env, env_len, SHD_B64_STD_PAD, ret_text, ret_len);
}

shd_result proxy_envelope_recipient_load(const char *pem, size_t n, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;

    SHD_ENSURE(pem != NULL && ret_key != NULL, SHD_ERR_NULL);
    SHD_GUARD_CTX(shd_crypto_pubkey_load((const uint8_t *)pem, n, &key), "public key");
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                   "public key: not an RSA key");
    int bits = EVP_PKEY_get_bits(key);
    SHD_ENSURE_MSG(bits >= 2048 && bits <= 8192, SHD_ERR_BAD_KEY,
                   "public key: RSA key of %d bits (2048..8192)", bits);
    *ret_key = SHD_TAKE_PTR(key);
    return SHD_OK;
}
