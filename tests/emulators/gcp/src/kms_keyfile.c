/*
 * kms_keyfile.c - KMS algorithm names and key material files (kms.h, kms_int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "emu_files.h"
#include "kms.h"
#include "kms_int.h"
#include "pki.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define KMS_PATH_MAX 4096u

struct kms_alg_row {
    enum gemu_kms_alg alg;
    const char *name;
    unsigned rsa_bits; /* 0: symmetric */
};

static const struct kms_alg_row kms_algs[] = {
    {GEMU_KMS_ALG_SYMMETRIC, "GOOGLE_SYMMETRIC_ENCRYPTION", 0},
    {GEMU_KMS_ALG_RSA_OAEP_2048, "RSA_DECRYPT_OAEP_2048_SHA256", 2048},
    {GEMU_KMS_ALG_RSA_OAEP_3072, "RSA_DECRYPT_OAEP_3072_SHA256", 3072},
    {GEMU_KMS_ALG_RSA_OAEP_4096, "RSA_DECRYPT_OAEP_4096_SHA256", 4096},
};

static const struct kms_alg_row *kms_alg_row(enum gemu_kms_alg alg)
{
    for (size_t i = 0; i < sizeof(kms_algs) / sizeof(kms_algs[0]); i++) {
        if (kms_algs[i].alg == alg) {
            return &kms_algs[i];
        }
    }
    return NULL;
}

const char *gemu_kms_alg_name(enum gemu_kms_alg alg)
{
    const struct kms_alg_row *r = kms_alg_row(alg);
    return r != NULL ? r->name : NULL;
}

unsigned gemu_kms_alg_rsa_bits(enum gemu_kms_alg alg)
{
    const struct kms_alg_row *r = kms_alg_row(alg);
    return r != NULL ? r->rsa_bits : 0;
}

