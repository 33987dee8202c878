/*
 * unwrap.c - CKM_RSA_AES_KEY_WRAP unwrapping and the released key's JWK text (unwrap.h).
 *
 * RFC 5649 is implemented here over AES-ECB rather than with OpenSSL's wrap-pad cipher because
 * the sidecar's error texts name which integrity check failed (AIV, MLI or padding), and
 * OpenSSL's cipher reports only a generic failure. The JWS signature over the release payload is
 * verified before any of this runs, so these texts describe Key Vault's output, not an oracle
 * an attacker could query.
 */
#include "unwrap.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"

/* RFC 5649 §3: the alternative initial value, high 32 bits of A. */
static const uint8_t KWP_AIV[4] = {0xA6, 0x59, 0x59, 0xA6};

#define KWP_BLOCK 8u
#define AES_BLOCK 16u

static const struct {
    const char *name;
    enum skr_wrap_alg alg;
    enum shd_crypto_hash hash;
} WRAP_ALGS[] = {
    {"CKM_RSA_AES_KEY_WRAP", SKR_WRAP_CKM_RSA_AES_KEY_WRAP, SHD_CRYPTO_HASH_SHA1},
    {"RSA_AES_KEY_WRAP_256", SKR_WRAP_RSA_AES_KEY_WRAP_256, SHD_CRYPTO_HASH_SHA256},
    {"RSA_AES_KEY_WRAP_384", SKR_WRAP_RSA_AES_KEY_WRAP_384, SHD_CRYPTO_HASH_SHA384},
};

shd_result skr_wrap_alg_parse(const char *enc, enum skr_wrap_alg *ret_alg)
{
    SHD_ENSURE_REF(ret_alg);
    for (size_t i = 0; enc != NULL && i < sizeof(WRAP_ALGS) / sizeof(WRAP_ALGS[0]); i++) {
        if (strcmp(enc, WRAP_ALGS[i].name) == 0) {
            *ret_alg = WRAP_ALGS[i].alg;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "Unsupported hash for the wrapping protocol");
}

enum shd_crypto_hash skr_wrap_alg_hash(enum skr_wrap_alg alg)
{
    for (size_t i = 0; i < sizeof(WRAP_ALGS) / sizeof(WRAP_ALGS[0]); i++) {
        if (WRAP_ALGS[i].alg == alg) {
            return WRAP_ALGS[i].hash;
        }
    }
    shd_misuse("unknown wrap algorithm");
}

static shd_result kwp_length_check(size_t in_len)
{
    SHD_ENSURE_MSG(in_len >= 2 * KWP_BLOCK && in_len % KWP_BLOCK == 0, SHD_ERR_INPUT,
                   "integrity check failed - wrapped key length %zu is not a multiple of 8 of at "
                   "least 16",
                   in_len);
    return SHD_OK;
}

static shd_result aes_ecb_decrypt_init(const uint8_t *kek, size_t kek_len, EVP_CIPHER_CTX *ctx)
{
    const EVP_CIPHER *cipher = NULL;

    switch (kek_len) {
    case 16:
        cipher = EVP_aes_128_ecb();
        break;
    case 24:
        cipher = EVP_aes_192_ecb();
        break;
    case 32:
        cipher = EVP_aes_256_ecb();
        break;
    default:
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, "crypto/aes: invalid key size %zu", kek_len);
    }
    SHD_GUARD_OSSL(EVP_DecryptInit_ex(ctx, cipher, NULL, kek, NULL), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_CIPHER_CTX_set_padding(ctx, 0), SHD_ERR_CRYPTO);
    return SHD_OK;
}

/* One AES block decryption in place. */
static shd_result aes_block_decrypt(EVP_CIPHER_CTX *ctx, uint8_t block[static AES_BLOCK])
{
    uint8_t out[AES_BLOCK];
    SHD_CLEANUP_ERASE(out);
    int outl = 0;

    SHD_GUARD_OSSL(EVP_DecryptUpdate(ctx, out, &outl, block, (int)AES_BLOCK), SHD_ERR_CRYPTO);
    SHD_ENSURE(outl == (int)AES_BLOCK, SHD_ERR_CRYPTO);
    shd_memcpy(block, out, AES_BLOCK);
    return SHD_OK;
}

