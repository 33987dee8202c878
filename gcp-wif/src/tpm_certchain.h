/*
 * tpm_certchain.h - the AK certificate's issuer chain, fetched by following Authority
 * Information Access "CA Issuers" URLs (gcp-identity.md section 2.2, go-tpm-tools
 * internal/cert.go GetCertificateChain): at most WIF_CERTCHAIN_URLS_PER_CERT URLs tried per
 * certificate, at most WIF_CERTCHAIN_MAX certificates, each fetched certificate must be the
 * issuer of (and have signed) the one before; stop at a certificate without AIA or a
 * self-signed one. The result excludes the AK certificate. Only http and https URLs are
 * followed, through the caller's client (which never follows redirects).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_http_client;

#define WIF_CERTCHAIN_MAX 4u
#define WIF_CERTCHAIN_URLS_PER_CERT 3u
#define WIF_CERTCHAIN_CERT_MAX (16u * 1024u)

struct wif_certchain {
    uint8_t *der[WIF_CERTCHAIN_MAX]; /* shd_free each */
    size_t len[WIF_CERTCHAIN_MAX];
    size_t n;
};

/*
 * Builds the chain above the DER certificate leaf. Errors: SHD_ERR_INPUT (unparsable
 * certificate), SHD_ERR_BAD_CERT (a fetched certificate did not issue its child), the HTTP
 * client's errors, SHD_ERR_HTTP_STATUS; the last failure is reported when every URL of a
 * certificate failed. *ret written only on success (wif_certchain_clear).
 */
SHD_RESULT wif_certchain_fetch(const uint8_t *leaf, size_t leaf_len,
                               const struct shd_http_client *http, struct wif_certchain *ret);

/* Frees the certificates and zeroes the struct (NULL is fine). */
void wif_certchain_clear(struct wif_certchain *c);
