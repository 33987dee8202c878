/*
 * release_policy_eval.c - evaluate a parsed release policy against verified token claims.
 *
 * Read-only over the claims; a denial is a verdict, not an error. Semantics: release_policy.h.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/safety.h"

#include "release_policy.h"
#include "release_policy_int.h"

/* Walks the dotted path; NULL when a segment is missing or an intermediate is not an object. */
static const json_t *rp_claim_lookup(const struct aemu_rp_node *n, const json_t *claims)
{
    const json_t *cur = claims;
    const char *seg = n->segments;

    for (size_t i = 0; i < n->n_segments; i++) {
        if (!json_is_object(cur)) {
            return NULL;
        }
        cur = json_object_get(cur, seg);
        if (cur == NULL) {
            return NULL;
        }
        seg += strlen(seg) + 1;
    }
    return cur;
}

/* Lenient string form of a scalar claim (string, true/false, integer); false for the rest. */
static bool rp_claim_text(const json_t *v, char buf[static 32], const char **ret_s, size_t *ret_len)
{
    if (json_is_string(v)) {
        *ret_s = json_string_value(v);
        *ret_len = json_string_length(v);
        return true;
    }
    if (json_is_boolean(v)) {
        *ret_s = json_is_true(v) ? "true" : "false";
        *ret_len = strlen(*ret_s);
        return true;
    }
    if (json_is_integer(v)) {
        *ret_len = (size_t)snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *ret_s = buf;
        return true;
    }
    return false;
}

static bool rp_claim_int(const json_t *v, long long *ret)
{
    if (json_is_integer(v)) {
        *ret = json_integer_value(v);
        return true;
    }
    return json_is_string(v) && aemu_rp_parse_int(json_string_value(v), json_string_length(v), ret);
}

static bool rp_claim_holds(const struct aemu_rp_node *n, const json_t *v)
{
    char buf[32];
    const char *s;
    size_t len;
    long long x;

    switch (n->op) {
    case AEMU_RP_KEY_EXISTS:
        return (v != NULL) == n->exists;
    case AEMU_RP_KEY_EQUALS:
    case AEMU_RP_KEY_NOT_EQUALS:
        if (v == NULL || !rp_claim_text(v, buf, &s, &len)) {
            return false;
        }
        return aemu_rp_equal_nocase(s, len, n->operand, strlen(n->operand)) ==
               (n->op == AEMU_RP_KEY_EQUALS);
    case AEMU_RP_KEY_LESS:
        return v != NULL && rp_claim_int(v, &x) && x < n->number;
    case AEMU_RP_KEY_LESS_OR_EQUALS:
        return v != NULL && rp_claim_int(v, &x) && x <= n->number;
    case AEMU_RP_KEY_GREATER:
        return v != NULL && rp_claim_int(v, &x) && x > n->number;
    case AEMU_RP_KEY_GREATER_OR_EQUALS:
        return v != NULL && rp_claim_int(v, &x) && x >= n->number;
    default:
        shd_misuse("not an operator");
    }
}

/* "is missing", "is '1'", "is an object", "is 'abc' (not an integer)", ... */
static void rp_claim_describe(const struct aemu_rp_node *n, const json_t *v, char *out,
                              size_t out_n)
{
    char buf[32];
    char shown[AEMU_RP_SHOW_BUF];
    const char *s;
    size_t len;
    long long x;
    bool ordering = n->op != AEMU_RP_KEY_EXISTS && n->op != AEMU_RP_KEY_EQUALS &&
                    n->op != AEMU_RP_KEY_NOT_EQUALS;

    if (v == NULL) {
        aemu_rp_msgf(out, out_n, "is missing");
    } else if (rp_claim_text(v, buf, &s, &len)) {
        aemu_rp_msgf(out, out_n, "is '%s'%s", aemu_rp_show(s, len, shown),
                     ordering && !rp_claim_int(v, &x) ? " (not an integer)" : "");
    } else if (json_is_object(v)) {
        aemu_rp_msgf(out, out_n, "is an object");
    } else if (json_is_array(v)) {
        aemu_rp_msgf(out, out_n, "is an array");
    } else if (json_is_real(v)) {
        aemu_rp_msgf(out, out_n, "is a non-integer number");
    } else {
        aemu_rp_msgf(out, out_n, "is null");
    }
}

