/*
 * init.c - `azure-emu init`: option table, state directory, test CA and service keys; the SNP
 * chip and the security context come from chip.c and secctx.c.
 */
#include "init.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "chip.h"
#include "cmd.h"
#include "emu_files.h"
#include "pki.h"
#include "secctx.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define INIT_MAX_POLICY (1024u * 1024u)
#define INIT_CA_DAYS 3650u
#define INIT_SERVER_DAYS 825u
/*
 * A wildcard covers one label only, and MAA's shared instances are
 * shared<region>.<region>.attest.azure.net: hence one wildcard per region short name
 * (the regions with shared MAA instances; extend the list when a test needs another).
 */
#define INIT_MAA_REGION_SANS                                                                       \
    "DNS:*.eus.attest.azure.net,DNS:*.eus2.attest.azure.net,DNS:*.wus.attest.azure.net,"           \
    "DNS:*.wus2.attest.azure.net,DNS:*.wus3.attest.azure.net,DNS:*.cus.attest.azure.net,"          \
    "DNS:*.ncus.attest.azure.net,DNS:*.scus.attest.azure.net,DNS:*.wcus.attest.azure.net,"         \
    "DNS:*.weu.attest.azure.net,DNS:*.neu.attest.azure.net,DNS:*.uks.attest.azure.net,"            \
    "DNS:*.ukw.attest.azure.net,DNS:*.frc.attest.azure.net,DNS:*.gewc.attest.azure.net,"           \
    "DNS:*.swn.attest.azure.net,DNS:*.itn.attest.azure.net,DNS:*.cac.attest.azure.net,"            \
    "DNS:*.cae.attest.azure.net,DNS:*.eas.attest.azure.net,DNS:*.sasia.attest.azure.net,"          \
    "DNS:*.jpe.attest.azure.net,DNS:*.ae.attest.azure.net,DNS:*.cin.attest.azure.net,"             \
    "DNS:*.uaen.attest.azure.net,DNS:*.brs.attest.azure.net"
#define INIT_SERVER_SANS                                                                           \
    "DNS:localhost,IP:127.0.0.1,IP:::1,DNS:*.vault.azure.net,DNS:*.managedhsm.azure.net,"          \
    "DNS:*.attest.azure.net,DNS:*.acccache.azure.net,DNS:kdsintf.amd.com," INIT_MAA_REGION_SANS

/* ------------------------------------------------------------------------------------------ */
/* State directory                                                                             */

