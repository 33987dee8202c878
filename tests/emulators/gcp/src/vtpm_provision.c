/*
 * vtpm_provision.c - provisioning a running swtpm like a GCE vTPM (vtpm.h): measured boot from
 * the synthetic event log, AK templates, AK and EK certificates in NV.
 */
#include <string.h>

#include <openssl/x509.h>
#include <tss2/tss2_esys.h>

#include "eventlog.h"
#include "tpm_akcert.h"
#include "tpm_templates.h"
#include "vtpm.h"
#include "vtpm_int.h"

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* PCRs per TPM2_PCR_Read (TPML_DIGEST holds 8). */
#define PCR_READ_GROUP 8u

void gemu_vtpm_provisioned_clear(struct gemu_vtpm_provisioned *p)
{
    if (p == NULL) {
        return;
    }
    X509_free(p->ak_cert_rsa);
    X509_free(p->ak_cert_ecc);
    X509_free(p->ek_cert_rsa);
    shd_free(p->eventlog);
    shd_memzero(p, sizeof(*p));
}

/* The allocated banks (non-empty selection) among those the event log supports. */
static shd_result pcr_banks(struct gemu_esys *e, uint16_t *algs, size_t *ret_n)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    size_t n = 0;

    SHD_GUARD_TSS(Esys_GetCapability(e->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     TPM2_CAP_PCRS, 0, 1, &more, &cap),
                  SHD_ERR_TPM);
    for (uint32_t i = 0; i < cap->data.assignedPCR.count && n < GEMU_EVENTLOG_MAX_ALGS; i++) {
        const TPMS_PCR_SELECTION *s = &cap->data.assignedPCR.pcrSelections[i];
        bool any = false;

        for (size_t j = 0; j < s->sizeofSelect && j < sizeof(s->pcrSelect); j++) {
            any = any || s->pcrSelect[j] != 0;
        }
        if (any && gemu_alg_digest_len(s->hash) != 0) {
            algs[n++] = s->hash;
        }
    }
    Esys_Free(cap);
    SHD_ENSURE_MSG(n > 0, SHD_ERR_TPM, "no supported PCR bank is allocated");
    *ret_n = n;
    return SHD_OK;
}

/* PCRs 0..23 of one bank. */
static shd_result pcr_read_bank(struct gemu_esys *e, uint16_t alg,
                                uint8_t out[GEMU_PCR_COUNT][GEMU_DIGEST_MAX])
{
    size_t dlen = gemu_alg_digest_len(alg);

    for (uint32_t first = 0; first < GEMU_PCR_COUNT; first += PCR_READ_GROUP) {
        TPML_PCR_SELECTION sel = {.count = 1};
        UINT32 counter = 0;
        TPML_PCR_SELECTION *sel_out = NULL;
        TPML_DIGEST *vals = NULL;
        shd_result r = SHD_OK;

        sel.pcrSelections[0].hash = alg;
        sel.pcrSelections[0].sizeofSelect = 3;
        sel.pcrSelections[0].pcrSelect[first / 8] = 0xff;
        SHD_GUARD_TSS(Esys_PCR_Read(e->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                                    &counter, &sel_out, &vals),
                      SHD_ERR_TPM);
        if (vals->count != PCR_READ_GROUP) {
            r = shd_error_setf(SHD_ERR_TPM, __FILE__, __LINE__, "PCR_Read returned %u values",
                               vals->count);
        }
        for (uint32_t i = 0; shd_is_ok(r) && i < PCR_READ_GROUP; i++) {
            if (vals->digests[i].size != dlen) {
                r = shd_error_setf(SHD_ERR_TPM, __FILE__, __LINE__, "PCR value of size %u",
                                   vals->digests[i].size);
                break;
            }
            shd_memcpy(out[first + i], vals->digests[i].buffer, dlen);
        }
        Esys_Free(sel_out);
        Esys_Free(vals);
        SHD_GUARD(r);
    }
    return SHD_OK;
}

