/*
 * kms_store.c - the KMS registry: key rings, crypto keys, versions and their IAM (kms_int.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iam.h"
#include "kms_int.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

static void kms_key_free(struct gemu_kms_key *k)
{
    if (k == NULL) {
        return;
    }
    for (size_t i = 0; i < k->nversions; i++) {
        gemu_kms_version_free(k->versions[i]);
    }
    if (k->policy != NULL) {
        json_decref(k->policy);
    }
    shd_free(k);
}

static void kms_ring_free(struct gemu_kms_ring *r)
{
    if (r == NULL) {
        return;
    }
    if (r->policy != NULL) {
        json_decref(r->policy);
    }
    shd_free(r);
}

void gemu_kms_store_clear(struct gemu_kms_store *store)
{
    if (store == NULL) {
        return;
    }
    for (size_t i = 0; i < store->nkeys; i++) {
        kms_key_free(store->keys[i]);
    }
    for (size_t i = 0; i < store->nrings; i++) {
        kms_ring_free(store->rings[i]);
    }
    (void)pthread_rwlock_destroy(&store->lock);
    shd_memzero(store, sizeof(*store));
}

struct gemu_kms_key *gemu_kms_store_key(const struct gemu_kms_store *store, const char *name)
{
    for (size_t i = 0; store != NULL && name != NULL && i < store->nkeys; i++) {
        if (strcmp(store->keys[i]->name, name) == 0) {
            return store->keys[i];
        }
    }
    return NULL;
}

struct gemu_kms_ring *gemu_kms_store_ring(const struct gemu_kms_store *store, const char *name)
{
    for (size_t i = 0; store != NULL && name != NULL && i < store->nrings; i++) {
        if (strcmp(store->rings[i]->name, name) == 0) {
            return store->rings[i];
        }
    }
    return NULL;
}

struct gemu_kms_version *gemu_kms_key_version(const struct gemu_kms_key *key, uint32_t number)
{
    for (size_t i = 0; key != NULL && i < key->nversions; i++) {
        if (key->versions[i]->number == number) {
            return key->versions[i];
        }
    }
    return NULL;
}

/* "projects/P/locations/L/keyRings/R" of a key name (the part before "/cryptoKeys/"). */
static bool kms_ring_of(const char *key_name, char *out, size_t cap)
{
    const char *p = strstr(key_name, "/cryptoKeys/");
    if (p == NULL || (size_t)(p - key_name) >= cap) {
        return false;
    }
    shd_memcpy(out, key_name, (size_t)(p - key_name));
    out[p - key_name] = '\0';
    return true;
}

bool gemu_kms_allowed(const struct gemu_kms_store *store, const struct gemu_kms_key *key,
                      const char *ring_name, const char *permission, const struct gemu_principal *p)
{
    if (store == NULL || permission == NULL || p == NULL) {
        return false;
    }
    if (gemu_iam_policy_allows(store->project_policy, permission, p)) {
        return true;
    }
    char ring[GEMU_KMS_NAME_MAX];
    if (key != NULL) {
        if (gemu_iam_policy_allows(key->policy, permission, p)) {
            return true;
        }
        if (!kms_ring_of(key->name, ring, sizeof(ring))) {
            return false;
        }
        ring_name = ring;
    }
    const struct gemu_kms_ring *r = gemu_kms_store_ring(store, ring_name);
    return r != NULL && gemu_iam_policy_allows(r->policy, permission, p);
}

static bool kms_ring_name_ok(const char *name)
{
    struct gemu_path_captures c;
    return strlen(name) < GEMU_KMS_NAME_MAX &&
           gemu_path_match("projects/*/locations/*/keyRings/*", name, &c) &&
           strlen(c.v[0]) <= GEMU_KMS_ID_MAX && gemu_kms_id_ok(c.v[1]) && gemu_kms_id_ok(c.v[2]);
}