/*
 * RFC 5649 §4.2 steps 1-2 (RFC 3394 §2.2.2, index form): recovers A into a[8] and the padded
 * plaintext P[1..n] into out[0..8n).
 */
static shd_result kwp_unwrap_core(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t n, uint8_t a[8],
                                  uint8_t *out)
{
    uint8_t b[AES_BLOCK];
    SHD_CLEANUP_ERASE(b);

    if (n == 1) {
        /* §4.2: a single block pair is one AES-ECB decryption of C[0] | C[1]. */
        shd_memcpy(b, in, AES_BLOCK);
        SHD_GUARD(aes_block_decrypt(ctx, b));
        shd_memcpy(a, b, KWP_BLOCK);
        shd_memcpy(out, b + KWP_BLOCK, KWP_BLOCK);
        return SHD_OK;
    }
    shd_memcpy(a, in, KWP_BLOCK);
    shd_memcpy(out, in + KWP_BLOCK, n * KWP_BLOCK);
    for (unsigned j = 6; j-- > 0;) {
        for (size_t i = n; i >= 1; i--) {
            uint64_t t = (uint64_t)n * j + i;
            for (unsigned k = 0; k < 8; k++) {
                b[k] = (uint8_t)(a[k] ^ (uint8_t)(t >> (56u - 8u * k)));
            }
            shd_memcpy(b + KWP_BLOCK, out + (i - 1) * KWP_BLOCK, KWP_BLOCK);
            SHD_GUARD(aes_block_decrypt(ctx, b));
            shd_memcpy(a, b, KWP_BLOCK);
            shd_memcpy(out + (i - 1) * KWP_BLOCK, b + KWP_BLOCK, KWP_BLOCK);
        }
    }
    return SHD_OK;
}

/* RFC 5649 §3 checks on A and the padding; *ret_mli on success. */
static shd_result kwp_check(const uint8_t a[8], const uint8_t *out, size_t n, size_t *ret_mli)
{
    if (!shd_ct_equal(a, KWP_AIV, sizeof(KWP_AIV))) {
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, "integrity check failed - unexpected AIV [%u %u %u %u]", a[0],
                     a[1], a[2], a[3]);
    }
    uint32_t mli = (uint32_t)a[4] << 24 | (uint32_t)a[5] << 16 | (uint32_t)a[6] << 8 | a[7];
    if ((uint64_t)mli <= 8u * ((uint64_t)n - 1u) || (uint64_t)mli > 8u * (uint64_t)n) {
        SHD_BAIL_MSG(SHD_ERR_DECRYPT, "integrity check failed - unexpected MLI [%u %u %u %u]", a[4],
                     a[5], a[6], a[7]);
    }
    uint8_t acc = 0;
    for (size_t i = mli; i < n * KWP_BLOCK; i++) {
        acc |= out[i];
    }
    SHD_ENSURE_MSG(acc == 0, SHD_ERR_DECRYPT,
                   "integrity check failed - padded key data is not zero");
    *ret_mli = mli;
    return SHD_OK;
}

shd_result skr_aes_kwp_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                              uint8_t *out, size_t cap, size_t *ret_len)
{
    uint8_t a[KWP_BLOCK];
    SHD_CLEANUP_ERASE(a);
    size_t mli = 0;

    SHD_ENSURE_REF(kek);
    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(out);
    SHD_ENSURE_REF(ret_len);
    SHD_GUARD(kwp_length_check(in_len));
    const size_t n = in_len / KWP_BLOCK - 1;
    SHD_ENSURE(cap >= n * KWP_BLOCK, SHD_ERR_TOO_LARGE);
    SHD_CLEANUP(EVP_CIPHER_CTX_free_p) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(aes_ecb_decrypt_init(kek, kek_len, ctx));

    shd_result r = kwp_unwrap_core(ctx, in, n, a, out);
    if (shd_is_ok(r)) {
        r = kwp_check(a, out, n, &mli);
    }
    if (shd_is_err(r)) {
        shd_memzero(out, cap);
        return r;
    }
    shd_memzero(out + mli, cap - mli);
    *ret_len = mli;
    return SHD_OK;
}

