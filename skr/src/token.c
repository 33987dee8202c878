/*
 * token.c - AAD access tokens: workload identity, IMDS, and the cache (token.h).
 */
#include "token.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"
#include "shd/secret.h"
#include "skr.h"
#include "upstream.h"

#define CACHE_KEY_MAX 288u
#define RESOURCE_MAX 256u
#define URL_MAX ((size_t)4096)
#define FORM_MAX (SKR_TOKEN_MAX_LEN * 3 + 4096)

struct token_entry {
    char key[CACHE_KEY_MAX]; /* "<source>|<resource>"; "" = free slot */
    struct shd_secret *token;
    time_t expires_at;
};

struct skr_token_cache {
    pthread_mutex_t lock;
    struct skr_token_cache_hooks hooks;
    struct token_entry entries[SKR_TOKEN_CACHE_MAX];
};

/* A token as fetched: the text (a credential) and its lifetime, when the answer gave one. */
struct fetched_token {
    char *token;
    int64_t lifetime_s; /* expires_in */
    int64_t expires_on; /* absolute, seconds since the epoch */
};

static void fetched_token_clear(struct fetched_token *t)
{
    if (t->token != NULL) {
        shd_free_wipe(t->token, strlen(t->token) + 1);
    }
    *t = (struct fetched_token){0};
}

/* ---- the cache ---- */

shd_result skr_token_cache_new(const struct skr_token_cache_hooks *hooks,
                               struct skr_token_cache **ret_cache)
{
    SHD_ENSURE_REF(ret_cache);
    struct skr_token_cache *c = shd_alloc(sizeof(*c));
    SHD_ENSURE(c != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        shd_free(c);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    if (hooks != NULL) {
        c->hooks = *hooks;
    }
    *ret_cache = c;
    return SHD_OK;
}

void skr_token_cache_free(struct skr_token_cache **cache)
{
    if (cache == NULL || *cache == NULL) {
        return;
    }
    struct skr_token_cache *c = *cache;
    for (size_t i = 0; i < SKR_TOKEN_CACHE_MAX; i++) {
        shd_secret_free(&c->entries[i].token);
    }
    pthread_mutex_destroy(&c->lock);
    shd_free(c);
    *cache = NULL;
}

static time_t cache_now(const struct skr_token_cache *c)
{
    return c->hooks.now != NULL ? c->hooks.now(c->hooks.ctx) : time(NULL);
}

/* A copy of a cached token still valid for more than SKR_TOKEN_EARLY_REFRESH_S; else NULL. */
static shd_result cache_lookup(struct skr_token_cache *c, const char *key, char **ret_token)
{
    shd_result r = SHD_OK;

    *ret_token = NULL;
    pthread_mutex_lock(&c->lock);
    time_t now = cache_now(c);
    for (size_t i = 0; i < SKR_TOKEN_CACHE_MAX; i++) {
        struct token_entry *e = &c->entries[i];
        if (e->token == NULL || strcmp(e->key, key) != 0) {
            continue;
        }
        if (now + SKR_TOKEN_EARLY_REFRESH_S < e->expires_at) {
            char *copy =
                shd_strndup((const char *)shd_secret_data(e->token), shd_secret_len(e->token));
            r = copy != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
            *ret_token = copy;
        } else {
            shd_secret_free(&e->token);
            e->key[0] = '\0';
        }
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* Stores a token; a failure only means "not cached" and is not reported to the caller. */
static void cache_store(struct skr_token_cache *c, const char *key, const char *token,
                        time_t expires_at)
{
    struct shd_secret *s = NULL;

    if (shd_is_err(shd_secret_from(token, strlen(token), &s))) {
        shd_error_clear();
        return;
    }
    pthread_mutex_lock(&c->lock);
    struct token_entry *slot = NULL;
    for (size_t i = 0; i < SKR_TOKEN_CACHE_MAX && slot == NULL; i++) {
        if (c->entries[i].token != NULL && strcmp(c->entries[i].key, key) == 0) {
            slot = &c->entries[i];
        }
    }
    for (size_t i = 0; i < SKR_TOKEN_CACHE_MAX && slot == NULL; i++) {
        if (c->entries[i].token == NULL) {
            slot = &c->entries[i];
        }
    }
    if (slot == NULL) {
        /* Full: replace the entry that expires first. */
        slot = &c->entries[0];
        for (size_t i = 1; i < SKR_TOKEN_CACHE_MAX; i++) {
            if (c->entries[i].expires_at < slot->expires_at) {
                slot = &c->entries[i];
            }
        }
    }
    shd_secret_free(&slot->token);
    slot->token = s;
    slot->expires_at = expires_at;
    (void)snprintf(slot->key, sizeof(slot->key), "%s", key);
    pthread_mutex_unlock(&c->lock);
}

/* ---- helpers ---- */

const char *skr_token_resource_for(const char *akv_endpoint)
{
    if (akv_endpoint != NULL && strstr(akv_endpoint, "managedhsm") != NULL) {
        return SKR_RESOURCE_MANAGED_HSM;
    }
    return SKR_RESOURCE_VAULT;
}

/* application/x-www-form-urlencoded / query escaping: RFC 3986 unreserved bytes stay. */
static shd_result append_escaped(const char *s, size_t n, struct shd_buf *buf)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            SHD_GUARD(shd_buf_append(&s[i], 1, buf));
        } else {
            const char esc[3] = {'%', hex[c >> 4], hex[c & 0xfu]};
            SHD_GUARD(shd_buf_append(esc, sizeof(esc), buf));
        }
    }
    return SHD_OK;
}

