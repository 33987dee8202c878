/*
 * init.c - `gcp-emu init`: the test PKI, the service keys and config.json (init.h).
 */
#include "init.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509v3.h>

#include "emu_files.h"
#include "gemu.h"
#include "kms.h"
#include "pki.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define INIT_PATH_MAX 4096u
#define INIT_CA_DAYS 365u
#define INIT_AK_CA_DAYS 3650u
#define INIT_NAME_MAX 512u

SHD_DEFINE_CLEANUP(X509_NAME, X509_NAME_free, init_name_freep)

/* The names and identities config.json is built from (validated option values). */
struct init_ids {
    const char *project_id;
    const char *project_number;
    const char *zone;
    const char *instance_id;
    const char *instance_name;
};

/* ------------------------------------------------------------------------------------------ */
/* Validation                                                                                  */

static bool init_chars_ok(const char *s, size_t min, size_t max, const char *allowed_extra,
                          bool digits_only)
{
    size_t n = strlen(s);
    if (n < min || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9');
        if (!digits_only) {
            ok = ok || (c >= 'a' && c <= 'z') || strchr(allowed_extra, c) != NULL;
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* A positive decimal that fits int64 (the AK certificate encodes them as INTEGERs). */
static bool init_number_ok(const char *s)
{
    size_t n = strlen(s);
    return init_chars_ok(s, 1, 19, "", true) && s[0] != '0' &&
           (n < 19 || strcmp(s, "9223372036854775807") <= 0);
}

static shd_result init_validate(const struct init_ids *ids)
{
    /* GCP: project ids 6..30 of [a-z0-9-] starting with a letter; instance names RFC 1035. */
    SHD_ENSURE_MSG(init_chars_ok(ids->project_id, 6, 30, "-", false) && ids->project_id[0] >= 'a' &&
                       ids->project_id[0] <= 'z',
                   SHD_ERR_CONFIG,
                   "--project-id must be 6..30 of [a-z0-9-], starting with a letter");
    SHD_ENSURE_MSG(init_number_ok(ids->project_number), SHD_ERR_CONFIG,
                   "--project-number must be a positive decimal number");
    SHD_ENSURE_MSG(init_chars_ok(ids->zone, 3, 63, "-", false), SHD_ERR_CONFIG,
                   "--zone must be 3..63 of [a-z0-9-]");
    SHD_ENSURE_MSG(init_number_ok(ids->instance_id), SHD_ERR_CONFIG,
                   "--instance-id must be a positive decimal number");
    SHD_ENSURE_MSG(init_chars_ok(ids->instance_name, 1, 63, "-", false) &&
                       ids->instance_name[0] >= 'a' && ids->instance_name[0] <= 'z',
                   SHD_ERR_CONFIG,
                   "--instance-name must be 1..63 of [a-z0-9-], starting with a letter");
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Directories                                                                                 */

/* The state directory and its subdirectories, owner-only even when they existed (--force). */
static shd_result init_state_dir(const struct gemu_init_opts *o)
{
    SHD_GUARD(emu_dir_prepare(o->state_dir, o->force, EMU_DIR_CHMOD));
    char path[INIT_PATH_MAX];
    SHD_GUARD(emu_path_join(o->state_dir, "ak", path, sizeof(path)));
    SHD_GUARD(emu_dir_make(path, 0700, EMU_DIR_CHMOD));
    SHD_GUARD(emu_path_join(o->state_dir, "kms", path, sizeof(path)));
    SHD_GUARD(emu_dir_make(path, 0700, EMU_DIR_CHMOD));
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* PKI                                                                                         */

static shd_result init_write_key(const char *dir, const char *rel, EVP_PKEY *key)
{
    char path[INIT_PATH_MAX];
    SHD_GUARD(emu_path_join(dir, rel, path, sizeof(path)));
    return gemu_pki_write_key(path, key);
}

static shd_result init_write_cert(const char *dir, const char *rel, X509 *cert)
{
    char path[INIT_PATH_MAX];
    SHD_GUARD(emu_path_join(dir, rel, path, sizeof(path)));
    return gemu_pki_write_certs(path, &cert, 1);
}

/* A CA certificate: self-signed when issuer is NULL. aia (may be NULL): CA Issuers URL. */
static shd_result init_ca_cert(const struct gemu_pki_rdn *rdns, size_t nrdns, EVP_PKEY *key,
                               X509 *issuer, EVP_PKEY *issuer_key, const char *constraints,
                               const char *aia, unsigned days, X509 **ret)
{
    SHD_CLEANUP(init_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(gemu_pki_name(rdns, nrdns, &name));
    const X509_NAME *iname = issuer != NULL ? X509_get_subject_name(issuer) : name;
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_GUARD(gemu_pki_cert_new(name, iname, key, days, &cert));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_basic_constraints, constraints, issuer, cert));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign,cRLSign", issuer, cert));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", issuer, cert));
    if (issuer != NULL) {
        SHD_GUARD(
            gemu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", issuer, cert));
    }
    if (aia != NULL) {
        char v[INIT_NAME_MAX];
        int n = snprintf(v, sizeof(v), "caIssuers;URI:%s", aia);
        SHD_ENSURE(n > 0 && (size_t)n < sizeof(v), SHD_ERR_INTERNAL);
        SHD_GUARD(gemu_pki_cert_add_ext(NID_info_access, v, issuer, cert));
    }
    SHD_GUARD(gemu_pki_cert_sign(issuer_key != NULL ? issuer_key : key, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

static shd_result init_tls(const char *dir)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ca_key = NULL;
    SHD_GUARD(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &ca_key));
    static const struct gemu_pki_rdn ca_rdns[] = {{"O", "gcp-emu"}, {"CN", "gcp-emu test CA"}};
    SHD_CLEANUP(X509_free_p) X509 *ca = NULL;
    SHD_GUARD(
        init_ca_cert(ca_rdns, 2, ca_key, NULL, NULL, "critical,CA:TRUE", NULL, INIT_CA_DAYS, &ca));

    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &key));
    static const struct gemu_pki_rdn rdns[] = {{"O", "gcp-emu"}, {"CN", "gcp-emu services"}};
    SHD_CLEANUP(init_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(gemu_pki_name(rdns, 2, &name));
    SHD_CLEANUP(X509_free_p) X509 *leaf = NULL;
    SHD_GUARD(gemu_pki_cert_new(name, X509_get_subject_name(ca), key, INIT_CA_DAYS, &leaf));
    /* real-clients.md 2.2: a wildcard covers one label, so list the service names as well. */
    SHD_GUARD(gemu_pki_cert_add_ext(NID_subject_alt_name,
                                    "DNS:localhost,IP:127.0.0.1,DNS:*.googleapis.com,"
                                    "DNS:" GEMU_HOST_STS ",DNS:" GEMU_HOST_IAM ",DNS:" GEMU_HOST_KMS
                                    ",DNS:" GEMU_HOST_VERIFIER,
                                    ca, leaf));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:FALSE", ca, leaf));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_key_usage, "critical,digitalSignature,keyEncipherment", ca,
                                    leaf));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_ext_key_usage, "serverAuth", ca, leaf));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", ca, leaf));
    SHD_GUARD(gemu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", ca, leaf));
    SHD_GUARD(gemu_pki_cert_sign(ca_key, leaf));

    SHD_GUARD(init_write_key(dir, "ca.key", ca_key));
    SHD_GUARD(init_write_cert(dir, "ca.pem", ca));
    SHD_GUARD(init_write_key(dir, "server.key", key));
    SHD_GUARD(init_write_cert(dir, "server.pem", leaf));
    return SHD_OK;
}

