/*
 * release.h - the key-release contract of DESIGN.md for gcp-wif: a key wrapped with Cloud KMS
 * (encrypt with a symmetric crypto key, see `gcp-wif wrap-key`) is decrypted with KMS :decrypt
 * and handed back exactly as the SKR sidecar hands back a released key (skr-sidecar.md 2.5, 5.6):
 * the JWK text (members sorted, no kid) that the caller embeds as a JSON string.
 *
 * What the plaintext is, decided by its length alone (no guessing on content):
 *   1..64 bytes (SHD_JWK_OCT_MAX)  a raw symmetric key  -> {"k":..,"kty":"oct"}
 *   more than 64 bytes              a PKCS#8 private key (DER, or PEM) of RSA or EC P-256/384/521
 *                                   -> the RSA / EC private JWK; anything else is refused
 * (the smallest PKCS#8 EC key is well over 64 bytes, so the two never overlap).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

struct shd_secret;

/*
 * Writes the JWK text for the plaintext (see above). key_ops (NULL or a JSON array checked with
 * shd_jwk_key_ops_check) is copied into the JWK when non-empty, as the sidecar does.
 * *ret_json: NUL-terminated SECRET text, free with shd_free_wipe(*ret_json, *ret_len + 1).
 * SHD_ERR_BAD_KEY when the plaintext is neither form.
 */
SHD_RESULT wif_release_jwk(const struct shd_secret *plain, const json_t *key_ops, char **ret_json,
                           size_t *ret_len);

/*
 * The whole 200 body: {"key":"<jwk text, JSON-escaped>"} (Go encoding/json escaping, as the
 * sidecar), SECRET: free with shd_free_wipe(*ret, *ret_len + 1).
 */
SHD_RESULT wif_release_body(const struct shd_secret *plain, const json_t *key_ops, char **ret,
                            size_t *ret_len);
