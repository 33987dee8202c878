/*
 * tpm_int.h - internals shared by tpm.c (context, NV, AK) and tpm_quote.c (banks, quotes).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>

#include "tpm.h"

#include "shd/result.h"

struct wif_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
};

/* True for a TPM format-1 TPM_RC_HANDLE (an undefined NV index or object). */
bool wif_tpm_rc_is_handle(TSS2_RC rc);

/*
 * Quotes PCRs 0-23 of every allocated bank with ak (an ESYS_TR of a loaded restricted signing
 * key whose public key is ak_pub) and checks each quote (tpm_quote.c). ev->quotes and
 * ev->nquotes are filled; on failure whatever was filled is left for wif_tpm_evidence_clear.
 */
SHD_RESULT wif_tpm_quote_all(const uint8_t *nonce, size_t nonce_len, ESYS_TR ak, EVP_PKEY *ak_pub,
                             struct wif_tpm *t, struct wif_tpm_evidence *ev);