static shd_result init_signing_key(const char *dir, const char *rel)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD(shd_crypto_rsa_generate(2048, &key));
    return init_write_key(dir, rel, key);
}

/* The "EK/AK CA Root" and "EK/AK CA Intermediate" (gcp-identity.md 2.2). */
static shd_result init_ak_ca(const char *dir)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *root_key = NULL;
    SHD_GUARD(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &root_key));
    static const struct gemu_pki_rdn root_rdns[] = {
        {"C", "US"}, {"O", "Google LLC"}, {"OU", "Google Cloud"}, {"CN", "EK/AK CA Root"}};
    SHD_CLEANUP(X509_free_p) X509 *root = NULL;
    SHD_GUARD(init_ca_cert(root_rdns, 4, root_key, NULL, NULL, "critical,CA:TRUE", NULL,
                           INIT_AK_CA_DAYS, &root));
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *int_key = NULL;
    SHD_GUARD(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &int_key));
    static const struct gemu_pki_rdn int_rdns[] = {
        {"C", "US"}, {"O", "Google LLC"}, {"OU", "Google Cloud"}, {"CN", "EK/AK CA Intermediate"}};
    SHD_CLEANUP(X509_free_p) X509 *inter = NULL;
    SHD_GUARD(init_ca_cert(int_rdns, 4, int_key, root, root_key, "critical,CA:TRUE,pathlen:0",
                           GEMU_AK_ROOT_AIA_URL, INIT_AK_CA_DAYS, &inter));
    SHD_GUARD(init_write_cert(dir, "ak/root.pem", root));
    SHD_GUARD(init_write_cert(dir, "ak/intermediate.pem", inter));
    SHD_GUARD(init_write_key(dir, "ak/intermediate.key", int_key));
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* config.json                                                                                 */

