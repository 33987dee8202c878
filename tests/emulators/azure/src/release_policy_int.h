/*
 * release_policy_int.h - internal layout and helpers shared by release_policy.c (parsing),
 * release_policy_eval.c (evaluation) and release_policy_text.c (string helpers). Not for other
 * modules: they use release_policy.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "release_policy.h"

/* Operators first, so that an operator's keyword index is its operator number. */
enum aemu_rp_key {
    AEMU_RP_KEY_EQUALS,
    AEMU_RP_KEY_NOT_EQUALS,
    AEMU_RP_KEY_LESS,
    AEMU_RP_KEY_LESS_OR_EQUALS,
    AEMU_RP_KEY_GREATER,
    AEMU_RP_KEY_GREATER_OR_EQUALS,
    AEMU_RP_KEY_EXISTS,
    AEMU_RP_KEY_CLAIM,
    AEMU_RP_KEY_ANY_OF,
    AEMU_RP_KEY_ALL_OF,
    AEMU_RP_KEY_AUTHORITY,
    AEMU_RP_KEY_VERSION,
    AEMU_RP_KEY_COUNT_,
};

#define AEMU_RP_OP_COUNT (AEMU_RP_KEY_EXISTS + 1)

/* Canonical spelling of each keyword, indexed by enum aemu_rp_key. */
extern const char *const aemu_rp_key_names[AEMU_RP_KEY_COUNT_];

/* Values from a token or a policy are shown escaped and cut to AEMU_RP_SHOW_MAX bytes + "...". */
#define AEMU_RP_SHOW_MAX 96
#define AEMU_RP_SHOW_BUF (AEMU_RP_SHOW_MAX + 4)

enum aemu_rp_node_kind {
    AEMU_RP_NODE_ALL,
    AEMU_RP_NODE_ANY,
    AEMU_RP_NODE_CLAIM,
};

struct aemu_rp_node {
    enum aemu_rp_node_kind kind;
    /* groups */
    struct aemu_rp_node *children;
    size_t n_children;
    /* claim conditions */
    char *claim;    /* dotted path as written */
    char *segments; /* the same path with each '.' replaced by NUL */
    size_t n_segments;
    enum aemu_rp_key op;
    char *operand;    /* lenient string form of the value */
    long long number; /* ordering operators */
    bool exists;      /* exists operator */
};

struct aemu_rp_authority {
    char *authority;  /* as written */
    char *normalized; /* aemu_rp_url_normalize form */
    struct aemu_rp_node root;
};

struct aemu_release_policy {
    struct aemu_rp_authority *authorities;
    size_t n_authorities;
};

/* snprintf into buf that truncates on purpose (messages are bounded). */
void aemu_rp_msgf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Escapes len bytes of s for a message into out and returns out: printable ASCII except quote
 * and backslash as is, other bytes as \xNN; cut at AEMU_RP_SHOW_MAX bytes with "...".
 */
const char *aemu_rp_show(const char *s, size_t len, char out[static AEMU_RP_SHOW_BUF]);

/* ASCII case-insensitive equality of two byte strings (locale-independent). */
bool aemu_rp_equal_nocase(const char *a, size_t a_len, const char *b, size_t b_len);

/* Strict decimal integer: optional '-', 1..19 digits, nothing else; false if out of range. */
bool aemu_rp_parse_int(const char *s, size_t len, long long *ret);

/*
 * Normalises an https URL for authority/issuer matching into out (out_n bytes): scheme and host
 * lower-cased, one trailing '/' dropped. False when s is not an https URL we accept: printable
 * ASCII only, at most AEMU_RELEASE_POLICY_MAX_URL_LEN bytes, non-empty host, no userinfo ('@'),
 * query ('?'), fragment ('#') or backslash.
 */
bool aemu_rp_url_normalize(const char *s, size_t len, char *out, size_t out_n);
