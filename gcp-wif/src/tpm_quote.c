/*
 * tpm_quote.c - allocated PCR banks, one quote per bank over PCRs 0-23, PCR values, and the
 * local check of every quote before it is sent (gcp-identity.md section 2.3).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "tpm.h"
#include "tpm_int.h"

#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* A PCR may change between TPM2_Quote and TPM2_PCR_Read (a measurement lands); try again. */
#define QUOTE_ATTEMPTS 3
#define PCR_SELECT_BYTES 3u /* PCRs 0-23 */
#define PCRS_PER_READ 8u    /* TPML_DIGEST holds eight digests */

static size_t quote_digest_len(TPM2_ALG_ID alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        return SHD_CRYPTO_SHA1_LEN;
    case TPM2_ALG_SHA256:
    case TPM2_ALG_SM3_256:
        return SHD_CRYPTO_SHA256_LEN;
    case TPM2_ALG_SHA384:
        return SHD_CRYPTO_SHA384_LEN;
    case TPM2_ALG_SHA512:
        return SHD_CRYPTO_SHA512_LEN;
    default:
        return 0;
    }
}

static bool quote_shd_hash(TPM2_ALG_ID alg, enum shd_crypto_hash *ret)
{
    switch (alg) {
    case TPM2_ALG_SHA256:
        *ret = SHD_CRYPTO_HASH_SHA256;
        return true;
    case TPM2_ALG_SHA384:
        *ret = SHD_CRYPTO_HASH_SHA384;
        return true;
    case TPM2_ALG_SHA512:
        *ret = SHD_CRYPTO_HASH_SHA512;
        return true;
    default:
        return false;
    }
}

/* Banks with a non-empty selection (go-tpm-tools client.AllocatedPCRs) that we can hash. */
static shd_result quote_banks(struct wif_tpm *t, TPM2_ALG_ID ret_banks[static WIF_TPM_MAX_BANKS],
                              size_t *ret_n)
{
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA *cap = NULL;
    TSS2_RC rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_PCRS, 0, 1, &more, &cap);
    if (rc != TSS2_RC_SUCCESS) {
        SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__),
                      "GetCapability(PCRS)");
    }
    size_t n = 0;
    const TPML_PCR_SELECTION *sel = &cap->data.assignedPCR;
    for (size_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        bool any = false;
        for (size_t j = 0; j < s->sizeofSelect && j < sizeof(s->pcrSelect); j++) {
            any = any || s->pcrSelect[j] != 0;
        }
        if (any && quote_digest_len(s->hash) != 0 && n < WIF_TPM_MAX_BANKS) {
            ret_banks[n++] = s->hash;
        }
    }
    Esys_Free(cap);
    SHD_ENSURE_MSG(n > 0, SHD_ERR_TPM, "the TPM has no allocated PCR bank we can quote");
    *ret_n = n;
    return SHD_OK;
}

static TPML_PCR_SELECTION quote_selection(TPM2_ALG_ID alg, uint8_t b0, uint8_t b1, uint8_t b2)
{
    TPML_PCR_SELECTION s = {0};

    s.count = 1;
    s.pcrSelections[0].hash = alg;
    s.pcrSelections[0].sizeofSelect = PCR_SELECT_BYTES;
    s.pcrSelections[0].pcrSelect[0] = b0;
    s.pcrSelections[0].pcrSelect[1] = b1;
    s.pcrSelections[0].pcrSelect[2] = b2;
    return s;
}

static bool quote_selection_eq(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b)
{
    if (a->count != 1 || b->count != 1 || a->pcrSelections[0].hash != b->pcrSelections[0].hash ||
        a->pcrSelections[0].sizeofSelect != b->pcrSelections[0].sizeofSelect) {
        return false;
    }
    return shd_memcmp(a->pcrSelections[0].pcrSelect, b->pcrSelections[0].pcrSelect,
                      PCR_SELECT_BYTES) == 0;
}

