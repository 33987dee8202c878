/*
 * crypto.c - hash identifiers, one-shot digests, random bytes, key classification, and the
 * argument checks shared by the other crypto*.c files.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "crypto_int.h"

struct shd_crypto_hash_row {
    enum shd_crypto_hash h;
    const char *name;
    size_t len;
};

static const struct shd_crypto_hash_row shd_crypto_hashes[] = {
    {SHD_CRYPTO_HASH_SHA1, "SHA1", SHD_CRYPTO_SHA1_LEN},
    {SHD_CRYPTO_HASH_SHA256, "SHA256", SHD_CRYPTO_SHA256_LEN},
    {SHD_CRYPTO_HASH_SHA384, "SHA384", SHD_CRYPTO_SHA384_LEN},
    {SHD_CRYPTO_HASH_SHA512, "SHA512", SHD_CRYPTO_SHA512_LEN},
};

static const struct shd_crypto_hash_row *shd_crypto_hash_row(enum shd_crypto_hash h)
{
    for (size_t i = 0; i < sizeof(shd_crypto_hashes) / sizeof(shd_crypto_hashes[0]); i++) {
        if (shd_crypto_hashes[i].h == h) {
            return &shd_crypto_hashes[i];
        }
    }
    return NULL;
}

size_t shd_crypto_hash_len(enum shd_crypto_hash h)
{
    const struct shd_crypto_hash_row *row = shd_crypto_hash_row(h);

    return row == NULL ? 0 : row->len;
}

const char *shd_crypto_hash_name(enum shd_crypto_hash h)
{
    const struct shd_crypto_hash_row *row = shd_crypto_hash_row(h);

    return row == NULL ? NULL : row->name;
}

const EVP_MD *shd_crypto_hash_md(enum shd_crypto_hash h)
{
    switch (h) {
    case SHD_CRYPTO_HASH_SHA1:
        return EVP_sha1();
    case SHD_CRYPTO_HASH_SHA256:
        return EVP_sha256();
    case SHD_CRYPTO_HASH_SHA384:
        return EVP_sha384();
    case SHD_CRYPTO_HASH_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

shd_result shd_crypto_hash_check_sig(enum shd_crypto_hash h)
{
    /* SHA-1 signatures are forgeable in practice (SHAttered); no format we speak needs them. */
    SHD_ENSURE_MSG(h == SHD_CRYPTO_HASH_SHA256 || h == SHD_CRYPTO_HASH_SHA384 ||
                       h == SHD_CRYPTO_HASH_SHA512,
                   SHD_ERR_USAGE, "hash %d not allowed for signatures", (int)h);
    return SHD_OK;
}

size_t shd_crypto_curve_field_len(enum shd_crypto_curve curve)
{
    switch (curve) {
    case SHD_CRYPTO_CURVE_P256:
        return 32;
    case SHD_CRYPTO_CURVE_P384:
        return 48;
    case SHD_CRYPTO_CURVE_P521:
        return 66;
    default:
        return 0;
    }
}

SHD_RESULT shd_crypto_digest(enum shd_crypto_hash h, const uint8_t *in, size_t n, uint8_t *out,
                             size_t cap, size_t *ret_len)
{
    const EVP_MD *md = shd_crypto_hash_md(h);
    unsigned int len = 0;

    SHD_ENSURE_REF(out);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG(md != NULL, SHD_ERR_USAGE, "unknown hash %d", (int)h);
    SHD_ENSURE(cap >= shd_crypto_hash_len(h), SHD_ERR_TOO_LARGE);
    /* EVP_Digest takes size_t input; an empty input needs a valid pointer. */
    SHD_GUARD_OSSL(EVP_Digest(n == 0 ? (const void *)"" : in, n, out, &len, md, NULL),
                   SHD_ERR_CRYPTO);
    *ret_len = len;
    return SHD_OK;
}

static shd_result shd_crypto_digest_fixed(enum shd_crypto_hash h, const uint8_t *in, size_t n,
                                          uint8_t *out)
{
    size_t len = 0;

    return shd_crypto_digest(h, in, n, out, shd_crypto_hash_len(h), &len);
}