enum pcr_state { PCR_FRESH, PCR_DONE, PCR_OTHER };

/* Compares PCRs 0..7 (those the log touches) with zero and with the replay. */
static enum pcr_state pcr_state_of(const struct gemu_pcr_bank *want,
                                   uint8_t cur[GEMU_PCR_COUNT][GEMU_DIGEST_MAX])
{
    static const uint8_t zero[GEMU_DIGEST_MAX];
    bool all_zero = true, all_done = true;

    for (uint32_t i = 0; i < GEMU_PCR_COUNT; i++) {
        if ((want->touched & (1u << i)) == 0) {
            continue;
        }
        all_zero = all_zero && shd_memcmp(cur[i], zero, want->digest_len) == 0;
        all_done = all_done && shd_memcmp(cur[i], want->pcr[i], want->digest_len) == 0;
    }
    return all_zero ? PCR_FRESH : all_done ? PCR_DONE : PCR_OTHER;
}

static shd_result extend_all(const struct gemu_eventlog *el, struct gemu_esys *e)
{
    for (size_t i = 0; i < gemu_eventlog_count(el); i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(el, i);
        TPML_DIGEST_VALUES d;

        if (ev->type == GEMU_EV_NO_ACTION) {
            continue;
        }
        shd_memzero(&d, sizeof(d));
        d.count = (uint32_t)ev->ndigests;
        for (size_t j = 0; j < ev->ndigests; j++) {
            d.digests[j].hashAlg = ev->digests[j].alg;
            SHD_ENSURE(ev->digests[j].len <= sizeof(d.digests[j].digest), SHD_ERR_INTERNAL);
            shd_memcpy(&d.digests[j].digest, ev->digests[j].digest, ev->digests[j].len);
        }
        SHD_GUARD_TSS(Esys_PCR_Extend(e->esys, (ESYS_TR)(ESYS_TR_PCR0 + ev->pcr), ESYS_TR_PASSWORD,
                                      ESYS_TR_NONE, ESYS_TR_NONE, &d),
                      SHD_ERR_TPM);
    }
    return SHD_OK;
}

/* Measured boot: log -> PCRs (unless already done since this start) -> file. */
static shd_result measure_boot(const struct gemu_vtpm_provision_opts *opts, struct gemu_esys *e,
                               uint8_t **ret_log, size_t *ret_len)
{
    uint16_t algs[GEMU_EVENTLOG_MAX_ALGS];
    size_t nalgs = 0, len = 0;
    SHD_CLEANUP_FREE uint8_t *log = NULL;
    struct gemu_eventlog *el = NULL;
    struct gemu_pcr_bank want[GEMU_EVENTLOG_MAX_ALGS];
    uint8_t cur[GEMU_PCR_COUNT][GEMU_DIGEST_MAX];
    bool fresh = true;
    shd_result r;

    SHD_GUARD(pcr_banks(e, algs, &nalgs));
    SHD_GUARD(gemu_eventlog_build(&opts->log, algs, nalgs, &log, &len));
    SHD_GUARD(gemu_eventlog_parse(log, len, &el));
    r = SHD_OK;
    for (size_t i = 0; i < nalgs && shd_is_ok(r); i++) {
        enum pcr_state s;

        r = gemu_eventlog_replay(el, algs[i], &want[i]);
        if (shd_is_ok(r)) {
            r = pcr_read_bank(e, algs[i], cur);
        }
        if (shd_is_err(r)) {
            break;
        }
        s = pcr_state_of(&want[i], cur);
        if (s == PCR_OTHER || (i > 0 && (s == PCR_FRESH) != fresh)) {
            r = shd_error_setf(SHD_ERR_TPM, __FILE__, __LINE__,
                               "PCRs of bank 0x%04x hold foreign measurements", algs[i]);
            break;
        }
        fresh = s == PCR_FRESH;
    }
    if (shd_is_ok(r) && fresh) {
        r = extend_all(el, e);
        for (size_t i = 0; i < nalgs && shd_is_ok(r); i++) {
            r = pcr_read_bank(e, algs[i], cur);
            if (shd_is_ok(r) && pcr_state_of(&want[i], cur) != PCR_DONE) {
                r = shd_error_setf(SHD_ERR_TPM, __FILE__, __LINE__,
                                   "PCRs of bank 0x%04x do not match the event log", algs[i]);
            }
        }
    }
    gemu_eventlog_free(el);
    SHD_GUARD(r);
    SHD_GUARD_CTX(gemu_write_file_atomic(opts->eventlog_path, log, len, 0644), "writing %s",
                  opts->eventlog_path);
    *ret_log = SHD_TAKE_PTR(log);
    *ret_len = len;
    return SHD_OK;
}