shd_result gemu_kms_store_add_ring(const char *name, int64_t now, struct gemu_kms_store *store)
{
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(store);
    SHD_ENSURE_MSG(kms_ring_name_ok(name), SHD_ERR_INPUT, "invalid key ring name");
    struct gemu_kms_ring *r = shd_alloc(sizeof(*r));
    SHD_ENSURE(r != NULL, SHD_ERR_NOMEM);
    shd_memcpy(r->name, name, strlen(name) + 1);
    r->create_time = now;
    shd_result res = SHD_OK;
    (void)pthread_rwlock_wrlock(&store->lock);
    if (gemu_kms_store_ring(store, name) != NULL) {
        res = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "already exists");
    } else if (store->nrings >= GEMU_KMS_MAX_RINGS) {
        res = shd_error_setf(SHD_ERR_TOO_LARGE, __FILE__, __LINE__, "too many key rings");
    } else {
        store->rings[store->nrings++] = r;
        r = NULL;
    }
    (void)pthread_rwlock_unlock(&store->lock);
    kms_ring_free(r);
    return res;
}

/* Makes the SPKI PEM that getPublicKey returns (kept so that its CRC is stable). */
static shd_result kms_version_publish(struct gemu_kms_version *v)
{
    if (v->rsa != NULL && v->pem == NULL) {
        SHD_GUARD(shd_crypto_pubkey_export_spki_pem(v->rsa, &v->pem, NULL));
    }
    return SHD_OK;
}

shd_result gemu_kms_store_add_key(const char *name, enum gemu_kms_alg alg,
                                  struct gemu_kms_version **version, int64_t now,
                                  struct gemu_kms_store *store)
{
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(version);
    SHD_ENSURE_REF(*version);
    SHD_ENSURE_REF(store);
    struct gemu_kms_key_name parts;
    SHD_GUARD(gemu_kms_key_name_parse(name, &parts));
    SHD_ENSURE_MSG(strlen(name) < GEMU_KMS_NAME_MAX, SHD_ERR_INPUT, "name too long");
    SHD_GUARD(kms_version_publish(*version));
    char ring[GEMU_KMS_NAME_MAX];
    SHD_ENSURE(kms_ring_of(name, ring, sizeof(ring)), SHD_ERR_INPUT);
    struct gemu_kms_key *k = shd_alloc(sizeof(*k));
    SHD_ENSURE(k != NULL, SHD_ERR_NOMEM);
    shd_memcpy(k->name, name, strlen(name) + 1);
    k->alg = alg;
    k->create_time = now;
    k->primary = (*version)->number;
    shd_result res = SHD_OK;
    (void)pthread_rwlock_wrlock(&store->lock);
    if (gemu_kms_store_ring(store, ring) == NULL) {
        res = shd_error_setf(SHD_ERR_NOT_FOUND, __FILE__, __LINE__, "key ring not found");
    } else if (gemu_kms_store_key(store, name) != NULL) {
        res = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "already exists");
    } else if (store->nkeys >= GEMU_KMS_MAX_KEYS) {
        res = shd_error_setf(SHD_ERR_TOO_LARGE, __FILE__, __LINE__, "too many crypto keys");
    } else {
        k->versions[0] = *version;
        k->nversions = 1;
        *version = NULL;
        store->keys[store->nkeys++] = k;
        k = NULL;
    }
    (void)pthread_rwlock_unlock(&store->lock);
    kms_key_free(k);
    return res;
}

/* ------------------------------------------------------------------------------------------ */
/* Loading config.json                                                                         */

static json_t *kms_policy_ref(const json_t *obj)
{
    json_t *p = json_object_get(obj, "iamPolicy");
    return p != NULL ? json_incref(p) : NULL;
}

