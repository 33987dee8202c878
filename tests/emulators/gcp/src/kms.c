/*
 * kms.c - the Cloud KMS emulator's HTTP surface: routes, authentication, IAM checks and
 * resource look-up (kms.h). The operations themselves are in kms_ops.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kms.h"
#include "kms_int.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "tokens.h"

#define KMS_P_DECRYPT "cloudkms.cryptoKeyVersions.useToDecrypt"
#define KMS_P_ENCRYPT "cloudkms.cryptoKeyVersions.useToEncrypt"
#define KMS_P_VIEW "cloudkms.cryptoKeyVersions.viewPublicKey"
#define KMS_P_RING_CREATE "cloudkms.keyRings.create"
#define KMS_P_RING_GET "cloudkms.keyRings.get"
#define KMS_P_KEY_CREATE "cloudkms.cryptoKeys.create"
#define KMS_P_KEY_GET "cloudkms.cryptoKeys.get"
#define KMS_DOMAIN "cloudkms.googleapis.com"

#define KMS_T_RINGS "/v1/projects/*/locations/*/keyRings"
#define KMS_T_RING KMS_T_RINGS "/*"
#define KMS_T_KEYS KMS_T_RING "/cryptoKeys"
#define KMS_T_KEY KMS_T_KEYS "/*"
#define KMS_T_VERSION KMS_T_KEY "/cryptoKeyVersions/*"

struct kms_ctx {
    struct gemu_state *st;
    struct gemu_kms_store store;
    bool store_ready;
};

/* What one request is about, after authentication and path parsing. */
struct kms_call {
    struct kms_ctx *ctx;
    const struct shd_http_req *req;
    struct gemu_principal *caller;
    char key_name[GEMU_KMS_NAME_MAX]; /* "projects/../cryptoKeys/K" ("" when not a key path) */
    uint32_t version;                 /* 0: none in the path */
};

typedef shd_result (*kms_op_fn)(struct kms_call *call, struct gemu_kms_key *key,
                                struct shd_http_resp *resp);

/* Rebuilds the resource name from captures: "projects/%s/locations/%s/keyRings/%s[...]". */
static shd_result kms_names(const struct gemu_path_captures *c, struct kms_call *call, bool *ret_ok)
{
    *ret_ok = false;
    if (c->n < 4 || !gemu_kms_id_ok(c->v[1]) || !gemu_kms_id_ok(c->v[2]) ||
        !gemu_kms_id_ok(c->v[3])) {
        return SHD_OK;
    }
    int n = snprintf(call->key_name, sizeof(call->key_name),
                     "projects/%s/locations/%s/keyRings/%s/cryptoKeys/%s", c->v[0], c->v[1],
                     c->v[2], c->v[3]);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(call->key_name), SHD_ERR_TOO_LARGE);
    call->version = 0;
    if (c->n >= 5) {
        uint32_t v = 0;
        size_t len = strlen(c->v[4]);
        if (len == 0 || len > 9 || c->v[4][0] == '0') {
            return SHD_OK;
        }
        for (size_t i = 0; i < len; i++) {
            if (c->v[4][i] < '0' || c->v[4][i] > '9') {
                return SHD_OK;
            }
            v = v * 10u + (uint32_t)(c->v[4][i] - '0');
        }
        call->version = v;
    }
    *ret_ok = true;
    return SHD_OK;
}

static shd_result kms_not_found(const char *what, const char *name, struct shd_http_resp *resp)
{
    char msg[GEMU_KMS_NAME_MAX + 64];
    (void)snprintf(msg, sizeof(msg), "%s %s not found.", what, name);
    return gemu_resp_google_error(404, "NOT_FOUND", msg, resp);
}

/*
 * Common path of the key operations: authenticate, parse the path, find the key (and version),
 * check the permission, then run op under the store's read lock.
 */