/* PCR_Read of PCRs 0-23 of one bank, eight at a time. */
static shd_result quote_pcr_read(struct wif_tpm *t, struct wif_tpm_quote *q)
{
    for (size_t g = 0; g < PCR_SELECT_BYTES; g++) {
        TPML_PCR_SELECTION want =
            quote_selection(q->hash_alg, g == 0 ? 0xFF : 0, g == 1 ? 0xFF : 0, g == 2 ? 0xFF : 0);
        UINT32 counter = 0;
        TPML_PCR_SELECTION *got = NULL;
        TPML_DIGEST *vals = NULL;
        TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want,
                                   &counter, &got, &vals);
        if (rc != TSS2_RC_SUCCESS) {
            SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__), "PCR_Read");
        }
        bool ok = quote_selection_eq(&want, got) && vals->count == PCRS_PER_READ;
        for (size_t i = 0; ok && i < PCRS_PER_READ; i++) {
            ok = vals->digests[i].size == q->digest_len;
            if (ok) {
                shd_memcpy(q->pcrs[g * PCRS_PER_READ + i], vals->digests[i].buffer, q->digest_len);
            }
        }
        Esys_Free(got);
        Esys_Free(vals);
        SHD_ENSURE_MSG(ok, SHD_ERR_TPM, "PCR_Read returned another selection than asked for");
    }
    return SHD_OK;
}

/* Signature check under the AK certificate's key; sig is the TPM's TPMT_SIGNATURE. */
static shd_result quote_sig_check(const TPMT_SIGNATURE *sig, const uint8_t *msg, size_t n,
                                  EVP_PKEY *ak_pub)
{
    enum shd_crypto_hash h = SHD_CRYPTO_HASH_SHA256;

    if (sig->sigAlg == TPM2_ALG_RSASSA) {
        SHD_ENSURE_MSG(quote_shd_hash(sig->signature.rsassa.hash, &h), SHD_ERR_UNSUPPORTED,
                       "quote signature hash 0x%04x", sig->signature.rsassa.hash);
        return shd_crypto_rsa_pkcs1_verify(h, msg, n, sig->signature.rsassa.sig.buffer,
                                           sig->signature.rsassa.sig.size, ak_pub);
    }
    SHD_ENSURE_MSG(sig->sigAlg == TPM2_ALG_ECDSA, SHD_ERR_UNSUPPORTED, "quote signature 0x%04x",
                   sig->sigAlg);
    SHD_ENSURE_MSG(quote_shd_hash(sig->signature.ecdsa.hash, &h), SHD_ERR_UNSUPPORTED,
                   "quote signature hash 0x%04x", sig->signature.ecdsa.hash);
    const TPM2B_ECC_PARAMETER *r = &sig->signature.ecdsa.signatureR;
    const TPM2B_ECC_PARAMETER *s = &sig->signature.ecdsa.signatureS;
    SHD_ENSURE_MSG(r->size <= 32 && s->size <= 32, SHD_ERR_BAD_SIGNATURE, "ECDSA quote signature");
    uint8_t rs[64] = {0};
    shd_memcpy(rs + 32 - r->size, r->buffer, r->size);
    shd_memcpy(rs + 64 - s->size, s->buffer, s->size);
    return shd_crypto_ecdsa_verify_raw(h, msg, n, rs, sizeof(rs), ak_pub);
}

/*
 * What go-tpm-tools checks before sending a quote: a TPM-generated quote over exactly our
 * selection and nonce, whose PCR digest matches the values we read and whose signature
 * verifies under the certified AK.
 */
