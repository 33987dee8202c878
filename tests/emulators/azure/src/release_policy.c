/*
 * release_policy.c - parse and validate Key Vault secure key release policies.
 *
 * Parsing compiles the JSON once into a small tree of groups (anyOf/allOf) and claim conditions,
 * with every operand already in its lenient string form (and, for the ordering operators, its
 * integer value), so a policy that imports is one that evaluates: evaluation
 * (release_policy_eval.c) only walks the tree and reads the token claims. Semantics and their
 * reasons: release_policy.h, policies/README.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "release_policy.h"
#include "release_policy_int.h"

#define RP_BIT(k) (1u << (unsigned)(k))
#define RP_OPS_MASK (RP_BIT(AEMU_RP_OP_COUNT) - 1u)

#define RP_VERSION "1.0.0"

/* Location strings in parse errors ("anyOf[0].allOf[2]"); truncated when deeper. */
#define RP_WHERE_MAX 160

struct rp_parse {
    size_t nodes;
};

SHD_DEFINE_CLEANUP(json_t, json_decref, rp_json_decref_p)

static bool rp_str_equal_nocase(const char *a, const char *b)
{
    return aemu_rp_equal_nocase(a, strlen(a), b, strlen(b));
}

static shd_result rp_malformed(const char *file, int line, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static shd_result rp_malformed(const char *file, int line, const char *where, const char *fmt, ...)
{
    char detail[320];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (where[0] == '\0') {
        return shd_error_setf(SHD_ERR_INPUT, file, line, "Key Release Policy: %s", detail);
    }
    return shd_error_setf(SHD_ERR_INPUT, file, line, "Key Release Policy: %s (at %s)", detail,
                          where);
}

#define RP_FAIL(where, ...)                                                                        \
    do {                                                                                           \
        return rp_malformed(__FILE__, __LINE__, (where), __VA_ARGS__);                             \
    } while (0)

static void rp_node_clear(struct aemu_rp_node *n)
{
    for (size_t i = 0; i < n->n_children; i++) {
        rp_node_clear(&n->children[i]);
    }
    shd_free(n->children);
    shd_free(n->claim);
    shd_free(n->segments);
    shd_free(n->operand);
    *n = (struct aemu_rp_node){0};
}

static int rp_key_lookup(const char *key)
{
    for (int k = 0; k < AEMU_RP_KEY_COUNT_; k++) {
        if (rp_str_equal_nocase(key, aemu_rp_key_names[k])) {
            return k;
        }
    }
    return -1;
}

/* Sorts the members of obj into slots by keyword; unknown, disallowed or repeated keys fail. */
static shd_result rp_scan_object(json_t *obj, unsigned allowed, const char *where,
                                 json_t *slots[static AEMU_RP_KEY_COUNT_])
{
    char shown[AEMU_RP_SHOW_BUF];

    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        int k = rp_key_lookup(key);

        if (k < 0) {
            RP_FAIL(where, "unknown property '%s'", aemu_rp_show(key, strlen(key), shown));
        }
        if ((allowed & RP_BIT(k)) == 0) {
            RP_FAIL(where, "'%s' is not allowed here", aemu_rp_key_names[k]);
        }
        if (slots[k] != NULL) {
            RP_FAIL(where, "duplicate property '%s'", aemu_rp_key_names[k]);
        }
        slots[k] = val;
    }
    return SHD_OK;
}

static shd_result rp_compile_condition(json_t *obj, const char *where, size_t depth,
                                       struct rp_parse *ctx, struct aemu_rp_node *ret_node);

/* Compiles the condition array `arr` (the value of `key` at `where`) into a group node. */
static shd_result rp_compile_group(json_t *arr, enum aemu_rp_key key, const char *where,
                                   size_t depth, struct rp_parse *ctx,
                                   struct aemu_rp_node *ret_node)
{
    const char *name = aemu_rp_key_names[key];

    if (depth > AEMU_RELEASE_POLICY_MAX_DEPTH) {
        RP_FAIL(where, "conditions nested deeper than %d levels", AEMU_RELEASE_POLICY_MAX_DEPTH);
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        RP_FAIL(where, "'%s' must be a non-empty array of conditions", name);
    }
    size_t n = json_array_size(arr);
    if (n > AEMU_RELEASE_POLICY_MAX_NODES - ctx->nodes) {
        RP_FAIL(where, "more than %d conditions", AEMU_RELEASE_POLICY_MAX_NODES);
    }
    ctx->nodes += 1;