static bool rp_node_eval(const struct aemu_rp_node *n, const json_t *claims, char *msg,
                         size_t msg_n)
{
    switch (n->kind) {
    case AEMU_RP_NODE_CLAIM: {
        const json_t *v = rp_claim_lookup(n, claims);
        char what[AEMU_RP_SHOW_BUF + 32];
        char claim[AEMU_RP_SHOW_BUF];
        char operand[AEMU_RP_SHOW_BUF];

        if (rp_claim_holds(n, v)) {
            return true;
        }
        rp_claim_describe(n, v, what, sizeof(what));
        aemu_rp_msgf(msg, msg_n, "claim '%s' %s: condition %s '%s' not met",
                     aemu_rp_show(n->claim, strlen(n->claim), claim), what,
                     aemu_rp_key_names[n->op],
                     aemu_rp_show(n->operand, strlen(n->operand), operand));
        return false;
    }
    case AEMU_RP_NODE_ALL:
        for (size_t i = 0; i < n->n_children; i++) {
            if (!rp_node_eval(&n->children[i], claims, msg, msg_n)) {
                return false;
            }
        }
        return true;
    case AEMU_RP_NODE_ANY: {
        char first[AEMU_RELEASE_POLICY_MSG_MAX];
        char other[AEMU_RELEASE_POLICY_MSG_MAX];

        for (size_t i = 0; i < n->n_children; i++) {
            char *sink = i == 0 ? first : other;
            if (rp_node_eval(&n->children[i], claims, sink, sizeof(first))) {
                return true;
            }
        }
        aemu_rp_msgf(msg, msg_n, "no anyOf alternative met (%zu tried); first: %s", n->n_children,
                     first);
        return false;
    }
    default:
        shd_misuse("bad node kind");
    }
}

shd_result aemu_release_policy_evaluate(const struct aemu_release_policy *policy,
                                        const char *issuer, const json_t *claims,
                                        struct aemu_release_verdict *ret_verdict)
{
    SHD_ENSURE_REF(policy);
    SHD_ENSURE_REF(issuer);
    SHD_ENSURE_REF(claims);
    SHD_ENSURE_REF(ret_verdict);
    SHD_ENSURE_MSG(json_is_object(claims), SHD_ERR_INPUT,
                   "attestation token claims are not a JSON object");

    struct aemu_release_verdict verdict = {.allowed = false};
    char iss[AEMU_RELEASE_POLICY_MAX_URL_LEN + 1];
    size_t iss_len = strnlen(issuer, AEMU_RELEASE_POLICY_MAX_URL_LEN + 1);
    bool iss_ok = aemu_rp_url_normalize(issuer, iss_len, iss, sizeof(iss));
    bool matched = false;

    for (size_t i = 0; iss_ok && i < policy->n_authorities; i++) {
        const struct aemu_rp_authority *a = &policy->authorities[i];
        char reason[AEMU_RELEASE_POLICY_MSG_MAX];

        if (strcmp(a->normalized, iss) != 0) {
            continue;
        }
        if (rp_node_eval(&a->root, claims, reason, sizeof(reason))) {
            /* A reason kept from an earlier entry for this issuer does not apply any more. */
            *ret_verdict = (struct aemu_release_verdict){.allowed = true};
            return SHD_OK;
        }
        if (!matched) {
            aemu_rp_msgf(verdict.message, sizeof(verdict.message),
                         "Key release policy not satisfied for authority '%s': %s", a->authority,
                         reason);
            matched = true;
        }
    }
    if (!matched) {
        char shown[AEMU_RP_SHOW_BUF];

        aemu_rp_msgf(verdict.message, sizeof(verdict.message),
                     "Key release policy: no authority matches the token issuer '%s'",
                     aemu_rp_show(issuer, iss_len, shown));
    }
    *ret_verdict = verdict;
    return SHD_OK;
}

shd_result aemu_release_policy_check(const char *text, size_t len, const char *issuer,
                                     const json_t *claims, struct aemu_release_verdict *ret_verdict)
{
    SHD_CLEANUP(aemu_release_policy_free) struct aemu_release_policy *policy = NULL;

    SHD_GUARD(aemu_release_policy_parse(text, len, &policy));
    return aemu_release_policy_evaluate(policy, issuer, claims, ret_verdict);
}
