/*
 * crypto_rsa.c - RSA-OAEP encryption/decryption and RSA signatures (PSS, PKCS#1 v1.5) over
 * EVP_PKEY (RFC 8017).
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "crypto_int.h"

/* Sets up ctx for OAEP with hash h for both the OAEP digest and MGF1, and an empty label. */
static shd_result shd_crypto_oaep_ctx(enum shd_crypto_hash h, EVP_PKEY *key, bool encrypt,
                                      EVP_PKEY_CTX **ret_ctx)
{
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;
    const char *md = shd_crypto_hash_name(h);

    SHD_ENSURE_MSG(md != NULL, SHD_ERR_USAGE, "unknown hash %d", (int)h);
    SHD_GUARD(shd_crypto_key_check_rsa(key, "RSA-OAEP"));
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    if (encrypt) {
        SHD_GUARD_OSSL(EVP_PKEY_encrypt_init(ctx), SHD_ERR_CRYPTO);
    } else {
        SHD_GUARD_OSSL(EVP_PKEY_decrypt_init(ctx), SHD_ERR_BAD_KEY);
    }
    SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL), SHD_ERR_CRYPTO);
    /* azure-formats.md §5.5: MGF1 uses the OAEP hash (OpenSSL would default it to the OAEP
     * digest too, but say it). */
    SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL), SHD_ERR_CRYPTO);
    *ret_ctx = SHD_TAKE_PTR(ctx);
    return SHD_OK;
}

