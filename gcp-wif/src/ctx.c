/*
 * ctx.c - wiring: HTTP clients, attestation source, credentials, KMS.
 */
#include "ctx.h"

#include "attest.h"
#include "creds.h"
#include "kms.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "tokenfile.h"
#include "wif.h"

static shd_result attest_fetch(void *ctx, const char *audience, char **ret_token, size_t *ret_len,
                               int64_t *ret_exp)
{
    return wif_attest_token(audience, ctx, ret_token, ret_len, ret_exp);
}

static shd_result clients_new(const struct wif_config *cfg, struct wif_ctx *c)
{
    const struct shd_http_client_options google = {
        .ca_file = cfg->ca_file,
        .connect_to = cfg->connect_to,
        .connect_timeout_ms = WIF_HTTP_CONNECT_TIMEOUT_MS,
        .timeout_ms = WIF_HTTP_TIMEOUT_MS,
        .max_response_bytes = WIF_API_RESPONSE_MAX,
        .user_agent = WIF_USER_AGENT,
        .retry = SHD_HTTP_RETRY_DEFAULT,
    };
    SHD_GUARD_CTX(shd_http_client_create(&google, &c->http), "HTTP client");
    const struct shd_http_client_options mds = {
        .ca_file = cfg->ca_file,
        .connect_to = cfg->connect_to,
        .connect_timeout_ms = WIF_MDS_TIMEOUT_MS,
        .timeout_ms = WIF_MDS_TIMEOUT_MS,
        .max_response_bytes = WIF_API_RESPONSE_MAX,
        .user_agent = WIF_USER_AGENT,
        .retry = SHD_HTTP_RETRY_DEFAULT,
    };
    SHD_GUARD_CTX(shd_http_client_create(&mds, &c->http_mds), "metadata HTTP client");
    return SHD_OK;
}

static shd_result attest_new(const struct wif_config *cfg, struct wif_ctx *c)
{
    const struct wif_attest_config ac = {
        .mode = cfg->mode == WIF_MODE_LAUNCHER ? WIF_ATTEST_MODE_LAUNCHER : WIF_ATTEST_MODE_TPM,
        .tcti = cfg->tcti,
        .ak_ecc = cfg->ak_ecc,
        .event_log_path = cfg->event_log,
        .mds_url = cfg->mds_url,
        .project_id = cfg->project,
        .location = cfg->location,
        .verifier_url = cfg->verifier_url,
        .verifier_issuer = cfg->verifier_issuer,
        .http = c->http,
        .http_mds = c->http_mds,
        .launcher_token_path = cfg->launcher_token,
        .launcher_socket = cfg->launcher_socket,
    };
    return wif_attest_new(&ac, &c->attest);
}

shd_result wif_ctx_init(const struct wif_config *cfg, struct wif_ctx *ret)
{
    SHD_ENSURE_REF(cfg);
    SHD_ENSURE_REF(ret);
    struct wif_ctx c = {.cfg = cfg};
    shd_result r = clients_new(cfg, &c);
    if (shd_is_ok(r)) {
        r = attest_new(cfg, &c);
    }
    if (shd_is_ok(r)) {
        const struct wif_creds_options co = {
            .http = c.http,
            .sts_url = cfg->sts_url,
            .iam_url = cfg->iam_url,
            .audience = cfg->audience,
            .attestation_audience = cfg->attestation_audience,
            .service_account = cfg->service_account,
            .sa_lifetime_s = cfg->sa_lifetime_s,
            .source = {attest_fetch, c.attest},
            .on_attestation = cfg->token_file != NULL ? wif_tokenfile_on_attestation : NULL,
            .on_attestation_ctx = cfg->token_file,
        };
        r = wif_creds_new(&co, &c.creds);
    }
    if (shd_is_ok(r)) {
        r = wif_kms_new(c.http, cfg->kms_url, &c.kms);
    }
    if (shd_is_err(r)) {
        wif_ctx_clear(&c);
        return r;
    }
    *ret = c;
    return SHD_OK;
}

void wif_ctx_clear(struct wif_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    wif_creds_free(&ctx->creds); /* stops the refresher before the source goes away */
    wif_kms_free(&ctx->kms);
    wif_attest_free(&ctx->attest);
    shd_http_client_free(ctx->http);
    shd_http_client_free(ctx->http_mds);
    shd_memzero(ctx, sizeof(*ctx));
}
