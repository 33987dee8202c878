/*
 * maa_verify.c - SEV-SNP evidence checks of the MAA emulator (see maa_verify.h).
 */
#include "maa_verify.h"

#include <string.h>
#include <strings.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "maa_cose.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define OID_PRODUCT "1.3.6.1.4.1.3704.1.2"
#define OID_BL_SPL "1.3.6.1.4.1.3704.1.3.1"
#define OID_TEE_SPL "1.3.6.1.4.1.3704.1.3.2"
#define OID_SNP_SPL "1.3.6.1.4.1.3704.1.3.3"
#define OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define OID_FMC_SPL "1.3.6.1.4.1.3704.1.3.9"
#define OID_HWID "1.3.6.1.4.1.3704.1.4"

/* A stack that borrows its certificates (freed with sk_X509_free, not pop_free). */
static void verify_borrowed_free(STACK_OF(X509) * *p)
{
    if (*p != NULL) {
        sk_X509_free(*p);
        *p = NULL;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* AMD certificate extensions (azure-formats.md §3.2)                                          */

/* DER INTEGER 0..255: 02 01 xx (xx < 0x80) or 02 02 00 xx (xx >= 0x80), nothing else. */
static shd_result verify_der_u8(const uint8_t *d, size_t n, const char *what, uint8_t *ret)
{
    bool short_form = n == 3 && d[0] == 0x02 && d[1] == 0x01 && d[2] < 0x80;
    bool long_form = n == 4 && d[0] == 0x02 && d[1] == 0x02 && d[2] == 0x00 && d[3] >= 0x80;
    SHD_ENSURE_MSG(short_form || long_form, SHD_ERR_INPUT,
                   "certificate extension %s is not an INTEGER 0..255", what);
    *ret = short_form ? d[2] : d[3];
    return SHD_OK;
}

static shd_result verify_ext_u8(X509 *cert, const char *oid, const char *what, uint8_t *ret)
{
    const uint8_t *d = NULL;
    size_t n = 0;
    SHD_GUARD_CTX(shd_crypto_x509_ext_value(cert, oid, &d, &n), "certificate extension %s", what);
    return verify_der_u8(d, n, what, ret);
}

/* productName: IA5String "Milan-B0", "Genoa", "Turin" ... */
static shd_result verify_product(X509 *cert, enum shd_snp_product *ret)
{
    const uint8_t *d = NULL;
    size_t n = 0;
    SHD_GUARD_CTX(shd_crypto_x509_ext_value(cert, OID_PRODUCT, &d, &n),
                  "certificate extension productName");
    SHD_ENSURE_MSG(n >= 2 && n < 0x80 && d[0] == 0x16 && d[1] == n - 2, SHD_ERR_INPUT,
                   "certificate extension productName is not an IA5String");
    const char *name = (const char *)d + 2;
    size_t len = n - 2;
    if (len >= 5 && strncmp(name, "Milan", 5) == 0) {
        *ret = SHD_SNP_PRODUCT_MILAN;
    } else if (len >= 5 && strncmp(name, "Genoa", 5) == 0) {
        *ret = SHD_SNP_PRODUCT_GENOA;
    } else if (len >= 5 && strncmp(name, "Turin", 5) == 0) {
        *ret = SHD_SNP_PRODUCT_TURIN;
    } else {
        SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "unsupported product '%.*s'", (int)len, name);
    }
    return SHD_OK;
}

/* KDS issues one VCEK per REPORTED_TCB (§3.3): the SPL extensions must equal it. */
static shd_result verify_tcb(X509 *cert, enum shd_snp_product product, const struct shd_snp_tcb *t)
{
    uint8_t bl = 0;
    uint8_t tee = 0;
    uint8_t snp = 0;
    uint8_t ucode = 0;
    SHD_GUARD(verify_ext_u8(cert, OID_BL_SPL, "blSPL", &bl));
    SHD_GUARD(verify_ext_u8(cert, OID_TEE_SPL, "teeSPL", &tee));
    SHD_GUARD(verify_ext_u8(cert, OID_SNP_SPL, "snpSPL", &snp));
    SHD_GUARD(verify_ext_u8(cert, OID_UCODE_SPL, "ucodeSPL", &ucode));
    SHD_ENSURE_MSG(bl == t->boot_loader && tee == t->tee && snp == t->snp && ucode == t->microcode,
                   SHD_ERR_POLICY,
                   "REPORTED_TCB (bl %u tee %u snp %u ucode %u) does not match the "
                   "certificate's TCB (bl %u tee %u snp %u ucode %u)",
                   t->boot_loader, t->tee, t->snp, t->microcode, bl, tee, snp, ucode);
    if (product == SHD_SNP_PRODUCT_TURIN) {
        uint8_t fmc = 0;
        SHD_GUARD(verify_ext_u8(cert, OID_FMC_SPL, "fmcSPL", &fmc));
        SHD_ENSURE_MSG(fmc == t->fmc, SHD_ERR_POLICY,
                       "REPORTED_TCB fmc %u does not match the certificate's fmcSPL %u", t->fmc,
                       fmc);
    }
    return SHD_OK;
}

/* hwID: the raw CHIP_ID bytes (64; Turin 8), or the same inside an OCTET STRING (§3.2). */
static shd_result verify_hwid(X509 *cert, enum shd_snp_product product,
                              const struct shd_snp_report *r)
{
    const uint8_t *d = NULL;
    size_t n = 0;
    SHD_GUARD_CTX(shd_crypto_x509_ext_value(cert, OID_HWID, &d, &n), "certificate extension hwID");
    size_t want = product == SHD_SNP_PRODUCT_TURIN ? 8u : SHD_SNP_CHIP_ID_LEN;
    if (n == want + 2 && d[0] == 0x04 && d[1] == want) {
        d += 2;
        n -= 2;
    }
    SHD_ENSURE_MSG(n == want, SHD_ERR_INPUT, "certificate extension hwID has %zu bytes", n);
    bool rest_zero = true;
    for (size_t i = want; i < SHD_SNP_CHIP_ID_LEN; i++) {
        rest_zero = rest_zero && r->chip_id[i] == 0;
    }
    SHD_ENSURE_MSG(rest_zero && shd_memcmp(d, r->chip_id, want) == 0, SHD_ERR_POLICY,
                   "CHIP_ID does not match the VCEK's hwID");
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Chain                                                                                       */

static bool verify_cn_is(X509 *cert, const char *cn)
{
    const X509_NAME *name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) {
        return false;
    }
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    size_t n = strlen(cn);
    return s != NULL && (size_t)ASN1_STRING_length(s) == n &&
           shd_memcmp(ASN1_STRING_get0_data(s), cn, n) == 0;
}

/*
 * Picks the signing certificate (CN=SEV-VCEK or SEV-VLEK, exactly one) out of chain, verifies it
 * to the roots with the others as intermediates, and returns it (borrowed from chain).
 */
static shd_result verify_chain(STACK_OF(X509) * chain, const char *cn, STACK_OF(X509) * roots,
                               X509 **ret_leaf)
{
    SHD_CLEANUP(verify_borrowed_free) STACK_OF(X509) *untrusted = sk_X509_new_null();
    SHD_ENSURE(untrusted != NULL, SHD_ERR_NOMEM);
    X509 *leaf = NULL;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (verify_cn_is(c, cn)) {
            SHD_ENSURE_MSG(leaf == NULL, SHD_ERR_INPUT, "VcekCertChain holds more than one %s", cn);
            leaf = c;
        } else {
            SHD_ENSURE(sk_X509_push(untrusted, c) > 0, SHD_ERR_NOMEM);
        }
    }
    SHD_ENSURE_MSG(leaf != NULL, SHD_ERR_INPUT, "VcekCertChain holds no %s certificate", cn);
    /* AMD chains are trusted for what signed them, not for their dates (crypto_x509.h). */
    struct shd_crypto_x509_verify_opts vo = {.flags = SHD_CRYPTO_X509_NO_TIME_CHECK};
    SHD_GUARD_CTX(shd_crypto_x509_verify(leaf, untrusted, roots, &vo),
                  "%s does not chain to a trusted AMD root", cn);
    *ret_leaf = leaf;
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Binding and endorsement                                                                     */

static shd_result verify_binding(const struct aemu_maa_evidence *ev, const struct shd_snp_report *r,
                                 unsigned flags, struct aemu_maa_verified *v)
{
    uint8_t d[SHD_CRYPTO_SHA256_LEN];
    if (ev->runtime_data != NULL && (flags & AEMU_MAA_SKIP_BINDING) == 0) {
        SHD_GUARD(shd_crypto_sha256(ev->runtime_data, ev->runtime_data_len, d));
        SHD_ENSURE_MSG(shd_memcmp(d, r->report_data, sizeof(d)) == 0, SHD_ERR_POLICY,
                       "REPORT_DATA does not hold the SHA-256 of runtimeData");
        v->runtime_bound = true;
    }
    if (ev->inittime_data != NULL && (flags & AEMU_MAA_SKIP_BINDING) == 0) {
        SHD_GUARD(shd_crypto_sha256(ev->inittime_data, ev->inittime_data_len, d));
        SHD_ENSURE_MSG(shd_memcmp(d, r->host_data, sizeof(d)) == 0, SHD_ERR_POLICY,
                       "HOST_DATA does not hold the SHA-256 of initTimeData");
        v->inittime_bound = true;
    }
    return SHD_OK;
}

static shd_result verify_uvm(const struct aemu_maa_trust *trust, const struct aemu_maa_evidence *ev,
                             const struct shd_snp_report *r, struct aemu_maa_verified *v)
{
    if (ev->uvm_endorsement == NULL) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(trust->uvm_root != NULL, SHD_ERR_UNSUPPORTED,
                   "UVM endorsements are not accepted");
    SHD_CLEANUP_JSON json_t *payload = NULL;
    SHD_CLEANUP_JSON json_t *headers = NULL;
    SHD_GUARD_CTX(aemu_cose_uvm_verify(ev->uvm_endorsement, ev->uvm_endorsement_len,
                                       trust->uvm_root, &payload, &headers),
                  "UVM endorsement");
    const char *meas = NULL;
    SHD_GUARD_CTX(shd_json_get_string(payload, "x-ms-sevsnpvm-launchmeasurement", &meas),
                  "UVM endorsement");
    char hex[2 * SHD_SNP_MEASUREMENT_LEN + 1];
    SHD_GUARD(shd_hex_encode_into(r->measurement, sizeof(r->measurement), hex, sizeof(hex)));
    SHD_ENSURE_MSG(strlen(meas) == 2 * SHD_SNP_MEASUREMENT_LEN && strcasecmp(meas, hex) == 0,
                   SHD_ERR_POLICY, "the UVM endorsement does not endorse the launch measurement");
    v->uvm_payload = SHD_TAKE_PTR(payload);
    v->uvm_headers = SHD_TAKE_PTR(headers);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */

static shd_result verify_signer(const struct aemu_maa_trust *trust,
                                const struct aemu_maa_evidence *ev, const struct shd_snp_report *r,
                                struct aemu_maa_verified *v)
{
    enum shd_snp_signing_key sk = shd_snp_report_signing_key(r);
    SHD_ENSURE_MSG(sk == SHD_SNP_SIGNING_KEY_VCEK || sk == SHD_SNP_SIGNING_KEY_VLEK, SHD_ERR_POLICY,
                   "the report is not signed (SIGNING_KEY %u)", (unsigned)sk);
    const char *cn = sk == SHD_SNP_SIGNING_KEY_VCEK ? "SEV-VCEK" : "SEV-VLEK";
    SHD_ENSURE_MSG(ev->cert_chain != NULL && ev->cert_chain_len > 0, SHD_ERR_INPUT,
                   "VcekCertChain is missing");
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *chain = NULL;
    SHD_GUARD_CTX(shd_crypto_x509_chain_load(ev->cert_chain, ev->cert_chain_len, &chain),
                  "VcekCertChain");
    X509 *leaf = NULL;
    SHD_GUARD(verify_chain(chain, cn, trust->amd_roots, &leaf));

    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD(shd_crypto_x509_pubkey(leaf, &key));
    SHD_GUARD_CTX(shd_crypto_snp_verify_report_sig(ev->report, ev->report_len, key),
                  "report signature");

    SHD_GUARD(verify_product(leaf, &v->product));
    enum shd_snp_product from_cpuid = shd_snp_report_product(r);
    SHD_ENSURE_MSG(r->version < 3 || from_cpuid == v->product, SHD_ERR_POLICY,
                   "the report's CPUID names another product than the %s certificate", cn);
    SHD_GUARD_CTX(shd_snp_tcb_decode(r->reported_tcb, v->product, &v->tcb), "REPORTED_TCB");
    SHD_GUARD(verify_tcb(leaf, v->product, &v->tcb));
    if (sk == SHD_SNP_SIGNING_KEY_VCEK && !shd_snp_report_mask_chip_key(r)) {
        SHD_GUARD(verify_hwid(leaf, v->product, r));
    }
    return SHD_OK;
}

shd_result aemu_maa_evidence_verify(const struct aemu_maa_trust *trust,
                                    const struct aemu_maa_evidence *ev, unsigned flags,
                                    struct aemu_maa_verified *ret)
{
    SHD_ENSURE_REF(trust);
    SHD_ENSURE_REF(trust->amd_roots);
    SHD_ENSURE_REF(ev);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE((flags & ~AEMU_MAA_SKIP_BINDING) == 0, SHD_ERR_USAGE);
    SHD_ENSURE_MSG(ev->report != NULL, SHD_ERR_INPUT, "SnpReport is missing");

    struct aemu_maa_verified v = {0};
    SHD_GUARD_CTX(shd_snp_report_parse(ev->report, ev->report_len, &v.report), "SnpReport");
    SHD_GUARD(verify_signer(trust, ev, &v.report, &v));
    SHD_GUARD(verify_binding(ev, &v.report, flags, &v));
    SHD_GUARD(verify_uvm(trust, ev, &v.report, &v));
    *ret = v;
    return SHD_OK;
}

void aemu_maa_verified_clear(struct aemu_maa_verified *v)
{
    if (v == NULL) {
        return;
    }
    json_decref(v->uvm_payload);
    json_decref(v->uvm_headers);
    *v = (struct aemu_maa_verified){0};
}
