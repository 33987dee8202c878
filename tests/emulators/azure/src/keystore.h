/*
 * keystore.h - the Key Vault / Managed HSM emulator's key store: key material (RSA, EC, oct),
 * the versions of each key per vault, and the one operation that lets key material out, the
 * CKM_RSA_AES_KEY_WRAP family of azure-formats.md §5.5.
 *
 * Shape (STYLE.md rule 3, step 1): key material sits behind struct aemu_key_material, which
 * offers generate, import, public JWK and wrap, and no function that hands out raw key bytes.
 *
 * Storage: memory only, per process. A version, once added, is immutable and lives until the
 * store is freed (there is no delete), so the pointers handed out by lookups stay valid while
 * the store lives and may be read by several threads at once. The store's index is guarded by
 * a mutex. Bounded: AEMU_KEYSTORE_MAX_KEYS keys and AEMU_KEYSTORE_MAX_VERSIONS versions each.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "release_policy.h"
#include "shd/crypto.h"
#include "shd/jwk.h"
#include "shd/result.h"

#define AEMU_KEY_NAME_MAX 127   /* Key Vault object names: ^[0-9a-zA-Z-]{1,127}$ */
#define AEMU_KEY_VERSION_LEN 32 /* 32 lower-case hex digits, as Key Vault's versions */
#define AEMU_KEY_VAULT_MAX 253  /* a DNS host name */
#define AEMU_KEY_KTY_MAX 8      /* "RSA-HSM", "oct-HSM" */
#define AEMU_KEYSTORE_MAX_KEYS 1024
#define AEMU_KEYSTORE_MAX_VERSIONS 64

/* Key export encryption algorithms (KeyReleaseParameters.enc, azure-formats.md §5.3, §5.5). */
enum aemu_key_enc {
    AEMU_KEY_ENC_CKM_RSA_AES_KEY_WRAP = 1, /* RSA-OAEP SHA-1 */
    AEMU_KEY_ENC_RSA_AES_KEY_WRAP_256,     /* RSA-OAEP SHA-256 */
    AEMU_KEY_ENC_RSA_AES_KEY_WRAP_384,     /* RSA-OAEP SHA-384 */
};

/* Maps an enc name (exact) to the enum: SHD_ERR_UNSUPPORTED for anything else. */
SHD_RESULT aemu_key_enc_parse(const char *name, enum aemu_key_enc *ret_enc);

/* The wire name of enc; NULL outside the enum. */
const char *aemu_key_enc_name(enum aemu_key_enc enc);

/* ---- key material ---- */

struct aemu_key_material;

/*
 * Generates key material. RSA: bits 2048, 3072 or 4096. EC: curve (bits ignored). oct: bits
 * 128, 192 or 256. Other sizes: SHD_ERR_UNSUPPORTED. *ret: aemu_key_material_free.
 */
SHD_RESULT aemu_key_material_generate(enum shd_jwk_kty kind, unsigned bits,
                                      enum shd_crypto_curve curve,
                                      struct aemu_key_material **ret);

/*
 * Imports the private key of a JWK (kty with or without "-HSM"). RSA moduli must be 2048, 3072
 * or 4096 bits, EC keys on P-256/P-384/P-521, oct keys 16, 24 or 32 bytes. A public-only RSA
 * or EC JWK is refused (SHD_ERR_BAD_KEY). *ret_kind gets the key's kind.
 */
SHD_RESULT aemu_key_material_import(const json_t *jwk, struct aemu_key_material **ret,
                                    enum shd_jwk_kty *ret_kind);

/* Frees (wipes) key material; NULL is fine. */
void aemu_key_material_free(struct aemu_key_material *m);

/* Kind of the material. */
enum shd_jwk_kty aemu_key_material_kind(const struct aemu_key_material *m);

/* ---- versions ---- */

/* A key version. Filled by the caller before aemu_keystore_add, read-only afterwards. */
struct aemu_key_version {
    char name[AEMU_KEY_NAME_MAX + 1];
    char version[AEMU_KEY_VERSION_LEN + 1]; /* set by aemu_keystore_add */
    char kty[AEMU_KEY_KTY_MAX + 1];         /* as reported: "RSA", "RSA-HSM", "EC-HSM", ... */
    struct aemu_key_material *material;     /* owned */
    json_t *key_ops;                        /* owned; array of strings */
    json_t *tags;                           /* owned; object of strings, or NULL */
    bool enabled;
    bool exportable;
    int64_t created; /* set by aemu_keystore_add */
    int64_t updated;
    /* Release policy (all NULL when the key has none). */
    char *policy_content_type;          /* owned */
    bool policy_immutable;
    char *policy_data;                  /* owned; unpadded base64url of the policy JSON */
    struct aemu_release_policy *policy; /* owned; parsed */
};

/* Frees a version that was never added (NULL is fine). */
void aemu_key_version_free(struct aemu_key_version *v);

/*
 * The public JWK of a version as Key Vault returns it in a KeyBundle: kid, kty, key_ops and
 * n, e (RSA) or crv, x, y (EC); oct keys show no key material. *ret: json_decref.
 */
SHD_RESULT aemu_key_version_public_jwk(const char *kid, const struct aemu_key_version *v,
                                       json_t **ret);

/*
 * CKM_RSA_AES_KEY_WRAP and variants (azure-formats.md §5.5): a fresh AES-256 KEK, RSA-OAEP of
 * the KEK under wrapping_pub with the hash of enc (MGF1 the same, empty label), followed by the
 * RFC 5649 wrap under the KEK of the raw oct key or the PKCS#8 DER of an RSA/EC private key.
 * *ret_ct: shd_free. The KEK and the plaintext are wiped on every path.
 */
SHD_RESULT aemu_key_version_wrap(enum aemu_key_enc enc, EVP_PKEY *wrapping_pub,
                                 const struct aemu_key_version *v, uint8_t **ret_ct,
                                 size_t *ret_len);

/* ---- the store ---- */

struct aemu_keystore;

/* An empty store. *ret: aemu_keystore_free. */
SHD_RESULT aemu_keystore_new(struct aemu_keystore **ret);

/* Frees the store and every version in it (NULL is fine). */
void aemu_keystore_free(struct aemu_keystore *ks);

/*
 * Adds v as the newest version of key v->name in vault (a new key if needed): assigns
 * v->version (random) and created = updated = now. Takes ownership of v on success only.
 * *ret_v (optional) borrows the stored version. SHD_ERR_TOO_LARGE past the limits.
 */
SHD_RESULT aemu_keystore_add(const char *vault, struct aemu_key_version *v,
                             struct aemu_keystore *ks, const struct aemu_key_version **ret_v);

/*
 * Looks up the newest version (version NULL or "") or the given one of key name in vault.
 * SHD_ERR_NOT_FOUND when absent. *ret borrows from the store.
 */
SHD_RESULT aemu_keystore_get(const char *vault, const char *name, const char *version,
                             struct aemu_keystore *ks, const struct aemu_key_version **ret);

/*
 * All versions of a key, oldest first, as a fresh array of borrowed pointers (shd_free the
 * array only). SHD_ERR_NOT_FOUND when the key does not exist.
 */
SHD_RESULT aemu_keystore_versions(const char *vault, const char *name, struct aemu_keystore *ks,
                                  const struct aemu_key_version ***ret, size_t *ret_n);
