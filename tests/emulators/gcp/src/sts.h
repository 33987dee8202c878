/*
 * sts.h - the Security Token Service emulator (gcp-identity.md 4): POST /v1/token, an RFC 8693
 * token exchange of an OIDC subject token (the attestation token) for a federated access token,
 * with the workload identity providers of config.json "workloadIdentityPools".
 *
 * A provider: {"name":"projects/N/locations/global/workloadIdentityPools/P/providers/X",
 *   "disabled":false, "oidc":{"issuerUri":"https://confidentialcomputing.googleapis.com/",
 *   "allowedAudiences":["https://sts.googleapis.com"], "jwksJson":"<optional JWKS text>"},
 *   "attributeMapping":{"google.subject":"assertion.sub", ...}, "attributeCondition":"..."}
 * Without jwksJson the keys come from the issuer: <issuerUri>/.well-known/openid-configuration,
 * then its jwks_uri, fetched over TLS through gemu_http_client_new (so the real host names reach
 * our own listeners) on every exchange (no cache: fault rules on the verifier apply at once).
 *
 * Checks in order, each failing with HTTP 400 and an OAuth error body
 * {"error":"..","error_description":".."}: request form (invalid_request,
 * unsupported_grant_type), audience syntax (invalid_request), provider and pool exist and are
 * enabled (invalid_target), JWS header alg RS256/ES256 with a kid and the signature against the
 * issuer's keys, iss, aud, iat/exp/nbf, sub (invalid_grant), attribute mapping (invalid_grant),
 * attribute condition (unauthorized_client).
 */
#pragma once

#include "gemu.h"
#include "shd/result.h"

#define GEMU_STS_GRANT_TYPE "urn:ietf:params:oauth:grant-type:token-exchange"
#define GEMU_STS_TOKEN_TYPE_ACCESS "urn:ietf:params:oauth:token-type:access_token"
#define GEMU_STS_TOKEN_TYPE_JWT "urn:ietf:params:oauth:token-type:jwt"
#define GEMU_STS_TOKEN_TYPE_ID "urn:ietf:params:oauth:token-type:id_token"
#define GEMU_STS_LIFETIME_S 3600
/* STS REST reference: exp must be less than 48 h after iat; google.subject at most 127 bytes. */
#define GEMU_STS_MAX_TOKEN_LIFETIME_S (48 * 3600)
#define GEMU_STS_SUBJECT_MAX 127u
/* Clock skew allowed on iat/nbf/exp. */
#define GEMU_STS_SKEW_S 60

/*
 * The STS service; compiles every provider of st->config (SHD_ERR_CONFIG naming the provider
 * for a bad mapping, condition or JWKS) and, after the ports are bound, creates its HTTP client.
 * Borrows st. *ret: gemu_service_free.
 */
SHD_RESULT gemu_sts_service_new(struct gemu_state *st, struct gemu_service **ret);