    struct aemu_rp_node group = {.kind = key == AEMU_RP_KEY_ANY_OF ? AEMU_RP_NODE_ANY
                                                                   : AEMU_RP_NODE_ALL};
    group.children = shd_alloc_array(n, sizeof(*group.children));
    SHD_ENSURE(group.children != NULL, SHD_ERR_NOMEM);
    group.n_children = n;
    for (size_t i = 0; i < n; i++) {
        char child_where[RP_WHERE_MAX];

        aemu_rp_msgf(child_where, sizeof(child_where), "%s%s%s[%zu]", where, where[0] ? "." : "",
                     name, i);
        shd_result r = rp_compile_condition(json_array_get(arr, i), child_where, depth + 1, ctx,
                                            &group.children[i]);
        if (shd_is_err(r)) {
            rp_node_clear(&group);
            return r;
        }
    }
    *ret_node = group;
    return SHD_OK;
}

static shd_result rp_compile_claim_path(const json_t *claim, const char *where,
                                        struct aemu_rp_node *node)
{
    if (!json_is_string(claim) || json_string_length(claim) == 0) {
        RP_FAIL(where, "'claim' must be a non-empty string");
    }
    const char *path = json_string_value(claim);
    size_t len = json_string_length(claim);
    char shown[AEMU_RP_SHOW_BUF];

    if (len > AEMU_RELEASE_POLICY_MAX_CLAIM_LEN) {
        RP_FAIL(where, "claim path longer than %d bytes", AEMU_RELEASE_POLICY_MAX_CLAIM_LEN);
    }
    size_t segments = 1;
    for (size_t i = 0; i < len; i++) {
        if (path[i] != '.') {
            continue;
        }
        if (i == 0 || i + 1 == len || path[i + 1] == '.') {
            RP_FAIL(where, "empty segment in claim path '%s'", aemu_rp_show(path, len, shown));
        }
        segments++;
    }
    if (segments > AEMU_RELEASE_POLICY_MAX_SEGMENTS) {
        RP_FAIL(where, "claim path with more than %d segments", AEMU_RELEASE_POLICY_MAX_SEGMENTS);
    }
    node->claim = shd_strndup(path, len);
    node->segments = shd_strndup(path, len);
    SHD_ENSURE(node->claim != NULL && node->segments != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < len; i++) {
        if (node->segments[i] == '.') {
            node->segments[i] = '\0';
        }
    }
    node->n_segments = segments;
    return SHD_OK;
}

