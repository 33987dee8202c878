/*
 * crypto_aead.c - AES-256-GCM (NIST SP 800-38D) and AES key wrap with padding (RFC 5649) over
 * the EVP cipher API.
 */
#include <openssl/err.h>
#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "crypto_int.h"

/* Checks shared by encryption and decryption. */
static shd_result shd_crypto_gcm_check(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                                       const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                       size_t n, const uint8_t *out, size_t cap)
{
    SHD_ENSURE(key != NULL && iv != NULL, SHD_ERR_NULL);
    SHD_ENSURE(aad != NULL || aad_len == 0, SHD_ERR_NULL);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(out != NULL || cap == 0, SHD_ERR_NULL);
    /* 96-bit IVs are the standard; 128-bit IVs occur in formats we interoperate with. Anything
     * else is a caller bug rather than hostile input. */
    SHD_ENSURE_MSG(iv_len == SHD_CRYPTO_GCM_IV_LEN || iv_len == SHD_CRYPTO_GCM_IV_LEN_LONG,
                   SHD_ERR_USAGE, "AES-GCM IV of %zu bytes (12 or 16 required)", iv_len);
    SHD_ENSURE_MSG(n <= SHD_CRYPTO_AEAD_MAX_LEN && aad_len <= SHD_CRYPTO_AEAD_MAX_LEN,
                   SHD_ERR_TOO_LARGE, "AES-GCM input too large");
    SHD_ENSURE_MSG(cap >= n, SHD_ERR_TOO_LARGE, "output buffer of %zu bytes, need %zu", cap, n);
    return SHD_OK;
}

/* Initialises ctx for AES-256-GCM with the key and IV and feeds the AAD. */
static shd_result shd_crypto_gcm_init(EVP_CIPHER_CTX *ctx, bool enc, const uint8_t *key,
                                      const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                                      size_t aad_len)
{
    int outl = 0;

    SHD_GUARD_OSSL(EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0),
                   SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL),
                   SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc ? 1 : 0), SHD_ERR_CRYPTO);
    if (aad_len > 0) {
        SHD_GUARD_OSSL(EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len), SHD_ERR_CRYPTO);
    }
    return SHD_OK;
}

static shd_result shd_crypto_gcm_encrypt(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                                         const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                         size_t n, uint8_t *out, uint8_t *tag)
{
    SHD_CLEANUP(EVP_CIPHER_CTX_free_p) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    int fin = 0;

    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(shd_crypto_gcm_init(ctx, true, key, iv, iv_len, aad, aad_len));
    if (n > 0) {
        SHD_GUARD_OSSL(EVP_EncryptUpdate(ctx, out, &outl, in, (int)n), SHD_ERR_CRYPTO);
    }
    /* GCM is a stream mode: Final writes nothing, it computes the tag. */
    SHD_GUARD_OSSL(EVP_EncryptFinal_ex(ctx, out == NULL ? NULL : out + outl, &fin), SHD_ERR_CRYPTO);
    SHD_ENSURE((size_t)outl + (size_t)fin == n, SHD_ERR_INTERNAL);
    SHD_GUARD_OSSL(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)SHD_CRYPTO_GCM_TAG_LEN, tag),
                   SHD_ERR_CRYPTO);
    return SHD_OK;
}

SHD_RESULT shd_crypto_aes256_gcm_encrypt(const uint8_t key[static SHD_CRYPTO_AES256_KEY_LEN],
                                         const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                                         size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
                                         size_t cap, uint8_t ret_tag[static SHD_CRYPTO_GCM_TAG_LEN])
{
    uint8_t tag[SHD_CRYPTO_GCM_TAG_LEN];

    SHD_GUARD(shd_crypto_gcm_check(key, iv, iv_len, aad, aad_len, in, n, out, cap));
    SHD_ENSURE_REF(ret_tag);
    shd_result r = shd_crypto_gcm_encrypt(key, iv, iv_len, aad, aad_len, in, n, out, tag);
    if (shd_is_err(r)) {
        /* out may equal in: wiping it may destroy the caller's plaintext, which is what a
         * failed in-place operation has to do anyway (no half-encrypted buffer survives). */
        if (out != NULL) {
            shd_memzero(out, cap);
        }
        return r;
    }
    shd_memcpy(ret_tag, tag, sizeof(tag));
    return SHD_OK;
}

static shd_result shd_crypto_gcm_decrypt(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                                         const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                         size_t n, const uint8_t *tag, uint8_t *out)
{
    SHD_CLEANUP(EVP_CIPHER_CTX_free_p) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t tag_copy[SHD_CRYPTO_GCM_TAG_LEN];
    int outl = 0;
    int fin = 0;

    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(shd_crypto_gcm_init(ctx, false, key, iv, iv_len, aad, aad_len));
    if (n > 0) {
        SHD_GUARD_OSSL(EVP_DecryptUpdate(ctx, out, &outl, in, (int)n), SHD_ERR_CRYPTO);
    }
    /* The ctrl takes a non-const pointer; hand it a copy rather than cast away const. */
    shd_memcpy(tag_copy, tag, sizeof(tag_copy));
    SHD_GUARD_OSSL(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)sizeof(tag_copy), tag_copy),
                   SHD_ERR_CRYPTO);
    /* OpenSSL compares the tag in constant time (CRYPTO_memcmp). */
    if (EVP_DecryptFinal_ex(ctx, out == NULL ? NULL : out + outl, &fin) != 1) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, "AES-GCM decryption failed");
    }
    SHD_ENSURE((size_t)outl + (size_t)fin == n, SHD_ERR_INTERNAL);
    return SHD_OK;
}