/* An integer member given as a JSON number or a decimal string (IMDS sends strings). */
static shd_result json_seconds(const json_t *obj, const char *key, int64_t *ret)
{
    const json_t *v = json_object_get(obj, key);
    uint64_t u = 0;

    *ret = 0;
    if (v == NULL || json_is_null(v)) {
        return SHD_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *ret = json_integer_value(v);
        return SHD_OK;
    }
    if (json_is_string(v) && shd_is_ok(shd_parse_uint(json_string_value(v), 10, INT64_MAX, &u))) {
        *ret = (int64_t)u;
        return SHD_OK;
    }
    shd_error_clear();
    SHD_BAIL_MSG(SHD_ERR_JSON, "field '%s' is not a number of seconds", key);
}

/* {"access_token":..,"expires_in":..,"expires_on":..} of IMDS and AAD. */
static shd_result token_response_parse(const struct shd_http_response *resp,
                                       struct fetched_token *ret)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *token = NULL;
    size_t len = 0;
    struct fetched_token t = {0};

    const uint8_t *body = shd_http_response_body(resp, &len);
    SHD_GUARD(shd_json_parse((const char *)body, len, NULL, &doc));
    SHD_GUARD(shd_json_get_string_opt(doc, "access_token", &token));
    SHD_GUARD(json_seconds(doc, "expires_in", &t.lifetime_s));
    SHD_GUARD(json_seconds(doc, "expires_on", &t.expires_on));
    SHD_ENSURE_MSG(token != NULL && token[0] != '\0', SHD_ERR_INPUT, "empty access_token");
    SHD_ENSURE_MSG(strlen(token) <= SKR_TOKEN_MAX_LEN, SHD_ERR_TOO_LARGE,
                   "access_token longer than %zu bytes", SKR_TOKEN_MAX_LEN);
    t.token = shd_strdup(token);
    SHD_ENSURE(t.token != NULL, SHD_ERR_NOMEM);
    *ret = t;
    return SHD_OK;
}

static shd_result buf_take_str(struct shd_buf *buf, char **ret)
{
    uint8_t *p = NULL;
    size_t len = 0;

    SHD_GUARD(shd_buf_take(buf, &p, &len));
    *ret = (char *)p;
    return SHD_OK;
}

/* ---- IMDS managed identity ---- */

static shd_result imds_url(const struct skr_ctx *ctx, const char *resource, char **ret_url)
{
    struct shd_buf url;
    const char *base = ctx->imds_base != NULL ? ctx->imds_base : SKR_IMDS_DEFAULT_BASE;
    const char *client_id = ctx->args.identity_client_id;

    shd_buf_init(URL_MAX, 0, &url);
    shd_result r = shd_buf_appendf(&url, "%s%s?api-version=%s&resource=", base, SKR_IMDS_TOKEN_PATH,
                                   SKR_IMDS_TOKEN_API_VERSION);
    if (shd_is_ok(r)) {
        r = append_escaped(resource, strlen(resource), &url);
    }
    if (shd_is_ok(r) && client_id != NULL && client_id[0] != '\0') {
        r = shd_buf_append_str("&client_id=", &url);
        if (shd_is_ok(r)) {
            r = append_escaped(client_id, strlen(client_id), &url);
        }
    }
    if (shd_is_ok(r)) {
        r = buf_take_str(&url, ret_url);
    }
    shd_buf_free(&url);
    return r;
}