static shd_result kms_key_call(void *vctx, const struct shd_http_req *req, const char *tmpl,
                               const char *permission, kms_op_fn op, struct shd_http_resp *resp)
{
    struct kms_ctx *ctx = vctx;
    struct kms_call call = {.ctx = ctx, .req = req};
    struct gemu_path_captures caps;
    bool ok = false;
    if (!gemu_path_match(tmpl, shd_http_req_path(req), &caps)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    if (shd_is_err(
            gemu_tokens_check_bearer(req, (int64_t)time(NULL), ctx->st->tokens, &call.caller))) {
        shd_error_clear();
        return gemu_resp_unauthenticated(resp);
    }
    shd_result r = kms_names(&caps, &call, &ok);
    if (shd_is_ok(r) && !ok) {
        r = gemu_resp_google_error(400, "INVALID_ARGUMENT", "Invalid resource name.", resp);
    }
    if (shd_is_ok(r) && ok) {
        (void)pthread_rwlock_rdlock(&ctx->store.lock);
        struct gemu_kms_key *key = gemu_kms_store_key(&ctx->store, call.key_name);
        char resource[GEMU_KMS_NAME_MAX + 32];
        if (call.version != 0) {
            (void)snprintf(resource, sizeof(resource), "%s/cryptoKeyVersions/%u", call.key_name,
                           (unsigned)call.version);
        } else {
            (void)snprintf(resource, sizeof(resource), "%s", call.key_name);
        }
        if (!gemu_kms_allowed(&ctx->store, key, NULL, permission, call.caller)) {
            /* Without permission, existence is not revealed (gcp-identity.md 6). */
            r = gemu_resp_permission_denied(permission, key != NULL ? call.key_name : resource,
                                            KMS_DOMAIN, resp);
        } else if (key == NULL) {
            r = kms_not_found("CryptoKey", call.key_name, resp);
        } else if (call.version != 0 && gemu_kms_key_version(key, call.version) == NULL) {
            r = kms_not_found("CryptoKeyVersion", resource, resp);
        } else {
            r = op(&call, key, resp);
        }
        (void)pthread_rwlock_unlock(&ctx->store.lock);
    }
    gemu_principal_free(call.caller);
    return r;
}

/* Parses the body and answers 400 itself when it is not a JSON object. */
static shd_result kms_body(const struct kms_call *call, json_t **ret, bool *ret_ok,
                           struct shd_http_resp *resp)
{
    *ret_ok = false;
    if (shd_is_err(gemu_json_body(call->req, ret))) {
        shd_error_clear();
        return gemu_resp_google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.",
                                      resp);
    }
    *ret_ok = true;
    return SHD_OK;
}

static shd_result kms_do_public_key(struct kms_call *call, struct gemu_kms_key *key,
                                    struct shd_http_resp *resp)
{
    return gemu_kms_op_public_key(key, gemu_kms_key_version(key, call->version), resp);
}

static shd_result kms_do_asym_decrypt(struct kms_call *call, struct gemu_kms_key *key,
                                      struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *body = NULL;
    bool ok = false;
    SHD_GUARD(kms_body(call, &body, &ok, resp));
    if (!ok) {
        return SHD_OK;
    }
    return gemu_kms_op_asymmetric_decrypt(key, gemu_kms_key_version(key, call->version), body,
                                          resp);
}

static shd_result kms_do_encrypt(struct kms_call *call, struct gemu_kms_key *key,
                                 struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *body = NULL;
    bool ok = false;
    SHD_GUARD(kms_body(call, &body, &ok, resp));
    if (!ok) {
        return SHD_OK;
    }
    const struct gemu_kms_version *v =
        call->version != 0 ? gemu_kms_key_version(key, call->version) : NULL;
    return gemu_kms_op_encrypt(key, v, body, resp);
}

static shd_result kms_do_decrypt(struct kms_call *call, struct gemu_kms_key *key,
                                 struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *body = NULL;
    bool ok = false;
    SHD_GUARD(kms_body(call, &body, &ok, resp));
    if (!ok) {
        return SHD_OK;
    }
    return gemu_kms_op_decrypt(key, body, resp);
}

static shd_result kms_do_get_key(struct kms_call *call, struct gemu_kms_key *key,
                                 struct shd_http_resp *resp)
{
    (void)call;
    return gemu_kms_op_key_json(key, resp);
}

static shd_result kms_public_key(void *ctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    return kms_key_call(ctx, req, KMS_T_VERSION "/publicKey", KMS_P_VIEW, kms_do_public_key, resp);
}

static shd_result kms_asym_decrypt(void *ctx, const struct shd_http_req *req,
                                   struct shd_http_resp *resp)
{
    return kms_key_call(ctx, req, KMS_T_VERSION ":asymmetricDecrypt", KMS_P_DECRYPT,
                        kms_do_asym_decrypt, resp);
}

