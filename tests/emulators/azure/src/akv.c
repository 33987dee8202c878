/*
 * akv.c - the Key Vault / Managed HSM service: context, the route table under /keys/, Host
 * and api-version handling, authentication before the body is read, and the error replies.
 */
#include "akv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aad.h"
#include "akv_int.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define AKV_KEYS_PREFIX "/keys/"
#define AKV_MAX_SEGMENTS 4

/* ------------------------------------------------------------------------------------------ */
/* Replies                                                                                     */

shd_result akv_reply_json(struct akv_req *rq, unsigned status, const json_t *body)
{
    char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(body, 0, &text, &len));
    shd_http_resp_body_take(status, AKV_CONTENT_TYPE, (uint8_t *)text, len, len + 1, rq->resp);
    return SHD_OK;
}

shd_result akv_reply_error(struct akv_req *rq, unsigned status, const char *code, const char *fmt,
                           ...)
{
    char msg[AKV_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        msg[0] = '\0';
    }
    /* The message may quote peer bytes: _nocheck keeps invalid UTF-8, which the Go-style
     * writer then prints as \ufffd instead of failing the reply. */
    SHD_CLEANUP_JSON json_t *body = json_pack("{s:{s:s,s:o}}", "error", "code", code, "message",
                                              json_string_nocheck(msg));
    SHD_ENSURE(body != NULL, SHD_ERR_NOMEM);
    return akv_reply_json(rq, status, body);
}

shd_result akv_reply_not_found(struct akv_req *rq)
{
    /* The real service's wording (a trailing hint about soft-delete recovery left out). */
    if (rq->version != NULL) {
        return akv_reply_error(rq, 404, "KeyNotFound",
                               "A key with (name/id) %s/%s was not found in this key vault.",
                               rq->name, rq->version);
    }
    return akv_reply_error(rq, 404, "KeyNotFound",
                           "A key with (name/id) %s was not found in this key vault.", rq->name);
}

shd_result akv_reply_failure(struct akv_req *rq, shd_result r)
{
    if (r.err == SHD_ERR_NOT_FOUND) {
        shd_error_clear();
        return akv_reply_not_found(rq);
    }
    if (shd_error_type_of(r.err) == SHD_ERR_T_INPUT || r.err == SHD_ERR_BAD_KEY) {
        char cause[AKV_MSG_MAX];
        shd_error_render(cause, sizeof(cause));
        shd_error_clear();
        return akv_reply_error(rq, 400, "BadParameter", "%s", cause);
    }
    return r;
}

