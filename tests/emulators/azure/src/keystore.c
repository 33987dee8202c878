/*
 * keystore.c - the in-memory index of the Key Vault emulator: vault -> key -> versions.
 *
 * Linear search over at most AEMU_KEYSTORE_MAX_KEYS keys is plenty for an emulator. Versions
 * are heap objects that never move or change after aemu_keystore_add, so lookups hand out
 * borrowed pointers that stay valid until aemu_keystore_free; only the index is locked.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "keystore.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

struct ks_key {
    char vault[AEMU_KEY_VAULT_MAX + 1];
    char name[AEMU_KEY_NAME_MAX + 1];
    struct aemu_key_version *versions[AEMU_KEYSTORE_MAX_VERSIONS];
    size_t n;
};

struct aemu_keystore {
    pthread_mutex_t lock;
    struct ks_key **keys;
    size_t n;
    size_t cap;
};

void aemu_key_version_free(struct aemu_key_version *v)
{
    if (v == NULL) {
        return;
    }
    aemu_key_material_free(v->material);
    json_decref(v->key_ops);
    json_decref(v->tags);
    shd_free(v->policy_content_type);
    shd_free(v->policy_data);
    aemu_release_policy_free(&v->policy);
    shd_free(v);
}

shd_result aemu_keystore_new(struct aemu_keystore **ret)
{
    SHD_ENSURE_REF(ret);
    struct aemu_keystore *ks = shd_alloc(sizeof(*ks));
    SHD_ENSURE(ks != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&ks->lock, NULL) != 0) {
        shd_free(ks);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = ks;
    return SHD_OK;
}

void aemu_keystore_free(struct aemu_keystore *ks)
{
    if (ks == NULL) {
        return;
    }
    for (size_t i = 0; i < ks->n; i++) {
        for (size_t j = 0; j < ks->keys[i]->n; j++) {
            aemu_key_version_free(ks->keys[i]->versions[j]);
        }
        shd_free(ks->keys[i]);
    }
    shd_free(ks->keys);
    pthread_mutex_destroy(&ks->lock);
    shd_free(ks);
}

/* Key Vault compares object names case-insensitively; vault names are lower-cased hosts. */
static struct ks_key *ks_find(const struct aemu_keystore *ks, const char *vault, const char *name)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->keys[i]->vault, vault) == 0 && strcasecmp(ks->keys[i]->name, name) == 0) {
            return ks->keys[i];
        }
    }
    return NULL;
}

static shd_result ks_new_key(const char *vault, const char *name, struct aemu_keystore *ks,
                             struct ks_key **ret)
{
    SHD_ENSURE_MSG(ks->n < AEMU_KEYSTORE_MAX_KEYS, SHD_ERR_TOO_LARGE,
                   "the emulator holds at most %d keys", AEMU_KEYSTORE_MAX_KEYS);
    if (ks->n == ks->cap) {
        size_t cap = ks->cap == 0 ? 16 : ks->cap * 2;
        struct ks_key **grown = shd_realloc(ks->keys, cap * sizeof(*grown));
        SHD_ENSURE(grown != NULL, SHD_ERR_NOMEM);
        ks->keys = grown;
        ks->cap = cap;
    }
    struct ks_key *k = shd_alloc(sizeof(*k));
    SHD_ENSURE(k != NULL, SHD_ERR_NOMEM);
    shd_memcpy(k->vault, vault, strlen(vault));
    shd_memcpy(k->name, name, strlen(name));
    ks->keys[ks->n++] = k;
    *ret = k;
    return SHD_OK;
}

static shd_result ks_version_id(char out[static AEMU_KEY_VERSION_LEN + 1])
{
    uint8_t raw[AEMU_KEY_VERSION_LEN / 2];
    SHD_GUARD(shd_crypto_random(raw, sizeof(raw)));
    return shd_hex_encode_into(raw, sizeof(raw), out, AEMU_KEY_VERSION_LEN + 1);
}