static shd_result kms_encrypt(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    return kms_key_call(ctx, req, KMS_T_KEY ":encrypt", KMS_P_ENCRYPT, kms_do_encrypt, resp);
}

static shd_result kms_encrypt_version(void *ctx, const struct shd_http_req *req,
                                      struct shd_http_resp *resp)
{
    return kms_key_call(ctx, req, KMS_T_VERSION ":encrypt", KMS_P_ENCRYPT, kms_do_encrypt, resp);
}

static shd_result kms_decrypt(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    return kms_key_call(ctx, req, KMS_T_KEY ":decrypt", KMS_P_DECRYPT, kms_do_decrypt, resp);
}

static shd_result kms_get_key(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    return kms_key_call(ctx, req, KMS_T_KEY, KMS_P_KEY_GET, kms_do_get_key, resp);
}

/* ------------------------------------------------------------------------------------------ */
/* Key rings, and creation                                                                     */

/* Authenticates and rebuilds "projects/P/locations/L[/keyRings/R]" from the path. */
static shd_result kms_parent_call(struct kms_ctx *ctx, const struct shd_http_req *req,
                                  const char *tmpl, char *parent, size_t cap,
                                  struct gemu_principal **ret_caller, bool *ret_ok,
                                  struct shd_http_resp *resp)
{
    *ret_ok = false;
    struct gemu_path_captures c;
    if (!gemu_path_match(tmpl, shd_http_req_path(req), &c)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    if (shd_is_err(
            gemu_tokens_check_bearer(req, (int64_t)time(NULL), ctx->st->tokens, ret_caller))) {
        shd_error_clear();
        return gemu_resp_unauthenticated(resp);
    }
    if (!gemu_kms_id_ok(c.v[1]) || (c.n > 2 && !gemu_kms_id_ok(c.v[2]))) {
        return gemu_resp_google_error(400, "INVALID_ARGUMENT", "Invalid resource name.", resp);
    }
    int n = c.n > 2 ? snprintf(parent, cap, "projects/%s/locations/%s/keyRings/%s", c.v[0], c.v[1],
                               c.v[2])
                    : snprintf(parent, cap, "projects/%s/locations/%s", c.v[0], c.v[1]);
    SHD_ENSURE(n > 0 && (size_t)n < cap, SHD_ERR_TOO_LARGE);
    *ret_ok = true;
    return SHD_OK;
}

static shd_result kms_id_param(const struct shd_http_req *req, const char *param, char *parent,
                               size_t cap, const char *child, bool *ret_ok,
                               struct shd_http_resp *resp)
{
    *ret_ok = false;
    const char *id = shd_http_req_query(req, param);
    if (id == NULL || !gemu_kms_id_ok(id)) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "Invalid value for %s: must match [a-zA-Z0-9_-]{1,63}.",
                       param);
        return gemu_resp_google_error(400, "INVALID_ARGUMENT", msg, resp);
    }
    size_t pl = strlen(parent);
    int n = snprintf(parent + pl, cap - pl, "/%s/%s", child, id);
    SHD_ENSURE(n > 0 && (size_t)n < cap - pl, SHD_ERR_TOO_LARGE);
    *ret_ok = true;
    return SHD_OK;
}

static shd_result kms_create_ring(void *vctx, const struct shd_http_req *req,
                                  struct shd_http_resp *resp)
{
    struct kms_ctx *ctx = vctx;
    struct gemu_principal *caller = NULL;
    char name[GEMU_KMS_NAME_MAX];
    bool ok = false;
    shd_result r = kms_parent_call(ctx, req, KMS_T_RINGS, name, sizeof(name), &caller, &ok, resp);
    if (shd_is_ok(r) && ok &&
        !gemu_kms_allowed(&ctx->store, NULL, NULL, KMS_P_RING_CREATE, caller)) {
        ok = false;
        r = gemu_resp_permission_denied(KMS_P_RING_CREATE, name, KMS_DOMAIN, resp);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_id_param(req, "keyRingId", name, sizeof(name), "keyRings", &ok, resp);
    }
    if (shd_is_ok(r) && ok) {
        r = gemu_kms_store_add_ring(name, (int64_t)time(NULL), &ctx->store);
        if (shd_is_err(r) && shd_error_code() == SHD_ERR_INPUT) {
            shd_error_clear();
            char msg[GEMU_KMS_NAME_MAX + 32];
            (void)snprintf(msg, sizeof(msg), "KeyRing %s already exists.", name);
            r = gemu_resp_google_error(409, "ALREADY_EXISTS", msg, resp);
        } else if (shd_is_ok(r)) {
            (void)pthread_rwlock_rdlock(&ctx->store.lock);
            r = gemu_kms_op_ring_json(gemu_kms_store_ring(&ctx->store, name), resp);
            (void)pthread_rwlock_unlock(&ctx->store.lock);
        }
    }
    gemu_principal_free(caller);
    return r;
}

