/*
 * tokens.c - the access-token table and IAM principals (tokens.h).
 */
#include "tokens.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* Longest token text we look at (ours are about 53 bytes; Google's up to a few KB). */
#define TOKENS_TEXT_MAX 4096u
#define TOKENS_IAM_PREFIX "//iam.googleapis.com/"

struct tokens_entry {
    uint8_t digest[SHD_CRYPTO_SHA256_LEN];
    int64_t expiry;
    struct gemu_principal *principal; /* NULL: free slot */
};

struct gemu_tokens {
    pthread_mutex_t lock;
    struct tokens_entry *entries; /* GEMU_TOKENS_MAX slots */
};

/* ------------------------------------------------------------------------------------------ */
/* Principals                                                                                  */

void gemu_principal_free(struct gemu_principal *p)
{
    if (p == NULL) {
        return;
    }
    shd_free(p->subject);
    shd_free(p->pool);
    if (p->attributes != NULL) {
        json_decref(p->attributes);
    }
    shd_free(p);
}

shd_result gemu_principal_copy(const struct gemu_principal *p, struct gemu_principal **ret)
{
    SHD_ENSURE_REF(p);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(p->subject != NULL, SHD_ERR_USAGE);
    SHD_ENSURE(p->kind == GEMU_PRINCIPAL_SERVICE_ACCOUNT ||
                   (p->kind == GEMU_PRINCIPAL_FEDERATED && p->pool != NULL),
               SHD_ERR_USAGE);
    struct gemu_principal *c = shd_alloc(sizeof(*c));
    SHD_ENSURE(c != NULL, SHD_ERR_NOMEM);
    c->kind = p->kind;
    c->subject = shd_strdup(p->subject);
    c->pool = p->pool != NULL ? shd_strdup(p->pool) : NULL;
    c->attributes = p->attributes != NULL ? json_deep_copy(p->attributes) : NULL;
    if (c->subject == NULL || (p->pool != NULL && c->pool == NULL) ||
        (p->attributes != NULL && c->attributes == NULL)) {
        gemu_principal_free(c);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    *ret = c;
    return SHD_OK;
}

shd_result gemu_principal_member(const struct gemu_principal *p, char **ret)
{
    SHD_ENSURE_REF(p);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(p->subject != NULL, SHD_ERR_USAGE);
    const char *a = NULL;
    const char *b = NULL;
    const char *c = NULL;
    if (p->kind == GEMU_PRINCIPAL_SERVICE_ACCOUNT) {
        a = "serviceAccount:";
        b = "";
        c = "";
    } else {
        SHD_ENSURE(p->pool != NULL, SHD_ERR_USAGE);
        a = "principal:" TOKENS_IAM_PREFIX;
        b = p->pool;
        c = "/subject/";
    }
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(p->subject) + 1;
    char *s = shd_alloc(n);
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    int k = snprintf(s, n, "%s%s%s%s", a, b, c, p->subject);
    if (k < 0 || (size_t)k >= n) {
        shd_free(s);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = s;
    return SHD_OK;
}

/* "principalSet://iam.googleapis.com/<pool>/<rest>": returns rest, or NULL if not this pool. */
static const char *tokens_set_rest(const char *member, const char *pool)
{
    static const char prefix[] = "principalSet:" TOKENS_IAM_PREFIX;
    if (strncmp(member, prefix, sizeof(prefix) - 1) != 0) {
        return NULL;
    }
    const char *m = member + sizeof(prefix) - 1;
    size_t pl = strlen(pool);
    if (strncmp(m, pool, pl) != 0 || m[pl] != '/') {
        return NULL;
    }
    return m + pl + 1;
}

static bool tokens_attribute_matches(const char *rest, const json_t *attributes)
{
    /* rest = "attribute.<name>/<value>"; the value may itself contain '/'. */
    static const char attr[] = "attribute.";
    if (attributes == NULL || strncmp(rest, attr, sizeof(attr) - 1) != 0) {
        return false;
    }
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash == rest + sizeof(attr) - 1) {
        return false;
    }
    char key[256];
    size_t klen = (size_t)(slash - rest);
    if (klen >= sizeof(key)) {
        return false;
    }
    shd_memcpy(key, rest, klen);
    key[klen] = '\0';
    const json_t *v = json_object_get(attributes, key);
    return json_is_string(v) && strcmp(json_string_value(v), slash + 1) == 0;
}

bool gemu_principal_matches(const char *member, const struct gemu_principal *p)
{
    if (member == NULL || p == NULL || p->subject == NULL) {
        return false;
    }
    if (strcmp(member, "allUsers") == 0 || strcmp(member, "allAuthenticatedUsers") == 0) {
        return true;
    }
    char *own = NULL;
    if (shd_is_err(gemu_principal_member(p, &own))) {
        shd_error_clear();
        return false;
    }
    bool eq = strcmp(own, member) == 0;
    shd_free(own);
    if (eq || p->kind != GEMU_PRINCIPAL_FEDERATED) {
        return eq;
    }
    const char *rest = tokens_set_rest(member, p->pool);
    if (rest == NULL) {
        return false;
    }
    if (strcmp(rest, "*") == 0) {
        return true;
    }
    return tokens_attribute_matches(rest, p->attributes);
}

/* ------------------------------------------------------------------------------------------ */
/* The table                                                                                   */

shd_result gemu_tokens_new(struct gemu_tokens **ret)
{
    SHD_ENSURE_REF(ret);
    struct gemu_tokens *t = shd_alloc(sizeof(*t));
    SHD_ENSURE(t != NULL, SHD_ERR_NOMEM);
    t->entries = shd_alloc_array(GEMU_TOKENS_MAX, sizeof(t->entries[0]));
    if (t->entries == NULL) {
        shd_free(t);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        shd_free(t->entries);
        shd_free(t);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = t;
    return SHD_OK;
}

void gemu_tokens_free(struct gemu_tokens *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < GEMU_TOKENS_MAX; i++) {
        gemu_principal_free(t->entries[i].principal);
    }
    shd_free_wipe(t->entries, GEMU_TOKENS_MAX * sizeof(t->entries[0]));
    (void)pthread_mutex_destroy(&t->lock);
    shd_free(t);
}

/* A free slot, else an expired one, else the one expiring soonest (under the lock). */
static struct tokens_entry *tokens_slot(struct gemu_tokens *t, int64_t now)
{
    struct tokens_entry *victim = &t->entries[0];
    for (size_t i = 0; i < GEMU_TOKENS_MAX; i++) {
        struct tokens_entry *e = &t->entries[i];
        if (e->principal == NULL || e->expiry <= now) {
            return e;
        }
        if (e->expiry < victim->expiry) {
            victim = e;
        }
    }
    return victim;
}

shd_result gemu_tokens_issue(const struct gemu_principal *p, int64_t lifetime_s, int64_t now,
                             struct gemu_tokens *t, char **ret_token, int64_t *ret_expiry)
{
    SHD_ENSURE_REF(p);
    SHD_ENSURE_REF(t);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE_MSG(lifetime_s >= 1 && lifetime_s <= GEMU_TOKEN_MAX_LIFETIME_S, SHD_ERR_USAGE,
                   "token lifetime %lld out of range", (long long)lifetime_s);
    uint8_t rnd[GEMU_TOKEN_RANDOM_LEN];
    SHD_CLEANUP_ERASE(rnd);
    SHD_GUARD(shd_crypto_random(rnd, sizeof(rnd)));
    char enc[64];
    SHD_CLEANUP_ERASE(enc);
    size_t enc_len = 0;
    SHD_GUARD(shd_b64_encode_into(rnd, sizeof(rnd), SHD_B64_URL_NOPAD, enc, sizeof(enc), &enc_len));
    size_t n = sizeof(GEMU_TOKEN_PREFIX) - 1 + enc_len;
    char *tok = shd_alloc(n + 1);
    SHD_ENSURE(tok != NULL, SHD_ERR_NOMEM);
    shd_memcpy(tok, GEMU_TOKEN_PREFIX, sizeof(GEMU_TOKEN_PREFIX) - 1);
    shd_memcpy(tok + sizeof(GEMU_TOKEN_PREFIX) - 1, enc, enc_len);
    tok[n] = '\0';
    uint8_t digest[SHD_CRYPTO_SHA256_LEN];
    struct gemu_principal *copy = NULL;
    shd_result r = shd_crypto_sha256((const uint8_t *)tok, n, digest);
    if (shd_is_ok(r)) {
        r = gemu_principal_copy(p, &copy);
    }
    if (shd_is_err(r)) {
        shd_free_wipe(tok, n + 1);
        return r;
    }
    (void)pthread_mutex_lock(&t->lock);
    struct tokens_entry *e = tokens_slot(t, now);
    gemu_principal_free(e->principal);
    shd_memcpy(e->digest, digest, sizeof(digest));
    e->expiry = now + lifetime_s;
    e->principal = copy;
    (void)pthread_mutex_unlock(&t->lock);
    *ret_token = tok;
    if (ret_expiry != NULL) {
        *ret_expiry = now + lifetime_s;
    }
    return SHD_OK;
}

shd_result gemu_tokens_lookup(const char *token, size_t len, int64_t now, struct gemu_tokens *t,
                              struct gemu_principal **ret, int64_t *ret_expiry)
{
    SHD_ENSURE_REF(token);
    SHD_ENSURE_REF(t);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(len > 0 && len <= TOKENS_TEXT_MAX, SHD_ERR_TOKEN, "unknown access token");
    uint8_t digest[SHD_CRYPTO_SHA256_LEN];
    SHD_GUARD(shd_crypto_sha256((const uint8_t *)token, len, digest));
    shd_result r = shd_error_setf(SHD_ERR_TOKEN, __FILE__, __LINE__, "unknown access token");
    (void)pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < GEMU_TOKENS_MAX; i++) {
        const struct tokens_entry *e = &t->entries[i];
        if (e->principal == NULL || !shd_ct_equal(e->digest, digest, sizeof(digest))) {
            continue;
        }
        if (e->expiry <= now) {
            r = shd_error_setf(SHD_ERR_TOKEN, __FILE__, __LINE__, "access token expired");
            break;
        }
        struct gemu_principal *copy = NULL;
        r = gemu_principal_copy(e->principal, &copy);
        if (shd_is_ok(r)) {
            *ret = copy;
            if (ret_expiry != NULL) {
                *ret_expiry = e->expiry;
            }
        }
        break;
    }
    (void)pthread_mutex_unlock(&t->lock);
    if (shd_is_ok(r)) {
        shd_error_clear();
    }
    return r;
}

shd_result gemu_tokens_check_bearer(const struct shd_http_req *req, int64_t now,
                                    struct gemu_tokens *t, struct gemu_principal **ret)
{
    SHD_ENSURE_REF(req);
    const char *h = shd_http_req_header(req, "Authorization");
    SHD_ENSURE_MSG(h != NULL, SHD_ERR_TOKEN, "no Authorization header");
    SHD_ENSURE_MSG(strncasecmp(h, "Bearer ", 7) == 0, SHD_ERR_TOKEN, "not a Bearer token");
    const char *tok = h + 7;
    while (*tok == ' ') {
        tok++;
    }
    size_t len = strlen(tok);
    while (len > 0 && tok[len - 1] == ' ') {
        len--;
    }
    return gemu_tokens_lookup(tok, len, now, t, ret, NULL);
}