SHD_RESULT shd_crypto_rsa_oaep_encrypt(enum shd_crypto_hash h, const uint8_t *in, size_t n,
                                       EVP_PKEY *key, uint8_t **ret_ct, size_t *ret_len)
{
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;
    SHD_CLEANUP_FREE uint8_t *ct = NULL;

    SHD_ENSURE(ret_ct != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_GUARD(shd_crypto_oaep_ctx(h, key, true, &ctx));
    size_t k = (size_t)EVP_PKEY_get_size(key);
    size_t hlen = shd_crypto_hash_len(h);
    /* RFC 8017 §7.1.1 step 1b: mLen <= k - 2hLen - 2. */
    SHD_ENSURE_MSG(k >= 2 * hlen + 2 && n <= k - 2 * hlen - 2, SHD_ERR_TOO_LARGE,
                   "%zu bytes too long for RSA-OAEP with a %zu-byte modulus", n, k);
    size_t len = k;
    ct = shd_alloc(k);
    SHD_ENSURE(ct != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_encrypt(ctx, ct, &len, n == 0 ? (const unsigned char *)"" : in, n),
                   SHD_ERR_CRYPTO);
    SHD_ENSURE(len == k, SHD_ERR_INTERNAL);
    *ret_ct = SHD_TAKE_PTR(ct);
    *ret_len = len;
    return SHD_OK;
}

static shd_result shd_crypto_oaep_decrypt(enum shd_crypto_hash h, const uint8_t *in, size_t n,
                                          EVP_PKEY *key, uint8_t *out, size_t cap, size_t *ret_len)
{
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;

    SHD_ENSURE(in != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE(out != NULL || cap == 0, SHD_ERR_NULL);
    SHD_GUARD(shd_crypto_oaep_ctx(h, key, false, &ctx));
    SHD_ENSURE_MSG(shd_crypto_key_is_private(key), SHD_ERR_BAD_KEY,
                   "RSA-OAEP decryption needs a private key");
    SHD_ENSURE_MSG(n == (size_t)EVP_PKEY_get_size(key), SHD_ERR_DECRYPT,
                   "RSA-OAEP decryption failed");
    SHD_ENSURE_MSG(cap > 0, SHD_ERR_DECRYPT, "RSA-OAEP decryption failed");
    /* OpenSSL 3.0 wants room for a full modulus even though OAEP plaintexts are shorter. When
     * the caller's buffer is smaller, decrypt into a scratch buffer on OpenSSL's secure heap
     * (mlocked when the key holder initialised it, STYLE.md rule 30), cleared on free. */
    size_t k = n;
    uint8_t *dst = out;
    if (cap < k) {
        dst = OPENSSL_secure_zalloc(k);
        SHD_ENSURE(dst != NULL, SHD_ERR_NOMEM);
    }
    size_t len = k > cap ? k : cap;
    int rc = EVP_PKEY_decrypt(ctx, dst, &len, in, n);
    bool fits = rc == 1 && len <= cap;
    if (fits && dst != out) {
        shd_memcpy(out, dst, len);
    }
    if (dst != out) {
        OPENSSL_secure_clear_free(dst, k);
    }
    if (!fits) {
        /* One message for every cause, including a plaintext that does not fit: a padding
         * oracle must learn nothing (RFC 8017 §7.1.2 note; Manger 2001). */
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, "RSA-OAEP decryption failed");
    }
    *ret_len = len;
    return SHD_OK;
}

SHD_RESULT shd_crypto_rsa_oaep_decrypt(enum shd_crypto_hash h, const uint8_t *in, size_t n,
                                       EVP_PKEY *key, uint8_t *out, size_t cap, size_t *ret_len)
{
    shd_result r = shd_crypto_oaep_decrypt(h, in, n, key, out, cap, ret_len);

    if (shd_is_err(r) && out != NULL) {
        shd_memzero(out, cap);
    }
    return r;
}

SHD_RESULT shd_crypto_rsa_pss_sign(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                   EVP_PKEY *key, uint8_t **ret_sig, size_t *ret_len)
{
    SHD_GUARD(shd_crypto_key_check_rsa(key, "RSA-PSS"));
    return shd_crypto_sig_sign(h, SHD_CRYPTO_SIG_PAD_PSS, msg, n, key, ret_sig, ret_len);
}

/* RFC 8017 §8.1.2 / §8.2.2 step 1: the signature is exactly k bytes. */
static shd_result shd_crypto_rsa_verify(enum shd_crypto_hash h, enum shd_crypto_sig_pad pad,
                                        const uint8_t *msg, size_t n, const uint8_t *sig,
                                        size_t sig_len, EVP_PKEY *key)
{
    SHD_GUARD(shd_crypto_key_check_rsa(key, pad == SHD_CRYPTO_SIG_PAD_PSS ? "RSA-PSS"
                                                                          : "RSA PKCS#1 v1.5"));
    SHD_ENSURE_MSG(sig_len == (size_t)EVP_PKEY_get_size(key), SHD_ERR_BAD_SIGNATURE,
                   "signature of %zu bytes, modulus has %d", sig_len, EVP_PKEY_get_size(key));
    return shd_crypto_sig_verify(h, pad, msg, n, sig, sig_len, key);
}

SHD_RESULT shd_crypto_rsa_pss_verify(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     const uint8_t *sig, size_t sig_len, EVP_PKEY *key)
{
    return shd_crypto_rsa_verify(h, SHD_CRYPTO_SIG_PAD_PSS, msg, n, sig, sig_len, key);
}

SHD_RESULT shd_crypto_rsa_pkcs1_sign(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     EVP_PKEY *key, uint8_t **ret_sig, size_t *ret_len)
{
    SHD_GUARD(shd_crypto_key_check_rsa(key, "RSA PKCS#1 v1.5"));
    return shd_crypto_sig_sign(h, SHD_CRYPTO_SIG_PAD_PKCS1, msg, n, key, ret_sig, ret_len);
}

SHD_RESULT shd_crypto_rsa_pkcs1_verify(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                       const uint8_t *sig, size_t sig_len, EVP_PKEY *key)
{
    return shd_crypto_rsa_verify(h, SHD_CRYPTO_SIG_PAD_PKCS1, msg, n, sig, sig_len, key);
}
