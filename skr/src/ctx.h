/*
 * ctx.h - building and releasing the skr context (skr-sidecar.md §1.5 steps 2-7, with D4 and
 * D8).
 */
#pragma once

#include "shd/result.h"
#include "skr.h"

/* Environment lookups (secure_getenv in production) and the file-system root, for tests. */
struct skr_ctx_env {
    const char *(*getenv)(const char *name);
    const char *root; /* "/" */
};

/*
 * Builds *ctx from parsed options (moved into ctx->opts; *opts is zeroed) and the environment:
 * decodes -base64, loads the UVM security context, reads SSL_CERT_FILE, SKR_CONNECT_TO,
 * AZURE_POD_IDENTITY_AUTHORITY_HOST, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_FEDERATED_TOKEN_FILE,
 * AZURE_AUTHORITY_HOST and SKR_SNP_SIMULATOR, creates the HTTP clients and the certificate
 * state from the security context. Does not start the background THIM fetch (skr_ctx_start).
 * env NULL = production. On failure ctx is cleared. Release with skr_ctx_clear.
 */
SHD_RESULT skr_ctx_init(const struct skr_ctx_env *env, struct skr_options *opts,
                        struct skr_ctx *ctx);

/* Starts the background THIM fetch when no certificates are available (D8). */
SHD_RESULT skr_ctx_start(struct skr_ctx *ctx);

/* Stops the fetch thread and frees everything in *ctx (NULL is fine). */
void skr_ctx_clear(struct skr_ctx *ctx);