/* OAEP-decrypts the KEK into kek (cap 64) and checks it is an AES key size. */
static shd_result kek_decrypt(enum shd_crypto_hash hash, const uint8_t *ct, size_t k, EVP_PKEY *key,
                              uint8_t kek[static 64], size_t *ret_kek_len)
{
    size_t kek_len = 0;

    shd_result r = shd_crypto_rsa_oaep_decrypt(hash, ct, k, key, kek, 64, &kek_len);
    if (shd_is_err(r)) {
        /* One fixed text whatever went wrong inside OAEP (no padding oracle, STYLE.md 20). */
        r = shd_error_setf(SHD_ERR_DECRYPT, __FILE__, __LINE__, "crypto/rsa: decryption error");
        shd_error_wrap("OAEP decryption failed");
        return r;
    }
    if (kek_len != 16 && kek_len != 24 && kek_len != 32) {
        shd_memzero(kek, 64);
        r = shd_error_setf(SHD_ERR_DECRYPT, __FILE__, __LINE__, "crypto/aes: invalid key size %zu",
                           kek_len);
        shd_error_wrap("new aes cipher generation failed");
        return r;
    }
    *ret_kek_len = kek_len;
    return SHD_OK;
}

shd_result skr_rsa_aes_unwrap(const char *enc, const uint8_t *ct, size_t ct_len,
                              EVP_PKEY *wrapping_key, struct shd_secret **ret_material)
{
    enum skr_wrap_alg alg = 0;
    uint8_t kek[64];
    SHD_CLEANUP_ERASE(kek);
    size_t kek_len = 0;
    size_t key_len = 0;

    SHD_ENSURE_REF(ct);
    SHD_ENSURE_REF(wrapping_key);
    SHD_ENSURE_REF(ret_material);
    SHD_GUARD(skr_wrap_alg_parse(enc, &alg));
    SHD_ENSURE(shd_crypto_key_kind(wrapping_key) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY);
    const size_t k = (size_t)EVP_PKEY_get_size(wrapping_key);
    SHD_ENSURE_MSG(ct_len >= k, SHD_ERR_INPUT,
                   "ciphertext of %zu bytes is shorter than the wrapping key's %zu", ct_len, k);
    const uint8_t *wrapped = ct + k;
    const size_t wrapped_len = ct_len - k;
    SHD_GUARD(kwp_length_check(wrapped_len));
    SHD_ENSURE_MSG(wrapped_len - KWP_BLOCK <= SKR_UNWRAP_MAX_KEY_LEN, SHD_ERR_TOO_LARGE,
                   "wrapped key of %zu bytes is larger than %zu", wrapped_len,
                   SKR_UNWRAP_MAX_KEY_LEN);

    SHD_GUARD(kek_decrypt(skr_wrap_alg_hash(alg), ct, k, wrapping_key, kek, &kek_len));
    SHD_CLEANUP(shd_secret_free) struct shd_secret *material = NULL;
    SHD_GUARD(shd_secret_alloc(wrapped_len - KWP_BLOCK, &material));
    SHD_GUARD(skr_aes_kwp_unwrap(kek, kek_len, wrapped, wrapped_len, shd_secret_ptr(material),
                                 shd_secret_len(material), &key_len));
    SHD_GUARD(shd_secret_shrink(material, key_len));
    *ret_material = SHD_TAKE_PTR(material);
    return SHD_OK;
}