shd_result gemu_kms_alg_parse(const char *s, enum gemu_kms_alg *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    for (size_t i = 0; i < sizeof(kms_algs) / sizeof(kms_algs[0]); i++) {
        char num[8];
        (void)snprintf(num, sizeof(num), "%d", (int)kms_algs[i].alg);
        if (strcmp(s, kms_algs[i].name) == 0 || strcmp(s, num) == 0) {
            *ret = kms_algs[i].alg;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "unsupported algorithm");
}

enum gemu_kms_purpose gemu_kms_alg_purpose(enum gemu_kms_alg alg)
{
    return alg == GEMU_KMS_ALG_SYMMETRIC ? GEMU_KMS_PURPOSE_ENCRYPT_DECRYPT
                                         : GEMU_KMS_PURPOSE_ASYMMETRIC_DECRYPT;
}

const char *gemu_kms_purpose_name(enum gemu_kms_purpose p)
{
    switch (p) {
    case GEMU_KMS_PURPOSE_ENCRYPT_DECRYPT:
        return "ENCRYPT_DECRYPT";
    case GEMU_KMS_PURPOSE_ASYMMETRIC_DECRYPT:
        return "ASYMMETRIC_DECRYPT";
    default:
        return NULL;
    }
}

bool gemu_kms_id_ok(const char *id)
{
    if (id == NULL) {
        return false;
    }
    size_t n = strlen(id);
    if (n == 0 || n > GEMU_KMS_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

shd_result gemu_kms_key_name_parse(const char *name, struct gemu_kms_key_name *ret)
{
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ret);
    struct gemu_path_captures c;
    SHD_ENSURE_MSG(gemu_path_match("projects/*/locations/*/keyRings/*/cryptoKeys/*", name, &c),
                   SHD_ERR_INPUT, "not a crypto key name");
    SHD_ENSURE_MSG(gemu_kms_id_ok(c.v[1]) && gemu_kms_id_ok(c.v[2]) && gemu_kms_id_ok(c.v[3]),
                   SHD_ERR_INPUT, "bad id in crypto key name");
    struct gemu_kms_key_name k;
    shd_memzero(&k, sizeof(k));
    SHD_ENSURE(strlen(c.v[0]) <= GEMU_KMS_ID_MAX, SHD_ERR_INPUT);
    shd_memcpy(k.project, c.v[0], strlen(c.v[0]) + 1);
    shd_memcpy(k.location, c.v[1], strlen(c.v[1]) + 1);
    shd_memcpy(k.ring, c.v[2], strlen(c.v[2]) + 1);
    shd_memcpy(k.key, c.v[3], strlen(c.v[3]) + 1);
    *ret = k;
    return SHD_OK;
}

/* DIR/kms/<location>/<ring>/<key>/<version>.<ext>; creates the directories when mk is set. */
static shd_result kms_material_path(const char *dir, const struct gemu_kms_key_name *k,
                                    uint32_t version, const char *ext, bool mk, char *out,
                                    size_t cap)
{
    const char *parts[] = {k->location, k->ring, k->key};
    int n = snprintf(out, cap, "%s/kms", dir);
    SHD_ENSURE(n > 0 && (size_t)n < cap, SHD_ERR_TOO_LARGE);
    size_t pos = (size_t)n;
    for (size_t i = 0; i <= sizeof(parts) / sizeof(parts[0]); i++) {
        if (mk && mkdir(out, 0700) != 0 && errno != EEXIST) {
            shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
            shd_error_wrap("mkdir %s", out);
            return r;
        }
        if (i == sizeof(parts) / sizeof(parts[0])) {
            break;
        }
        n = snprintf(out + pos, cap - pos, "/%s", parts[i]);
        SHD_ENSURE(n > 0 && (size_t)n < cap - pos, SHD_ERR_TOO_LARGE);
        pos += (size_t)n;
    }
    n = snprintf(out + pos, cap - pos, "/%u.%s", (unsigned)version, ext);
    SHD_ENSURE(n > 0 && (size_t)n < cap - pos, SHD_ERR_TOO_LARGE);
    return SHD_OK;
}

shd_result gemu_kms_version_generate(enum gemu_kms_alg alg, uint32_t number,
                                     struct gemu_kms_version **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(gemu_kms_alg_name(alg) != NULL, SHD_ERR_USAGE);
    struct gemu_kms_version *v = shd_alloc(sizeof(*v));
    SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
    v->number = number;
    shd_result r = SHD_OK;
    if (alg == GEMU_KMS_ALG_SYMMETRIC) {
        r = shd_crypto_random(v->aes, sizeof(v->aes));
    } else {
        r = shd_crypto_rsa_generate(gemu_kms_alg_rsa_bits(alg), &v->rsa);
    }
    if (shd_is_err(r)) {
        gemu_kms_version_free(v);
        return r;
    }
    *ret = v;
    return SHD_OK;
}

void gemu_kms_version_free(struct gemu_kms_version *v)
{
    if (v == NULL) {
        return;
    }
    EVP_PKEY_free(v->rsa);
    shd_free(v->pem);
    shd_free_wipe(v, sizeof(*v));
}

shd_result gemu_kms_material_create(const char *state_dir, const char *key_name,
                                    enum gemu_kms_alg alg, uint32_t version)
{
    SHD_ENSURE_REF(state_dir);
    SHD_ENSURE_REF(key_name);
    struct gemu_kms_key_name k;
    SHD_GUARD(gemu_kms_key_name_parse(key_name, &k));
    struct gemu_kms_version *v = NULL;
    SHD_GUARD(gemu_kms_version_generate(alg, version, &v));
    char path[KMS_PATH_MAX];
    bool sym = alg == GEMU_KMS_ALG_SYMMETRIC;
    shd_result r =
        kms_material_path(state_dir, &k, version, sym ? "aes" : "pem", true, path, sizeof(path));
    if (shd_is_ok(r)) {
        r = sym ? emu_file_write(path, v->aes, sizeof(v->aes), 0600, EMU_FILE_ATOMIC)
                : gemu_pki_write_key(path, v->rsa);
    }
    gemu_kms_version_free(v);
    return r;
}

shd_result gemu_kms_version_load(const char *state_dir, const struct gemu_kms_key_name *k,
                                 enum gemu_kms_alg alg, uint32_t number,
                                 struct gemu_kms_version **ret)
{
    SHD_ENSURE_REF(state_dir);
    SHD_ENSURE_REF(k);
    SHD_ENSURE_REF(ret);
    bool sym = alg == GEMU_KMS_ALG_SYMMETRIC;
    char path[KMS_PATH_MAX];
    SHD_GUARD(
        kms_material_path(state_dir, k, number, sym ? "aes" : "pem", false, path, sizeof(path)));
    struct stat sb;
    SHD_GUARD_POSIX(stat(path, &sb));
    SHD_ENSURE_MSG((sb.st_mode & 077) == 0, SHD_ERR_PERMISSION,
                   "%s is accessible by group or others", path);
    uint8_t *data = NULL;
    size_t len = 0;
    SHD_GUARD(emu_file_read(path, 64u * 1024u, EMU_FILE_NOFOLLOW, &data, &len));
    struct gemu_kms_version *v = shd_alloc(sizeof(*v));
    shd_result r = v != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    if (shd_is_ok(r)) {
        v->number = number;
        if (sym) {
            r = len == GEMU_KMS_AES_KEY_LEN
                    ? SHD_OK
                    : shd_error_setf(SHD_ERR_BAD_KEY, __FILE__, __LINE__, "%s: not 32 bytes", path);
            if (shd_is_ok(r)) {
                shd_memcpy(v->aes, data, len);
            }
        } else {
            /* shd_crypto_privkey_load wipes the PEM. */
            r = shd_crypto_privkey_load(data, len, &v->rsa);
            if (shd_is_ok(r) &&
                (shd_crypto_key_kind(v->rsa) != SHD_CRYPTO_KEY_RSA ||
                 (unsigned)EVP_PKEY_get_bits(v->rsa) != gemu_kms_alg_rsa_bits(alg))) {
                r = shd_error_setf(SHD_ERR_BAD_KEY, __FILE__, __LINE__,
                                   "%s: not an RSA key of the algorithm's size", path);
            }
        }
    }
    shd_free_wipe(data, len + 1);
    if (shd_is_err(r)) {
        gemu_kms_version_free(v);
        shd_error_wrap("loading %s", path);
        return r;
    }
    *ret = v;
    return SHD_OK;
}
