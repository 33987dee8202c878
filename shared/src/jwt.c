/*
 * jwt.c - JWT claim checks (RFC 7519 §4.1.1-4.1.6) on an already verified JWS.
 *
 * Times are NumericDate values (RFC 7519 §2): JSON numbers of seconds since the epoch. A real is
 * truncated towards zero; anything that is not a finite number inside +-2^53 is rejected rather
 * than clamped, so a hostile value cannot wrap around the comparison.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jose_int.h"
#include "shd/errors.h"
#include "shd/jws.h"
#include "shd/jwt.h"
#include "shd/safety.h"

/* 2^53: beyond it a double no longer holds every integer, and no real token needs it. */
#define JWT_TIME_LIMIT 9007199254740992LL

void shd_jwt_rules_init(struct shd_jwt_rules *rules)
{
    if (rules == NULL) {
        shd_misuse("shd_jwt_rules_init(NULL)");
    }
    *rules = (struct shd_jwt_rules){.skew = SHD_JWT_SKEW_DEFAULT, .require_exp = true};
}

/* Reads a NumericDate claim; *ret_present false when absent. */
static shd_result numeric_date(const json_t *claims, const char *name, bool *ret_present,
                               int64_t *ret)
{
    const json_t *v = json_object_get(claims, name);
    if (v == NULL) {
        *ret_present = false;
        return SHD_OK;
    }
    int64_t t = 0;
    if (json_is_integer(v)) {
        t = (int64_t)json_integer_value(v);
    } else if (json_is_real(v) && isfinite(json_real_value(v)) &&
               fabs(json_real_value(v)) < (double)JWT_TIME_LIMIT) {
        t = (int64_t)json_real_value(v);
    } else {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "claim %s is not a NumericDate", name);
    }
    SHD_ENSURE_MSG(t > -JWT_TIME_LIMIT && t < JWT_TIME_LIMIT, SHD_ERR_INPUT,
                   "claim %s is out of range", name);
    *ret_present = true;
    *ret = t;
    return SHD_OK;
}

/* "2024-01-01T00:00:00Z" for error messages. */
static void time_str(int64_t t, char buf[static 32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        (void)snprintf(buf, 32, "%lld", (long long)t);
    }
}

static shd_result times_check(const json_t *claims, const struct shd_jwt_rules *rules, int64_t now)
{
    int64_t skew = (int64_t)rules->skew;
    char when[32];
    bool present = false;
    int64_t t = 0;

    SHD_GUARD(numeric_date(claims, "exp", &present, &t));
    SHD_ENSURE_MSG(present || !rules->require_exp, SHD_ERR_TOKEN, "token has no exp claim");
    if (present && now > t + skew) {
        time_str(t, when);
        SHD_BAIL_MSG(SHD_ERR_TOKEN, "token expired at %s", when);
    }
    SHD_GUARD(numeric_date(claims, "nbf", &present, &t));
    if (present && now < t - skew) {
        time_str(t, when);
        SHD_BAIL_MSG(SHD_ERR_TOKEN, "token not valid before %s", when);
    }
    SHD_GUARD(numeric_date(claims, "iat", &present, &t));
    if (present && now < t - skew) {
        time_str(t, when);
        SHD_BAIL_MSG(SHD_ERR_TOKEN, "token issued in the future at %s", when);
    }
    return SHD_OK;
}

static shd_result iss_check(const json_t *claims, const char *want)
{
    const json_t *iss = json_object_get(claims, "iss");
    SHD_ENSURE_MSG(iss != NULL, SHD_ERR_TOKEN, "issuer mismatch: got none, want %s", want);
    SHD_ENSURE_MSG(json_is_string(iss), SHD_ERR_INPUT, "claim iss is not a string");
    SHD_ENSURE_MSG(strcmp(json_string_value(iss), want) == 0, SHD_ERR_TOKEN,
                   "issuer mismatch: got %.128s, want %s", json_string_value(iss), want);
    return SHD_OK;
}

/* RFC 7519 §4.1.3: a string, or an array of strings one of which must be ours. */
static shd_result aud_check(const json_t *claims, const char *want)
{
    const json_t *aud = json_object_get(claims, "aud");
    SHD_ENSURE_MSG(aud != NULL, SHD_ERR_TOKEN, "audience mismatch: got none, want %s", want);
    if (json_is_string(aud)) {
        SHD_ENSURE_MSG(strcmp(json_string_value(aud), want) == 0, SHD_ERR_TOKEN,
                       "audience mismatch: got %.128s, want %s", json_string_value(aud), want);
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_array(aud), SHD_ERR_INPUT, "claim aud is not a string or array");
    for (size_t i = 0; i < json_array_size(aud); i++) {
        const json_t *a = json_array_get(aud, i);
        SHD_ENSURE_MSG(json_is_string(a), SHD_ERR_INPUT, "claim aud has a non-string entry");
        if (strcmp(json_string_value(a), want) == 0) {
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_TOKEN, "audience mismatch: got %zu other audiences, want %s",
                 json_array_size(aud), want);
}

shd_result shd_jwt_claims_check(const json_t *claims, const struct shd_jwt_rules *rules)
{
    SHD_ENSURE_REF(claims);
    SHD_ENSURE_REF(rules);
    SHD_ENSURE_MSG(json_is_object(claims), SHD_ERR_JSON, "JWT claims are not an object");
    int64_t now = rules->now != 0 ? rules->now : (int64_t)time(NULL);
    SHD_GUARD(times_check(claims, rules, now));
    if (rules->iss != NULL) {
        SHD_GUARD(iss_check(claims, rules->iss));
    }
    if (rules->aud != NULL) {
        SHD_GUARD(aud_check(claims, rules->aud));
    }
    return SHD_OK;
}

shd_result shd_jwt_check(const struct shd_jwt_rules *rules, const struct shd_jws *jws,
                         const json_t **ret_claims)
{
    const json_t *claims = NULL;
    SHD_ENSURE_REF(rules);
    SHD_ENSURE_REF(jws);
    SHD_GUARD(shd_jws_payload_json(jws, &claims));
    SHD_GUARD(shd_jwt_claims_check(claims, rules));
    if (ret_claims != NULL) {
        *ret_claims = claims;
    }
    return SHD_OK;
}
