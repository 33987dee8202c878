/*
 * maa.h - the Microsoft Azure Attestation client (skr-sidecar.md §4.3-§4.4): the request body,
 * byte for byte as the original sends it, the POST and the response. skr_maa_attest (attest.h)
 * is the entry point; the pieces are public for the unit tests.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/http_client.h"
#include "shd/result.h"
#include "skr.h"

#define SKR_MAA_TEE_PATH "SevSnpVM"
#define SKR_MAA_API_VERSION "2020-10-01"
/* Cap on a request body (report, certificates, endorsements and runtime data, base64 twice). */
#define SKR_MAA_REQUEST_MAX ((size_t)8 * 1024 * 1024)

/*
 * Builds the §4.3 body (compact JSON, this member order, base64url WITH '=' padding everywhere):
 *   {"report":"<B64URL(JSON1)>","runtimeData":{"data":"<B64URL(runtime)>","dataType":"JSON"},
 *    "initTimeData":{"data":"","dataType":""},"nonce":<nonce>}
 *   JSON1 = {"SnpReport":"<B64URL(report)>","VcekCertChain":"<B64URL(PEM chain)>"
 *            [,"Endorsements":"<B64URL({"Uvm":["<B64URL(reference info)>"]})>"]}
 * Endorsements is left out when the evidence has no (or empty) UVM reference info. runtime may be
 * NULL when runtime_len is 0. *ret_body (shd_alloc'd, NUL-terminated; shd_free) and *ret_len
 * are written only on success. SHD_ERR_TOO_LARGE past SKR_MAA_REQUEST_MAX.
 */
SHD_RESULT skr_maa_request_build(const struct skr_evidence *ev, const uint8_t *runtime,
                                 size_t runtime_len, uint64_t nonce, char **ret_body,
                                 size_t *ret_len);

/*
 * Writes "https://<endpoint>/attest/SevSnpVM?api-version=2020-10-01" into a fresh string
 * (shd_free) after skr_upstream_endpoint_check.
 */
SHD_RESULT skr_maa_url(const char *endpoint, char **ret_url);

/*
 * POSTs body to url (Content-Type: application/json; the client supplies the User-Agent) and
 * returns the token of a 200..207 {"token":"..."} answer in a fresh string that the caller wipes
 * (shd_free_wipe(t, strlen(t) + 1)). Errors, in the original's words (the caller adds
 * "Retrieving MAA token from MAA endpoint failed: "):
 *   "maa post request failed: HTTP GET failed: Post \"<url>\": <transport error>"
 *   "pulling maa post response failed: <body>: http response status equal to 400 Bad Request"
 *   "unmarshalling maa http response body failed: <reason>"
 *   "empty token string in maa response"
 */
SHD_RESULT skr_maa_post(const struct shd_http_client *client, const char *url, const char *body,
                        size_t body_len, char **ret_token);