SHD_RESULT shd_crypto_sha256(const uint8_t *in, size_t n, uint8_t out[static SHD_CRYPTO_SHA256_LEN])
{
    return shd_crypto_digest_fixed(SHD_CRYPTO_HASH_SHA256, in, n, out);
}

SHD_RESULT shd_crypto_sha384(const uint8_t *in, size_t n, uint8_t out[static SHD_CRYPTO_SHA384_LEN])
{
    return shd_crypto_digest_fixed(SHD_CRYPTO_HASH_SHA384, in, n, out);
}

SHD_RESULT shd_crypto_sha512(const uint8_t *in, size_t n, uint8_t out[static SHD_CRYPTO_SHA512_LEN])
{
    return shd_crypto_digest_fixed(SHD_CRYPTO_HASH_SHA512, in, n, out);
}

SHD_RESULT shd_crypto_random(uint8_t *out, size_t n)
{
    SHD_ENSURE(out != NULL || n == 0, SHD_ERR_NULL);
    /* RAND_bytes takes an int: fill in chunks so any size_t works. */
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > (1u << 20) ? (1u << 20) : n - done;
        if (RAND_bytes(out + done, (int)chunk) != 1) {
            shd_memzero(out, n);
            SHD_GUARD_OSSL(0, SHD_ERR_CRYPTO);
        }
        done += chunk;
    }
    return SHD_OK;
}

/* The curve of an EC key, or 0 when key is not EC or on another curve. */
static enum shd_crypto_curve shd_crypto_key_curve(EVP_PKEY *key)
{
    char name[64];
    size_t len = 0;

    if (key == NULL || !EVP_PKEY_is_a(key, "EC")) {
        return 0;
    }
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
        1) {
        ERR_clear_error();
        return 0;
    }
    switch (OBJ_txt2nid(name)) {
    case NID_X9_62_prime256v1:
        return SHD_CRYPTO_CURVE_P256;
    case NID_secp384r1:
        return SHD_CRYPTO_CURVE_P384;
    case NID_secp521r1:
        return SHD_CRYPTO_CURVE_P521;
    default:
        return 0;
    }
}

enum shd_crypto_key_kind shd_crypto_key_kind(EVP_PKEY *key)
{
    if (key == NULL) {
        return SHD_CRYPTO_KEY_OTHER;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        return SHD_CRYPTO_KEY_RSA;
    }
    switch (shd_crypto_key_curve(key)) {
    case SHD_CRYPTO_CURVE_P256:
        return SHD_CRYPTO_KEY_EC_P256;
    case SHD_CRYPTO_CURVE_P384:
        return SHD_CRYPTO_KEY_EC_P384;
    case SHD_CRYPTO_CURVE_P521:
        return SHD_CRYPTO_KEY_EC_P521;
    default:
        return SHD_CRYPTO_KEY_OTHER;
    }
}

bool shd_crypto_key_is_private(EVP_PKEY *key)
{
    BIGNUM *priv = NULL;
    const char *param = NULL;

    switch (shd_crypto_key_kind(key)) {
    case SHD_CRYPTO_KEY_RSA:
        param = OSSL_PKEY_PARAM_RSA_D;
        break;
    case SHD_CRYPTO_KEY_EC_P256:
    case SHD_CRYPTO_KEY_EC_P384:
    case SHD_CRYPTO_KEY_EC_P521:
        param = OSSL_PKEY_PARAM_PRIV_KEY;
        break;
    default:
        return false;
    }
    /* Fetching the value is the only portable presence test in OpenSSL 3.0; wipe the copy. */
    bool has = EVP_PKEY_get_bn_param(key, param, &priv) == 1;
    BN_clear_free(priv);
    ERR_clear_error();
    return has;
}

shd_result shd_crypto_key_check_rsa(EVP_PKEY *key, const char *op)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                   "%s needs an RSA key", op);
    /* RFC 7518 §3.3 and NIST SP 800-131A: nothing below 2048 bits. */
    SHD_ENSURE_MSG(EVP_PKEY_get_bits(key) >= 2048, SHD_ERR_BAD_KEY,
                   "%s needs an RSA key of at least 2048 bits", op);
    return SHD_OK;
}

