/*
 * jwt_claims_fuzz.c - fuzz target for the JWT claim checks (shared/src/jwt.c) on JSON from
 * the strict parser (shared/src/json.c).
 *
 * Target Functions: shd_json_parse, shd_jwt_claims_check, shd_jwt_rules_init
 *
 * Input: a JSON document (any root), checked under fixed rule sets with a fixed clock (the
 * target must be deterministic, so rules.now is never 0), including extreme clocks and skews.
 * Properties checked:
 *   - the check fails only with SHD_ERR_TOKEN, SHD_ERR_INPUT (mistyped claim) or SHD_ERR_JSON
 *     (claims not an object), and never hits undefined behaviour (UBSan) on hostile times;
 *   - on success the claims really satisfy the rules: iss equal, aud equal or in the array,
 *     exp present when required, and exp/nbf/iat integers on the right side of the clock.
 */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "shd/json.h"
#include "shd/jwt.h"

#define ISS "https://sharedeus.eus.attest.azure.net"
#define AUD "api://AzureADTokenExchange"
#define NOW INT64_C(1700000000)

/* The claim as a truncated integer, as RFC 7519 NumericDate; false when absent. */
static bool claim_time(const json_t *claims, const char *name, int64_t *ret)
{
    const json_t *v = json_object_get(claims, name);
    if (v == NULL) {
        return false;
    }
    FUZZ_ASSERT(json_is_number(v));
    if (json_is_integer(v)) {
        *ret = (int64_t)json_integer_value(v);
    } else {
        double d = json_real_value(v);
        FUZZ_ASSERT(isfinite(d) && fabs(d) < 9007199254740992.0);
        *ret = (int64_t)d;
    }
    return true;
}

/* Re-derives, independently of jwt.c, what an accepted claims set must satisfy. */
static void accepted_is_valid(const json_t *claims, const struct shd_jwt_rules *rules)
{
    int64_t t = 0;
    int64_t skew = (int64_t)rules->skew;
    FUZZ_ASSERT(json_is_object(claims));
    if (claim_time(claims, "exp", &t)) {
        FUZZ_ASSERT(rules->now <= t + skew);
    } else {
        FUZZ_ASSERT(!rules->require_exp);
    }
    if (claim_time(claims, "nbf", &t)) {
        FUZZ_ASSERT(rules->now >= t - skew);
    }
    if (claim_time(claims, "iat", &t)) {
        FUZZ_ASSERT(rules->now >= t - skew);
    }
    if (rules->iss != NULL) {
        const json_t *iss = json_object_get(claims, "iss");
        FUZZ_ASSERT(json_is_string(iss) && strcmp(json_string_value(iss), rules->iss) == 0);
    }
    if (rules->aud != NULL) {
        const json_t *aud = json_object_get(claims, "aud");
        bool found = json_is_string(aud) && strcmp(json_string_value(aud), rules->aud) == 0;
        for (size_t i = 0; !found && json_is_array(aud) && i < json_array_size(aud); i++) {
            const json_t *a = json_array_get(aud, i);
            found = json_is_string(a) && strcmp(json_string_value(a), rules->aud) == 0;
        }
        FUZZ_ASSERT(found);
    }
}

static void check(const json_t *claims, const struct shd_jwt_rules *rules)
{
    shd_result r = shd_jwt_claims_check(claims, rules);
    FUZZ_OK_OR(r, SHD_ERR_TOKEN, SHD_ERR_INPUT, SHD_ERR_JSON);
    if (shd_is_ok(r)) {
        accepted_is_valid(claims, rules);
    } else {
        FUZZ_ASSERT(shd_error_code() == r.err);
    }
    fuzz_error_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    struct shd_json_limits lim = {.allow_any_root = true};
    json_t *claims = NULL;
    shd_result r = shd_json_parse((const char *)data, size, &lim, &claims);
    if (shd_is_err(r)) {
        FUZZ_OK_OR(r, SHD_ERR_JSON, SHD_ERR_TOO_LARGE);
        fuzz_error_reset();
        return 0;
    }

    /* What a verifier of MAA tokens asks. */
    struct shd_jwt_rules strict;
    shd_jwt_rules_init(&strict);
    strict.iss = ISS;
    strict.aud = AUD;
    strict.now = NOW;
    check(claims, &strict);

    /* No exp needed, no skew. */
    struct shd_jwt_rules loose;
    shd_jwt_rules_init(&loose);
    loose.now = NOW;
    loose.skew = 0;
    loose.require_exp = false;
    check(claims, &loose);

    /* Extreme clocks and skews: comparisons must not overflow. */
    const int64_t clocks[] = {INT64_MAX, INT64_MIN, -1};
    for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
        struct shd_jwt_rules edge;
        shd_jwt_rules_init(&edge);
        edge.now = clocks[i];
        edge.skew = UINT32_MAX;
        edge.aud = AUD;
        check(claims, &edge);
    }
    json_decref(claims);
    return 0;
}
