/*
 * attest.h - MAA attestation (skr-sidecar.md §4.3-§4.4), implemented in maa.c.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct skr_ctx;

/*
 * Attests runtime_data (the caller's decoded bytes; MAA requires JSON) with MAA at maa_endpoint
 * (bare host name, no scheme): collects evidence with skr_evidence_collect (REPORT_DATA =
 * SHA-256(runtime_data) || 0^32), posts the §4.3 request to
 * https://<maa_endpoint>/attest/SevSnpVM?api-version=2020-10-01 and returns the token.
 * *ret_token: NUL-terminated, shd_alloc'd; the caller frees it with shd_free_wipe(tok,
 * strlen(tok) + 1). Written only on success.
 * Errors carry the cause chain of §2.6 (the handler adds "attestation failed\n<ERROR_STRING>: "),
 * e.g. "Retrieving MAA token from MAA endpoint failed: pulling maa post response failed: <body>:
 * http response status equal to 400 Bad Request".
 */
SHD_RESULT skr_maa_attest(const struct skr_ctx *ctx, const char *maa_endpoint,
                          const uint8_t *runtime_data, size_t runtime_len, char **ret_token);