/* key_ops as jwx would take it: NULL, JSON null and [] mean none; anything else is checked. */
static shd_result key_ops_check(const json_t *key_ops)
{
    if (key_ops == NULL || json_is_null(key_ops) ||
        (json_is_array(key_ops) && json_array_size(key_ops) == 0)) {
        return SHD_OK;
    }
    SHD_GUARD_CTX(shd_jwk_key_ops_check(key_ops), "setting key_ops on JWK failed");
    return SHD_OK;
}

static const json_t *key_ops_or_null(const json_t *key_ops)
{
    return key_ops != NULL && json_is_array(key_ops) ? key_ops : NULL;
}

/* PKCS#8 (wiped by the loader) -> EVP_PKEY of the wanted kind family. */
static shd_result private_key_parse(struct shd_secret *material, bool want_rsa, EVP_PKEY **ret)
{
    const char *what = want_rsa ? "could not parse RSA key" : "could not parse ECDSA key";
    EVP_PKEY *key = NULL;

    shd_result r =
        shd_crypto_privkey_load(shd_secret_ptr(material), shd_secret_len(material), &key);
    if (shd_is_err(r)) {
        shd_error_wrap("%s", what);
        return r;
    }
    enum shd_crypto_key_kind kind = shd_crypto_key_kind(key);
    bool is_rsa = kind == SHD_CRYPTO_KEY_RSA;
    bool is_ec = kind == SHD_CRYPTO_KEY_EC_P256 || kind == SHD_CRYPTO_KEY_EC_P384 ||
                 kind == SHD_CRYPTO_KEY_EC_P521;
    if ((want_rsa && !is_rsa) || (!want_rsa && !is_ec)) {
        /* The original panics on this type mismatch (D7). */
        EVP_PKEY_free(key);
        r = shd_error_setf(SHD_ERR_BAD_KEY, __FILE__, __LINE__,
                           "released key material is not %s private key",
                           want_rsa ? "an RSA" : "an ECDSA");
        shd_error_wrap("%s", what);
        return r;
    }
    *ret = key;
    return SHD_OK;
}

static shd_result oct_write(const json_t *key_ops, struct shd_secret *material, char **ret_json,
                            size_t *ret_len)
{
    SHD_GUARD(key_ops_check(key_ops));
    SHD_GUARD_CTX(shd_jwk_released_oct_write(shd_secret_data(material), shd_secret_len(material),
                                             key_ops_or_null(key_ops), ret_json, ret_len),
                  "could not encode OCT key as JWK");
    return SHD_OK;
}

static shd_result asym_write(bool rsa, const json_t *key_ops, struct shd_secret *material,
                             char **ret_json, size_t *ret_len)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;

    SHD_GUARD(private_key_parse(material, rsa, &key));
    SHD_GUARD(key_ops_check(key_ops));
    SHD_GUARD_CTX(shd_jwk_released_write(key, key_ops_or_null(key_ops), ret_json, ret_len),
                  rsa ? "could not encode RSA key as JWK" : "could not encode ECDSA key as JWK");
    return SHD_OK;
}

shd_result skr_released_jwk_write(const char *kty, const json_t *key_ops,
                                  struct shd_secret *material, char **ret_json, size_t *ret_len)
{
    char *json = NULL;
    size_t len = 0;
    shd_result r = SHD_OK;

    SHD_ENSURE_REF(kty);
    SHD_ENSURE_REF(material);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE_REF(ret_len);
    if (strcmp(kty, "oct") == 0 || strcmp(kty, "oct-HSM") == 0) {
        r = oct_write(key_ops, material, &json, &len);
    } else if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0) {
        r = asym_write(true, key_ops, material, &json, &len);
    } else if (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0) {
        r = asym_write(false, key_ops, material, &json, &len);
    } else {
        r = shd_error_setf(SHD_ERR_UNSUPPORTED, __FILE__, __LINE__,
                           "released key type %s not supported", kty);
    }
    shd_secret_clear(material);
    if (shd_is_err(r)) {
        return r;
    }
    *ret_json = json;
    *ret_len = len;
    return SHD_OK;
}