/* CreatePrimary in a hierarchy from a template; returns the public key and flushes the key. */
static shd_result create_primary(ESYS_TR hierarchy, const TPMT_PUBLIC *tmpl, struct gemu_esys *e,
                                 EVP_PKEY **ret_pub)
{
    TPM2B_SENSITIVE_CREATE sens = {.size = 0};
    TPM2B_PUBLIC in = {.size = 0};
    TPM2B_DATA outside = {.size = 0};
    TPML_PCR_SELECTION pcrs = {.count = 0};
    ESYS_TR handle = ESYS_TR_NONE;
    TPM2B_PUBLIC *out = NULL;
    TPM2B_CREATION_DATA *cdata = NULL;
    TPM2B_DIGEST *chash = NULL;
    TPMT_TK_CREATION *ticket = NULL;
    shd_result r;

    in.publicArea = *tmpl;
    SHD_GUARD_TSS(Esys_CreatePrimary(e->esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &sens, &in, &outside, &pcrs, &handle, &out,
                                     &cdata, &chash, &ticket),
                  SHD_ERR_TPM);
    r = gemu_tpm_public_to_pkey(&out->publicArea, ret_pub);
    Esys_FlushContext(e->esys, handle);
    Esys_Free(out);
    Esys_Free(cdata);
    Esys_Free(chash);
    Esys_Free(ticket);
    return r;
}

/*
 * True when the certificate already in NV index (if any) is one we would issue now: signed by
 * the CA, for this public key, with this instance identity (AK) or none (EK). Keeps AK
 * certificates stable across restarts, as on GCE.
 */
static bool existing_cert_ok(uint32_t index, EVP_PKEY *pub, const struct gemu_instance_info *info,
                             const struct gemu_vtpm_provision_opts *opts, struct gemu_esys *e,
                             X509 **ret_cert)
{
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ca_pub = X509_get_pubkey(opts->ca_cert);
    struct gemu_instance_info have;
    size_t len = 0;
    bool ok = false;

    if (ca_pub != NULL && shd_is_ok(gemu_esys_nv_read(index, e, &der, &len)) &&
        shd_is_ok(shd_crypto_x509_load(der, len, &cert)) && X509_verify(cert, ca_pub) == 1 &&
        EVP_PKEY_eq(X509_get0_pubkey(cert), pub) == 1 &&
        X509_cmp_time(X509_get0_notAfter(cert), NULL) > 0) {
        if (info == NULL) {
            ok = true;
        } else if (shd_is_ok(gemu_akcert_instance_info(cert, &have))) {
            ok = gemu_instance_info_equal(&have, info);
        }
    }
    shd_error_clear();
    if (ok) {
        *ret_cert = SHD_TAKE_PTR(cert);
    }
    return ok;
}

static shd_result store_cert(uint32_t index, X509 *cert, struct gemu_esys *e)
{
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t len = 0;

    SHD_GUARD(shd_crypto_x509_export_der(cert, &der, &len));
    return gemu_esys_nv_store(index, der, len, e);
}