static shd_result kms_get_ring(void *vctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    struct kms_ctx *ctx = vctx;
    struct gemu_principal *caller = NULL;
    char name[GEMU_KMS_NAME_MAX];
    bool ok = false;
    shd_result r = kms_parent_call(ctx, req, KMS_T_RING, name, sizeof(name), &caller, &ok, resp);
    if (shd_is_ok(r) && ok) {
        (void)pthread_rwlock_rdlock(&ctx->store.lock);
        const struct gemu_kms_ring *ring = gemu_kms_store_ring(&ctx->store, name);
        if (!gemu_kms_allowed(&ctx->store, NULL, name, KMS_P_RING_GET, caller)) {
            r = gemu_resp_permission_denied(KMS_P_RING_GET, name, KMS_DOMAIN, resp);
        } else if (ring == NULL) {
            r = kms_not_found("KeyRing", name, resp);
        } else {
            r = gemu_kms_op_ring_json(ring, resp);
        }
        (void)pthread_rwlock_unlock(&ctx->store.lock);
    }
    gemu_principal_free(caller);
    return r;
}

/* CryptoKey body: {"purpose":..,"versionTemplate":{"algorithm":..}}; answers 400 itself. */
static shd_result kms_key_spec(const struct shd_http_req *req, enum gemu_kms_alg *ret_alg,
                               bool *ret_ok, struct shd_http_resp *resp)
{
    *ret_ok = false;
    SHD_CLEANUP_JSON json_t *body = NULL;
    if (shd_is_err(gemu_json_body(req, &body))) {
        shd_error_clear();
        return gemu_resp_google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.",
                                      resp);
    }
    const json_t *purpose = json_object_get(body, "purpose");
    const json_t *tmpl = json_object_get(body, "versionTemplate");
    const json_t *alg = json_object_get(tmpl, "algorithm");
    enum gemu_kms_alg a = GEMU_KMS_ALG_SYMMETRIC;
    if (alg != NULL) {
        char num[16];
        const char *s = json_is_string(alg) ? json_string_value(alg) : NULL;
        if (json_is_integer(alg)) {
            (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(alg));
            s = num;
        }
        if (s == NULL || shd_is_err(gemu_kms_alg_parse(s, &a))) {
            shd_error_clear();
            return gemu_resp_google_error(400, "INVALID_ARGUMENT",
                                          "Unsupported versionTemplate.algorithm.", resp);
        }
    }
    const char *want = gemu_kms_purpose_name(gemu_kms_alg_purpose(a));
    char pnum[16];
    (void)snprintf(pnum, sizeof(pnum), "%d", (int)gemu_kms_alg_purpose(a));
    bool purpose_ok =
        (json_is_string(purpose) && (strcmp(json_string_value(purpose), want) == 0 ||
                                     strcmp(json_string_value(purpose), pnum) == 0)) ||
        (json_is_integer(purpose) &&
         json_integer_value(purpose) == (json_int_t)gemu_kms_alg_purpose(a));
    if (!purpose_ok) {
        return gemu_resp_google_error(
            400, "INVALID_ARGUMENT", "The purpose does not match versionTemplate.algorithm.", resp);
    }
    *ret_alg = a;
    *ret_ok = true;
    return SHD_OK;
}

