/*
 * chip.c - the simulated SEV-SNP chip: AMD-like ARK/ASK/VCEK PKI and chip.json.
 */
#include "chip.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "emu_files.h"
#include "pki.h"
#include "util.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define CHIP_ARK_DAYS (25u * 365u + 6u) /* 25 years, like ARK-Milan 2020..2045 */
#define CHIP_VCEK_DAYS (7u * 365u + 2u) /* 7 years, like real VCEKs */
#define CHIP_OID_PREFIX "1.3.6.1.4.1.3704.1."

SHD_DEFINE_CLEANUP(json_t, json_decref, chip_json_freep)
SHD_DEFINE_CLEANUP(ASN1_INTEGER, ASN1_INTEGER_free, chip_int_freep)
SHD_DEFINE_CLEANUP(ASN1_IA5STRING, ASN1_IA5STRING_free, chip_ia5_freep)

uint64_t aemu_chip_default_tcb(enum shd_snp_product product)
{
    /* Values seen in real VCEKs (azure-formats.md §1.3, §3.2). */
    return product == SHD_SNP_PRODUCT_GENOA ? 0x541700000000000Aull : 0x7308000000000003ull;
}

const char *aemu_chip_product_name(enum shd_snp_product product)
{
    switch (product) {
    case SHD_SNP_PRODUCT_MILAN:
        return "Milan-B0";
    case SHD_SNP_PRODUCT_GENOA:
        return "Genoa"; /* the real Genoa sample carries no stepping */
    case SHD_SNP_PRODUCT_TURIN:
    case SHD_SNP_PRODUCT_UNKNOWN:
    default:
        return NULL;
    }
}

void aemu_chip_clear(struct aemu_chip *chip)
{
    if (chip == NULL) {
        return;
    }
    X509_free(chip->ark);
    X509_free(chip->ask);
    X509_free(chip->vcek);
    *chip = (struct aemu_chip){0};
}

