/*
 * maa.c - MAA emulator routes (see maa.h): request in, evidence verified (maa_verify.c),
 * token out (maa_token.c).
 */
#include "maa.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "maa_request.h"
#include "maa_token.h"
#include "maa_verify.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define MAA_JSON "application/json; charset=utf-8"
#define MAA_SERVICE_VERSION "azure-emu-1.0"
#define MAA_ISSUER_MAX 300u
#define MAA_HOST_SUFFIX ".attest.azure.net"

struct maa_ctx {
    const struct aemu_state *st;
};

/* ------------------------------------------------------------------------------------------ */
/* Responses                                                                                   */

static shd_result maa_send_json(unsigned status, char *body, size_t len, struct shd_http_resp *resp)
{
    SHD_GUARD(shd_http_resp_header("x-ms-maa-service-version", MAA_SERVICE_VERSION, resp));
    return shd_http_resp_body(status, MAA_JSON, body, len, resp);
}

/* CloudError {"error":{"code":..,"message":..}} (§4.1). */
static shd_result maa_error(unsigned status, const char *code, const char *message,
                            struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_json_dump(doc, JSON_COMPACT | JSON_PRESERVE_ORDER, &body, &len));
    SHD_GUARD(shd_http_resp_header("x-ms-error-code", code, resp));
    return maa_send_json(status, body, len, resp);
}

/* A 400 carrying the cause chain of the error that made the evidence fail. */
static shd_result maa_error_from(shd_result r, const char *what, struct shd_http_resp *resp)
{
    char msg[1024];
    char chain[900];
    (void)shd_error_render(chain, sizeof(chain));
    if (shd_error_type_of(r.err) == SHD_ERR_T_INTERNAL) {
        return r; /* out of memory and the like: the server answers 500 */
    }
    SHD_LOG_RATELIMITED(SHD_LOG_LEVEL_INFO, "maa", 1000, 10, "request rejected (%s): %s", what,
                        chain);
    int n = snprintf(msg, sizeof(msg), "%s: %s", what, chain);
    SHD_ENSURE(n > 0, SHD_ERR_INTERNAL);
    return maa_error(400, "InvalidParameter", msg, resp);
}

/* "https://<host>" from the Host header, lower-cased; false when the host is not ours. */
static bool maa_issuer(const struct shd_http_req *req, char out[static MAA_ISSUER_MAX])
{
    const char *host = shd_http_req_header(req, "Host");
    if (!aemu_host_is_served(host, MAA_HOST_SUFFIX)) {
        return false;
    }
    int n = snprintf(out, MAA_ISSUER_MAX, "https://%s", host);
    if (n <= 0 || (size_t)n >= MAA_ISSUER_MAX) {
        return false;
    }
    for (size_t i = 0; out[i] != '\0'; i++) {
        if (out[i] >= 'A' && out[i] <= 'Z') {
            out[i] = (char)(out[i] - 'A' + 'a');
        }
    }
    return true;
}

static shd_result maa_bad_host(struct shd_http_resp *resp)
{
    return maa_error(400, "InvalidParameter",
                     "the Host header must name an *.attest.azure.net instance", resp);
}

/* ------------------------------------------------------------------------------------------ */
/* POST /attest/SevSnpVm                                                                       */

static bool maa_api_version_ok(const char *v)
{
    return v != NULL && (strcmp(v, "2020-10-01") == 0 || strcmp(v, "2022-08-01") == 0 ||
                         strcmp(v, "2025-06-01") == 0);
}

static shd_result maa_issue(const struct aemu_state *st, const char *issuer,
                            const struct aemu_maa_request *rq, const struct aemu_maa_verified *v,
                            struct shd_http_resp *resp)
{
    struct aemu_maa_claims_in in = {
        .issuer = issuer,
        .compliance_status = st->compliance_status,
        .now = (int64_t)time(NULL),
        .verified = v,
        .request = rq,
    };
    SHD_CLEANUP_JSON json_t *claims = NULL;
    SHD_GUARD(aemu_maa_claims_build(&in, &claims));
    SHD_CLEANUP_FREE char *token = NULL;
    SHD_GUARD(aemu_maa_token_sign(claims, issuer, st->maa_kid, st->maa_key, &token));
    SHD_CLEANUP_JSON json_t *doc = json_pack("{s:s}", "token", token);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_json_dump(doc, JSON_COMPACT, &body, &len));
    return maa_send_json(200, body, len, resp);
}

static shd_result maa_attest(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const struct aemu_state *st = ((const struct maa_ctx *)ctx)->st;
    char issuer[MAA_ISSUER_MAX];
    if (!maa_issuer(req, issuer)) {
        return maa_bad_host(resp);
    }
    if (!maa_api_version_ok(shd_http_req_query(req, "api-version"))) {
        return maa_error(400, "InvalidParameter",
                         "api-version must be one of " AEMU_MAA_API_VERSIONS, resp);
    }
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    struct aemu_maa_request rq = {0};
    shd_result r = aemu_maa_request_parse(body, len, &rq);
    if (shd_is_err(r)) {
        return maa_error_from(r, "invalid request", resp);
    }
    struct aemu_maa_evidence ev;
    aemu_maa_request_evidence(&rq, &ev);
    struct aemu_maa_trust trust = {.amd_roots = st->amd_roots, .uvm_root = st->ca_cert};
    struct aemu_maa_verified v = {0};
    r = aemu_maa_evidence_verify(&trust, &ev, 0, &v);
    if (shd_is_err(r)) {
        aemu_maa_request_clear(&rq);
        return maa_error_from(r, "attestation failed", resp);
    }
    r = maa_issue(st, issuer, &rq, &v, resp);
    aemu_maa_verified_clear(&v);
    aemu_maa_request_clear(&rq);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Key discovery                                                                               */

static shd_result maa_certs(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const struct aemu_state *st = ((const struct maa_ctx *)ctx)->st;
    char issuer[MAA_ISSUER_MAX];
    if (!maa_issuer(req, issuer)) {
        return maa_bad_host(resp);
    }
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_maa_jwks(st->maa_cert, st->maa_kid, &body, &len));
    return maa_send_json(200, body, len, resp);
}

static shd_result maa_openid(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    (void)ctx;
    char issuer[MAA_ISSUER_MAX];
    if (!maa_issuer(req, issuer)) {
        return maa_bad_host(resp);
    }
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_maa_openid_config(issuer, &body, &len));
    return maa_send_json(200, body, len, resp);
}

static shd_result maa_not_found(void *ctx, const struct shd_http_req *req,
                                struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return maa_error(404, "NotFound", "the requested resource does not exist", resp);
}

static const struct aemu_route maa_routes[] = {
    {"POST", "/attest/SevSnpVm", maa_attest, AEMU_ROUTE_NOCASE},
    {"GET", "/certs", maa_certs, AEMU_ROUTE_EXACT},
    {"GET", "/.well-known/openid-configuration", maa_openid, AEMU_ROUTE_EXACT},
};

static void maa_ctx_free(void *ctx)
{
    shd_free(ctx);
}

shd_result aemu_maa_service_new(const struct aemu_state *st, struct aemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct maa_ctx *ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    struct aemu_service tmpl = {
        .name = AEMU_SVC_MAA,
        .routes = maa_routes,
        .nroutes = sizeof(maa_routes) / sizeof(maa_routes[0]),
        .ctx = ctx,
        .not_found = maa_not_found,
        .ctx_free = maa_ctx_free,
    };
    shd_result r = aemu_service_new(&tmpl, ret);
    if (shd_is_err(r)) {
        shd_free(ctx);
    }
    return r;
}