static shd_result init_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static shd_result init_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < cap, SHD_ERR_CONFIG, "name too long");
    return SHD_OK;
}

/* {"bindings":[{"role":role,"members":[member]}, ...]} from (role, member) pairs. */
static json_t *init_policy(const char *const *pairs, size_t npairs)
{
    json_t *bindings = json_array();
    for (size_t i = 0; bindings != NULL && i < npairs; i++) {
        json_t *b = json_pack("{s:s,s:[s]}", "role", pairs[2 * i], "members", pairs[2 * i + 1]);
        if (b == NULL || json_array_append_new(bindings, b) != 0) {
            json_decref(bindings);
            return NULL;
        }
    }
    return bindings == NULL ? NULL : json_pack("{s:o}", "bindings", bindings);
}

static shd_result init_config(const char *dir, const struct init_ids *ids, bool small)
{
    enum gemu_kms_alg rsa_alg = small ? GEMU_KMS_ALG_RSA_OAEP_2048 : GEMU_KMS_ALG_RSA_OAEP_4096;
    char pool[INIT_NAME_MAX];
    char provider[INIT_NAME_MAX];
    char pool_set[INIT_NAME_MAX];
    char sa[INIT_NAME_MAX];
    char sa_member[INIT_NAME_MAX];
    char vm_sa[INIT_NAME_MAX];
    char vm_member[INIT_NAME_MAX];
    char ring[INIT_NAME_MAX];
    char rsa[INIT_NAME_MAX];
    char sym[INIT_NAME_MAX];
    char cond[INIT_NAME_MAX];
    SHD_GUARD(init_fmt(pool, sizeof(pool),
                       "projects/%s/locations/global/workloadIdentityPools/" GEMU_DEFAULT_POOL,
                       ids->project_number));
    SHD_GUARD(init_fmt(provider, sizeof(provider), "%s/providers/" GEMU_DEFAULT_PROVIDER, pool));
    SHD_GUARD(init_fmt(pool_set, sizeof(pool_set), "principalSet://iam.googleapis.com/%s/*", pool));
    SHD_GUARD(init_fmt(sa, sizeof(sa), GEMU_DEFAULT_SA_NAME "@%s.iam.gserviceaccount.com",
                       ids->project_id));
    SHD_GUARD(init_fmt(sa_member, sizeof(sa_member), "serviceAccount:%s", sa));
    SHD_GUARD(init_fmt(vm_sa, sizeof(vm_sa), "%s-compute@developer.gserviceaccount.com",
                       ids->project_number));
    SHD_GUARD(init_fmt(vm_member, sizeof(vm_member), "serviceAccount:%s", vm_sa));
    SHD_GUARD(init_fmt(ring, sizeof(ring),
                       "projects/%s/locations/global/keyRings/" GEMU_DEFAULT_KEY_RING,
                       ids->project_id));
    SHD_GUARD(init_fmt(rsa, sizeof(rsa), "%s/cryptoKeys/" GEMU_DEFAULT_RSA_KEY, ring));
    SHD_GUARD(init_fmt(sym, sizeof(sym), "%s/cryptoKeys/" GEMU_DEFAULT_SYM_KEY, ring));
    /* gcp-identity.md 4.5, mode B: the project of the VM and secure boot. */
    SHD_GUARD(init_fmt(cond, sizeof(cond),
                       "assertion.submods.gce.project_id == '%s' && assertion.secboot == true",
                       ids->project_id));

    const char *const sa_pol[] = {"roles/iam.workloadIdentityUser", pool_set};
    const char *const rsa_pol[] = {"roles/cloudkms.cryptoKeyDecrypter", sa_member,
                                   "roles/cloudkms.publicKeyViewer", sa_member};
    const char *const sym_pol[] = {"roles/cloudkms.cryptoKeyEncrypter", sa_member,
                                   "roles/cloudkms.cryptoKeyDecrypter", sa_member};
    const char *const proj_pol[] = {"roles/cloudkms.admin", vm_member};
    json_int_t created = (json_int_t)time(NULL);

    SHD_CLEANUP_JSON json_t *doc = json_pack(
        "{s:{s:s,s:s},s:{s:s,s:s,s:s,s:I,s:s,s:s},s:o,"
        "s:[{s:s,s:b,s:[{s:s,s:b,s:{s:s,s:[s]},s:{s:s,s:s},s:s}]}],"
        "s:[{s:s,s:s,s:o}],"
        "s:{s:[{s:s,s:[{s:s,s:s,s:I,s:I,s:o},{s:s,s:s,s:I,s:I,s:o}]}]}}",
        "project", "id", ids->project_id, "number", ids->project_number, "instance", "zone",
        ids->zone, "id", ids->instance_id, "name", ids->instance_name, "creation_timestamp",
        created, "service_account", vm_sa, "service_account_id", "104167890123456789012",
        "iamPolicy", init_policy(proj_pol, 1), "workloadIdentityPools", "name", pool, "disabled", 0,
        "providers", "name", provider, "disabled", 0, "oidc", "issuerUri", GEMU_VERIFIER_ISSUER "/",
        "allowedAudiences", GEMU_DEFAULT_STS_AUDIENCE, "attributeMapping", "google.subject",
        "assertion.sub", "attribute.project_id", "assertion.submods.gce.project_id",
        "attributeCondition", cond, "serviceAccounts", "email", sa, "uniqueId",
        "108765432109876543210", "iamPolicy", init_policy(sa_pol, 1), "kms", "keyRings", "name",
        ring, "cryptoKeys", "name", rsa, "algorithm", gemu_kms_alg_name(rsa_alg), "versions",
        (json_int_t)1, "primaryVersion", (json_int_t)1, "iamPolicy", init_policy(rsa_pol, 2),
        "name", sym, "algorithm", "GOOGLE_SYMMETRIC_ENCRYPTION", "versions", (json_int_t)1,
        "primaryVersion", (json_int_t)1, "iamPolicy", init_policy(sym_pol, 2));
    SHD_ENSURE_MSG(doc != NULL, SHD_ERR_NOMEM, "building config.json");
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(doc, 0, &text, &len));
    char path[INIT_PATH_MAX];
    SHD_GUARD(emu_path_join(dir, "config.json", path, sizeof(path)));
    SHD_GUARD(emu_file_write(path, text, len, 0644, EMU_FILE_ATOMIC));

    SHD_GUARD(gemu_kms_material_create(dir, rsa, rsa_alg, 1));
    SHD_GUARD(gemu_kms_material_create(dir, sym, GEMU_KMS_ALG_SYMMETRIC, 1));
    return SHD_OK;
}