static shd_result kms_create_key(void *vctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    struct kms_ctx *ctx = vctx;
    struct gemu_principal *caller = NULL;
    char name[GEMU_KMS_NAME_MAX];
    char ring[GEMU_KMS_NAME_MAX];
    bool ok = false;
    enum gemu_kms_alg alg = GEMU_KMS_ALG_SYMMETRIC;
    shd_result r = kms_parent_call(ctx, req, KMS_T_KEYS, name, sizeof(name), &caller, &ok, resp);
    if (shd_is_ok(r) && ok) {
        shd_memcpy(ring, name, strlen(name) + 1);
        (void)pthread_rwlock_rdlock(&ctx->store.lock);
        bool allowed = gemu_kms_allowed(&ctx->store, NULL, ring, KMS_P_KEY_CREATE, caller);
        bool exists = gemu_kms_store_ring(&ctx->store, ring) != NULL;
        (void)pthread_rwlock_unlock(&ctx->store.lock);
        if (!allowed) {
            ok = false;
            r = gemu_resp_permission_denied(KMS_P_KEY_CREATE, ring, KMS_DOMAIN, resp);
        } else if (!exists) {
            ok = false;
            r = kms_not_found("KeyRing", ring, resp);
        }
    }
    if (shd_is_ok(r) && ok) {
        r = kms_id_param(req, "cryptoKeyId", name, sizeof(name), "cryptoKeys", &ok, resp);
    }
    if (shd_is_ok(r) && ok) {
        r = kms_key_spec(req, &alg, &ok, resp);
    }
    struct gemu_kms_version *v = NULL;
    if (shd_is_ok(r) && ok) {
        r = gemu_kms_version_generate(alg, 1, &v);
    }
    if (shd_is_ok(r) && ok) {
        r = gemu_kms_store_add_key(name, alg, &v, (int64_t)time(NULL), &ctx->store);
        if (shd_is_err(r) && shd_error_code() == SHD_ERR_INPUT) {
            shd_error_clear();
            char msg[GEMU_KMS_NAME_MAX + 32];
            (void)snprintf(msg, sizeof(msg), "CryptoKey %s already exists.", name);
            r = gemu_resp_google_error(409, "ALREADY_EXISTS", msg, resp);
        } else if (shd_is_ok(r)) {
            (void)pthread_rwlock_rdlock(&ctx->store.lock);
            r = gemu_kms_op_key_json(gemu_kms_store_key(&ctx->store, name), resp);
            (void)pthread_rwlock_unlock(&ctx->store.lock);
        }
    }
    gemu_kms_version_free(v);
    gemu_principal_free(caller);
    return r;
}

static const struct gemu_route kms_routes[] = {
    {"GET", KMS_T_VERSION "/publicKey", kms_public_key, GEMU_ROUTE_PATTERN},
    {"POST", KMS_T_VERSION ":asymmetricDecrypt", kms_asym_decrypt, GEMU_ROUTE_PATTERN},
    {"POST", KMS_T_VERSION ":encrypt", kms_encrypt_version, GEMU_ROUTE_PATTERN},
    {"POST", KMS_T_KEY ":encrypt", kms_encrypt, GEMU_ROUTE_PATTERN},
    {"POST", KMS_T_KEY ":decrypt", kms_decrypt, GEMU_ROUTE_PATTERN},
    {"GET", KMS_T_KEY, kms_get_key, GEMU_ROUTE_PATTERN},
    {"POST", KMS_T_KEYS, kms_create_key, GEMU_ROUTE_PATTERN},
    {"GET", KMS_T_RING, kms_get_ring, GEMU_ROUTE_PATTERN},
    {"POST", KMS_T_RINGS, kms_create_ring, GEMU_ROUTE_PATTERN},
};

static void kms_ctx_free(void *vctx)
{
    struct kms_ctx *ctx = vctx;
    if (ctx == NULL) {
        return;
    }
    if (ctx->store_ready) {
        gemu_kms_store_clear(&ctx->store);
    }
    shd_free(ctx);
}

shd_result gemu_kms_service_new(struct gemu_state *st, struct gemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct kms_ctx *ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    ctx->store_ready = true;
    shd_result r = gemu_kms_store_init(st->state_dir, st->config, &ctx->store);
    struct gemu_service tmpl = {
        .name = GEMU_SVC_KMS,
        .routes = kms_routes,
        .nroutes = sizeof(kms_routes) / sizeof(kms_routes[0]),
        .ctx = ctx,
        .ctx_free = kms_ctx_free,
    };
    if (shd_is_ok(r)) {
        r = gemu_service_new(&tmpl, ret);
    }
    if (shd_is_err(r)) {
        kms_ctx_free(ctx);
    }
    return r;
}