/* Converts the operand of node->op into node->operand (and number/exists). */
static shd_result rp_compile_operand(const json_t *v, const char *where, struct aemu_rp_node *node)
{
    const char *name = aemu_rp_key_names[node->op];
    char text[32];
    const char *s = text;
    size_t len;

    switch (node->op) {
    case AEMU_RP_KEY_EXISTS:
        if (json_is_boolean(v)) {
            node->exists = json_is_true(v);
        } else if (json_is_string(v) && rp_str_equal_nocase(json_string_value(v), "true")) {
            node->exists = true;
        } else if (json_is_string(v) && rp_str_equal_nocase(json_string_value(v), "false")) {
            node->exists = false;
        } else {
            RP_FAIL(where, "'exists' needs true or false");
        }
        s = node->exists ? "true" : "false";
        len = strlen(s);
        break;
    case AEMU_RP_KEY_EQUALS:
    case AEMU_RP_KEY_NOT_EQUALS:
        if (json_is_string(v)) {
            s = json_string_value(v);
            len = json_string_length(v);
        } else if (json_is_integer(v)) {
            len = (size_t)snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                                   json_integer_value(v));
        } else if (json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
            len = strlen(s);
        } else {
            RP_FAIL(where, "'%s' needs a string, an integer, true or false", name);
        }
        break;
    case AEMU_RP_KEY_LESS:
    case AEMU_RP_KEY_LESS_OR_EQUALS:
    case AEMU_RP_KEY_GREATER:
    case AEMU_RP_KEY_GREATER_OR_EQUALS:
        if (json_is_integer(v)) {
            node->number = json_integer_value(v);
            len = (size_t)snprintf(text, sizeof(text), "%lld", node->number);
        } else if (json_is_string(v) &&
                   aemu_rp_parse_int(json_string_value(v), json_string_length(v), &node->number)) {
            s = json_string_value(v);
            len = json_string_length(v);
        } else {
            RP_FAIL(where, "'%s' needs an integer or a string holding a decimal integer", name);
        }
        break;
    default:
        shd_misuse("not an operator");
    }
    node->operand = shd_strndup(s, len);
    SHD_ENSURE(node->operand != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result rp_compile_claim(json_t *slots[static AEMU_RP_KEY_COUNT_], const char *where,
                                   struct aemu_rp_node *node)
{
    int op = -1;

    for (int k = 0; k < AEMU_RP_OP_COUNT; k++) {
        if (slots[k] == NULL) {
            continue;
        }
        if (op >= 0) {
            RP_FAIL(where, "more than one operator ('%s' and '%s')", aemu_rp_key_names[op],
                    aemu_rp_key_names[k]);
        }
        op = k;
    }
    if (slots[AEMU_RP_KEY_CLAIM] == NULL) {
        RP_FAIL(where, "condition without 'claim', 'anyOf' or 'allOf'");
    }
    if (op < 0) {
        RP_FAIL(where, "condition without an operator");
    }
    node->kind = AEMU_RP_NODE_CLAIM;
    node->op = (enum aemu_rp_key)op;
    SHD_GUARD(rp_compile_claim_path(slots[AEMU_RP_KEY_CLAIM], where, node));
    return rp_compile_operand(slots[op], where, node);
}

static shd_result rp_compile_condition(json_t *obj, const char *where, size_t depth,
                                       struct rp_parse *ctx, struct aemu_rp_node *ret_node)
{
    json_t *slots[AEMU_RP_KEY_COUNT_] = {0};

    if (!json_is_object(obj)) {
        RP_FAIL(where, "a condition must be an object");
    }
    SHD_GUARD(rp_scan_object(obj,
                             RP_OPS_MASK | RP_BIT(AEMU_RP_KEY_CLAIM) | RP_BIT(AEMU_RP_KEY_ANY_OF) |
                                 RP_BIT(AEMU_RP_KEY_ALL_OF),
                             where, slots));
    json_t *any = slots[AEMU_RP_KEY_ANY_OF];
    json_t *all = slots[AEMU_RP_KEY_ALL_OF];
    if (any != NULL || all != NULL) {
        if (any != NULL && all != NULL) {
            RP_FAIL(where, "'anyOf' and 'allOf' in one condition");
        }
        for (int k = 0; k <= AEMU_RP_KEY_CLAIM; k++) {
            if (slots[k] != NULL) {
                RP_FAIL(where, "'%s' next to '%s'", aemu_rp_key_names[k], any ? "anyOf" : "allOf");
            }
        }
        return rp_compile_group(any ? any : all, any ? AEMU_RP_KEY_ANY_OF : AEMU_RP_KEY_ALL_OF,
                                where, depth, ctx, ret_node);
    }
    if (ctx->nodes >= AEMU_RELEASE_POLICY_MAX_NODES) {
        RP_FAIL(where, "more than %d conditions", AEMU_RELEASE_POLICY_MAX_NODES);
    }
    ctx->nodes += 1;

    struct aemu_rp_node node = {0};
    shd_result r = rp_compile_claim(slots, where, &node);
    if (shd_is_err(r)) {
        rp_node_clear(&node);
        return r;
    }
    *ret_node = node;
    return SHD_OK;
}

static void rp_authority_clear(struct aemu_rp_authority *a)
{
    shd_free(a->authority);
    shd_free(a->normalized);
    rp_node_clear(&a->root);
    *a = (struct aemu_rp_authority){0};
}

static shd_result rp_compile_authority_fields(json_t *obj, const char *where, struct rp_parse *ctx,
                                              struct aemu_rp_authority *a)
{
    json_t *slots[AEMU_RP_KEY_COUNT_] = {0};
    char normalized[AEMU_RELEASE_POLICY_MAX_URL_LEN + 1];
    char shown[AEMU_RP_SHOW_BUF];

    if (!json_is_object(obj)) {
        RP_FAIL(where, "an authority entry must be an object");
    }
    SHD_GUARD(rp_scan_object(obj,
                             RP_BIT(AEMU_RP_KEY_AUTHORITY) | RP_BIT(AEMU_RP_KEY_ANY_OF) |
                                 RP_BIT(AEMU_RP_KEY_ALL_OF),
                             where, slots));
    json_t *url = slots[AEMU_RP_KEY_AUTHORITY];
    if (!json_is_string(url)) {
        RP_FAIL(where, "missing 'authority' string");
    }
    if (!aemu_rp_url_normalize(json_string_value(url), json_string_length(url), normalized,
                               sizeof(normalized))) {
        RP_FAIL(where, "authority '%s' is not an https URL",
                aemu_rp_show(json_string_value(url), json_string_length(url), shown));
    }
    json_t *any = slots[AEMU_RP_KEY_ANY_OF];
    json_t *all = slots[AEMU_RP_KEY_ALL_OF];
    if ((any == NULL) == (all == NULL)) {
        RP_FAIL(where, "an authority needs exactly one of 'anyOf' or 'allOf'");
    }
    a->authority = shd_strndup(json_string_value(url), json_string_length(url));
    a->normalized = shd_strdup(normalized);
    SHD_ENSURE(a->authority != NULL && a->normalized != NULL, SHD_ERR_NOMEM);
    return rp_compile_group(any ? any : all, any ? AEMU_RP_KEY_ANY_OF : AEMU_RP_KEY_ALL_OF, where,
                            1, ctx, &a->root);
}

static shd_result rp_compile_authority(json_t *obj, const char *where, struct rp_parse *ctx,
                                       struct aemu_rp_authority *ret_authority)
{
    struct aemu_rp_authority a = {0};
    shd_result r = rp_compile_authority_fields(obj, where, ctx, &a);

    if (shd_is_err(r)) {
        rp_authority_clear(&a);
        return r;
    }
    *ret_authority = a;
    return SHD_OK;
}

static shd_result rp_check_version(const json_t *version)
{
    char shown[AEMU_RP_SHOW_BUF];

    if (version == NULL) {
        RP_FAIL("", "missing 'version' property");
    }
    if (!json_is_string(version)) {
        RP_FAIL("", "'version' must be a string");
    }
    if (strcmp(json_string_value(version), RP_VERSION) != 0) {
        RP_FAIL("", "unsupported version '%s' (only '" RP_VERSION "')",
                aemu_rp_show(json_string_value(version), json_string_length(version), shown));
    }
    return SHD_OK;
}

static shd_result rp_compile_policy(json_t *root, struct aemu_release_policy *p)
{
    json_t *slots[AEMU_RP_KEY_COUNT_] = {0};
    struct rp_parse ctx = {0};

    if (!json_is_object(root)) {
        RP_FAIL("", "the policy must be a JSON object");
    }
    SHD_GUARD(
        rp_scan_object(root, RP_BIT(AEMU_RP_KEY_VERSION) | RP_BIT(AEMU_RP_KEY_ANY_OF), "", slots));
    SHD_GUARD(rp_check_version(slots[AEMU_RP_KEY_VERSION]));
    json_t *list = slots[AEMU_RP_KEY_ANY_OF];
    if (!json_is_array(list) || json_array_size(list) == 0) {
        RP_FAIL("", "'anyOf' must be a non-empty array of authorities");
    }
    size_t n = json_array_size(list);
    if (n > AEMU_RELEASE_POLICY_MAX_NODES) {
        RP_FAIL("", "more than %d authorities", AEMU_RELEASE_POLICY_MAX_NODES);
    }
    p->authorities = shd_alloc_array(n, sizeof(*p->authorities));
    SHD_ENSURE(p->authorities != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        char where[RP_WHERE_MAX];

        aemu_rp_msgf(where, sizeof(where), "anyOf[%zu]", i);
        SHD_GUARD(rp_compile_authority(json_array_get(list, i), where, &ctx,
                                       &p->authorities[p->n_authorities]));
        p->n_authorities++;
    }
    return SHD_OK;
}

void aemu_release_policy_free(struct aemu_release_policy **policy)
{
    if (policy == NULL || *policy == NULL) {
        return;
    }
    struct aemu_release_policy *p = *policy;
    for (size_t i = 0; i < p->n_authorities; i++) {
        rp_authority_clear(&p->authorities[i]);
    }
    shd_free(p->authorities);
    shd_free(p);
    *policy = NULL;
}

shd_result aemu_release_policy_parse(const char *text, size_t len,
                                     struct aemu_release_policy **ret_policy)
{
    SHD_ENSURE_REF(text);
    SHD_ENSURE_REF(ret_policy);
    SHD_ENSURE_MSG(len <= AEMU_RELEASE_POLICY_MAX_BYTES, SHD_ERR_TOO_LARGE,
                   "Key Release Policy: larger than %d bytes", AEMU_RELEASE_POLICY_MAX_BYTES);

    json_error_t jerr;
    /* Duplicate keys are rejected: two "equals" in one condition must not silently collapse. */
    SHD_CLEANUP(rp_json_decref_p)
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        RP_FAIL("", "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
    }
    SHD_CLEANUP(aemu_release_policy_free) struct aemu_release_policy *p = shd_alloc(sizeof(*p));
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(rp_compile_policy(root, p));
    *ret_policy = SHD_TAKE_PTR(p);
    return SHD_OK;
}

size_t aemu_release_policy_authority_count(const struct aemu_release_policy *policy)
{
    if (policy == NULL) {
        shd_misuse("NULL policy");
    }
    return policy->n_authorities;
}

const char *aemu_release_policy_authority(const struct aemu_release_policy *policy, size_t i)
{
    if (policy == NULL || i >= policy->n_authorities) {
        shd_misuse("authority index out of range");
    }
    return policy->authorities[i].authority;
}
