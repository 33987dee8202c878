/*
 * quote.h - verification of one TPM2_Quote as go-tpm-tools sends it (gcp-identity.md §2.3,
 * §3.3): the raw TPMS_ATTEST (content of TPM2B_ATTEST without its size), the marshalled
 * TPMT_SIGNATURE, and the PCR values of one bank that the quote claims to cover.
 *
 * Checks, in order (TPM 2.0 Part 2 §10.12, Part 3 §18.4):
 *   - TPMS_ATTEST unmarshals (Tss2_MU) with no trailing bytes, magic TPM_GENERATED_VALUE, type
 *     TPM_ST_ATTEST_QUOTE;
 *   - TPMT_SIGNATURE unmarshals with no trailing bytes; RSASSA (RSA key) or ECDSA (EC key) with
 *     SHA-256/384/512 verifies over the TPMS_ATTEST bytes with the AK public key;
 *   - extraData (qualifyingData) equals the expected nonce (constant-time);
 *   - the quote selects exactly one bank, the one given, and exactly the PCRs whose values are
 *     given;
 *   - pcrDigest equals H_sig(PCR values in ascending index order), H_sig being the signature's
 *     hash (the TPM digests the PCRs with the signing scheme's hash).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "eventlog.h"

#include "shd/result.h"

/* Largest raw quote / signature accepted (a TPMS_ATTEST of a quote is a few hundred bytes). */
#define GEMU_QUOTE_MAX_ATTEST 2048u
#define GEMU_QUOTE_MAX_SIG 1024u

/* One quote with the PCR values it covers (all pointers borrowed). */
struct gemu_quote {
    uint16_t hash_alg;                  /* TPM_ALG_ID of the PCR bank */
    uint32_t pcr_mask;                  /* bit i: pcr[i] is given */
    const uint8_t *pcr[GEMU_PCR_COUNT]; /* values; length pcr_len[i] */
    size_t pcr_len[GEMU_PCR_COUNT];
    const uint8_t *raw_quote; /* TPMS_ATTEST */
    size_t raw_quote_len;
    const uint8_t *raw_sig; /* TPMT_SIGNATURE */
    size_t raw_sig_len;
};

/*
 * Verifies q with the AK public key ak (borrowed) against nonce. Errors: SHD_ERR_INPUT or
 * SHD_ERR_TOO_LARGE (malformed structures, unknown bank, a PCR value of the wrong size),
 * SHD_ERR_BAD_KEY (key type does not fit the signature), SHD_ERR_BAD_SIGNATURE, SHD_ERR_POLICY
 * (nonce, selection or PCR digest mismatch), each with a message naming the check.
 */
SHD_RESULT gemu_quote_verify(const struct gemu_quote *q, EVP_PKEY *ak, const uint8_t *nonce,
                             size_t nonce_len);
