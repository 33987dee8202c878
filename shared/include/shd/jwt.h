/*
 * jwt.h - JWT claim checks (RFC 7519 §4.1) on a verified JWS.
 *
 * Signature verification is jws.h's job (with a pinned algorithm); this module only judges the
 * claims of a payload that already verified: exp, nbf and iat against a clock with a skew, iss
 * compared exactly, aud as a string or an array that contains the wanted value. Failures are
 * SHD_ERR_TOKEN with a readable root message ("token expired at 2024-01-01T00:00:00Z",
 * "audience mismatch: got X, want Y").
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/jws.h"
#include "shd/result.h"

#define SHD_JWT_SKEW_DEFAULT 60

struct shd_jwt_rules {
    const char *iss;  /* exact issuer; NULL: not checked */
    const char *aud;  /* wanted audience; NULL: not checked */
    int64_t now;      /* seconds since the epoch; 0: the current time */
    uint32_t skew;    /* tolerance in seconds for exp, nbf and iat */
    bool require_exp; /* a token without exp is rejected */
};

/* Sets the defaults: no iss/aud check, current time, skew SHD_JWT_SKEW_DEFAULT, exp required. */
void shd_jwt_rules_init(struct shd_jwt_rules *rules);

/*
 * Checks a claims object against rules. exp/nbf/iat must be numbers (NumericDate, fractions
 * truncated) when present: exp + skew must not be in the past, nbf - skew and iat - skew not in
 * the future. Returns SHD_ERR_TOKEN (or SHD_ERR_INPUT for a mistyped claim).
 */
SHD_RESULT shd_jwt_claims_check(const json_t *claims, const struct shd_jwt_rules *rules);

/*
 * Checks the claims of a verified token. SHD_ERR_USAGE if jws is not verified, SHD_ERR_JSON if
 * its payload is not a JSON object; otherwise as shd_jwt_claims_check. On success
 * *ret_claims (optional) borrows the claims object from jws.
 */
SHD_RESULT shd_jwt_check(const struct shd_jwt_rules *rules, const struct shd_jws *jws,
                         const json_t **ret_claims);
