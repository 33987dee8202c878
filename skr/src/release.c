/*
 * release.c - secure key release, the coordinator (release.h; skr-sidecar.md §5).
 *
 *   wrapping key (pool or fresh) -> JWK set -> MAA token with the set as runtime data
 *   -> AAD token (request's, cached, workload identity or IMDS) -> Key Vault release
 *   -> JWS checked against our trust anchors and the vault host -> RSA-AES unwrap into secret
 *   memory -> the sidecar's JWK text.
 *
 * The order, and the cause texts each step adds, are the original's (pkg/skr/skr.go), so the
 * handler's "secure key release failed\n<ERROR_STRING>: <chain>" reads the same.
 */
#include "release.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "akv.h"
#include "attest.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"
#include "skr.h"
#include "token.h"
#include "unwrap.h"
#include "wrapkey.h"

/* Credentials in shd_alloc'd strings: wiped at scope exit. */
static void credential_freep(char **p)
{
    if (*p != NULL) {
        shd_free_wipe(*p, strlen(*p) + 1);
        *p = NULL;
    }
}
#define CLEANUP_CREDENTIAL SHD_CLEANUP(credential_freep)

static void released_clearp(struct skr_akv_released *rel)
{
    skr_akv_released_clear(rel);
}

/*
 * Where the skr context keeps the token cache and the key pool (D9). Both are optional: NULL
 * means no caching and keys generated per request.
 */
struct release_state {
    struct skr_token_cache *tokens;
    struct skr_key_pool *pool;
};

static struct release_state release_state_of(const struct skr_ctx *ctx)
{
    return (struct release_state){.tokens = ctx->tokens, .pool = ctx->key_pool};
}

/* The bearer for the vault: the caller's, else from the cache / workload identity / IMDS. */
static shd_result bearer_get(const struct skr_ctx *ctx, struct skr_token_cache *tokens,
                             const char *akv_endpoint, const char *access_token, char **ret)
{
    if (access_token != NULL && access_token[0] != '\0') {
        char *copy = shd_strdup(access_token);
        SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
        *ret = copy;
        return SHD_OK;
    }
    return skr_token_get(ctx, tokens, skr_token_resource_for(akv_endpoint), ret);
}

/* Release, unwrap and serialise once the MAA token and the bearer are known. */
static shd_result release_and_unwrap(const struct skr_ctx *ctx, EVP_PKEY *wrapping_key,
                                     const char *akv_endpoint, const char *kid,
                                     const char *maa_token, const char *bearer, char **ret_json,
                                     size_t *ret_len)
{
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *roots = NULL;
    SHD_CLEANUP(released_clearp) struct skr_akv_released rel = {0};
    SHD_CLEANUP(shd_secret_free) struct shd_secret *material = NULL;

    shd_result r = skr_akv_roots_load(ctx->ca_file, &roots);
    if (shd_is_ok(r)) {
        r = skr_akv_release(ctx->http, roots, akv_endpoint, kid, maa_token, bearer, &rel);
    }
    if (shd_is_ok(r)) {
        r = skr_rsa_aes_unwrap(rel.enc, rel.ciphertext, rel.ciphertext_len, wrapping_key,
                               &material);
        if (shd_is_err(r)) {
            shd_error_wrap("aes key unwrap failed");
        }
    }
    if (shd_is_err(r)) {
        shd_error_wrap("releasing the key %.256s failed", kid);
        return r;
    }
    SHD_GUARD(skr_released_jwk_write(rel.kty, rel.key_ops, material, ret_json, ret_len));
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, SKR_LOG_AKV, "key released", SHD_LOG_STR("kid", kid),
               SHD_LOG_STR("akv", akv_endpoint), SHD_LOG_STR("kty", rel.kty),
               SHD_LOG_STR("enc", rel.enc));
    return SHD_OK;
}

shd_result skr_key_release(const struct skr_ctx *ctx, const char *maa_endpoint,
                           const char *akv_endpoint, const char *kid, const char *access_token,
                           char **ret_jwk_json, size_t *ret_len)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *wrapping_key = NULL;
    SHD_CLEANUP_FREE char *key_set = NULL;
    size_t key_set_len = 0;
    CLEANUP_CREDENTIAL char *maa_token = NULL;
    CLEANUP_CREDENTIAL char *bearer = NULL;

    SHD_ENSURE_REF(ctx);
    SHD_ENSURE_REF(maa_endpoint);
    SHD_ENSURE_REF(akv_endpoint);
    SHD_ENSURE_REF(kid);
    SHD_ENSURE_REF(ret_jwk_json);
    SHD_ENSURE_REF(ret_len);
    const struct release_state st = release_state_of(ctx);

    SHD_GUARD(skr_key_pool_take(st.pool, &wrapping_key));
    SHD_GUARD(skr_wrapkey_set_write(wrapping_key, &key_set, &key_set_len));
    SHD_GUARD_CTX(
        skr_maa_attest(ctx, maa_endpoint, (const uint8_t *)key_set, key_set_len, &maa_token),
        "attestation failed");
    /* As in the original, the AAD token is obtained after the MAA call. */
    SHD_GUARD(bearer_get(ctx, st.tokens, akv_endpoint, access_token, &bearer));
    SHD_GUARD(release_and_unwrap(ctx, wrapping_key, akv_endpoint, kid, maa_token, bearer,
                                 ret_jwk_json, ret_len));
    return SHD_OK;
}