static shd_result provision_ak(bool ecc, const struct gemu_vtpm_provision_opts *opts,
                               struct gemu_esys *e, X509 **ret_cert)
{
    TPMT_PUBLIC tmpl;
    uint8_t buf[sizeof(TPMT_PUBLIC)];
    size_t len = 0;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = NULL;
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    uint32_t tmpl_index = ecc ? GEMU_NV_AK_TEMPLATE_ECC : GEMU_NV_AK_TEMPLATE_RSA;
    uint32_t cert_index = ecc ? GEMU_NV_AK_CERT_ECC : GEMU_NV_AK_CERT_RSA;
    struct gemu_instance_info normalised;

    gemu_tpm_template_ak(ecc, &tmpl);
    SHD_GUARD(gemu_tpm_public_marshal(&tmpl, buf, sizeof(buf), &len));
    SHD_GUARD(gemu_esys_nv_store(tmpl_index, buf, len, e));
    /* The AK is the endorsement-hierarchy primary of that template (gcp-identity.md §2.1). */
    SHD_GUARD_CTX(create_primary(ESYS_TR_RH_ENDORSEMENT, &tmpl, e, &pub), "creating the AK");
    /* Compare with what the certificate would carry (the decoder's view of the encoding). */
    {
        SHD_CLEANUP_FREE uint8_t *der = NULL;
        size_t der_len = 0;

        SHD_GUARD(gemu_instance_info_encode(opts->instance, &der, &der_len));
        SHD_GUARD(gemu_instance_info_decode(der, der_len, &normalised));
    }
    if (!existing_cert_ok(cert_index, pub, &normalised, opts, e, &cert)) {
        SHD_GUARD(gemu_akcert_issue(pub, opts->instance, opts->ca_cert, opts->ca_key, opts->aia_url,
                                    &cert));
    }
    SHD_GUARD(store_cert(cert_index, cert, e));
    *ret_cert = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

static shd_result provision_ek(const struct gemu_vtpm_provision_opts *opts, struct gemu_esys *e,
                               X509 **ret_cert)
{
    TPMT_PUBLIC tmpl;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = NULL;
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;

    gemu_tpm_template_ek_rsa(&tmpl);
    SHD_GUARD_CTX(create_primary(ESYS_TR_RH_ENDORSEMENT, &tmpl, e, &pub), "creating the EK");
    if (!existing_cert_ok(GEMU_NV_EK_CERT_RSA, pub, NULL, opts, e, &cert)) {
        SHD_GUARD(gemu_ekcert_issue(pub, opts->ca_cert, opts->ca_key, opts->aia_url, &cert));
    }
    SHD_GUARD(store_cert(GEMU_NV_EK_CERT_RSA, cert, e));
    *ret_cert = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

shd_result gemu_vtpm_provision(const struct gemu_vtpm_provision_opts *opts, struct gemu_vtpm *vtpm,
                               struct gemu_vtpm_provisioned *ret)
{
    struct gemu_esys e = {0};
    struct gemu_vtpm_provisioned p;
    shd_result r;

    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(opts->instance);
    SHD_ENSURE_REF(opts->ca_cert);
    SHD_ENSURE_REF(opts->ca_key);
    SHD_ENSURE_REF(opts->aia_url);
    SHD_ENSURE_REF(opts->eventlog_path);
    SHD_ENSURE_REF(vtpm);
    shd_memzero(&p, sizeof(p));
    SHD_GUARD(gemu_esys_open(gemu_vtpm_tcti(vtpm), &e));
    r = measure_boot(opts, &e, &p.eventlog, &p.eventlog_len);
    if (shd_is_ok(r)) {
        r = provision_ak(false, opts, &e, &p.ak_cert_rsa);
    }
    if (shd_is_ok(r)) {
        r = provision_ak(true, opts, &e, &p.ak_cert_ecc);
    }
    if (shd_is_ok(r)) {
        r = provision_ek(opts, &e, &p.ek_cert_rsa);
    }
    gemu_esys_close(&e);
    if (shd_is_err(r) || ret == NULL) {
        gemu_vtpm_provisioned_clear(&p);
        return r;
    }
    *ret = p;
    return SHD_OK;
}
