/*
 * api.h - gcp-wif's API on its Unix socket (DESIGN.md; README.md "API"):
 *
 *   GET  /status                        {"status":"ok","mode":..,"attestation_expires_in":N,
 *                                        "access_token_expires_in":N,"refresh_failures":N}
 *   GET  /token                         {"access_token","expires_in","token_type":"Bearer"}
 *   GET  /identity[?audience=A]         {"token":"<attestation JWT>"}
 *   GET  /kms/publicKey?name=VERSION    {"pem","algorithm"}
 *   POST /kms/asymmetricDecrypt         {"name","ciphertext"} -> {"plaintext"}
 *   POST /key/release                   {"kms_key","wrapped_key" | "wrapped_key_file"
 *                                        [,"key_ops"]} -> {"key":"<JWK text>"}
 *
 * Every error is one JSON object {"error":"<step>: <cause chain>"} naming the failing step
 * (request, attestation, STS, IAM, KMS, release): 400 for a bad request, 403 when Google denied
 * it (401/403, STS invalid_grant or unauthorized_client), 502 for other upstream failures,
 * 500 internal. JSON is written with Go's escaping, like the SKR sidecar's.
 */
#pragma once

#include <stddef.h>

#include "shd/result.h"

struct shd_http_server_options;
struct wif_ctx;

/* Request bodies above this get 413 before any handler runs. */
#define WIF_API_MAX_BODY ((size_t)256 * 1024)
/* Largest wrapped_key_file read. */
#define WIF_API_WRAPPED_FILE_MAX ((size_t)64 * 1024)

/*
 * Fills server options with the route table above; ctx is every handler's context and must
 * outlive the server.
 */
void wif_api_server_options(struct wif_ctx *ctx, struct shd_http_server_options *ret);
