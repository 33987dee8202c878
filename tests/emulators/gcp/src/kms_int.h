/*
 * kms_int.h - the KMS emulator's internals shared by kms.c (HTTP), kms_store.c (registry),
 * kms_ops.c (cryptographic operations) and kms_keyfile.c (key material).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kms.h"
#include "shd/result.h"
#include "tokens.h"

#define GEMU_KMS_MAX_RINGS 256u
#define GEMU_KMS_MAX_KEYS 1024u
/* Longest resource name we hold ("projects/../cryptoKeys/../cryptoKeyVersions/N"). */
#define GEMU_KMS_NAME_MAX 512u

/* The parts of "projects/P/locations/L/keyRings/R/cryptoKeys/K". */
struct gemu_kms_key_name {
    char project[GEMU_KMS_ID_MAX + 1];
    char location[GEMU_KMS_ID_MAX + 1];
    char ring[GEMU_KMS_ID_MAX + 1];
    char key[GEMU_KMS_ID_MAX + 1];
};

/* One key version: an RSA private key, or a 32-byte AES key. Immutable once published. */
struct gemu_kms_version {
    uint32_t number;
    EVP_PKEY *rsa;                     /* RSA algorithms */
    uint8_t aes[GEMU_KMS_AES_KEY_LEN]; /* GOOGLE_SYMMETRIC_ENCRYPTION; wiped at free */
    char *pem;                         /* SPKI PEM of rsa, made at load (getPublicKey) */
};

struct gemu_kms_key {
    char name[GEMU_KMS_NAME_MAX];
    enum gemu_kms_alg alg;
    uint32_t primary;
    struct gemu_kms_version *versions[GEMU_KMS_MAX_VERSIONS];
    size_t nversions;
    json_t *policy; /* may be NULL */
    int64_t create_time;
};

struct gemu_kms_ring {
    char name[GEMU_KMS_NAME_MAX];
    json_t *policy; /* may be NULL */
    int64_t create_time;
};

/*
 * The registry. Keys and rings are never deleted and their objects never move (arrays of
 * pointers), so a pointer stays valid while the store lives; the lock guards the arrays (writers:
 * create) and readers hold it for the duration of an operation.
 */
struct gemu_kms_store {
    pthread_rwlock_t lock;
    struct gemu_kms_ring *rings[GEMU_KMS_MAX_RINGS];
    size_t nrings;
    struct gemu_kms_key *keys[GEMU_KMS_MAX_KEYS];
    size_t nkeys;
    const json_t *project_policy; /* config.json "iamPolicy" (borrowed) */
};

/* Splits a crypto key name (each id checked with gemu_kms_id_ok). SHD_ERR_INPUT otherwise. */
SHD_RESULT gemu_kms_key_name_parse(const char *name, struct gemu_kms_key_name *ret);

/* RSA modulus size of an algorithm (0 for the symmetric one). */
unsigned gemu_kms_alg_rsa_bits(enum gemu_kms_alg alg);

/* Fresh key material for a version. *ret: gemu_kms_version_free. */
SHD_RESULT gemu_kms_version_generate(enum gemu_kms_alg alg, uint32_t number,
                                     struct gemu_kms_version **ret);

/* Loads a version's material written by gemu_kms_material_create (mode must be 0600-ish). */
SHD_RESULT gemu_kms_version_load(const char *state_dir, const struct gemu_kms_key_name *k,
                                 enum gemu_kms_alg alg, uint32_t number,
                                 struct gemu_kms_version **ret);

/* Wipes and frees a version (NULL is fine). */
void gemu_kms_version_free(struct gemu_kms_version *v);

/* ---- kms_store.c ---- */

/* Loads config.json "kms" (and "iamPolicy") with the material under state_dir. */
SHD_RESULT gemu_kms_store_init(const char *state_dir, const json_t *config,
                               struct gemu_kms_store *store);

/* Frees everything the store holds. */
void gemu_kms_store_clear(struct gemu_kms_store *store);

/* Lookups under the caller's read lock; NULL when absent. */
struct gemu_kms_key *gemu_kms_store_key(const struct gemu_kms_store *store, const char *name);
struct gemu_kms_ring *gemu_kms_store_ring(const struct gemu_kms_store *store, const char *name);
struct gemu_kms_version *gemu_kms_key_version(const struct gemu_kms_key *key, uint32_t number);

/*
 * True when p holds permission on key (its own policy, its ring's, or the project's). key may
 * be NULL for ring-level checks, in which case ring_name names the ring (may be NULL).
 */
bool gemu_kms_allowed(const struct gemu_kms_store *store, const struct gemu_kms_key *key,
                      const char *ring_name, const char *permission,
                      const struct gemu_principal *p);

/* Adds a ring / key under the write lock (taken inside). SHD_ERR_INPUT "already exists",
 * SHD_ERR_NOT_FOUND (key without its ring), SHD_ERR_TOO_LARGE (limits). The key takes
 * ownership of *version (set to NULL). */
SHD_RESULT gemu_kms_store_add_ring(const char *name, int64_t now, struct gemu_kms_store *store);
SHD_RESULT gemu_kms_store_add_key(const char *name, enum gemu_kms_alg alg,
                                  struct gemu_kms_version **version, int64_t now,
                                  struct gemu_kms_store *store);

/* ---- kms_ops.c: each answers the whole response (success or Google error envelope) ---- */

/* GET .../cryptoKeyVersions/N/publicKey */
SHD_RESULT gemu_kms_op_public_key(const struct gemu_kms_key *key, const struct gemu_kms_version *v,
                                  struct shd_http_resp *resp);
/* POST .../cryptoKeyVersions/N:asymmetricDecrypt */
SHD_RESULT gemu_kms_op_asymmetric_decrypt(const struct gemu_kms_key *key,
                                          const struct gemu_kms_version *v, const json_t *body,
                                          struct shd_http_resp *resp);
/* POST .../cryptoKeys/K:encrypt (v NULL: the primary) or .../cryptoKeyVersions/N:encrypt */
SHD_RESULT gemu_kms_op_encrypt(const struct gemu_kms_key *key, const struct gemu_kms_version *v,
                               const json_t *body, struct shd_http_resp *resp);
/* POST .../cryptoKeys/K:decrypt */
SHD_RESULT gemu_kms_op_decrypt(const struct gemu_kms_key *key, const json_t *body,
                               struct shd_http_resp *resp);
/* The CryptoKey / KeyRing resource JSON (create and get answers). */
SHD_RESULT gemu_kms_op_key_json(const struct gemu_kms_key *key, struct shd_http_resp *resp);
SHD_RESULT gemu_kms_op_ring_json(const struct gemu_kms_ring *ring, struct shd_http_resp *resp);