shd_result gemu_init_run(const struct gemu_init_opts *o)
{
    SHD_ENSURE_REF(o);
    SHD_ENSURE_MSG(o->state_dir != NULL && o->state_dir[0] != '\0', SHD_ERR_CONFIG,
                   "--state DIR is required");
    struct init_ids ids = {
        .project_id = o->project_id != NULL ? o->project_id : GEMU_DEFAULT_PROJECT_ID,
        .project_number =
            o->project_number != NULL ? o->project_number : GEMU_DEFAULT_PROJECT_NUMBER,
        .zone = o->zone != NULL ? o->zone : GEMU_DEFAULT_ZONE,
        .instance_id = o->instance_id != NULL ? o->instance_id : GEMU_DEFAULT_INSTANCE_ID,
        .instance_name = o->instance_name != NULL ? o->instance_name : GEMU_DEFAULT_INSTANCE_NAME,
    };
    SHD_GUARD(init_validate(&ids));
    SHD_GUARD(init_state_dir(o));
    SHD_GUARD_CTX(init_tls(o->state_dir), "test CA and server certificate");
    SHD_GUARD_CTX(init_signing_key(o->state_dir, "verifier.key"), "verifier signing key");
    SHD_GUARD_CTX(init_signing_key(o->state_dir, "google.key"), "accounts.google.com key");
    SHD_GUARD_CTX(init_ak_ca(o->state_dir), "AK certificate CA");
    SHD_GUARD_CTX(init_config(o->state_dir, &ids, o->small_keys), "config.json and KMS keys");
    return SHD_OK;
}