static shd_result ks_add_locked(const char *vault, struct aemu_key_version *v,
                                struct aemu_keystore *ks)
{
    struct ks_key *k = ks_find(ks, vault, v->name);
    SHD_ENSURE_MSG(k == NULL || k->n < AEMU_KEYSTORE_MAX_VERSIONS, SHD_ERR_TOO_LARGE,
                   "the emulator holds at most %d versions of a key", AEMU_KEYSTORE_MAX_VERSIONS);
    if (k == NULL) {
        SHD_GUARD(ks_new_key(vault, v->name, ks, &k));
    }
    k->versions[k->n++] = v;
    return SHD_OK;
}

shd_result aemu_keystore_add(const char *vault, struct aemu_key_version *v,
                             struct aemu_keystore *ks, const struct aemu_key_version **ret_v)
{
    SHD_ENSURE_REF(vault);
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(ks);
    size_t vlen = strnlen(vault, AEMU_KEY_VAULT_MAX + 1);
    size_t nlen = strnlen(v->name, sizeof(v->name));
    SHD_ENSURE(vlen >= 1 && vlen <= AEMU_KEY_VAULT_MAX, SHD_ERR_USAGE);
    SHD_ENSURE(nlen >= 1 && nlen <= AEMU_KEY_NAME_MAX, SHD_ERR_USAGE);
    SHD_ENSURE(v->material != NULL && json_is_array(v->key_ops), SHD_ERR_USAGE);
    SHD_GUARD(ks_version_id(v->version));
    v->created = (int64_t)time(NULL);
    v->updated = v->created;

    SHD_ENSURE(pthread_mutex_lock(&ks->lock) == 0, SHD_ERR_INTERNAL);
    shd_result r = ks_add_locked(vault, v, ks);
    pthread_mutex_unlock(&ks->lock);
    SHD_GUARD(r);
    if (ret_v != NULL) {
        *ret_v = v;
    }
    return SHD_OK;
}

shd_result aemu_keystore_get(const char *vault, const char *name, const char *version,
                             struct aemu_keystore *ks, const struct aemu_key_version **ret)
{
    SHD_ENSURE_REF(vault);
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ks);
    SHD_ENSURE_REF(ret);
    const struct aemu_key_version *found = NULL;
    SHD_ENSURE(pthread_mutex_lock(&ks->lock) == 0, SHD_ERR_INTERNAL);
    const struct ks_key *k = ks_find(ks, vault, name);
    if (k != NULL && k->n > 0) {
        if (version == NULL || version[0] == '\0') {
            found = k->versions[k->n - 1];
        } else {
            for (size_t i = 0; i < k->n; i++) {
                if (strcasecmp(k->versions[i]->version, version) == 0) {
                    found = k->versions[i];
                    break;
                }
            }
        }
    }
    pthread_mutex_unlock(&ks->lock);
    SHD_ENSURE(found != NULL, SHD_ERR_NOT_FOUND);
    *ret = found;
    return SHD_OK;
}

shd_result aemu_keystore_versions(const char *vault, const char *name, struct aemu_keystore *ks,
                                  const struct aemu_key_version ***ret, size_t *ret_n)
{
    SHD_ENSURE_REF(vault);
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ks);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_n);
    const struct aemu_key_version **list =
        shd_alloc_array(AEMU_KEYSTORE_MAX_VERSIONS, sizeof(*list));
    SHD_ENSURE(list != NULL, SHD_ERR_NOMEM);
    size_t n = 0;
    bool exists = false;
    if (pthread_mutex_lock(&ks->lock) != 0) {
        shd_free(list);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    const struct ks_key *k = ks_find(ks, vault, name);
    if (k != NULL) {
        exists = true;
        for (size_t i = 0; i < k->n; i++) {
            list[n++] = k->versions[i];
        }
    }
    pthread_mutex_unlock(&ks->lock);
    if (!exists) {
        shd_free(list);
        SHD_BAIL(SHD_ERR_NOT_FOUND);
    }
    *ret = list;
    *ret_n = n;
    return SHD_OK;
}
