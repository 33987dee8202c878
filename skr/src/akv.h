/*
 * akv.h - the Key Vault / Managed HSM release call (skr-sidecar.md §5.3-§5.5): the POST, the
 * validation of the signed answer (JWS with an x5c chain to our trust anchors and the vault's
 * host name), and the extraction of the wrapped key from its payload.
 *
 * Trust anchors for the JWS chain are the SSL_CERT_FILE bundle when set (so tests and the
 * emulators need no "insecure" switch), else OpenSSL's default certificate file (the system
 * store), as the original uses Go's system pool.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "shd/http_client.h"
#include "shd/result.h"

#define SKR_AKV_API_VERSION "7.4"
/* Most trust anchors loaded from a bundle (a system bundle holds about 150). */
#define SKR_AKV_ROOTS_MAX 1024u
/* Largest trust bundle file read. */
#define SKR_AKV_ROOTS_FILE_MAX ((size_t)8 * 1024 * 1024)
/* Largest release JWS accepted (an RSA-8192 key wrapped is about 8 KiB, base64 twice). */
#define SKR_AKV_JWS_MAX ((size_t)256 * 1024)
/* Longest kid ("<name>[/<version>]"): Key Vault names are at most 127 characters. */
#define SKR_AKV_KID_MAX 256u

/* What a verified release payload carries (§5.5). Owned fields; skr_akv_released_clear. */
struct skr_akv_released {
    char *enc;           /* request.enc, the wrapping algorithm ("" when absent) */
    char *kty;           /* response.key.key.kty ("" when absent) */
    json_t *key_ops;     /* response.key.key.key_ops (array) or NULL */
    uint8_t *ciphertext; /* decoded key_hsm.ciphertext: RSA-OAEP(KEK) || KWP(key) */
    size_t ciphertext_len;
};

/* Frees the fields and zeroes *rel (NULL is fine). */
void skr_akv_released_clear(struct skr_akv_released *rel);

/*
 * Checks a kid: one or two '/'-separated segments of [A-Za-z0-9-] (name, then version), at most
 * SKR_AKV_KID_MAX bytes. It becomes a URL path segment, so nothing else may pass.
 * SHD_ERR_INPUT "invalid key identifier \"<kid>\"" otherwise.
 */
SHD_RESULT skr_akv_kid_check(const char *kid);

/*
 * Loads the trust anchors from the PEM bundle ca_file, or from OpenSSL's default certificate
 * file when ca_file is NULL or "". At most SKR_AKV_ROOTS_MAX certificates; an empty or unreadable
 * bundle is an error with the original's text "could not generate a system cert pool: <cause>".
 * *ret_roots: free with shd_crypto_x509_chain_free.
 */
SHD_RESULT skr_akv_roots_load(const char *ca_file, STACK_OF(X509) * *ret_roots);

/*
 * Validates a release JWS (§5.4) and extracts its payload (§5.5). host is the vault host name
 * the leaf certificate must be valid for. The algorithm must be an RSA one (RS256/384/512,
 * PS256/384/512) since the original accepts only an RSA leaf key. Errors, in the original's
 * words: "jws token validation failed" (not three parts), "decoding header failed: ...",
 * "unmarshalling header failed: ...", "parsing certificate X5C[0] failed: ..." (also a missing
 * x5c, D7), "jws token verification failed: failed to verify message: ...",
 * "verification of leaf's certificate chain failed: x509: ...",
 * "unmarshalling jws response payload failed: ...", "decoding keyHSM failed: ...",
 * "unmarshalling keyHSM failed: ...", "decoding keyHSM's ciphertext failed: ...".
 * *ret written only on success.
 */
SHD_RESULT skr_akv_jws_open(const char *jws, size_t len, STACK_OF(X509) * roots, const char *host,
                            struct skr_akv_released *ret);

/*
 * POSTs {"target":"<maa_token>"} to url with "Authorization: Bearer <bearer>" and returns the
 * "value" of the answer (the release JWS) in a fresh string (shd_free). Errors:
 *   "AKV post request failed: HTTP GET failed: Post \"<url>\": <transport error>"
 *   "pulling AKV response body failed: <body>: http response status equal to 403 Forbidden"
 *   "unmarshalling http response to releasekey response failed: <reason>"
 */
SHD_RESULT skr_akv_release_post(const struct shd_http_client *client, const char *url,
                                const char *maa_token, const char *bearer, char **ret_jws);

/*
 * The whole release call: checks endpoint and kid, POSTs to
 * https://<akv_endpoint>/keys/<kid>/release?api-version=7.4, opens the JWS against roots for the
 * endpoint's host. Errors as above (the caller adds "releasing the key <kid> failed: ").
 */
SHD_RESULT skr_akv_release(const struct shd_http_client *client, STACK_OF(X509) * roots,
                           const char *akv_endpoint, const char *kid, const char *maa_token,
                           const char *bearer, struct skr_akv_released *ret);