static shd_result imds_fetch(const struct skr_ctx *ctx, const char *resource,
                             struct fetched_token *ret)
{
    static const struct shd_http_header headers[] = {{"Metadata", "true"}};
    SHD_CLEANUP_FREE char *url = NULL;
    struct shd_http_response *resp = NULL;

    SHD_GUARD(imds_url(ctx, resource, &url));
    const struct shd_http_request req = {
        .method = "GET", .url = url, .headers = headers, .nheaders = 1};
    /* http_imds: short timeouts for the link-local endpoint; http when a test has only one. */
    const struct shd_http_client *client = ctx->http_imds != NULL ? ctx->http_imds : ctx->http;
    SHD_GUARD_CTX(skr_upstream_do(client, &req, &resp),
                  "http get authentication token failed for %s", url);
    shd_result r = skr_upstream_status_check(resp);
    if (shd_is_err(r)) {
        shd_error_wrap("pulling http get authentication token response failed");
    } else {
        r = token_response_parse(resp, ret);
        if (shd_is_err(r)) {
            shd_error_wrap("unmarshalling authentication token response failed");
        }
    }
    shd_http_response_free(resp);
    return r;
}

/* ---- AKS workload identity ---- */

/* A tenant is a GUID or a domain name: it becomes a path segment, so nothing else passes. */
static bool tenant_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 253) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

static shd_result wi_url(const struct skr_ctx *ctx, char **ret_url)
{
    struct shd_buf url;
    const char *authority = ctx->aad_authority != NULL && ctx->aad_authority[0] != '\0'
                                ? ctx->aad_authority
                                : SKR_AAD_AUTHORITY_DEFAULT;
    size_t alen = strlen(authority);

    SHD_ENSURE_MSG(strncmp(authority, "https://", 8) == 0, SHD_ERR_CONFIG,
                   "authority host %.64s is not an https URL", authority);
    SHD_ENSURE_MSG(tenant_ok(ctx->wi_tenant_id), SHD_ERR_CONFIG, "invalid tenant id");
    while (alen > 8 && authority[alen - 1] == '/') {
        alen--;
    }
    shd_buf_init(URL_MAX, 0, &url);
    shd_result r =
        shd_buf_appendf(&url, "%.*s/%s/oauth2/v2.0/token", (int)alen, authority, ctx->wi_tenant_id);
    if (shd_is_ok(r)) {
        r = buf_take_str(&url, ret_url);
    }
    shd_buf_free(&url);
    return r;
}

static shd_result wi_form_build(const struct skr_ctx *ctx, const char *resource,
                                const char *assertion, size_t assertion_len, struct shd_buf *form)
{
    static const char assertion_type[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    const char *id = ctx->wi_client_id;

    SHD_GUARD(shd_buf_append_str("grant_type=client_credentials&client_id=", form));
    SHD_GUARD(append_escaped(id, strlen(id), form));
    SHD_GUARD(shd_buf_append_str("&client_assertion_type=", form));
    SHD_GUARD(append_escaped(assertion_type, sizeof(assertion_type) - 1, form));
    SHD_GUARD(shd_buf_append_str("&client_assertion=", form));
    SHD_GUARD(append_escaped(assertion, assertion_len, form));
    SHD_GUARD(shd_buf_append_str("&scope=", form));
    SHD_GUARD(append_escaped(resource, strlen(resource), form));
    SHD_GUARD(append_escaped("/.default", 9, form));
    return SHD_OK;
}

/* Reads the federated token (re-read on every fetch: kubelet rotates it) into the form. */
static shd_result wi_form(const struct skr_ctx *ctx, const char *resource, struct shd_buf *form)
{
    uint8_t *file = NULL;
    size_t file_len = 0;

    /* Links followed: the kubelet projects the token as a link into a "..data" directory. */
    SHD_GUARD_CTX(shd_file_read(ctx->wi_token_file, SKR_TOKEN_MAX_LEN, 0, &file, &file_len),
                  "reading the federated token file failed");
    const char *assertion = (const char *)file;
    size_t len = file_len;
    while (len > 0 && (assertion[len - 1] == '\n' || assertion[len - 1] == '\r' ||
                       assertion[len - 1] == ' ' || assertion[len - 1] == '\t')) {
        len--;
    }
    shd_result r = len > 0 ? wi_form_build(ctx, resource, assertion, len, form)
                           : shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__,
                                            "the federated token file is empty");
    shd_free_wipe(file, file_len + 1);
    return r;
}