static shd_result init_prepare_dirs(const char *dir, bool force)
{
    SHD_GUARD(emu_dir_prepare(dir, force, 0));
    char path[EMU_PATH_MAX];
    SHD_GUARD(emu_path_join(dir, "snp", path, sizeof(path)));
    SHD_GUARD(emu_dir_make(path, 0700, 0));
    SHD_GUARD(emu_path_join(dir, "security-context", path, sizeof(path)));
    SHD_GUARD(emu_dir_make(path, 0700, 0));
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Test CA, TLS server, MAA and AAD keys                                                       */

static shd_result init_ca(const char *dir, EVP_PKEY **ret_key, X509 **ret_cert)
{
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *key = NULL;
    SHD_GUARD(aemu_pki_ec_new("P-256", &key));
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_simple_name("azure-emu", "azure-emu test CA", &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(aemu_pki_cert_new(name, name, key, 1, INIT_CA_DAYS, &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE", NULL, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign,cRLSign", NULL, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", NULL, cert));
    SHD_GUARD(aemu_pki_cert_sign(key, AEMU_SIG_DEFAULT, cert));
    char path[4096];
    SHD_GUARD(emu_path_join(dir, "ca.key", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_key(path, key));
    SHD_GUARD(emu_path_join(dir, "ca.pem", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_certs(path, &cert, 1));
    *ret_key = SHD_TAKE_PTR(key);
    *ret_cert = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

static shd_result init_server(const char *dir, X509 *ca, EVP_PKEY *ca_key)
{
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *key = NULL;
    SHD_GUARD(aemu_pki_ec_new("P-256", &key));
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_simple_name("azure-emu", "localhost", &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(aemu_pki_cert_new(name, X509_get_subject_name(ca), key, 3, INIT_SERVER_DAYS, &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:FALSE", ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,digitalSignature", ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_ext_key_usage, "serverAuth", ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_subject_alt_name, INIT_SERVER_SANS, ca, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", ca, cert));
    SHD_GUARD(aemu_pki_cert_sign(ca_key, AEMU_SIG_DEFAULT, cert));
    char path[4096];
    SHD_GUARD(emu_path_join(dir, "server.key", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_key(path, key));
    SHD_GUARD(emu_path_join(dir, "server.pem", path, sizeof(path)));
    return aemu_pki_write_certs(path, &cert, 1);
}

/* MAA signs its tokens RS256 with a self-signed RSA-2048 certificate (azure-formats.md §7). */
static shd_result init_maa(const char *dir)
{
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *key = NULL;
    SHD_GUARD(aemu_pki_rsa_new(2048, &key));
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_simple_name("azure-emu", "azure-emu MAA token signing", &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(aemu_pki_cert_new(name, name, key, 4, INIT_CA_DAYS, &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,digitalSignature", NULL, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", NULL, cert));
    SHD_GUARD(aemu_pki_cert_sign(key, AEMU_SIG_DEFAULT, cert));
    char path[4096];
    SHD_GUARD(emu_path_join(dir, "maa-signing.key", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_key(path, key));
    SHD_GUARD(emu_path_join(dir, "maa-signing.pem", path, sizeof(path)));
    return aemu_pki_write_certs(path, &cert, 1);
}

static shd_result init_aad(const char *dir)
{
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *key = NULL;
    SHD_GUARD(aemu_pki_rsa_new(2048, &key));
    char path[4096];
    SHD_GUARD(emu_path_join(dir, "aad-issuer.key", path, sizeof(path)));
    return aemu_pki_write_key(path, key);
}

/* ------------------------------------------------------------------------------------------ */

static shd_result init_policy(const struct aemu_init_opts *o, uint8_t **ret, size_t *ret_len)
{
    if (o->security_policy_path != NULL) {
        return emu_file_read(o->security_policy_path, INIT_MAX_POLICY, 0, ret, ret_len);
    }
    const char *p = aemu_secctx_default_policy();
    size_t n = strlen(p);
    uint8_t *copy = shd_memdup(p, n);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    *ret_len = n;
    return SHD_OK;
}

static shd_result init_chip(const struct aemu_init_opts *o, const uint8_t *policy,
                            size_t policy_len, X509 *ca, EVP_PKEY *ca_key)
{
    struct aemu_chip_opts co = {
        .product = o->product == SHD_SNP_PRODUCT_UNKNOWN ? SHD_SNP_PRODUCT_MILAN : o->product,
        .has_tcb = o->has_tcb,
        .reported_tcb = o->reported_tcb,
        .has_measurement = o->has_measurement,
        .debug = o->debug,
        .vmpl = o->vmpl,
        .root_rsa_bits = o->root_rsa_bits,
    };
    shd_memcpy(co.measurement, o->measurement, sizeof(co.measurement));
    /* HOST_DATA = SHA-256 of the policy text, fixed at "launch" (azure-formats.md §3.5). */
    SHD_ENSURE(SHA256(policy, policy_len, co.host_data) != NULL, SHD_ERR_CRYPTO);
    struct aemu_chip chip = {0};
    SHD_GUARD(aemu_chip_create(o->state_dir, &co, &chip));
    shd_result r = aemu_secctx_write(o->state_dir, &chip, policy, policy_len, ca, ca_key);
    aemu_chip_clear(&chip);
    return r;
}

/* Everything that can be checked before the first file is written. */
static shd_result init_check(const struct aemu_init_opts *o)
{
    SHD_ENSURE_MSG(o->state_dir != NULL && o->state_dir[0] != '\0', SHD_ERR_CONFIG,
                   "--state DIR is required");
    SHD_ENSURE_MSG(o->product == SHD_SNP_PRODUCT_UNKNOWN || o->product == SHD_SNP_PRODUCT_MILAN ||
                       o->product == SHD_SNP_PRODUCT_GENOA,
                   SHD_ERR_CONFIG, "product must be Milan or Genoa");
    SHD_ENSURE_MSG(o->vmpl <= 3, SHD_ERR_CONFIG, "vmpl %u out of range 0..3", o->vmpl);
    struct shd_snp_tcb t;
    SHD_ENSURE_MSG(!o->has_tcb || shd_is_ok(shd_snp_tcb_decode(o->reported_tcb, o->product, &t)),
                   SHD_ERR_CONFIG, "tcb %016llx has reserved bytes set for this product",
                   (unsigned long long)o->reported_tcb);
    return SHD_OK;
}

shd_result aemu_init_run(const struct aemu_init_opts *o)
{
    SHD_ENSURE_REF(o);
    SHD_GUARD(init_check(o));
    SHD_CLEANUP_FREE uint8_t *policy = NULL;
    size_t policy_len = 0;
    SHD_GUARD_CTX(init_policy(o, &policy, &policy_len), "reading the security policy");
    SHD_GUARD(init_prepare_dirs(o->state_dir, o->force));

    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *ca_key = NULL;
    SHD_CLEANUP(aemu_x509_freep) X509 *ca = NULL;
    SHD_GUARD_CTX(init_ca(o->state_dir, &ca_key, &ca), "creating the test CA");
    SHD_GUARD_CTX(init_server(o->state_dir, ca, ca_key), "creating the server certificate");
    SHD_GUARD_CTX(init_maa(o->state_dir), "creating the MAA signing key");
    SHD_GUARD_CTX(init_aad(o->state_dir), "creating the AAD issuer key");
    return init_chip(o, policy, policy_len, ca, ca_key);
}
