/*
 * sts.h - the OAuth 2.0 token exchange (RFC 8693) at Google's Security Token Service
 * (gcp-identity.md 4): attestation JWT in, federated access token out.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_http_client;

#define WIF_STS_GRANT_TYPE "urn:ietf:params:oauth:grant-type:token-exchange"
#define WIF_STS_REQUESTED_TYPE "urn:ietf:params:oauth:token-type:access_token"
#define WIF_STS_SUBJECT_TYPE "urn:ietf:params:oauth:token-type:jwt"

/* An access token (STS or IAM) and when it expires (Unix seconds). */
struct wif_access_token {
    char *token; /* NUL-terminated bearer credential; NULL when empty */
    size_t len;
    int64_t expiry;
};

/* Wipes and frees the token and zeroes *t (NULL is fine). */
void wif_access_token_clear(struct wif_access_token *t);

/*
 * The request body, application/x-www-form-urlencoded (WHATWG URLSearchParams serialisation:
 * [A-Za-z0-9*-._] kept, space as '+', every other byte %XX upper-case), fields in this order:
 *   grant_type=WIF_STS_GRANT_TYPE & audience & scope=cloud-platform &
 *   requested_token_type=WIF_STS_REQUESTED_TYPE & subject_token & subject_token_type=jwt
 * It carries the attestation token: free with shd_free_wipe(*ret, *ret_len + 1).
 */
SHD_RESULT wif_sts_form_build(const char *audience, const char *subject_token, char **ret,
                              size_t *ret_len);

/*
 * POSTs the form to <sts_url>/v1/token (no Authorization header) and parses
 * {"access_token","issued_token_type","token_type":"Bearer","expires_in"}. now (Unix seconds)
 * turns expires_in into *ret's expiry. Errors are wif_gapi_call's (SHD_ERR_TOKEN for
 * invalid_grant: the caller earns a fresh attestation token and retries once), plus
 * SHD_ERR_INPUT for an answer without a usable token; the chain starts with "STS".
 */
SHD_RESULT wif_sts_exchange(const struct shd_http_client *http, const char *sts_url,
                            const char *audience, const char *subject_token, int64_t now,
                            struct wif_access_token *ret);
