/*
 * release.h - secure key release (skr-sidecar.md §5), implemented in release.c and its helpers.
 */
#pragma once

#include <stddef.h>

#include "shd/result.h"

struct skr_ctx;

/*
 * Releases key kid ("<name>[/<version>]") from akv_endpoint (bare vault or mHSM host) with an
 * MAA token from maa_endpoint, and returns the released key as the JWK JSON text of §5.6
 * (compact, members sorted, no kid, kty without -HSM) - the value the handler embeds as the
 * string "key". access_token: AAD bearer for the vault used verbatim when non-NULL and
 * non-empty; otherwise workload identity or IMDS (§5.2).
 * *ret_jwk_json (NUL-terminated, shd_alloc'd, *ret_len without the NUL) is SECRET: the caller
 * frees it with shd_free_wipe(p, *ret_len + 1). Written only on success.
 * Errors carry the cause chain of §2.6 (the handler adds "secure key release failed\n<ES>: ").
 */
SHD_RESULT skr_key_release(const struct skr_ctx *ctx, const char *maa_endpoint,
                           const char *akv_endpoint, const char *kid,
                           const char *access_token /* may be NULL */, char **ret_jwk_json,
                           size_t *ret_len /* secret: caller wipes */);