static shd_result quote_check(const uint8_t *nonce, size_t nonce_len, const TPMT_SIGNATURE *sig,
                              EVP_PKEY *ak_pub, struct wif_tpm_quote *q)
{
    TPMS_ATTEST at = {0};
    size_t off = 0;
    TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(q->raw_quote, q->raw_quote_len, &off, &at);
    SHD_ENSURE_MSG(rc == TSS2_RC_SUCCESS && off == q->raw_quote_len, SHD_ERR_TPM,
                   "quote is not a TPMS_ATTEST");
    SHD_ENSURE_MSG(at.magic == TPM2_GENERATED_VALUE && at.type == TPM2_ST_ATTEST_QUOTE, SHD_ERR_TPM,
                   "quote has the wrong magic or type");
    SHD_ENSURE_MSG(at.extraData.size == nonce_len &&
                       shd_memcmp(at.extraData.buffer, nonce, nonce_len) == 0,
                   SHD_ERR_TPM, "quote does not carry the challenge nonce");
    TPML_PCR_SELECTION want = quote_selection(q->hash_alg, 0xFF, 0xFF, 0xFF);
    SHD_ENSURE_MSG(quote_selection_eq(&want, &at.attested.quote.pcrSelect), SHD_ERR_TPM,
                   "quote covers another PCR selection");

    enum shd_crypto_hash h = SHD_CRYPTO_HASH_SHA256;
    TPM2_ALG_ID sig_hash =
        sig->sigAlg == TPM2_ALG_RSASSA ? sig->signature.rsassa.hash : sig->signature.ecdsa.hash;
    SHD_ENSURE_MSG(quote_shd_hash(sig_hash, &h), SHD_ERR_UNSUPPORTED, "quote hash 0x%04x",
                   sig_hash);
    uint8_t concat[WIF_TPM_PCR_COUNT * WIF_TPM_DIGEST_MAX];
    for (size_t i = 0; i < WIF_TPM_PCR_COUNT; i++) {
        shd_memcpy(concat + i * q->digest_len, q->pcrs[i], q->digest_len);
    }
    uint8_t digest[SHD_CRYPTO_HASH_MAX_LEN];
    size_t dlen = 0;
    SHD_GUARD(shd_crypto_digest(h, concat, WIF_TPM_PCR_COUNT * q->digest_len, digest,
                                sizeof(digest), &dlen));
    if (at.attested.quote.pcrDigest.size != dlen ||
        shd_memcmp(at.attested.quote.pcrDigest.buffer, digest, dlen) != 0) {
        SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "PCR values changed while quoting");
    }
    SHD_GUARD_CTX(quote_sig_check(sig, q->raw_quote, q->raw_quote_len, ak_pub),
                  "quote signature under the AK certificate");
    return SHD_OK;
}

/* One attempt: quote, keep the raw forms, read the PCRs, check. */
static shd_result quote_once(const uint8_t *nonce, size_t nonce_len, ESYS_TR ak, EVP_PKEY *ak_pub,
                             struct wif_tpm *t, struct wif_tpm_quote *q)
{
    TPM2B_DATA qd = {0};
    qd.size = (UINT16)nonce_len;
    shd_memcpy(qd.buffer, nonce, nonce_len);
    const TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    TPML_PCR_SELECTION sel = quote_selection(q->hash_alg, 0xFF, 0xFF, 0xFF);
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    TSS2_RC rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme,
                            &sel, &quoted, &sig);
    if (rc != TSS2_RC_SUCCESS) {
        SHD_GUARD_CTX(shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__), "Quote");
    }
    shd_free(q->raw_quote);
    shd_free(q->raw_sig);
    q->raw_quote = shd_memdup(quoted->attestationData, quoted->size);
    q->raw_quote_len = quoted->size;
    Esys_Free(quoted);
    uint8_t sbuf[sizeof(TPMT_SIGNATURE)];
    size_t soff = 0;
    rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof(sbuf), &soff);
    q->raw_sig = rc == TSS2_RC_SUCCESS ? shd_memdup(sbuf, soff) : NULL;
    q->raw_sig_len = soff;
    shd_result r = SHD_OK;
    if (rc != TSS2_RC_SUCCESS) {
        r = shd_error_set_tss(SHD_ERR_TPM, rc, __FILE__, __LINE__);
    } else if (q->raw_quote == NULL || q->raw_sig == NULL) {
        r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    if (shd_is_ok(r)) {
        r = quote_pcr_read(t, q);
    }
    if (shd_is_ok(r)) {
        r = quote_check(nonce, nonce_len, sig, ak_pub, q);
    }
    Esys_Free(sig);
    return r;
}

SHD_RESULT wif_tpm_quote_all(const uint8_t *nonce, size_t nonce_len, ESYS_TR ak, EVP_PKEY *ak_pub,
                             struct wif_tpm *t, struct wif_tpm_evidence *ev)
{
    TPM2_ALG_ID banks[WIF_TPM_MAX_BANKS] = {0};
    size_t nbanks = 0;
    SHD_GUARD(quote_banks(t, banks, &nbanks));

    for (size_t b = 0; b < nbanks; b++) {
        struct wif_tpm_quote *q = &ev->quotes[b];
        q->hash_alg = banks[b];
        q->digest_len = quote_digest_len(banks[b]);
        ev->nquotes = b + 1;
        shd_result r = SHD_OK;
        for (int i = 0; i < QUOTE_ATTEMPTS; i++) {
            r = quote_once(nonce, nonce_len, ak, ak_pub, t, q);
            if (r.err != SHD_ERR_UNAVAILABLE) {
                break;
            }
        }
        SHD_GUARD_CTX(r, "quote of PCR bank 0x%04x", (unsigned)banks[b]);
    }
    return SHD_OK;
}
