/*
 * verifier_client.h - REST client of Google Cloud Attestation (confidentialcomputing v1,
 * gcp-identity.md sections 3.1-3.3 and 3.7): GetLocation, CreateChallenge, VerifyAttestation,
 * and the issuer's discovery document and JWKS.
 *
 * Requests follow the Go REST client: query "$alt=json;enum-encoding=int", Content-Type
 * application/json, x-goog-request-params, Authorization: Bearer <VM service account token>;
 * enums as numbers; responses are parsed leniently (unknown fields ignored) but every name the
 * server returns is checked before it is put into a URL. Google error envelopes
 * {"error":{"code","message","status"}} become errors whose message quotes status and message:
 * 429 and 5xx SHD_ERR_UNAVAILABLE, 401/403 SHD_ERR_PERMISSION, 404 SHD_ERR_NOT_FOUND, other
 * statuses SHD_ERR_HTTP_STATUS.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tpm.h"
#include "tpm_certchain.h"

#include "shd/result.h"

struct shd_http_client;

#define WIF_VERIFIER_NAME_MAX 512u
#define WIF_VERIFIER_RESPONSE_MAX ((size_t)256 * 1024)

/* A challenge (CreateChallenge's answer). */
struct wif_challenge {
    char name[WIF_VERIFIER_NAME_MAX]; /* projects/P/locations/L/challenges/ID */
    uint8_t nonce[WIF_TPM_NONCE_MAX]; /* tpmNonce, decoded (standard base64) */
    size_t nonce_len;
};

/* The parts of a VerifyAttestation request (all borrowed). */
struct wif_verify_request {
    const char *challenge;             /* the challenge name */
    const char *id_token;              /* VM identity token, aud = challenge name */
    const struct wif_tpm_evidence *ev; /* AK certificate and quotes */
    const struct wif_certchain *chain; /* AK certificate chain (may be empty) */
    const uint8_t *event_log;          /* may be NULL: no tcgEventLog */
    size_t event_log_len;
    const char *audience; /* NULL: none sent, the verifier uses https://sts.googleapis.com */
};

/*
 * GET {base}/v1/projects/{project}/locations/{region}; *ret gets the location's "name", which
 * is the parent for challenges (the server may normalise the region). Fresh string (shd_free).
 */
SHD_RESULT wif_verifier_location(const char *base, const char *project, const char *region,
                                 const char *bearer, const struct shd_http_client *http,
                                 char **ret);

/* POST {base}/v1/{parent}/challenges with {}. The name must lie under parent. */
SHD_RESULT wif_verifier_challenge(const char *base, const char *parent, const char *bearer,
                                  const struct shd_http_client *http, struct wif_challenge *ret);

/*
 * Builds the VerifyAttestation JSON body (gcp-identity.md section 3.3). *ret_body holds the ID
 * token: free it with shd_free_wipe(*ret_body, *ret_len + 1).
 */
SHD_RESULT wif_verifier_request_build(const struct wif_verify_request *req, char **ret_body,
                                      size_t *ret_len);

/*
 * POST {base}/v1/{challenge}:verifyAttestation and returns oidcClaimsToken (SECRET: free with
 * shd_free_wipe(*ret_token, *ret_len + 1)); partialErrors are logged at warning level.
 */
SHD_RESULT wif_verifier_verify(const char *base, const struct wif_verify_request *req,
                               const char *bearer, const struct shd_http_client *http,
                               char **ret_token, size_t *ret_len);

/*
 * GET {base}/.well-known/openid-configuration, check that "issuer" equals base, then GET its
 * https "jwks_uri". *ret_jwks: the key set ({"keys":[...]}, json_decref).
 */
SHD_RESULT wif_verifier_jwks(const char *base, const char *issuer,
                             const struct shd_http_client *http,
                             json_t **ret_jwks);
