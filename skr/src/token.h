/*
 * token.h - AAD access tokens for Key Vault / Managed HSM (skr-sidecar.md §5.2, D6, D9).
 *
 * Sources, in order (the request's own access_token is handled by the caller):
 *  1. AKS workload identity when AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE
 *     are all set: client-credentials grant with the federated token (re-read each time) as
 *     client assertion, POST <authority>/<tenant>/oauth2/v2.0/token, scope <resource>/.default.
 *     The authority is AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com; the
 *     original ignores the variable) and must be https: the assertion is a credential.
 *  2. IMDS managed identity: GET <imds>/metadata/identity/oauth2/token?api-version=2018-02-01
 *     &resource=<resource>[&client_id=<identity.client_id>] with "Metadata: true"; <imds> is
 *     AZURE_POD_IDENTITY_AUTHORITY_HOST or http://169.254.169.254.
 * The context's shd_http_client supplies timeouts and bounded retries with backoff (429, 5xx,
 * transport errors).
 *
 * Cache (D9): tokens are kept in secret memory until SKR_TOKEN_EARLY_REFRESH_S seconds before
 * they expire (expires_in, else expires_on), per source and resource. The cache is an object the
 * skr context owns (struct skr_ctx.tokens, created at start-up); it is thread-safe. A NULL cache
 * means "no caching".
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shd/result.h"

struct skr_ctx;
struct skr_token_cache;

#define SKR_RESOURCE_VAULT "https://vault.azure.net"
#define SKR_RESOURCE_MANAGED_HSM "https://managedhsm.azure.net"
#define SKR_AAD_AUTHORITY_DEFAULT "https://login.microsoftonline.com"
#define SKR_IMDS_TOKEN_PATH "/metadata/identity/oauth2/token"
#define SKR_IMDS_TOKEN_API_VERSION "2018-02-01"

/* A cached token is used until this many seconds before it expires. */
#define SKR_TOKEN_EARLY_REFRESH_S 300
/* Distinct (source, resource) pairs kept; the one expiring first is evicted beyond it. */
#define SKR_TOKEN_CACHE_MAX 8u
/* Largest access token / federated token accepted (bytes). */
#define SKR_TOKEN_MAX_LEN ((size_t)16 * 1024)

/* Test hook: the cache's clock (NULL: time(2)). */
struct skr_token_cache_hooks {
    time_t (*now)(void *ctx);
    void *ctx;
};

/* Creates an empty cache. hooks may be NULL (production); it is copied. */
SHD_RESULT skr_token_cache_new(const struct skr_token_cache_hooks *hooks,
                               struct skr_token_cache **ret_cache);

/* Wipes every cached token and frees the cache; sets *cache to NULL. NULL is fine. */
void skr_token_cache_free(struct skr_token_cache **cache);

/* The token resource for a vault endpoint: mHSM when it contains "managedhsm" (§5.2). */
const char *skr_token_resource_for(const char *akv_endpoint);

/*
 * Returns an access token for resource from cache (may be NULL) or from the source the context
 * selects (workload identity when ctx->wi_client_id, wi_tenant_id and wi_token_file are all set,
 * else IMDS with ctx->args.identity_client_id), using ctx->http.
 * *ret_token: fresh NUL-terminated copy, a credential: free with shd_free_wipe(t, strlen(t) + 1).
 * Errors carry the original's chains (§2.6), e.g.
 *   "retrieving authentication token failed: pulling http get authentication token response
 *    failed: <body>: http response status equal to 400 Bad Request"
 *   "retrieving authentication token failed: http get authentication token failed for <uri>:
 *    HTTP GET failed: Get \"<uri>\": <transport error>"
 *   "retrieving authentication token using workload identity failed: failed to acquire access
 *    token: <cause>"
 */
SHD_RESULT skr_token_get(const struct skr_ctx *ctx, struct skr_token_cache *cache,
                         const char *resource, char **ret_token);
