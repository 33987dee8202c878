/*
 * keystore_key.c - key material of the Key Vault emulator: generation, JWK import, the public
 * JWK of a KeyBundle and the CKM_RSA_AES_KEY_WRAP family (azure-formats.md §5.5).
 */
#include <string.h>

#include <openssl/evp.h>

#include "keystore.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"

#define KS_OCT_MAX 32u

struct aemu_key_material {
    enum shd_jwk_kty kind;
    EVP_PKEY *pkey;            /* RSA, EC */
    struct shd_secret *oct;    /* oct: the raw key in locked, guarded pages */
};

static const struct {
    const char *name;
    enum aemu_key_enc enc;
    enum shd_crypto_hash hash;
} ks_encs[] = {
    {"CKM_RSA_AES_KEY_WRAP", AEMU_KEY_ENC_CKM_RSA_AES_KEY_WRAP, SHD_CRYPTO_HASH_SHA1},
    {"RSA_AES_KEY_WRAP_256", AEMU_KEY_ENC_RSA_AES_KEY_WRAP_256, SHD_CRYPTO_HASH_SHA256},
    {"RSA_AES_KEY_WRAP_384", AEMU_KEY_ENC_RSA_AES_KEY_WRAP_384, SHD_CRYPTO_HASH_SHA384},
};

shd_result aemu_key_enc_parse(const char *name, enum aemu_key_enc *ret_enc)
{
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ret_enc);
    for (size_t i = 0; i < sizeof(ks_encs) / sizeof(ks_encs[0]); i++) {
        if (strcmp(name, ks_encs[i].name) == 0) {
            *ret_enc = ks_encs[i].enc;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "unsupported key export encryption algorithm");
}

const char *aemu_key_enc_name(enum aemu_key_enc enc)
{
    for (size_t i = 0; i < sizeof(ks_encs) / sizeof(ks_encs[0]); i++) {
        if (ks_encs[i].enc == enc) {
            return ks_encs[i].name;
        }
    }
    return NULL;
}

static shd_result ks_enc_hash(enum aemu_key_enc enc, enum shd_crypto_hash *ret)
{
    for (size_t i = 0; i < sizeof(ks_encs) / sizeof(ks_encs[0]); i++) {
        if (ks_encs[i].enc == enc) {
            *ret = ks_encs[i].hash;
            return SHD_OK;
        }
    }
    SHD_BAIL(SHD_ERR_USAGE);
}

void aemu_key_material_free(struct aemu_key_material *m)
{
    if (m == NULL) {
        return;
    }
    EVP_PKEY_free(m->pkey);
    shd_secret_free(&m->oct);
    shd_free(m);
}

SHD_DEFINE_CLEANUP(struct aemu_key_material, aemu_key_material_free, ks_material_freep)

enum shd_jwk_kty aemu_key_material_kind(const struct aemu_key_material *m)
{
    return m->kind;
}

static shd_result ks_oct_generate(unsigned bits, struct aemu_key_material *m)
{
    SHD_ENSURE_MSG(bits == 128 || bits == 192 || bits == 256, SHD_ERR_UNSUPPORTED,
                   "oct key size %u not supported (128, 192 or 256)", bits);
    SHD_GUARD(shd_secret_alloc(bits / 8u, &m->oct));
    return shd_crypto_random(shd_secret_ptr(m->oct), bits / 8u);
}

shd_result aemu_key_material_generate(enum shd_jwk_kty kind, unsigned bits,
                                      enum shd_crypto_curve curve, struct aemu_key_material **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(ks_material_freep) struct aemu_key_material *m = shd_alloc(sizeof(*m));
    SHD_ENSURE(m != NULL, SHD_ERR_NOMEM);
    m->kind = kind;
    switch (kind) {
    case SHD_JWK_KTY_RSA:
        SHD_ENSURE_MSG(bits == 2048 || bits == 3072 || bits == 4096, SHD_ERR_UNSUPPORTED,
                       "RSA key size %u not supported (2048, 3072 or 4096)", bits);
        SHD_GUARD(shd_crypto_rsa_generate(bits, &m->pkey));
        break;
    case SHD_JWK_KTY_EC:
        SHD_GUARD(shd_crypto_ec_generate(curve, &m->pkey));
        break;
    case SHD_JWK_KTY_OCT:
        SHD_GUARD(ks_oct_generate(bits, m));
        break;
    default:
        SHD_BAIL(SHD_ERR_USAGE);
    }
    *ret = SHD_TAKE_PTR(m);
    return SHD_OK;
}

