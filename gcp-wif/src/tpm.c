/*
 * tpm.c - ESAPI context, NV reads and the GCE attestation key (tpm.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "tpm.h"
#include "tpm_int.h"

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* Chunk size when the TPM does not report TPM2_PT_NV_BUFFER_MAX (the PC Client minimum). */
#define TPM_NV_CHUNK_DEFAULT 512u
/* The exponent a TPMT_PUBLIC writes as 0 (TPM 2.0 Part 2, TPMS_RSA_PARMS). */
#define TPM_RSA_DEFAULT_EXPONENT 65537u
#define TPM_P256_COORD 32u

bool wif_tpm_rc_is_handle(TSS2_RC rc)
{
    /* Format 1 (bit 7) with error number TPM_RC_HANDLE (0x0B), any parameter/handle tag. */
    return (rc & 0xFFFF0000u) == 0 && (rc & TPM2_RC_FMT1) != 0 && (rc & 0x3Fu) == 0x0Bu;
}

SHD_RESULT wif_tpm_open(const char *tcti, struct wif_tpm **ret)
{
    SHD_ENSURE_REF(tcti);
    SHD_ENSURE_REF(ret);
    struct wif_tpm *t = shd_alloc(sizeof(*t));
    SHD_ENSURE(t != NULL, SHD_ERR_NOMEM);

    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        shd_free(t);
        SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__), "opening TCTI '%s'",
                      tcti);
    }
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&t->tcti);
        shd_free(t);
        SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__),
                      "initialising ESAPI on '%s'", tcti);
    }
    *ret = t;
    return SHD_OK;
}

void wif_tpm_close(struct wif_tpm **t)
{
    if (t == NULL || *t == NULL) {
        return;
    }
    Esys_Finalize(&(*t)->esys);
    Tss2_TctiLdr_Finalize(&(*t)->tcti);
    shd_free(*t);
    *t = NULL;
}

/* An ESYS_TR for an NV index, closed (metadata only, no TPM object) by the caller. */
static shd_result tpm_nv_handle(uint32_t index, struct wif_tpm *t, ESYS_TR *ret)
{
    TSS2_RC rc =
        Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret);
    if (wif_tpm_rc_is_handle(rc)) {
        shd_error_set_foreign(SHD_FOREIGN_TSS2, rc);
        SHD_BAIL_MSG(SHD_ERR_NOT_FOUND, "NV index 0x%08x is not defined", index);
    }
    SHD_GUARD_CTX(rc == TSS2_RC_SUCCESS ? SHD_OK
                                        : shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__),
                  "NV index 0x%08x", index);
    return SHD_OK;
}

static shd_result tpm_nv_size_of(ESYS_TR nv, uint32_t index, struct wif_tpm *t, size_t *ret)
{
    TPM2B_NV_PUBLIC *pub = NULL;
    TPM2B_NAME *name = NULL;
    TSS2_RC rc =
        Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name);
    Esys_Free(name);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_Free(pub);
        SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__),
                      "NV_ReadPublic 0x%08x", index);
    }
    *ret = pub->nvPublic.dataSize;
    Esys_Free(pub);
    return SHD_OK;
}

SHD_RESULT wif_tpm_nv_size(uint32_t index, struct wif_tpm *t, size_t *ret_size)
{
    SHD_ENSURE_REF(t);
    SHD_ENSURE_REF(ret_size);
    ESYS_TR nv = ESYS_TR_NONE;
    SHD_GUARD(tpm_nv_handle(index, t, &nv));
    size_t size = 0;
    shd_result r = tpm_nv_size_of(nv, index, t, &size);
    (void)Esys_TR_Close(t->esys, &nv);
    SHD_GUARD(r);
    *ret_size = size;
    return SHD_OK;
}

static size_t tpm_nv_chunk(struct wif_tpm *t)
{
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA *cap = NULL;
    size_t chunk = TPM_NV_CHUNK_DEFAULT;
    TSS2_RC rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap);
    if (rc == TSS2_RC_SUCCESS && cap->data.tpmProperties.count == 1 &&
        cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX) {
        uint32_t v = cap->data.tpmProperties.tpmProperty[0].value;
        if (v >= 64 && v <= TPM2_MAX_NV_BUFFER_SIZE) {
            chunk = v;
        }
    }
    Esys_Free(cap);
    return chunk;
}

static shd_result tpm_nv_read_into(ESYS_TR nv, uint32_t index, size_t size, struct wif_tpm *t,
                                   uint8_t *out)
{
    size_t chunk = tpm_nv_chunk(t);

    for (size_t off = 0; off < size;) {
        size_t want = size - off < chunk ? size - off : chunk;
        TPM2B_MAX_NV_BUFFER *data = NULL;
        TSS2_RC rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, (UINT16)want, (UINT16)off, &data);
        if (rc != TSS2_RC_SUCCESS) {
            SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__),
                          "NV_Read 0x%08x at %zu", index, off);
        }
        if (data->size != want) {
            Esys_Free(data);
            SHD_BAIL_MSG(SHD_ERR_TPM, "NV_Read 0x%08x: short read", index);
        }
        shd_memcpy(out + off, data->buffer, want);
        Esys_Free(data);
        off += want;
    }
    return SHD_OK;
}