static shd_result wi_fetch(const struct skr_ctx *ctx, const char *resource,
                           struct fetched_token *ret)
{
    static const struct shd_http_header headers[] = {
        {"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    SHD_CLEANUP_FREE char *url = NULL;
    struct shd_http_response *resp = NULL;
    struct shd_buf form;

    SHD_GUARD(wi_url(ctx, &url));
    shd_buf_init(FORM_MAX, SHD_BUF_SECRET, &form);
    shd_result r = wi_form(ctx, resource, &form);
    if (shd_is_ok(r)) {
        const struct shd_http_request req = {.method = "POST",
                                             .url = url,
                                             .headers = headers,
                                             .nheaders = 2,
                                             .body = shd_buf_ptr(&form),
                                             .body_len = shd_buf_len(&form)};
        r = skr_upstream_do(ctx->http, &req, &resp);
    }
    shd_buf_free(&form);
    SHD_GUARD(r);
    r = skr_upstream_status_check(resp);
    if (shd_is_ok(r)) {
        r = token_response_parse(resp, ret);
    }
    shd_http_response_free(resp);
    return r;
}

/* ---- entry point ---- */

static bool workload_identity_enabled(const struct skr_ctx *ctx)
{
    return ctx->wi_client_id != NULL && ctx->wi_client_id[0] != '\0' && ctx->wi_tenant_id != NULL &&
           ctx->wi_tenant_id[0] != '\0' && ctx->wi_token_file != NULL &&
           ctx->wi_token_file[0] != '\0';
}

static time_t expiry_of(const struct fetched_token *t, time_t now)
{
    if (t->lifetime_s > 0) {
        return now + (time_t)t->lifetime_s;
    }
    return (time_t)t->expires_on; /* 0 (unknown) is in the past: not cached */
}

static void token_log(const char *source, const char *resource, const char *token, bool cached)
{
    char fp[SHD_LOG_FINGERPRINT_LEN];

    shd_log_token_fingerprint(token, strlen(token), fp);
    SHD_LOG_KV(cached ? SHD_LOG_LEVEL_DEBUG : SHD_LOG_LEVEL_INFO, SKR_LOG_TOKEN,
               cached ? "access token from cache" : "access token acquired",
               SHD_LOG_STR("source", source), SHD_LOG_STR("resource", resource),
               SHD_LOG_STR("token", fp));
}

shd_result skr_token_get(const struct skr_ctx *ctx, struct skr_token_cache *cache,
                         const char *resource, char **ret_token)
{
    char key[CACHE_KEY_MAX];
    struct fetched_token t = {0};

    SHD_ENSURE_REF(ctx);
    SHD_ENSURE_REF(resource);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE(ctx->http != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(strlen(resource) <= RESOURCE_MAX, SHD_ERR_USAGE, "resource too long");
    const bool wi = workload_identity_enabled(ctx);
    const char *source = wi ? "workload-identity" : "imds";
    (void)snprintf(key, sizeof(key), "%s|%s", source, resource);

    if (cache != NULL) {
        char *hit = NULL;
        SHD_GUARD(cache_lookup(cache, key, &hit));
        if (hit != NULL) {
            token_log(source, resource, hit, true);
            *ret_token = hit;
            return SHD_OK;
        }
    }
    time_t now = cache != NULL ? cache_now(cache) : time(NULL);
    shd_result r = wi ? wi_fetch(ctx, resource, &t) : imds_fetch(ctx, resource, &t);
    if (shd_is_err(r)) {
        if (wi) {
            shd_error_wrap("failed to acquire access token");
            shd_error_wrap("retrieving authentication token using workload identity failed");
        } else {
            shd_error_wrap("retrieving authentication token failed");
        }
        return r;
    }
    if (cache != NULL) {
        cache_store(cache, key, t.token, expiry_of(&t, now));
    }
    token_log(source, resource, t.token, false);
    *ret_token = SHD_TAKE_PTR(t.token);
    fetched_token_clear(&t);
    return SHD_OK;
}