static shd_result ks_import_oct(const json_t *jwk, struct aemu_key_material *m)
{
    uint8_t k[KS_OCT_MAX];
    SHD_CLEANUP_ERASE(k);
    size_t len = 0;
    SHD_GUARD(shd_jwk_import_oct(jwk, 0, k, sizeof(k), &len));
    SHD_ENSURE_MSG(len == 16 || len == 24 || len == 32, SHD_ERR_BAD_KEY,
                   "oct key of %zu bytes not supported (16, 24 or 32)", len);
    return shd_secret_from(k, len, &m->oct);
}

static shd_result ks_import_asym(const json_t *jwk, struct aemu_key_material *m)
{
    SHD_ENSURE_MSG(json_object_get(jwk, "d") != NULL, SHD_ERR_BAD_KEY,
                   "the key to import has no private part");
    SHD_GUARD(shd_jwk_import_private(jwk, &m->pkey));
    if (m->kind == SHD_JWK_KTY_RSA) {
        int bits = EVP_PKEY_get_bits(m->pkey);
        SHD_ENSURE_MSG(bits == 2048 || bits == 3072 || bits == 4096, SHD_ERR_UNSUPPORTED,
                       "RSA key size %d not supported (2048, 3072 or 4096)", bits);
    }
    return SHD_OK;
}

shd_result aemu_key_material_import(const json_t *jwk, struct aemu_key_material **ret,
                                    enum shd_jwk_kty *ret_kind)
{
    SHD_ENSURE_REF(jwk);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_kind);
    const char *kty = NULL;
    SHD_GUARD(shd_json_get_string(jwk, "kty", &kty));
    SHD_CLEANUP(ks_material_freep) struct aemu_key_material *m = shd_alloc(sizeof(*m));
    SHD_ENSURE(m != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(shd_jwk_kty_parse(kty, &m->kind));
    if (m->kind == SHD_JWK_KTY_OCT) {
        SHD_GUARD(ks_import_oct(jwk, m));
    } else {
        SHD_GUARD(ks_import_asym(jwk, m));
    }
    *ret_kind = m->kind;
    *ret = SHD_TAKE_PTR(m);
    return SHD_OK;
}

shd_result aemu_key_version_public_jwk(const char *kid, const struct aemu_key_version *v,
                                       json_t **ret)
{
    SHD_ENSURE_REF(kid);
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_JSON json_t *jwk = json_object();
    SHD_CLEANUP_JSON json_t *ops = json_deep_copy(v->key_ops);
    SHD_ENSURE(jwk != NULL && ops != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(jwk, "kid", json_string(kid)) == 0, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(jwk, "kty", json_string(v->kty)) == 0, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set(jwk, "key_ops", ops) == 0, SHD_ERR_NOMEM);
    if (v->material->kind != SHD_JWK_KTY_OCT) {
        SHD_CLEANUP_JSON json_t *pub = NULL;
        SHD_GUARD(shd_jwk_export_public(v->material->pkey, &pub));
        /* Key Vault's member order: the public parameters follow key_ops. */
        static const char *const members[] = {"n", "e", "crv", "x", "y"};
        for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
            json_t *val = json_object_get(pub, members[i]);
            if (val != NULL) {
                SHD_ENSURE(json_object_set(jwk, members[i], val) == 0, SHD_ERR_NOMEM);
            }
        }
    }
    *ret = SHD_TAKE_PTR(jwk);
    return SHD_OK;
}

