/*
 * ctx.c - the skr context: configuration parsed once, HTTP clients, certificate state.
 */
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs.h"
#include "config.h"
#include "flags.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"
#include "snp.h"
#include "token.h"
#include "wrapkey.h"

static const char *prod_getenv(const char *name)
{
    return secure_getenv(name);
}

static const struct skr_ctx_env PROD_ENV = {.getenv = prod_getenv, .root = "/"};

/* A copy of a non-empty variable, or of dflt (which may be NULL) when unset or empty. */
static shd_result env_dup(const struct skr_ctx_env *env, const char *name, const char *dflt,
                          char **ret)
{
    const char *v = env->getenv(name);
    if (v == NULL || v[0] == '\0') {
        v = dflt;
    }
    if (v == NULL) {
        *ret = NULL;
        return SHD_OK;
    }
    *ret = shd_strdup(v);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

/* Bounds of the upstream settings: below a second TLS to a cloud endpoint fails spuriously;
 * above ten attempts or ten minutes a caller has long given up. */
#define SKR_UPSTREAM_TIMEOUT_MS_MIN 1000u
#define SKR_UPSTREAM_TIMEOUT_MS_MAX 600000u
#define SKR_UPSTREAM_ATTEMPTS_MAX 10u

/* An optional number from the environment within [min, max]; dflt when unset or empty. */
static shd_result env_uint32(const struct skr_ctx_env *env, const char *name, uint32_t min,
                             uint32_t max, uint32_t dflt, uint32_t *ret)
{
    const char *v = env->getenv(name);
    uint64_t n = dflt;

    if (v != NULL && v[0] != '\0') {
        shd_result r = shd_parse_uint(v, 10, max, &n);
        SHD_ENSURE_MSG(shd_is_ok(r) && n >= min, SHD_ERR_CONFIG,
                       "%s must be a number from %u to %u, not \"%.32s\"", name, min, max, v);
    }
    *ret = (uint32_t)n;
    return SHD_OK;
}

static shd_result load_upstream_env(const struct skr_ctx_env *env, struct skr_ctx *ctx)
{
    const struct shd_http_retry_policy dflt = SHD_HTTP_RETRY_DEFAULT;

    SHD_GUARD(env_uint32(env, "SKR_UPSTREAM_TIMEOUT_MS", SKR_UPSTREAM_TIMEOUT_MS_MIN,
                         SKR_UPSTREAM_TIMEOUT_MS_MAX, SHD_HTTP_CLIENT_DEFAULT_TIMEOUT_MS,
                         &ctx->upstream_timeout_ms));
    SHD_GUARD(env_uint32(env, "SKR_UPSTREAM_ATTEMPTS", 1, SKR_UPSTREAM_ATTEMPTS_MAX,
                         dflt.max_attempts, &ctx->upstream_attempts));
    return SHD_OK;
}

static shd_result load_env(const struct skr_ctx_env *env, struct skr_ctx *ctx)
{
    SHD_GUARD(env_dup(env, "SSL_CERT_FILE", NULL, &ctx->ca_file));
    SHD_GUARD(env_dup(env, "SKR_CONNECT_TO", NULL, &ctx->connect_to));
    SHD_GUARD(env_dup(env, "AZURE_POD_IDENTITY_AUTHORITY_HOST", SKR_IMDS_DEFAULT_BASE,
                      &ctx->imds_base));
    size_t n = strlen(ctx->imds_base);
    while (n > 0 && ctx->imds_base[n - 1] == '/') {
        ctx->imds_base[--n] = '\0';
    }
    size_t url_len = n + sizeof(SKR_THIM_PATH);
    ctx->thim_url = shd_alloc(url_len);
    SHD_ENSURE(ctx->thim_url != NULL, SHD_ERR_NOMEM);
    (void)snprintf(ctx->thim_url, url_len, "%s%s", ctx->imds_base, SKR_THIM_PATH);
    SHD_GUARD(env_dup(env, "AZURE_CLIENT_ID", NULL, &ctx->wi_client_id));
    SHD_GUARD(env_dup(env, "AZURE_TENANT_ID", NULL, &ctx->wi_tenant_id));
    SHD_GUARD(env_dup(env, "AZURE_FEDERATED_TOKEN_FILE", NULL, &ctx->wi_token_file));
    SHD_GUARD(env_dup(env, "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com",
                      &ctx->aad_authority));
    SHD_GUARD(env_dup(env, "SKR_SNP_SIMULATOR", NULL, &ctx->snp_simulator_dir));
    return load_upstream_env(env, ctx);
}

static shd_result make_clients(struct skr_ctx *ctx)
{
    struct shd_http_client_options o = {
        .ca_file = ctx->ca_file,
        .connect_to = ctx->connect_to,
        .timeout_ms = ctx->upstream_timeout_ms,
        .retry = SHD_HTTP_RETRY_DEFAULT,
    };
    o.retry.max_attempts = ctx->upstream_attempts;
    SHD_GUARD_CTX(shd_http_client_create(&o, &ctx->http), "HTTP client");
    o.user_agent = ctx->maa_user_agent;
    SHD_GUARD_CTX(shd_http_client_create(&o, &ctx->http_maa), "HTTP client for MAA");
    /* IMDS/THIM is link-local: fail fast, retry a little (the THIM fetch loops on its own). */
    o.user_agent = NULL;
    o.connect_timeout_ms = 2000;
    o.timeout_ms = 10000;
    o.retry = (struct shd_http_retry_policy){.max_attempts = 3,
                                             .base_delay_ms = 500,
                                             .max_delay_ms = 4000,
                                             .on_transport = true,
                                             .on_408 = true,
                                             .on_429 = true,
                                             .on_5xx = true};
    SHD_GUARD_CTX(shd_http_client_create(&o, &ctx->http_imds), "HTTP client for IMDS");
    return SHD_OK;
}

/* Certificates from the security context (host-amd-cert-base64 or UVM_HOST_AMD_CERTIFICATE). */
static shd_result make_cert_state(struct skr_ctx *ctx)
{
    struct skr_certs initial = {0};
    bool have = false;
    const char *b64 = ctx->uvm.host_amd_cert_b64;
    if (b64 != NULL && b64[0] != '\0') {
        shd_result r = skr_thim_parse(b64, strlen(b64), true, &initial);
        if (shd_is_ok(r)) {
            have = true;
        } else if (r.err == SHD_ERR_NOMEM) {
            return r;
        } else {
            (void)SHD_LOG_ERR(SKR_LOG_CERTS, r, "the security context's AMD certificates are "
                                                "unusable; fetching them from THIM instead");
            shd_error_clear();
        }
    }
    shd_result r = skr_cert_state_new(have ? &initial : NULL,
                                      ctx->opts.allow_testing_mismatched_tcb, &ctx->certs);
    skr_certs_clear(&initial);
    return r;
}

/* SKR_KEY_POOL=N (0..SKR_KEY_POOL_MAX of wrapkey.h, default 0) keeps N wrapping keys generated
 * ahead of requests. */
static shd_result make_release_state(const struct skr_ctx_env *env, struct skr_ctx *ctx)
{
    uint32_t pool = 0;

    SHD_GUARD_CTX(skr_token_cache_new(NULL, &ctx->tokens), "token cache");
    SHD_GUARD(env_uint32(env, "SKR_KEY_POOL", 0, SKR_KEY_POOL_MAX, 0, &pool));
    if (pool > 0) {
        SHD_GUARD_CTX(skr_key_pool_new((unsigned)pool, &ctx->key_pool), "wrapping key pool");
    }
    return SHD_OK;
}

shd_result skr_ctx_init(const struct skr_ctx_env *env, struct skr_options *opts,
                        struct skr_ctx *ctx)
{
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ctx);
    if (env == NULL) {
        env = &PROD_ENV;
    }
    shd_memzero(ctx, sizeof(*ctx));
    ctx->opts = *opts;
    shd_memzero(opts, sizeof(*opts));
    ctx->snp_dev_sev = SKR_SNP_DEV_SEV;
    ctx->snp_dev_sev_guest = SKR_SNP_DEV_SEV_GUEST;
    ctx->snp_tsm_dir = SKR_SNP_TSM_DIR;
    shd_result r = SHD_OK;
    if (ctx->opts.base64 != NULL && ctx->opts.base64[0] != '\0') {
        r = skr_sidecar_args_decode(ctx->opts.base64, &ctx->args);
    }
    if (shd_is_ok(r)) {
        ctx->maa_user_agent = ctx->args.maa_user_agent != NULL ? ctx->args.maa_user_agent
                                                               : SKR_USER_AGENT_DEFAULT;
        r = load_env(env, ctx);
    }
    if (shd_is_ok(r)) {
        const struct skr_uvm_env uenv = {.root = env->root, .getenv = env->getenv};
        r = skr_uvm_info_load(&uenv, &ctx->uvm);
    }
    if (shd_is_ok(r)) {
        r = make_clients(ctx);
    }
    if (shd_is_ok(r)) {
        r = make_cert_state(ctx);
    }
    if (shd_is_ok(r)) {
        r = make_release_state(env, ctx);
    }
    if (shd_is_err(r)) {
        skr_ctx_clear(ctx);
    }
    return r;
}