SHD_RESULT wif_tpm_nv_read(uint32_t index, struct wif_tpm *t, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(t);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    ESYS_TR nv = ESYS_TR_NONE;
    SHD_GUARD(tpm_nv_handle(index, t, &nv));

    size_t size = 0;
    uint8_t *buf = NULL;
    shd_result r = tpm_nv_size_of(nv, index, t, &size);
    if (shd_is_ok(r) && (size == 0 || size > WIF_TPM_NV_MAX)) {
        r = shd_error_setf(size == 0 ? SHD_ERR_NOT_FOUND : SHD_ERR_TOO_LARGE, __FILE__, __LINE__,
                           "NV index 0x%08x holds %zu bytes", index, size);
    }
    if (shd_is_ok(r)) {
        buf = shd_alloc(size);
        r = buf != NULL ? tpm_nv_read_into(nv, index, size, t, buf)
                        : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    (void)Esys_TR_Close(t->esys, &nv);
    if (shd_is_err(r)) {
        shd_free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = size;
    return SHD_OK;
}

/* The template must describe a restricted signing key of the wanted type (go-tpm-tools only
 * accepts those for quotes), else a hostile NV index could make us quote with something else. */
static shd_result tpm_template_check(const TPMT_PUBLIC *tp, bool ecc)
{
    const TPMA_OBJECT need = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED |
                             TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_SENSITIVEDATAORIGIN;

    SHD_ENSURE_MSG(tp->type == (ecc ? TPM2_ALG_ECC : TPM2_ALG_RSA), SHD_ERR_INPUT,
                   "AK template has type 0x%04x", (unsigned)tp->type);
    SHD_ENSURE_MSG((tp->objectAttributes & need) == need &&
                       (tp->objectAttributes & TPMA_OBJECT_DECRYPT) == 0,
                   SHD_ERR_INPUT, "AK template is not a restricted signing key (0x%08x)",
                   (unsigned)tp->objectAttributes);
    if (ecc) {
        SHD_ENSURE_MSG(tp->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256, SHD_ERR_INPUT,
                       "AK template curve is not P-256");
    }
    return SHD_OK;
}

static shd_result tpm_template_read(bool ecc, struct wif_tpm *t, TPM2B_PUBLIC *ret)
{
    uint32_t index = ecc ? WIF_TPM_NV_AK_TEMPLATE_ECC : WIF_TPM_NV_AK_TEMPLATE_RSA;
    SHD_CLEANUP_FREE uint8_t *raw = NULL;
    size_t len = 0;
    SHD_GUARD_CTX(wif_tpm_nv_read(index, t, &raw, &len), "reading the GCE AK template");

    TPM2B_PUBLIC pub = {0};
    size_t off = 0;
    TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(raw, len, &off, &pub.publicArea);
    SHD_ENSURE_MSG(rc == TSS2_RC_SUCCESS && off == len, SHD_ERR_INPUT,
                   "NV 0x%08x does not hold a TPMT_PUBLIC", index);
    SHD_GUARD(tpm_template_check(&pub.publicArea, ecc));
    *ret = pub;
    return SHD_OK;
}

/* The AK public key as an EVP_PKEY, from the TPM's own description of the created object. */
static shd_result tpm_public_to_pkey(const TPMT_PUBLIC *p, EVP_PKEY **ret)
{
    if (p->type == TPM2_ALG_RSA) {
        uint32_t e = p->parameters.rsaDetail.exponent;
        if (e == 0) {
            e = TPM_RSA_DEFAULT_EXPONENT;
        }
        uint8_t eb[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
        return shd_crypto_rsa_pubkey_from_ne(p->unique.rsa.buffer, p->unique.rsa.size, eb,
                                             sizeof(eb), ret);
    }
    SHD_ENSURE_MSG(p->type == TPM2_ALG_ECC, SHD_ERR_UNSUPPORTED, "AK type 0x%04x", p->type);
    const TPM2B_ECC_PARAMETER *x = &p->unique.ecc.x;
    const TPM2B_ECC_PARAMETER *y = &p->unique.ecc.y;
    SHD_ENSURE_MSG(x->size <= TPM_P256_COORD && y->size <= TPM_P256_COORD, SHD_ERR_BAD_KEY,
                   "AK point too large");
    uint8_t xb[TPM_P256_COORD] = {0};
    uint8_t yb[TPM_P256_COORD] = {0};
    shd_memcpy(xb + TPM_P256_COORD - x->size, x->buffer, x->size);
    shd_memcpy(yb + TPM_P256_COORD - y->size, y->buffer, y->size);
    return shd_crypto_ec_pubkey_from_xy(SHD_CRYPTO_CURVE_P256, xb, yb, TPM_P256_COORD, ret);
}

/* Reads the AK certificate and checks it holds ak_pub (gcp-identity.md section 2.1 step 3). */
static shd_result tpm_ak_cert(bool ecc, EVP_PKEY *ak_pub, struct wif_tpm *t, uint8_t **ret,
                              size_t *ret_len, EVP_PKEY **ret_cert_key)
{
    uint32_t index = ecc ? WIF_TPM_NV_AK_CERT_ECC : WIF_TPM_NV_AK_CERT_RSA;
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t len = 0;
    SHD_GUARD_CTX(wif_tpm_nv_read(index, t, &der, &len),
                  "reading the GCE AK certificate (see gcloud compute instances "
                  "get-shielded-identity)");
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_GUARD_CTX(shd_crypto_x509_load(der, len, &cert), "AK certificate in NV 0x%08x", index);
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD(shd_crypto_x509_pubkey(cert, &key));
    SHD_ENSURE_MSG(EVP_PKEY_eq(key, ak_pub) == 1, SHD_ERR_BAD_CERT,
                   "the AK certificate does not hold the AK's public key");
    *ret = SHD_TAKE_PTR(der);
    *ret_len = len;
    *ret_cert_key = SHD_TAKE_PTR(key);
    return SHD_OK;
}

/* Everything that needs the AK loaded; the caller flushes it whatever happens here. */
static shd_result tpm_attest_with_ak(const uint8_t *nonce, size_t nonce_len, bool ecc, ESYS_TR ak,
                                     const TPM2B_PUBLIC *out_pub, struct wif_tpm *t,
                                     struct wif_tpm_evidence *ev)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ak_pub = NULL;
    SHD_GUARD_CTX(tpm_public_to_pkey(&out_pub->publicArea, &ak_pub), "AK public key");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *cert_key = NULL;
    SHD_GUARD(tpm_ak_cert(ecc, ak_pub, t, &ev->ak_cert, &ev->ak_cert_len, &cert_key));
    return wif_tpm_quote_all(nonce, nonce_len, ak, cert_key, t, ev);
}

SHD_RESULT wif_tpm_attest(const uint8_t *nonce, size_t nonce_len, bool ecc, struct wif_tpm *t,
                          struct wif_tpm_evidence *ret)
{
    SHD_ENSURE_REF(nonce);
    SHD_ENSURE_REF(t);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(nonce_len >= 1 && nonce_len <= WIF_TPM_NONCE_MAX, SHD_ERR_INPUT,
                   "nonce of %zu bytes", nonce_len);

    TPM2B_PUBLIC in_pub = {0};
    SHD_GUARD(tpm_template_read(ecc, t, &in_pub));

    const TPM2B_SENSITIVE_CREATE sens = {0};
    const TPM2B_DATA outside = {0};
    const TPML_PCR_SELECTION creation_pcr = {0};
    ESYS_TR ak = ESYS_TR_NONE;
    TPM2B_PUBLIC *out_pub = NULL;
    TPM2B_CREATION_DATA *cdata = NULL;
    TPM2B_DIGEST *chash = NULL;
    TPMT_TK_CREATION *ticket = NULL;
    TSS2_RC rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sens, &in_pub, &outside, &creation_pcr, &ak,
                                    &out_pub, &cdata, &chash, &ticket);
    Esys_Free(cdata);
    Esys_Free(chash);
    Esys_Free(ticket);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_Free(out_pub);
        SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__),
                      "CreatePrimary of the GCE AK");
    }

    struct wif_tpm_evidence ev = {0};
    shd_result r = tpm_attest_with_ak(nonce, nonce_len, ecc, ak, out_pub, t, &ev);
    Esys_Free(out_pub);
    /* Flush on every path: a leaked transient object takes one of three slots for good. */
    TSS2_RC frc = Esys_FlushContext(t->esys, ak);
    if (shd_is_ok(r) && frc != TSS2_RC_SUCCESS) {
        r = shd_error_set_tss(SHD_ERR_TPM, frc, __FILE__, __LINE__);
        shd_error_wrap("FlushContext of the AK");
    }
    if (shd_is_err(r)) {
        wif_tpm_evidence_clear(&ev);
        return r;
    }
    *ret = ev;
    return SHD_OK;
}

void wif_tpm_evidence_clear(struct wif_tpm_evidence *e)
{
    if (e == NULL) {
        return;
    }
    shd_free(e->ak_cert);
    for (size_t i = 0; i < WIF_TPM_MAX_BANKS; i++) {
        shd_free(e->quotes[i].raw_quote);
        shd_free(e->quotes[i].raw_sig);
    }
    shd_memzero(e, sizeof(*e));
}
