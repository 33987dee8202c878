/*
 * tpm.h - the vTPM side of mode B (gcp-identity.md sections 2.1, 2.3, 8 step 4-5), on tpm2-tss
 * ESAPI through the TCTI loader (real-clients.md section 4.5):
 *
 *   GCE AK: NV_Read of the template index (owner auth, chunked), TPM2_CreatePrimary in the
 *           endorsement hierarchy; its certificate from NV, whose public key must equal the AK's.
 *   Quotes: TPM2_GetCapability(PCRS) for the allocated banks; per bank TPM2_Quote over PCRs 0-23
 *           with qualifyingData = the challenge nonce, and TPM2_PCR_Read of the same PCRs.
 *           Each quote is checked here before it leaves (as go-tpm-tools does): magic, type,
 *           extraData == nonce, PCR selection, pcrDigest == H(PCR values), and the signature
 *           under the AK certificate's key.
 *
 * Transient objects: only three slots exist on swtpm and nothing frees them (real-clients.md
 * section 4.2), so the AK is flushed on every path before wif_tpm_attest returns, and the
 * ESYS_TR handles of NV indices are closed. A struct wif_tpm belongs to one thread at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct wif_tpm;

/* NV indices of the GCE AK (google/go-tpm-tools client/handles.go). */
#define WIF_TPM_NV_AK_CERT_RSA 0x01C10000u
#define WIF_TPM_NV_AK_TEMPLATE_RSA 0x01C10001u
#define WIF_TPM_NV_AK_CERT_ECC 0x01C10002u
#define WIF_TPM_NV_AK_TEMPLATE_ECC 0x01C10003u

#define WIF_TPM_PCR_COUNT 24u
#define WIF_TPM_DIGEST_MAX 64u
/* Banks we quote at most (SHA-1, SHA-256, SHA-384, SHA-512, SM3). */
#define WIF_TPM_MAX_BANKS 5u
/* Largest NV content we read (certificates, templates). */
#define WIF_TPM_NV_MAX 4096u
/* Largest nonce a TPM2B_DATA carries (sizeof(TPMT_HA)). */
#define WIF_TPM_NONCE_MAX 64u

/* One bank's quote, in the form the verifier wants (gcp-identity.md section 3.3). */
struct wif_tpm_quote {
    uint16_t hash_alg; /* TPM_ALG_ID: 0x0004 SHA-1, 0x000B SHA-256, 0x000C SHA-384, ... */
    size_t digest_len;
    uint8_t pcrs[WIF_TPM_PCR_COUNT][WIF_TPM_DIGEST_MAX]; /* PCR i = pcrs[i][0..digest_len) */
    uint8_t *raw_quote; /* TPMS_ATTEST (TPM2B_ATTEST content, no size); shd_free */
    size_t raw_quote_len;
    uint8_t *raw_sig; /* marshaled TPMT_SIGNATURE; shd_free */
    size_t raw_sig_len;
};

struct wif_tpm_evidence {
    uint8_t *ak_cert; /* DER, from NV; shd_free */
    size_t ak_cert_len;
    struct wif_tpm_quote quotes[WIF_TPM_MAX_BANKS];
    size_t nquotes;
};

/*
 * Opens the TCTI (loader string such as "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=P")
 * and an ESAPI context. SHD_ERR_TPM with the TSS2 code attached when either fails.
 * Close with wif_tpm_close.
 */
SHD_RESULT wif_tpm_open(const char *tcti, struct wif_tpm **ret);

/* Finalizes ESAPI and the TCTI and sets *t to NULL (NULL is fine). */
void wif_tpm_close(struct wif_tpm **t);

/* Size of an NV index's data (TPM2_NV_ReadPublic). SHD_ERR_NOT_FOUND when undefined. */
SHD_RESULT wif_tpm_nv_size(uint32_t index, struct wif_tpm *t, size_t *ret_size);

/*
 * Reads a whole NV index with owner authorisation (empty password) in chunks no larger than
 * TPM2_PT_NV_BUFFER_MAX. Indices over WIF_TPM_NV_MAX bytes: SHD_ERR_TOO_LARGE; undefined:
 * SHD_ERR_NOT_FOUND. *ret (shd_free) holds *ret_len bytes.
 */
SHD_RESULT wif_tpm_nv_read(uint32_t index, struct wif_tpm *t, uint8_t **ret, size_t *ret_len);

/*
 * Collects the TPM evidence for one challenge: GCE AK (RSA, or ECC when ecc), its certificate,
 * and one checked quote per allocated bank with qualifyingData = nonce (1..WIF_TPM_NONCE_MAX
 * bytes). Errors: SHD_ERR_NOT_FOUND (no AK template or certificate: not a GCE Shielded VM, or
 * the certificate is missing, see `gcloud compute instances get-shielded-identity`),
 * SHD_ERR_BAD_CERT (certificate does not hold the AK), SHD_ERR_TPM, SHD_ERR_BAD_SIGNATURE or
 * SHD_ERR_TPM for a quote that fails its own check, SHD_ERR_UNAVAILABLE when a PCR changed
 * between quote and read (worth a retry). *ret written only on success (wif_tpm_evidence_clear).
 */
SHD_RESULT wif_tpm_attest(const uint8_t *nonce, size_t nonce_len, bool ecc, struct wif_tpm *t,
                          struct wif_tpm_evidence *ret);

/* Frees what wif_tpm_attest returned and zeroes the struct (NULL is fine). */
void wif_tpm_evidence_clear(struct wif_tpm_evidence *e);
