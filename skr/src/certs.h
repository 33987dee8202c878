/*
 * certs.h - the AMD certificate state (guarded; handlers only get copies) and the certificate
 * fetchers: THIM at start-up in the background (D8) and the certcache refresh on a TCB mismatch
 * (skr-sidecar.md §4.1-§4.2 with D5).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shd/result.h"
#include "shd/snp_report.h"
#include "skr.h"

struct shd_http_client;

/*
 * Creates the state. initial (may be NULL: none yet) is copied; with force_mismatch
 * (-allowTestingMismatchedTCB) the TCBM the first report is compared with is 0xffffffff, as in
 * the original, so that the first attestation takes the refresh path.
 */
SHD_RESULT skr_cert_state_new(const struct skr_certs *initial, bool force_mismatch,
                              struct skr_cert_state **ret);

/* Stops the background fetch (joins its thread) and frees (NULL is fine). */
void skr_cert_state_free(struct skr_cert_state *state);

/*
 * Starts a thread that fetches THIM certificates from url (header Metadata: true) through http
 * until it succeeds or the state is freed: attempts back off exponentially from 1 s to 60 s
 * (each attempt also has the client's own bounded retries, D6). No-op if certificates exist.
 * http and url must outlive the state.
 */
SHD_RESULT skr_cert_state_fetch_start(const struct shd_http_client *http, const char *url,
                                      struct skr_cert_state *state);

/* True once certificates are available. */
bool skr_cert_state_ready(struct skr_cert_state *state);

/*
 * Copy of the certificates to compare a report with (the latest refresh, else the initial).
 * SHD_ERR_UNAVAILABLE "AMD certificates are not available yet (<last fetch error>)" before any
 * arrived.
 */
SHD_RESULT skr_cert_state_current(struct skr_cert_state *state, struct skr_certs *ret);

/* Copy of the start-up certificates (for /attest/combined, §2.3). Same error as above. */
SHD_RESULT skr_cert_state_initial(struct skr_cert_state *state, struct skr_certs *ret);

/* Stores refreshed certificates as the current ones (a copy is taken). */
SHD_RESULT skr_cert_state_update(const struct skr_certs *certs, struct skr_cert_state *state);

/*
 * GETs THIM JSON from url (Metadata: true) and parses it. Errors: transport/status errors of
 * the client, "GET request failed with status code <n>: <body>", THIM parse errors.
 */
SHD_RESULT skr_certs_fetch_thim(const struct shd_http_client *http, const char *url,
                                struct skr_certs *ret);

/*
 * Fetches the certificates for a report through the configured certcache (LocalTHIM, AzCache,
 * AMD KDS). Errors as the original: "failed to retrieve cert chain: certificate endpoint not
 * set", "invalid endpoint type: <t>", "pulling certchain response from AzCache URL '<url>'
 * failed: GET request failed with status code 404: <body>", ...
 */
SHD_RESULT skr_certs_refresh(const struct skr_ctx *ctx, uint64_t reported_tcb,
                             const uint8_t chip_id[static SHD_SNP_CHIP_ID_LEN],
                             struct skr_certs *ret);

/* TCBM from a VCEK in a PEM chain (the certificate with CN SEV-VCEK), from its AMD SPL
 * extensions (azure-formats.md §3.2), parsed as DER INTEGERs. "No certificate chain found". */
SHD_RESULT skr_certs_vcek_tcbm(const char *pem, size_t len, uint64_t *ret);