shd_result shd_crypto_key_check_ec(EVP_PKEY *key, const char *op, size_t *ret_field)
{
    SHD_ENSURE_REF(key);
    size_t field = shd_crypto_curve_field_len(shd_crypto_key_curve(key));
    SHD_ENSURE_MSG(field != 0, SHD_ERR_BAD_KEY, "%s needs an EC P-256/P-384/P-521 key", op);
    *ret_field = field;
    return SHD_OK;
}

/* Sets up mctx for signing or verifying with hash h and padding pad. */
static shd_result shd_crypto_sig_init(enum shd_crypto_hash h, enum shd_crypto_sig_pad pad,
                                      EVP_PKEY *key, bool sign, EVP_MD_CTX *mctx)
{
    const char *md = shd_crypto_hash_name(h);
    EVP_PKEY_CTX *pctx = NULL; /* owned by mctx */

    SHD_GUARD(shd_crypto_hash_check_sig(h));
    if (sign) {
        SHD_GUARD_OSSL(EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL),
                       SHD_ERR_CRYPTO);
    } else {
        SHD_GUARD_OSSL(EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL),
                       SHD_ERR_CRYPTO);
    }
    switch (pad) {
    case SHD_CRYPTO_SIG_PAD_NONE:
        return SHD_OK;
    case SHD_CRYPTO_SIG_PAD_PKCS1:
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), SHD_ERR_CRYPTO);
        return SHD_OK;
    case SHD_CRYPTO_SIG_PAD_PSS:
        /* RFC 7518 §3.5 and the AMD certificates: MGF1 with the message hash, salt length equal
         * to the digest length (RSA_PSS_SALTLEN_DIGEST both signs and verifies exactly that). */
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), SHD_ERR_CRYPTO);
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST),
                       SHD_ERR_CRYPTO);
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL), SHD_ERR_CRYPTO);
        return SHD_OK;
    default:
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
}

shd_result shd_crypto_sig_sign(enum shd_crypto_hash h, enum shd_crypto_sig_pad pad,
                               const uint8_t *msg, size_t n, EVP_PKEY *key, uint8_t **ret_sig,
                               size_t *ret_len)
{
    SHD_CLEANUP(EVP_MD_CTX_free_p) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    SHD_CLEANUP_FREE uint8_t *sig = NULL;
    size_t len = 0;

    SHD_ENSURE(ret_sig != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE(msg != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(mctx != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE_MSG(shd_crypto_key_is_private(key), SHD_ERR_BAD_KEY, "signing needs a private key");
    SHD_GUARD(shd_crypto_sig_init(h, pad, key, true, mctx));
    const unsigned char *m = n == 0 ? (const unsigned char *)"" : msg;
    SHD_GUARD_OSSL(EVP_DigestSign(mctx, NULL, &len, m, n), SHD_ERR_CRYPTO);
    sig = shd_alloc(len);
    SHD_ENSURE(sig != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_DigestSign(mctx, sig, &len, m, n), SHD_ERR_CRYPTO);
    *ret_sig = SHD_TAKE_PTR(sig);
    *ret_len = len;
    return SHD_OK;
}

shd_result shd_crypto_sig_verify(enum shd_crypto_hash h, enum shd_crypto_sig_pad pad,
                                 const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len,
                                 EVP_PKEY *key)
{
    SHD_CLEANUP(EVP_MD_CTX_free_p) EVP_MD_CTX *mctx = EVP_MD_CTX_new();

    SHD_ENSURE(msg != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(sig != NULL || sig_len == 0, SHD_ERR_NULL);
    SHD_ENSURE(mctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(shd_crypto_sig_init(h, pad, key, false, mctx));
    const unsigned char *m = n == 0 ? (const unsigned char *)"" : msg;
    /* 1 is valid; 0 is a bad signature and < 0 a malformed one: both are just "invalid". */
    if (EVP_DigestVerify(mctx, sig_len == 0 ? (const unsigned char *)"" : sig, sig_len, m, n) !=
        1) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_BAD_SIGNATURE, "signature verification failed");
    }
    return SHD_OK;
}