static shd_result chip_path(const char *dir, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/snp/%s", dir, name);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < cap, SHD_ERR_CONFIG, "state path too long: %s", dir);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* AMD extensions (§3.2): extnValue holds DER, except hwID which holds the raw CHIP_ID.         */

static shd_result chip_ext_integer(const char *oid, long value, X509 *cert)
{
    SHD_CLEANUP(chip_int_freep) ASN1_INTEGER *i = ASN1_INTEGER_new();
    SHD_ENSURE(i != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(ASN1_INTEGER_set(i, value), SHD_ERR_CRYPTO);
    /* DER INTEGER: 02 01 xx, or 02 02 00 xx for values >= 0x80 (the §3.2 pitfall). */
    uint8_t der[8];
    uint8_t *p = der;
    int n = i2d_ASN1_INTEGER(i, NULL);
    SHD_ENSURE(n > 0 && (size_t)n <= sizeof(der), SHD_ERR_CRYPTO);
    SHD_ENSURE(i2d_ASN1_INTEGER(i, &p) == n, SHD_ERR_CRYPTO);
    return aemu_pki_cert_add_raw_ext(oid, der, (size_t)n, cert);
}

static shd_result chip_ext_ia5(const char *oid, const char *value, X509 *cert)
{
    SHD_CLEANUP(chip_ia5_freep) ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(ASN1_STRING_set(s, value, -1), SHD_ERR_CRYPTO);
    uint8_t der[64];
    uint8_t *p = der;
    int n = i2d_ASN1_IA5STRING(s, NULL);
    SHD_ENSURE(n > 0 && (size_t)n <= sizeof(der), SHD_ERR_CRYPTO);
    SHD_ENSURE(i2d_ASN1_IA5STRING(s, &p) == n, SHD_ERR_CRYPTO);
    return aemu_pki_cert_add_raw_ext(oid, der, (size_t)n, cert);
}

/* Extensions in the order real VCEKs carry them: 1, 2, 3.1, 3.2, 3.4-3.7, 3.3, 3.8, 4. */
static shd_result chip_vcek_extensions(const struct aemu_chip_opts *o, uint64_t tcb,
                                       const uint8_t chip_id[static 64], X509 *cert)
{
    struct shd_snp_tcb t;
    SHD_GUARD(shd_snp_tcb_decode(tcb, o->product, &t));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "1", 0, cert)); /* structVersion */
    SHD_GUARD(chip_ext_ia5(CHIP_OID_PREFIX "2", aemu_chip_product_name(o->product), cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.1", t.boot_loader, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.2", t.tee, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.4", 0, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.5", 0, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.6", 0, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.7", 0, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.3", t.snp, cert));
    SHD_GUARD(chip_ext_integer(CHIP_OID_PREFIX "3.8", t.microcode, cert));
    /* Real certificates put the 64 CHIP_ID bytes directly in extnValue, no inner tag. */
    SHD_GUARD(aemu_pki_cert_add_raw_ext(CHIP_OID_PREFIX "4", chip_id, 64, cert));
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Certificates                                                                                */

static shd_result chip_crl_dp(const char *product, X509 *cert)
{
    char uri[128];
    int n = snprintf(uri, sizeof(uri), "URI:https://kdsintf.amd.com/vcek/v1/%s/crl", product);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(uri), SHD_ERR_INTERNAL);
    return aemu_pki_cert_add_ext(NID_crl_distribution_points, uri, NULL, cert);
}

static shd_result chip_make_ark(const char *product, EVP_PKEY *key, uint64_t serial, X509 **ret)
{
    char cn[32];
    int n = snprintf(cn, sizeof(cn), "ARK-%s", product);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(cn), SHD_ERR_INTERNAL);
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_amd_name(cn, &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(aemu_pki_cert_new(name, name, key, serial, CHIP_ARK_DAYS, &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign,cRLSign", NULL, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", NULL, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE", NULL, cert));
    SHD_GUARD(chip_crl_dp(product, cert));
    SHD_GUARD(aemu_pki_cert_sign(key, AEMU_SIG_PSS_SHA384, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

static shd_result chip_make_ask(const char *product, EVP_PKEY *key, X509 *ark, EVP_PKEY *ark_key,
                                uint64_t serial, X509 **ret)
{
    char cn[32];
    int n = snprintf(cn, sizeof(cn), "SEV-%s", product);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(cn), SHD_ERR_INTERNAL);
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_amd_name(cn, &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    SHD_GUARD(
        aemu_pki_cert_new(name, X509_get_subject_name(ark), key, serial, CHIP_ARK_DAYS, &cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", ark, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", ark, cert));
    SHD_GUARD(
        aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE,pathlen:0", ark, cert));
    SHD_GUARD(aemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign", ark, cert));
    SHD_GUARD(chip_crl_dp(product, cert));
    SHD_GUARD(aemu_pki_cert_sign(ark_key, AEMU_SIG_PSS_SHA384, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

static shd_result chip_make_vcek(const struct aemu_chip_opts *o, uint64_t tcb,
                                 const uint8_t chip_id[static 64], EVP_PKEY *key, X509 *ask,
                                 EVP_PKEY *ask_key, X509 **ret)
{
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = NULL;
    SHD_GUARD(aemu_pki_amd_name("SEV-VCEK", &name));
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = NULL;
    /* Serial 0, no basicConstraints/keyUsage: only the AMD extensions (§3.1). */
    SHD_GUARD(aemu_pki_cert_new(name, X509_get_subject_name(ask), key, 0, CHIP_VCEK_DAYS, &cert));
    SHD_GUARD(chip_vcek_extensions(o, tcb, chip_id, cert));
    SHD_GUARD(aemu_pki_cert_sign(ask_key, AEMU_SIG_PSS_SHA384, cert));
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* chip.json                                                                                   */

static shd_result chip_write_json(const char *dir, const struct aemu_chip_opts *o, uint64_t tcb,
                                  const uint8_t chip_id[static 64],
                                  const uint8_t report_id[static 32],
                                  const uint8_t measurement[static 48])
{
    char chip_hex[129];
    char meas_hex[97];
    char host_hex[65];
    char rid_hex[65];
    char tcb_hex[17];
    aemu_hex_encode(chip_id, 64, chip_hex);
    aemu_hex_encode(measurement, 48, meas_hex);
    aemu_hex_encode(o->host_data, 32, host_hex);
    aemu_hex_encode(report_id, 32, rid_hex);
    int n = snprintf(tcb_hex, sizeof(tcb_hex), "%016llx", (unsigned long long)tcb);
    SHD_ENSURE(n == 16, SHD_ERR_INTERNAL);
    uint64_t policy = AEMU_CHIP_DEFAULT_POLICY | (o->debug ? SHD_SNP_POLICY_DEBUG : 0);

    SHD_CLEANUP(chip_json_freep)
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I}",
                  "product", shd_snp_product_name(o->product), "product_name",
                  aemu_chip_product_name(o->product), "chip_id", chip_hex, "reported_tcb", tcb_hex,
                  "measurement", meas_hex, "host_data", host_hex, "report_id", rid_hex, "policy",
                  (json_int_t)policy, "vmpl", (json_int_t)o->vmpl, "debug", o->debug ? 1 : 0,
                  "guest_svn", (json_int_t)0, "platform_info", (json_int_t)SHD_SNP_PLATFORM_SMT_EN,
                  "fw_major", (json_int_t)1, "fw_minor", (json_int_t)55, "fw_build",
                  (json_int_t)21);
    SHD_ENSURE(j != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_json_dump(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &text, &len));
    char path[4096];
    SHD_GUARD(chip_path(dir, "chip.json", path, sizeof(path)));
    return emu_file_write(path, text, len, 0644, 0);
}

/* ------------------------------------------------------------------------------------------ */

static shd_result chip_write_pki(const char *dir, struct aemu_chip *c, EVP_PKEY *ask_key,
                                 EVP_PKEY *vcek_key)
{
    char path[4096];
    SHD_GUARD(chip_path(dir, "ark.pem", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_certs(path, &c->ark, 1));
    SHD_GUARD(chip_path(dir, "ask.pem", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_certs(path, &c->ask, 1));
    X509 *chain[2] = {c->ask, c->ark};
    SHD_GUARD(chip_path(dir, "cert_chain.pem", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_certs(path, chain, 2));
    SHD_GUARD(chip_path(dir, "vcek.pem", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_certs(path, &c->vcek, 1));
    SHD_GUARD(chip_path(dir, "ask.key", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_key(path, ask_key));
    SHD_GUARD(chip_path(dir, "vcek.key", path, sizeof(path)));
    SHD_GUARD(aemu_pki_write_key(path, vcek_key));
    return SHD_OK;
}

static shd_result chip_check_opts(const struct aemu_chip_opts *o)
{
    SHD_ENSURE_MSG(o->product == SHD_SNP_PRODUCT_MILAN || o->product == SHD_SNP_PRODUCT_GENOA,
                   SHD_ERR_CONFIG, "snp chip: product must be Milan or Genoa");
    SHD_ENSURE_MSG(o->vmpl <= 3, SHD_ERR_CONFIG, "snp chip: vmpl %u out of range 0..3", o->vmpl);
    SHD_ENSURE_MSG(o->root_rsa_bits == 0 || o->root_rsa_bits >= 2048, SHD_ERR_CONFIG,
                   "snp chip: root key size %u too small", o->root_rsa_bits);
    return SHD_OK;
}

static shd_result chip_build(const char *dir, const struct aemu_chip_opts *o, struct aemu_chip *c)
{
    const char *product = shd_snp_product_name(o->product);
    uint64_t tcb = o->has_tcb ? o->reported_tcb : aemu_chip_default_tcb(o->product);
    uint8_t chip_id[64];
    uint8_t report_id[32];
    SHD_GUARD_OSSL(RAND_bytes(chip_id, sizeof(chip_id)), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(RAND_bytes(report_id, sizeof(report_id)), SHD_ERR_CRYPTO);
    if (o->has_measurement) {
        shd_memcpy(c->measurement, o->measurement, sizeof(c->measurement));
    } else {
        SHD_GUARD_OSSL(RAND_bytes(c->measurement, sizeof(c->measurement)), SHD_ERR_CRYPTO);
    }
    c->reported_tcb = tcb;

    unsigned bits = o->root_rsa_bits != 0 ? o->root_rsa_bits : 4096;
    uint64_t ark_serial = o->product == SHD_SNP_PRODUCT_GENOA ? 0x020000 : 0x010000;
    uint64_t ask_serial = o->product == SHD_SNP_PRODUCT_GENOA ? 0x020002 : 0x010001;
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *ark_key = NULL;
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *ask_key = NULL;
    SHD_CLEANUP(aemu_pkey_freep) EVP_PKEY *vcek_key = NULL;
    SHD_GUARD(aemu_pki_rsa_new(bits, &ark_key));
    SHD_GUARD(aemu_pki_rsa_new(bits, &ask_key));
    SHD_GUARD(aemu_pki_ec_new("P-384", &vcek_key));
    SHD_GUARD(chip_make_ark(product, ark_key, ark_serial, &c->ark));
    SHD_GUARD(chip_make_ask(product, ask_key, c->ark, ark_key, ask_serial, &c->ask));
    SHD_GUARD(chip_make_vcek(o, tcb, chip_id, vcek_key, c->ask, ask_key, &c->vcek));
    SHD_GUARD(chip_write_pki(dir, c, ask_key, vcek_key));
    return chip_write_json(dir, o, tcb, chip_id, report_id, c->measurement);
}

shd_result aemu_chip_create(const char *dir, const struct aemu_chip_opts *opts,
                            struct aemu_chip *ret)
{
    SHD_ENSURE_REF(dir);
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ret);
    SHD_GUARD(chip_check_opts(opts));
    struct aemu_chip c = {0};
    shd_result r = chip_build(dir, opts, &c);
    if (shd_is_err(r)) {
        aemu_chip_clear(&c);
        shd_error_wrap("creating the simulated SNP chip");
        return r;
    }
    *ret = c;
    return SHD_OK;
}