SHD_RESULT shd_crypto_aes256_gcm_decrypt(const uint8_t key[static SHD_CRYPTO_AES256_KEY_LEN],
                                         const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                                         size_t aad_len, const uint8_t *in, size_t n,
                                         const uint8_t tag[static SHD_CRYPTO_GCM_TAG_LEN],
                                         uint8_t *out, size_t cap)
{
    shd_result r = shd_crypto_gcm_check(key, iv, iv_len, aad, aad_len, in, n, out, cap);

    if (shd_is_ok(r) && tag == NULL) {
        r = shd_error_set(SHD_ERR_NULL, __FILE__, __LINE__);
    }
    if (shd_is_ok(r)) {
        r = shd_crypto_gcm_decrypt(key, iv, iv_len, aad, aad_len, in, n, tag, out);
    }
    if (shd_is_err(r) && out != NULL) {
        shd_memzero(out, cap);
    }
    return r;
}

/* The KWP cipher for a KEK length. */
static const EVP_CIPHER *shd_crypto_kwp_cipher(size_t kek_len)
{
    switch (kek_len) {
    case 16:
        return EVP_aes_128_wrap_pad();
    case 24:
        return EVP_aes_192_wrap_pad();
    case 32:
        return EVP_aes_256_wrap_pad();
    default:
        return NULL;
    }
}

/*
 * One pass of the wrap cipher. OpenSSL 3 needs no EVP_CIPHER_CTX_FLAG_WRAP_ALLOW
 * (real-clients.md §3.6) and processes the whole input in one Update; Final adds nothing.
 */
static shd_result shd_crypto_kwp_run(bool enc, const uint8_t *kek, size_t kek_len,
                                     const uint8_t *in, size_t n, uint8_t *out, size_t *ret_len)
{
    SHD_CLEANUP(EVP_CIPHER_CTX_free_p) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *cipher = shd_crypto_kwp_cipher(kek_len);
    int outl = 0;
    int fin = 0;

    SHD_ENSURE_MSG(cipher != NULL, SHD_ERR_USAGE, "AES-KWP KEK of %zu bytes (16, 24 or 32)",
                   kek_len);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    /* A NULL IV selects the RFC 5649 alternative initial value A65959A6. */
    SHD_GUARD_OSSL(EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc ? 1 : 0), SHD_ERR_CRYPTO);
    if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 || outl <= 0 ||
        EVP_CipherFinal_ex(ctx, out + outl, &fin) != 1) {
        if (enc) {
            SHD_GUARD_OSSL(0, SHD_ERR_CRYPTO);
        }
        /* RFC 5649 §3: AIV, MLI and padding failures are one "integrity check failed". */
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, "AES-KWP unwrap failed");
    }
    *ret_len = (size_t)outl + (size_t)fin;
    return SHD_OK;
}

SHD_RESULT shd_crypto_aes_kwp_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t n,
                                   uint8_t *out, size_t cap, size_t *ret_len)
{
    size_t len = 0;

    SHD_ENSURE(kek != NULL && in != NULL && out != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(n >= 1, SHD_ERR_USAGE, "AES-KWP of an empty input");
    SHD_ENSURE(n <= SHD_CRYPTO_AEAD_MAX_LEN, SHD_ERR_TOO_LARGE);
    SHD_ENSURE_MSG(cap >= SHD_CRYPTO_KWP_WRAPPED_LEN(n), SHD_ERR_TOO_LARGE,
                   "AES-KWP output buffer of %zu bytes, need %zu", cap,
                   (size_t)SHD_CRYPTO_KWP_WRAPPED_LEN(n));
    SHD_GUARD(shd_crypto_kwp_run(true, kek, kek_len, in, n, out, &len));
    SHD_ENSURE(len == SHD_CRYPTO_KWP_WRAPPED_LEN(n), SHD_ERR_INTERNAL);
    *ret_len = len;
    return SHD_OK;
}

static shd_result shd_crypto_kwp_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
                                        size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
    size_t len = 0;

    SHD_ENSURE(kek != NULL && in != NULL && out != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(n >= 16 && n % 8 == 0, SHD_ERR_INPUT,
                   "AES-KWP input of %zu bytes (a multiple of 8, at least 16)", n);
    SHD_ENSURE(n <= SHD_CRYPTO_AEAD_MAX_LEN + 8, SHD_ERR_TOO_LARGE);
    SHD_ENSURE_MSG(cap >= n - 8, SHD_ERR_TOO_LARGE, "AES-KWP output buffer of %zu bytes, need %zu",
                   cap, n - 8);
    SHD_GUARD(shd_crypto_kwp_run(false, kek, kek_len, in, n, out, &len));
    SHD_ENSURE(len <= n - 8 && len > n - 16, SHD_ERR_INTERNAL);
    /* The padding was checked to be zero; wipe anyway so nothing beyond the MLI is left. */
    shd_memzero(out + len, cap - len);
    *ret_len = len;
    return SHD_OK;
}

SHD_RESULT shd_crypto_aes_kwp_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
                                     size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
    shd_result r = shd_crypto_kwp_unwrap(kek, kek_len, in, n, out, cap, ret_len);

    if (shd_is_err(r) && out != NULL) {
        shd_memzero(out, cap);
    }
    return r;
}
