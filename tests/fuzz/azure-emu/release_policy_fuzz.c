/*
 * release_policy_fuzz.c - fuzz target for the Key Vault secure key release policy parser and
 * evaluator of the Azure emulator (tests/emulators/azure/src/release_policy*.c).
 *
 * Target Functions: aemu_release_policy_parse, aemu_release_policy_evaluate,
 *                   aemu_release_policy_check, aemu_release_policy_authority_count,
 *                   aemu_release_policy_authority
 *
 * Input: release policy JSON text. A parsed policy is evaluated against one fixed set of MAA
 * claims (SEV-SNP CVM shaped, with nested, null, real, negative, odd-string and long claims)
 * under several issuers, one of them differing only by case and a trailing '/'.
 * Properties checked:
 *   - parse fails only with SHD_ERR_INPUT or SHD_ERR_TOO_LARGE (the latter above 64 KiB);
 *   - a parsed policy has at least one authority, each non-NULL;
 *   - evaluate never fails on an object and refuses a non-object with SHD_ERR_INPUT; the
 *     verdict message is NUL-terminated, empty when allowed and one of the two documented
 *     denial forms otherwise;
 *   - the normalised issuer spelling gets the same verdict as the canonical one;
 *   - aemu_release_policy_check agrees with parse + evaluate.
 */
#include <string.h>

#include <jansson.h>

#include "../shared/fuzz_common.h"
#include "release_policy.h"
#include "shd/json.h"
#include "shd/mem.h"

#define HD "91e00e3b9a71fb2ba15dfc184c2da52f7c78bb0e58b01c4628e90fb58f429fa5"

static const char CLAIMS[] =
    "{\"iss\":\"https://maa.test\",\"x-ms-attestation-type\":\"sevsnpvm\","
    "\"x-ms-compliance-status\":\"azure-compliant-uvm\",\"x-ms-sevsnpvm-hostdata\":\"" HD "\","
    "\"x-ms-sevsnpvm-is-debuggable\":false,\"x-ms-sevsnpvm-vmpl\":0,"
    "\"x-ms-sevsnpvm-snpfw-svn\":8,\"neg\":-5,\"nullc\":null,\"realc\":1.5,"
    "\"big\":9223372036854775807,\"x-ms-sevsnpvm-uvm-endorsement\":"
    "{\"x-ms-sevsnpvm-guestsvn\":\"100\"},\"x-ms-runtime\":{\"keys\":[{\"kty\":\"RSA\"}],"
    "\"vm-configuration\":{\"secure-boot\":true}},\"weird\":\"a'b\\\\c\\u0001\\\"\","
    "\"long\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";

static const char *const ISSUERS[] = {
    "https://maa.test",
    "https://sharedeus.eus.attest.azure.net",
    "https://other.test/path",
};
/* Same authority as ISSUERS[0] after normalisation (scheme/host case, one trailing '/'). */
static const char ISSUER_ALIAS[] = "HTTPS://MAA.Test/";

static void verdict_sane(const struct aemu_release_verdict *v)
{
    size_t n = strnlen(v->message, sizeof(v->message));
    FUZZ_ASSERT(n < sizeof(v->message));
    if (v->allowed) {
        FUZZ_ASSERT(n == 0);
    } else {
        static const char no_auth[] = "Key release policy: no authority matches";
        static const char unmet[] = "Key release policy not satisfied for authority '";
        FUZZ_ASSERT(strncmp(v->message, no_auth, sizeof(no_auth) - 1) == 0 ||
                    strncmp(v->message, unmet, sizeof(unmet) - 1) == 0);
    }
}

static void evaluate_all(const struct aemu_release_policy *pol, const char *text, size_t len,
                         const json_t *claims)
{
    for (size_t i = 0; i < sizeof(ISSUERS) / sizeof(ISSUERS[0]); i++) {
        struct aemu_release_verdict v;
        shd_memzero(&v, sizeof(v));
        FUZZ_ASSERT(shd_is_ok(aemu_release_policy_evaluate(pol, ISSUERS[i], claims, &v)));
        verdict_sane(&v);

        /* The one-call form must agree. */
        struct aemu_release_verdict c;
        shd_memzero(&c, sizeof(c));
        FUZZ_ASSERT(shd_is_ok(aemu_release_policy_check(text, len, ISSUERS[i], claims, &c)));
        FUZZ_ASSERT(c.allowed == v.allowed && strcmp(c.message, v.message) == 0);

        if (i == 0) {
            struct aemu_release_verdict a;
            shd_memzero(&a, sizeof(a));
            FUZZ_ASSERT(shd_is_ok(aemu_release_policy_evaluate(pol, ISSUER_ALIAS, claims, &a)));
            verdict_sane(&a);
            FUZZ_ASSERT(a.allowed == v.allowed);
        }
    }
    /* Claims that are not an object: SHD_ERR_INPUT, not a verdict. */
    const json_t *keys = json_object_get(json_object_get(claims, "x-ms-runtime"), "keys");
    struct aemu_release_verdict bad;
    shd_result r = aemu_release_policy_evaluate(pol, ISSUERS[0], keys, &bad);
    FUZZ_ASSERT(r.err == SHD_ERR_INPUT);
    shd_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    const char *text = (const char *)data;
    struct aemu_release_policy *pol = NULL;
    shd_result r = aemu_release_policy_parse(text, size, &pol);
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE);
    if (size > AEMU_RELEASE_POLICY_MAX_BYTES) {
        FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
    }
    if (shd_is_err(r)) {
        FUZZ_ASSERT(pol == NULL);
        fuzz_error_reset();
        return 0;
    }
    size_t n = aemu_release_policy_authority_count(pol);
    FUZZ_ASSERT(n >= 1);
    for (size_t i = 0; i < n; i++) {
        const char *a = aemu_release_policy_authority(pol, i);
        FUZZ_ASSERT(a != NULL && strlen(a) <= AEMU_RELEASE_POLICY_MAX_URL_LEN);
    }

    json_error_t jerr;
    json_t *claims = json_loads(CLAIMS, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_ASSERT(claims != NULL);
    evaluate_all(pol, text, size, claims);
    json_decref(claims);
    aemu_release_policy_free(&pol);
    FUZZ_ASSERT(pol == NULL);
    fuzz_error_reset();
    return 0;
}