shd_result skr_ctx_start(struct skr_ctx *ctx)
{
    SHD_ENSURE_REF(ctx);
    if (skr_cert_state_ready(ctx->certs)) {
        return SHD_OK;
    }
    SHD_LOG_WARNING(SKR_LOG_CERTS, "no AMD certificates in the security context: fetching them "
                                   "from %s in the background; attestation fails until they "
                                   "arrive",
                    ctx->thim_url);
    return skr_cert_state_fetch_start(ctx->http_imds, ctx->thim_url, ctx->certs);
}

void skr_ctx_clear(struct skr_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    /* The fetch and pool threads run on their own: stop them first. */
    skr_cert_state_free(ctx->certs);
    skr_key_pool_free(&ctx->key_pool);
    skr_token_cache_free(&ctx->tokens);
    shd_http_client_free(ctx->http);
    shd_http_client_free(ctx->http_maa);
    shd_http_client_free(ctx->http_imds);
    skr_options_clear(&ctx->opts);
    skr_sidecar_args_clear(&ctx->args);
    skr_uvm_info_clear(&ctx->uvm);
    shd_free(ctx->ca_file);
    shd_free(ctx->connect_to);
    shd_free(ctx->imds_base);
    shd_free(ctx->thim_url);
    shd_free(ctx->wi_client_id);
    shd_free(ctx->wi_tenant_id);
    shd_free(ctx->wi_token_file);
    shd_free(ctx->aad_authority);
    shd_free(ctx->snp_simulator_dir);
    shd_memzero(ctx, sizeof(*ctx));
}
