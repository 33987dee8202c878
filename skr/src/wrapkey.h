/*
 * wrapkey.h - ephemeral RSA-2048 wrapping keys for key release (skr-sidecar.md §5.1, D9).
 *
 * Every release uses a fresh key pair whose public half goes into the MAA runtime claims as a
 * JWK set; Key Vault wraps the released key to it. Generating RSA-2048 costs tens of
 * milliseconds, so an optional pool (struct skr_key_pool, owned by the skr context as
 * ctx->key_pool) keeps up to SKR_KEY_POOL_MAX keys ready: one background thread refills it, and
 * each key leaves the pool exactly once (never returned, never reused). Size 0 or a NULL pool
 * means "generate on demand". The pool size comes from SKR_KEY_POOL (0..SKR_KEY_POOL_MAX,
 * default 0), read once at start-up by the context.
 *
 * The private keys are ordinary EVP_PKEYs: when the process set up OpenSSL's secure heap
 * (shd_secure_heap_init) before the first key is made, their private parts live there.
 */
#pragma once

#include <stddef.h>

#include <openssl/evp.h>

#include "shd/result.h"

struct skr_key_pool;

#define SKR_WRAPKEY_BITS 2048u
#define SKR_KEY_POOL_MAX 16u
#define SKR_KEY_POOL_ENV "SKR_KEY_POOL"

/*
 * Creates a pool that keeps `size` keys ready (0..SKR_KEY_POOL_MAX, else SHD_ERR_CONFIG). With
 * size > 0 a background thread starts filling it at once. Free with skr_key_pool_free.
 */
SHD_RESULT skr_key_pool_new(unsigned size, struct skr_key_pool **ret_pool);

/* Stops the thread, frees every unused key and the pool, sets *pool to NULL. NULL is fine. */
void skr_key_pool_free(struct skr_key_pool **pool);

/*
 * Hands out a key that was never handed out before: a ready one from the pool (waking the refill
 * thread), else one generated now. pool may be NULL. The caller owns *ret_key (EVP_PKEY_free).
 * Errors (generation failed) carry "rsa key pair generation failed: <cause>".
 */
SHD_RESULT skr_key_pool_take(struct skr_key_pool *pool, EVP_PKEY **ret_key);

/* Number of keys ready right now (0 for NULL); for tests and logs. */
size_t skr_key_pool_ready(struct skr_key_pool *pool);

/*
 * The runtime data for key: the compact JWK set of §5.1,
 * {"keys":[{"e":"AQAB","key_ops":["encrypt"],"kid":"<RFC 7638>","kty":"RSA","n":"..."}]}.
 * *ret_json: fresh NUL-terminated string (shd_free). Errors carry "generating key blob failed".
 */
SHD_RESULT skr_wrapkey_set_write(EVP_PKEY *key, char **ret_json, size_t *ret_len);