shd_result akv_kid(const struct akv_req *rq, const char *name, const char *version, char *out,
                   size_t cap)
{
    int n = version != NULL ? snprintf(out, cap, "https://%s/keys/%s/%s", rq->host, name, version)
                            : snprintf(out, cap, "https://%s/keys/%s", rq->host, name);
    SHD_ENSURE(n > 0 && (size_t)n < cap, SHD_ERR_TOO_LARGE);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Host, api-version, authentication                                                           */

static bool akv_dns_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/*
 * Splits a Host header into host name and port, lower-cased: a DNS name or IPv4 literal from
 * [a-z0-9.-] with non-empty labels, or a bracketed IPv6 literal; an optional ":digits" port.
 */
static bool akv_host_parse(const char *host, struct akv_req *rq)
{
    size_t n = strnlen(host, sizeof(rq->host));
    if (n == 0 || n >= sizeof(rq->host)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        rq->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    rq->host[n] = '\0';
    const char *h = rq->host;
    size_t hn = n;
    const char *port = NULL;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (close == NULL || close == h + 1) {
            return false;
        }
        for (const char *p = h + 1; p < close; p++) {
            bool ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == ':';
            if (!ok) {
                return false;
            }
        }
        port = close[1] == ':' ? close + 2 : NULL;
        if (close[1] != '\0' && close[1] != ':') {
            return false;
        }
        h += 1;
        hn = (size_t)(close - h);
    } else {
        const char *colon = strchr(h, ':');
        if (colon != NULL) {
            port = colon + 1;
            hn = (size_t)(colon - h);
        }
        if (hn == 0 || h[0] == '.' || h[hn - 1] == '.' || hn > AKV_HOST_MAX) {
            return false;
        }
        for (size_t i = 0; i < hn; i++) {
            if (!akv_dns_char(h[i]) || (h[i] == '.' && h[i + 1] == '.')) {
                return false;
            }
        }
    }
    if (port != NULL) {
        size_t pn = strlen(port);
        if (pn == 0 || pn > 5 || strspn(port, "0123456789") != pn) {
            return false;
        }
    }
    shd_memcpy(rq->dns, h, hn);
    rq->dns[hn] = '\0';
    return true;
}

static void akv_vault_name(struct akv_req *rq)
{
    const char *suffix = rq->akv->managed_hsm ? ".managedhsm.azure.net" : ".vault.azure.net";
    size_t n = strlen(rq->dns);
    size_t sn = strlen(suffix);
    const char *dot = strchr(rq->dns, '.');
    if (n > sn && strcmp(rq->dns + n - sn, suffix) == 0 && dot != NULL) {
        size_t label = (size_t)(dot - rq->dns);
        shd_memcpy(rq->vault, rq->dns, label);
        rq->vault[label] = '\0';
        return;
    }
    shd_memcpy(rq->vault, rq->dns, n + 1);
}

/* Versions of the data plane we answer (keys.json); release needs 7.3 or later. */
static const struct {
    const char *version;
    bool release;
} akv_api_versions[] = {
    {"7.2", false}, {"7.3", true}, {"7.4", true}, {"7.5", true}, {"7.6", true},
    {"2025-07-01", true},
};

static shd_result akv_api_version(struct akv_req *rq, bool *ret_ok)
{
    /* @azure/keyvault-keys sends the key literally as api%2Dversion (real-clients.md §1.3). */
    const char *v = shd_http_req_query(rq->req, "api-version");
    if (v == NULL) {
        v = shd_http_req_query(rq->req, "api%2Dversion");
    }
    *ret_ok = false;
    if (v == NULL || v[0] == '\0') {
        return akv_reply_error(rq, 400, "BadParameter",
                               "The api-version query parameter is missing.");
    }
    for (size_t i = 0; i < sizeof(akv_api_versions) / sizeof(akv_api_versions[0]); i++) {
        if (strcmp(v, akv_api_versions[i].version) == 0) {
            shd_memcpy(rq->api_version, v, strlen(v) + 1);
            rq->api_release_ok = akv_api_versions[i].release;
            *ret_ok = true;
            return SHD_OK;
        }
    }
    char shown[AKV_API_VERSION_MAX + 1];
    size_t k = 0;
    for (; v[k] != '\0' && k < AKV_API_VERSION_MAX; k++) {
        shown[k] = (v[k] > 0x20 && v[k] < 0x7f && v[k] != '"' && v[k] != '\\') ? v[k] : '?';
    }
    shown[k] = '\0';
    return akv_reply_error(rq, 400, "BadParameter",
                           "The specified version (%s) is not recognized. Consider using the "
                           "latest supported version (7.5).",
                           shown);
}

/* 401 with the challenge; Managed HSM answers a missing token with an empty body. */
static shd_result akv_challenge(struct akv_req *rq, bool missing, const char *msg)
{
    char value[AEMU_AAD_CHALLENGE_MAX];
    SHD_GUARD(aemu_aad_challenge(rq->akv->managed_hsm, rq->akv->tenant_id, value, sizeof(value)));
    if (missing && rq->akv->managed_hsm) {
        SHD_GUARD(shd_http_resp_body(401, AKV_CONTENT_TYPE, "", 0, rq->resp));
    } else if (missing) {
        SHD_GUARD(akv_reply_error(rq, 401, "Unauthorized",
                                  "AKV10000: Request is missing a Bearer or PoP token."));
    } else {
        SHD_GUARD(akv_reply_error(rq, 401, "Unauthorized", "%s", msg));
    }
    return shd_http_resp_header("WWW-Authenticate", value, rq->resp);
}

static shd_result akv_authenticate(struct akv_req *rq, bool *ret_ok)
{
    struct aemu_aad_verifier ver = {
        .issuer_key = rq->akv->aad_key,
        .issuer = rq->akv->aad_issuer,
        .resource = rq->akv->managed_hsm ? AEMU_AAD_RESOURCE_MHSM : AEMU_AAD_RESOURCE_VAULT,
    };
    enum aemu_aad_outcome outcome = AEMU_AAD_MISSING;
    char msg[AEMU_AAD_MSG_MAX];
    SHD_GUARD(aemu_aad_check(&ver, shd_http_req_header(rq->req, "Authorization"), &outcome, msg,
                             sizeof(msg)));
    *ret_ok = outcome == AEMU_AAD_OK;
    if (outcome == AEMU_AAD_OK) {
        return SHD_OK;
    }
    return akv_challenge(rq, outcome == AEMU_AAD_MISSING, msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Routing (STYLE.md rule 4)                                                                   */

enum akv_seg {
    AKV_SEG_NONE = 0, /* the segment must not exist */
    AKV_SEG_EMPTY,    /* "" (a trailing slash) */
    AKV_SEG_VERSION,  /* a key version */
    AKV_SEG_LITERAL,  /* the row's literal */
};

struct akv_route {
    const char *method;
    enum akv_seg second;
    enum akv_seg third;
    const char *literal;
    shd_result (*op)(struct akv_req *rq);
};

static const struct akv_route akv_routes[] = {
    {"PUT", AKV_SEG_NONE, AKV_SEG_NONE, NULL, akv_op_import},
    {"GET", AKV_SEG_NONE, AKV_SEG_NONE, NULL, akv_op_get},
    {"GET", AKV_SEG_EMPTY, AKV_SEG_NONE, NULL, akv_op_get},
    {"POST", AKV_SEG_LITERAL, AKV_SEG_NONE, "create", akv_op_create},
    {"GET", AKV_SEG_LITERAL, AKV_SEG_NONE, "versions", akv_op_versions},
    {"POST", AKV_SEG_LITERAL, AKV_SEG_NONE, "release", akv_op_release},
    {"GET", AKV_SEG_VERSION, AKV_SEG_NONE, NULL, akv_op_get},
    {"POST", AKV_SEG_VERSION, AKV_SEG_LITERAL, "release", akv_op_release},
};

static bool akv_version_ok(const char *s)
{
    size_t n = strlen(s);
    return n == AEMU_KEY_VERSION_LEN && strspn(s, "0123456789abcdefABCDEF") == n;
}

static bool akv_seg_matches(enum akv_seg want, const char *seg, const char *literal)
{
    switch (want) {
    case AKV_SEG_NONE:
        return seg == NULL;
    case AKV_SEG_EMPTY:
        return seg != NULL && seg[0] == '\0';
    case AKV_SEG_VERSION:
        return seg != NULL && akv_version_ok(seg);
    case AKV_SEG_LITERAL:
        return seg != NULL && strcmp(seg, literal) == 0;
    default:
        return false;
    }
}

static bool akv_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AEMU_KEY_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

/* Splits "name/x/y" in place; at most AKV_MAX_SEGMENTS segments (more: *ret_n too large). */
static size_t akv_split(char *rest, const char *segs[static AKV_MAX_SEGMENTS])
{
    size_t n = 0;
    char *p = rest;
    while (n < AKV_MAX_SEGMENTS) {
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL) {
            return n;
        }
        *slash = '\0';
        p = slash + 1;
    }
    return AKV_MAX_SEGMENTS + 1;
}

static shd_result akv_route(struct akv_req *rq)
{
    const char *path = shd_http_req_path(rq->req);
    const char *method = shd_http_req_method(rq->req);
    if (strncmp(path, AKV_KEYS_PREFIX, strlen(AKV_KEYS_PREFIX)) != 0) {
        return akv_reply_error(rq, 404, "NotFound", "The requested resource was not found.");
    }
    char rest[AEMU_KEY_NAME_MAX + AEMU_KEY_VERSION_LEN + 32];
    size_t rn = strnlen(path + strlen(AKV_KEYS_PREFIX), sizeof(rest));
    if (rn >= sizeof(rest)) {
        return akv_reply_error(rq, 400, "BadParameter", "The request URI is too long.");
    }
    shd_memcpy(rest, path + strlen(AKV_KEYS_PREFIX), rn);
    rest[rn] = '\0';
    const char *segs[AKV_MAX_SEGMENTS] = {0};
    size_t n = akv_split(rest, segs);
    if (n > 3) {
        return akv_reply_error(rq, 404, "NotFound", "The requested resource was not found.");
    }
    if (!akv_name_ok(segs[0])) {
        return akv_reply_error(rq, 400, "BadParameter",
                               "The request URI contains an invalid name: %.*s", 64, segs[0]);
    }
    rq->name = segs[0];
    bool path_matched = false;
    for (size_t i = 0; i < sizeof(akv_routes) / sizeof(akv_routes[0]); i++) {
        const struct akv_route *r = &akv_routes[i];
        if (!akv_seg_matches(r->second, n > 1 ? segs[1] : NULL, r->literal) ||
            !akv_seg_matches(r->third, n > 2 ? segs[2] : NULL, r->literal)) {
            continue;
        }
        path_matched = true;
        if (strcmp(method, r->method) != 0) {
            continue;
        }
        rq->version = r->second == AKV_SEG_VERSION ? segs[1] : NULL;
        return r->op(rq);
    }
    if (path_matched) {
        return akv_reply_error(rq, 405, "MethodNotAllowed",
                               "The requested method is not allowed for this resource.");
    }
    return akv_reply_error(rq, 404, "NotFound", "The requested resource was not found.");
}

static shd_result akv_handle(struct akv_req *rq);

shd_result aemu_akv_handle(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(ctx);
    struct akv_req rq = {.akv = ctx, .req = req, .resp = resp};
    shd_result r = akv_handle(&rq);
    if (shd_is_err(r)) {
        /* Peers only see a generic 500; the cause is logged here, once (STYLE.md rule 34). */
        const struct aemu_akv *akv = ctx;
        return SHD_LOG_ERR(akv->managed_hsm ? AEMU_SVC_MHSM : AEMU_SVC_AKV, r, "%s %s",
                           shd_http_req_method(req), shd_http_req_path(req));
    }
    return r;
}

static shd_result akv_handle(struct akv_req *rq)
{
    const struct shd_http_req *req = rq->req;
    const char *host = shd_http_req_header(req, "Host");
    if (host == NULL || !akv_host_parse(host, rq)) {
        shd_memcpy(rq->host, "invalid", sizeof("invalid"));
        return akv_reply_error(rq, 400, "BadParameter", "The Host header is missing or invalid.");
    }
    akv_vault_name(rq);
    /* Authentication first: the SDK's first request carries no token and no body. */
    bool ok = false;
    SHD_GUARD(akv_authenticate(rq, &ok));
    if (!ok) {
        return SHD_OK;
    }
    SHD_GUARD(akv_api_version(rq, &ok));
    if (!ok) {
        return SHD_OK;
    }
    return akv_route(rq);
}

/* ------------------------------------------------------------------------------------------ */
/* Construction                                                                                */

static void akv_ctx_free(void *ctx)
{
    struct aemu_akv *akv = ctx;
    if (akv == NULL) {
        return;
    }
    shd_free(akv->tenant_id);
    shd_free(akv->aad_issuer);
    EVP_PKEY_free(akv->aad_key);
    shd_http_client_free(akv->http);
    akv_signer_free(akv->signer);
    aemu_keystore_free(akv->keys);
    shd_free(akv);
}

SHD_DEFINE_CLEANUP(struct aemu_akv, akv_ctx_free, akv_ctx_freep)

static const struct aemu_route akv_service_routes[] = {
    {NULL, AKV_KEYS_PREFIX, aemu_akv_handle, AEMU_ROUTE_PREFIX},
};

shd_result aemu_akv_service_new_config(struct aemu_akv_config *cfg, struct aemu_service **ret)
{
    SHD_ENSURE_REF(cfg);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(cfg->tenant_id != NULL && cfg->aad_issuer != NULL && cfg->aad_key != NULL &&
                   cfg->ca_cert != NULL && cfg->ca_key != NULL && cfg->http != NULL,
               SHD_ERR_NULL);
    char probe[AEMU_AAD_CHALLENGE_MAX];
    SHD_GUARD(aemu_aad_challenge(cfg->managed_hsm, cfg->tenant_id, probe, sizeof(probe)));
    SHD_CLEANUP(akv_ctx_freep) struct aemu_akv *akv = shd_alloc(sizeof(*akv));
    SHD_ENSURE(akv != NULL, SHD_ERR_NOMEM);
    akv->managed_hsm = cfg->managed_hsm;
    akv->tenant_id = shd_strdup(cfg->tenant_id);
    akv->aad_issuer = shd_strdup(cfg->aad_issuer);
    SHD_ENSURE(akv->tenant_id != NULL && akv->aad_issuer != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_up_ref(cfg->aad_key), SHD_ERR_CRYPTO);
    akv->aad_key = cfg->aad_key;
    SHD_GUARD(akv_signer_new(cfg->ca_cert, cfg->ca_key, &akv->signer));
    SHD_GUARD(aemu_keystore_new(&akv->keys));
    struct aemu_service tmpl = {
        .name = cfg->managed_hsm ? AEMU_SVC_MHSM : AEMU_SVC_AKV,
        .routes = akv_service_routes,
        .nroutes = sizeof(akv_service_routes) / sizeof(akv_service_routes[0]),
        .ctx = akv,
        .not_found = aemu_akv_handle,
        .ctx_free = akv_ctx_free,
    };
    SHD_GUARD(aemu_service_new(&tmpl, ret));
    akv->http = cfg->http; /* taken only now that nothing can fail */
    cfg->http = NULL;
    akv = NULL;
    return SHD_OK;
}

shd_result aemu_akv_service_new(const struct aemu_state *st, bool managed_hsm,
                                struct aemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct aemu_akv_config cfg = {
        .managed_hsm = managed_hsm,
        .tenant_id = st->tenant_id,
        .aad_issuer = st->aad_issuer,
        .aad_key = st->aad_key,
        .ca_cert = st->ca_cert,
        .ca_key = st->ca_key,
    };
    SHD_GUARD(aemu_http_client_new(st, &cfg.http));
    shd_result r = aemu_akv_service_new_config(&cfg, ret);
    shd_http_client_free(cfg.http);
    return r;
}