/* The plaintext of the transfer: raw oct bytes or PKCS#8 DER, in a buffer the caller wipes. */
static shd_result ks_plaintext(const struct aemu_key_material *m, uint8_t **ret, size_t *ret_len)
{
    if (m->kind == SHD_JWK_KTY_OCT) {
        size_t n = shd_secret_len(m->oct);
        uint8_t *p = shd_memdup(shd_secret_data(m->oct), n);
        SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
        *ret = p;
        *ret_len = n;
        return SHD_OK;
    }
    size_t need = 0;
    SHD_GUARD(shd_crypto_privkey_export_pkcs8_der(m->pkey, NULL, 0, &need));
    uint8_t *p = shd_alloc(need);
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    size_t got = 0;
    shd_result r = shd_crypto_privkey_export_pkcs8_der(m->pkey, p, need, &got);
    if (shd_is_err(r)) {
        shd_free_wipe(p, need);
        return r;
    }
    *ret = p;
    *ret_len = got;
    return SHD_OK;
}

static shd_result ks_wrap(enum shd_crypto_hash hash, EVP_PKEY *wrapping_pub,
                          const uint8_t kek[static SHD_CRYPTO_AES256_KEY_LEN], const uint8_t *pt,
                          size_t pt_len, uint8_t **ret_ct, size_t *ret_len)
{
    SHD_CLEANUP_FREE uint8_t *rsa_ct = NULL;
    size_t rsa_len = 0;
    SHD_GUARD_CTX(shd_crypto_rsa_oaep_encrypt(hash, kek, SHD_CRYPTO_AES256_KEY_LEN, wrapping_pub,
                                              &rsa_ct, &rsa_len),
                  "RSA-OAEP of the transfer key");
    size_t kwp_len = SHD_CRYPTO_KWP_WRAPPED_LEN(pt_len);
    size_t total = 0;
    SHD_GUARD(shd_add_overflow(rsa_len, kwp_len, &total));
    SHD_CLEANUP_FREE uint8_t *ct = shd_alloc(total);
    SHD_ENSURE(ct != NULL, SHD_ERR_NOMEM);
    shd_memcpy(ct, rsa_ct, rsa_len);
    size_t got = 0;
    SHD_GUARD(shd_crypto_aes_kwp_wrap(kek, SHD_CRYPTO_AES256_KEY_LEN, pt, pt_len, ct + rsa_len,
                                      kwp_len, &got));
    SHD_ENSURE(got == kwp_len, SHD_ERR_INTERNAL);
    *ret_len = total;
    *ret_ct = SHD_TAKE_PTR(ct);
    return SHD_OK;
}

shd_result aemu_key_version_wrap(enum aemu_key_enc enc, EVP_PKEY *wrapping_pub,
                                 const struct aemu_key_version *v, uint8_t **ret_ct,
                                 size_t *ret_len)
{
    SHD_ENSURE_REF(wrapping_pub);
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(ret_ct);
    SHD_ENSURE_REF(ret_len);
    /* Set by ks_enc_hash; initialised because gcc -O2 cannot see through the result. */
    enum shd_crypto_hash hash = SHD_CRYPTO_HASH_SHA256;
    SHD_GUARD(ks_enc_hash(enc, &hash));
    SHD_ENSURE_MSG(shd_crypto_key_kind(wrapping_pub) == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY,
                   "the wrapping key is not an RSA key");
    uint8_t kek[SHD_CRYPTO_AES256_KEY_LEN];
    SHD_CLEANUP_ERASE(kek);
    SHD_GUARD(shd_crypto_random(kek, sizeof(kek)));
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    SHD_GUARD(ks_plaintext(v->material, &pt, &pt_len));
    shd_result r = ks_wrap(hash, wrapping_pub, kek, pt, pt_len, ret_ct, ret_len);
    shd_free_wipe(pt, pt_len);
    return r;
}
