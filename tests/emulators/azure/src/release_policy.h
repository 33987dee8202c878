/*
 * release_policy.h - Key Vault / Managed HSM secure key release policy evaluator (emulator side).
 *
 * Grammar: azure-formats.md §5.2 (Microsoft "secure key release policy grammar"):
 *
 *   policy    = {"version":"1.0.0", "anyOf":[authority, ...]}
 *   authority = {"authority":"https://...", ("anyOf" | "allOf"):[condition, ...]}
 *   condition = {"claim":"name.or.dotted.path", <op>:<value>} | {"anyOf":[...]} | {"allOf":[...]}
 *   <op>      = equals | notEquals | less | lessOrEquals | greater | greaterOrEquals | exists
 *
 * What we implement, and why (policies/README.md has the long form):
 *  - Keywords (version, anyOf, allOf, authority, claim, the operators) match ASCII
 *    case-insensitively: Microsoft's own EBNF spells the condition groups "anyof"/"allof" while
 *    every example uses "anyOf"/"allOf". Any other property is rejected, so a typo ("equal") or
 *    the pre-GA form ({"condition":..,"value":..}, version "0.2") fails loudly at import instead
 *    of being ignored. Duplicate keys are rejected, also after case folding.
 *  - Only version "1.0.0" is accepted: it is the only version with a published grammar.
 *  - Lenient comparison (§5.2: ACI policies write "equals":"false" for a boolean claim and
 *    "equals":"0" for a numeric one, and AKV honours them): equals / notEquals compare the string
 *    forms of claim and operand (string as is, true/false as "true"/"false", integer in decimal),
 *    ASCII case-insensitively (the grammar is modelled on Azure Policy, whose string conditions
 *    are case-insensitive; it also makes "ABCD" hex equal to MAA's lowercase hex). The ordering
 *    operators need integers on both sides: a JSON integer or a string holding a decimal integer
 *    ("100", as MAA reports the UVM endorsement's guestsvn). exists takes true or false.
 *  - A missing claim satisfies only exists:false; in particular it does NOT satisfy notEquals.
 *    A claim that is an object, array, null or non-integer number satisfies only exists:true.
 *  - Dotted claim paths walk nested objects ("x-ms-runtime.keys"); a missing or non-object
 *    intermediate makes the claim missing. Arrays are not indexed.
 *  - The authority is matched against the token issuer after normalising both: scheme and host
 *    lower-cased (RFC 3986 §6.2.2.1) and one trailing "/" dropped (§5.2: real policies carry
 *    MAA's issuer with and without it). Authorities must be https URLs without userinfo, query
 *    or fragment. Every authority entry matching the issuer is tried; one satisfied entry allows.
 *  - Empty anyOf/allOf arrays are malformed (the grammar requires one condition, and an empty
 *    allOf would allow everything). Limits below bound size, nesting and fan-out.
 *
 * Malformed policies fail with SHD_ERR_INPUT (or SHD_ERR_TOO_LARGE for an oversized text) and a
 * root cause "Key Release Policy: <what> (at <where>)" in the thread's error state, modelled on
 * Managed HSM's "Key Release Policy: missing 'version' property".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "shd/result.h"

/* Limits of a policy (malformed beyond them). */
#define AEMU_RELEASE_POLICY_MAX_BYTES (64 * 1024) /* policy JSON text */
#define AEMU_RELEASE_POLICY_MAX_DEPTH 8           /* anyOf/allOf levels, the authority's counted */
#define AEMU_RELEASE_POLICY_MAX_NODES 1024        /* conditions and groups in total */
#define AEMU_RELEASE_POLICY_MAX_CLAIM_LEN 256     /* bytes of a claim path */
#define AEMU_RELEASE_POLICY_MAX_SEGMENTS 16       /* dot-separated parts of a claim path */
#define AEMU_RELEASE_POLICY_MAX_URL_LEN 2048      /* bytes of an authority or issuer */

/* Size of the verdict message buffer (messages are truncated to fit). */
#define AEMU_RELEASE_POLICY_MSG_MAX 512

/* A parsed and validated release policy. Immutable after parsing. */
struct aemu_release_policy;

/* Outcome of an evaluation. */
struct aemu_release_verdict {
    bool allowed;
    /*
     * Empty when allowed. When denied, one of:
     *   "Key release policy: no authority matches the token issuer '<iss>'"
     *   "Key release policy not satisfied for authority '<auth>': <reason>"
     * where <reason> names the first failing claim and condition, e.g.
     *   "claim 'x-ms-sevsnpvm-vmpl' is '1': condition equals '0' not met"
     *   "claim 'x-ms-sevsnpvm-hostdata' is missing: condition equals 'ab..' not met"
     *   "no anyOf alternative met (2 tried); first: <reason>"
     * Values taken from the token are escaped (non-printable bytes, quote and backslash as \xNN)
     * and truncated to 96 bytes with "...".
     */
    char message[AEMU_RELEASE_POLICY_MSG_MAX];
};

/*
 * Parses and validates the release policy JSON `text` (len bytes, not necessarily
 * NUL-terminated) as Key Vault stores it (the decoded `release_policy.data`).
 * On success *ret_policy owns a new policy; free it with aemu_release_policy_free.
 * Errors: SHD_ERR_INPUT (malformed, message says what and where), SHD_ERR_TOO_LARGE,
 * SHD_ERR_NOMEM, SHD_ERR_NULL.
 */
SHD_RESULT aemu_release_policy_parse(const char *text, size_t len,
                                     struct aemu_release_policy **ret_policy);

/* Frees *policy (NULL or *policy == NULL are fine) and sets *policy to NULL. */
void aemu_release_policy_free(struct aemu_release_policy **policy);

/* Number of authority entries (>= 1) of a parsed policy. */
size_t aemu_release_policy_authority_count(const struct aemu_release_policy *policy);

/*
 * The i-th authority URL exactly as written in the policy (i < authority_count, else misuse).
 * Borrowed: valid as long as the policy. The AKV emulator uses it for OIDC discovery.
 */
const char *aemu_release_policy_authority(const struct aemu_release_policy *policy, size_t i);

/*
 * Evaluates `policy` against the claims of an already verified attestation token.
 * `issuer` is the token's "iss" (NUL-terminated); `claims` the token payload object (borrowed,
 * only read). On success *ret_verdict says allowed or denied with the reason; a denial is not an
 * error. Errors: SHD_ERR_NULL, SHD_ERR_INPUT (claims is not a JSON object).
 */
SHD_RESULT aemu_release_policy_evaluate(const struct aemu_release_policy *policy,
                                        const char *issuer, const json_t *claims,
                                        struct aemu_release_verdict *ret_verdict);

/*
 * Convenience: parse `text` and evaluate it in one call (what the release handler does with the
 * policy stored on a key). Errors as for parse and evaluate.
 */
SHD_RESULT aemu_release_policy_check(const char *text, size_t len, const char *issuer,
                                     const json_t *claims,
                                     struct aemu_release_verdict *ret_verdict);