static shd_result kms_load_key(const char *dir, const char *ring, const json_t *cfg,
                               struct gemu_kms_store *store)
{
    const char *name = NULL;
    const char *alg_s = NULL;
    SHD_GUARD(shd_json_get_string(cfg, "name", &name));
    SHD_GUARD(shd_json_get_string(cfg, "algorithm", &alg_s));
    size_t rl = strlen(ring);
    SHD_ENSURE_MSG(strncmp(name, ring, rl) == 0 && strncmp(name + rl, "/cryptoKeys/", 12) == 0,
                   SHD_ERR_CONFIG, "key %s is not in ring %s", name, ring);
    SHD_ENSURE_MSG(strlen(name) < GEMU_KMS_NAME_MAX, SHD_ERR_CONFIG, "name too long");
    enum gemu_kms_alg alg;
    SHD_GUARD_CTX(gemu_kms_alg_parse(alg_s, &alg), "key %s", name);
    int64_t nver = 0;
    int64_t primary = 0;
    SHD_GUARD(shd_json_get_int(cfg, "versions", 1, GEMU_KMS_MAX_VERSIONS, &nver));
    SHD_GUARD(shd_json_get_int(cfg, "primaryVersion", 1, nver, &primary));
    struct gemu_kms_key_name parts;
    SHD_GUARD_CTX(gemu_kms_key_name_parse(name, &parts), "key %s", name);
    SHD_ENSURE_MSG(store->nkeys < GEMU_KMS_MAX_KEYS, SHD_ERR_CONFIG, "too many keys");
    SHD_ENSURE_MSG(gemu_kms_store_key(store, name) == NULL, SHD_ERR_CONFIG, "duplicate key %s",
                   name);
    struct gemu_kms_key *k = shd_alloc(sizeof(*k));
    SHD_ENSURE(k != NULL, SHD_ERR_NOMEM);
    shd_memcpy(k->name, name, strlen(name) + 1);
    k->alg = alg;
    k->primary = (uint32_t)primary;
    k->policy = kms_policy_ref(cfg);
    k->create_time = (int64_t)time(NULL);
    store->keys[store->nkeys++] = k;
    for (int64_t i = 1; i <= nver; i++) {
        struct gemu_kms_version *v = NULL;
        SHD_GUARD(gemu_kms_version_load(dir, &parts, alg, (uint32_t)i, &v));
        k->versions[k->nversions++] = v;
        SHD_GUARD(kms_version_publish(v));
    }
    return SHD_OK;
}

static shd_result kms_load_ring(const char *dir, const json_t *cfg, struct gemu_kms_store *store)
{
    const char *name = NULL;
    SHD_GUARD(shd_json_get_string(cfg, "name", &name));
    SHD_ENSURE_MSG(kms_ring_name_ok(name), SHD_ERR_CONFIG, "bad key ring name %s", name);
    SHD_ENSURE_MSG(store->nrings < GEMU_KMS_MAX_RINGS, SHD_ERR_CONFIG, "too many key rings");
    SHD_ENSURE_MSG(gemu_kms_store_ring(store, name) == NULL, SHD_ERR_CONFIG,
                   "duplicate key ring %s", name);
    struct gemu_kms_ring *r = shd_alloc(sizeof(*r));
    SHD_ENSURE(r != NULL, SHD_ERR_NOMEM);
    shd_memcpy(r->name, name, strlen(name) + 1);
    r->policy = kms_policy_ref(cfg);
    r->create_time = (int64_t)time(NULL);
    store->rings[store->nrings++] = r;
    const json_t *keys = json_object_get(cfg, "cryptoKeys");
    size_t i = 0;
    const json_t *k = NULL;
    json_array_foreach(keys, i, k)
    {
        SHD_GUARD(kms_load_key(dir, name, k, store));
    }
    return SHD_OK;
}

shd_result gemu_kms_store_init(const char *state_dir, const json_t *config,
                               struct gemu_kms_store *store)
{
    SHD_ENSURE_REF(state_dir);
    SHD_ENSURE_REF(config);
    SHD_ENSURE_REF(store);
    shd_memzero(store, sizeof(*store));
    SHD_ENSURE(pthread_rwlock_init(&store->lock, NULL) == 0, SHD_ERR_INTERNAL);
    store->project_policy = json_object_get(config, "iamPolicy");
    const json_t *rings = json_object_get(json_object_get(config, "kms"), "keyRings");
    size_t i = 0;
    const json_t *r = NULL;
    json_array_foreach(rings, i, r)
    {
        shd_result res = kms_load_ring(state_dir, r, store);
        if (shd_is_err(res)) {
            shd_error_wrap("config.json kms.keyRings[%zu]", i);
            return res;
        }
    }
    return SHD_OK;
}
