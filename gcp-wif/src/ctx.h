/*
 * ctx.h - the one context of gcp-wif (STYLE.md rule 31): the configuration, parsed once and
 * read-only afterwards, and the long-lived objects built from it. Handlers of the socket API and
 * of the metadata look-alike get a const pointer; the objects they use (creds, kms) are
 * thread-safe themselves.
 */
#pragma once

#include "config.h"
#include "shd/result.h"

struct shd_http_client;
struct wif_attest;
struct wif_creds;
struct wif_kms;

struct wif_ctx {
    const struct wif_config *cfg;     /* borrowed */
    struct shd_http_client *http;     /* Google APIs (TLS always verified) */
    struct shd_http_client *http_mds; /* metadata server, AIA (plain http) */
    struct wif_attest *attest;        /* NULL in tests that fake the token source */
    struct wif_creds *creds;
    struct wif_kms *kms;
};

/* Connect timeout and whole-request timeout towards Google (ms). */
#define WIF_HTTP_CONNECT_TIMEOUT_MS 5000u
#define WIF_HTTP_TIMEOUT_MS 30000u
#define WIF_MDS_TIMEOUT_MS 5000u

/*
 * Builds everything serving and wrap-key need from cfg (which must outlive ctx): the HTTP
 * clients (CA file, connect-to, retry policy), the attestation source, the credentials (with
 * the token-file writer when configured) and the KMS client. Does not start the refresher.
 * SHD_ERR_CONFIG for bad settings. *ret written only on success; wif_ctx_clear it.
 */
SHD_RESULT wif_ctx_init(const struct wif_config *cfg, struct wif_ctx *ret);

/* Stops the refresher, frees every object, zeroes *ctx (NULL is fine). */
void wif_ctx_clear(struct wif_ctx *ctx);
