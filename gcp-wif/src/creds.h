/*
 * creds.h - the credential chain of gcp-wif and its caches (gcp-identity.md 4, 5, 3.8, 8):
 *
 *   attestation token (from a token source: TPM or launcher, attest.h)
 *     -> STS token exchange with the provider audience (sts.h)
 *     -> optional service-account impersonation (iam.h)
 *     -> access token, cached until 5 minutes before it expires.
 *
 * The default-audience attestation token is cached and kept fresh by a background thread:
 * after each success it sleeps U(0.7, 0.9) of the token's remaining lifetime; after a failure
 * it backs off 60 s, 120 s, ... capped at 1 h, and never gives up (the launcher's policy, 3.8).
 * When STS answers invalid_grant (a stale or rejected subject token, 10), a fresh attestation
 * token is earned and the exchange retried once.
 *
 * Threads: every function may be called from several threads at once. Access-token refreshes
 * are serialised (concurrent callers wait for one refresh instead of starting their own).
 * Clock, randomness and sleeping are injectable (struct wif_creds_hooks) so tests can run the
 * schedule without waiting.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_http_client;
struct wif_creds;

/* Access tokens are refreshed this long before they expire (Node's eager refresh, 4.2). */
#define WIF_CREDS_EARLY_REFRESH_S 300
/* A cached attestation token is handed to STS only with at least this much life left. */
#define WIF_CREDS_ATTESTATION_MARGIN_S 60
/* Backoff after failed attestation refreshes. */
#define WIF_CREDS_BACKOFF_FIRST_MS 60000u
#define WIF_CREDS_BACKOFF_MAX_MS 3600000u
/* Shortest sleep between two successful refreshes (a verifier handing out second-long tokens
 * must not make us spin). */
#define WIF_CREDS_REFRESH_MIN_MS 1000u

/*
 * Where attestation tokens come from. fetch returns a fresh token for audience (NULL: the
 * default), with wif_attest_token's contract: *ret_token is a secret (shd_free_wipe(token,
 * len + 1)), *ret_exp its exp claim in Unix seconds.
 */
struct wif_token_source {
    shd_result (*fetch)(void *ctx, const char *audience, char **ret_token, size_t *ret_len,
                        int64_t *ret_exp);
    void *ctx;
};

/* Test hooks; any NULL member keeps the real behaviour. */
struct wif_creds_hooks {
    int64_t (*now_ms)(void *ctx);      /* CLOCK_REALTIME in milliseconds */
    uint32_t (*random_u32)(void *ctx); /* uniform; default: the OpenSSL CSPRNG */
    /* Called by the refresher instead of its interruptible sleep; the refresher checks for a
     * stop request after it returns. */
    void (*wait_ms)(void *ctx, uint64_t ms);
    void *ctx;
};

struct wif_creds_options {
    const struct shd_http_client *http; /* borrowed; must outlive the creds */
    const char *sts_url;
    const char *iam_url;
    const char *audience;             /* provider audience for STS (required) */
    const char *attestation_audience; /* aud of the attestation token; NULL: default */
    const char *service_account;      /* NULL: the federated token is the access token */
    uint32_t sa_lifetime_s;           /* 0: 3600 */
    struct wif_token_source source;
    /* Called with every new default-audience attestation token (token file writer). It runs
     * with the attestation lock held: it must not call back into the creds. May be NULL. */
    void (*on_attestation)(void *ctx, const char *token, size_t len);
    void *on_attestation_ctx;
    const struct wif_creds_hooks *hooks; /* NULL in production; copied */
};

/* A snapshot for GET /status. Times are Unix seconds (0: none). */
struct wif_creds_status {
    int64_t attestation_exp;
    int64_t access_expiry;
    unsigned refresh_failures; /* consecutive failed refreshes */
    uint64_t refreshes;        /* successful refreshes so far */
    uint64_t sts_exchanges;    /* successful exchanges so far */
};

/* Copies the options (strings included). SHD_ERR_CONFIG for a missing source, http client,
 * STS URL or audience. Free with wif_creds_free. */
SHD_RESULT wif_creds_new(const struct wif_creds_options *opts, struct wif_creds **ret);

/* Stops the refresher if it runs, wipes every cached token, frees; sets *c to NULL. */
void wif_creds_free(struct wif_creds **c);

/* Starts the refresher thread (its first step runs at once). SHD_ERR_USAGE if started twice. */
SHD_RESULT wif_creds_start(struct wif_creds *c);

/* Asks the refresher to stop and joins it (no-op when not running). */
void wif_creds_stop(struct wif_creds *c);

/*
 * An access token for Google APIs: the cached one while it has more than 5 minutes left, else a
 * new one through STS (and IAM). *ret_token: a copy, free with shd_free_wipe(t, *ret_len + 1);
 * *ret_expiry: Unix seconds. Errors name the failing step ("attestation: ...", "STS token
 * exchange: ...", "IAM generateAccessToken ...").
 */
SHD_RESULT wif_creds_access_token(struct wif_creds *c, char **ret_token, size_t *ret_len,
                                  int64_t *ret_expiry);

/*
 * An attestation token for audience. NULL or "": the cached default-audience token (earned now
 * if there is none with at least a minute left). Any other audience: a fresh token from the
 * source every time (not cached). Ownership as wif_creds_access_token.
 */
SHD_RESULT wif_creds_attestation_token(const char *audience, struct wif_creds *c, char **ret_token,
                                       size_t *ret_len, int64_t *ret_exp);

/*
 * One refresher step: earns a fresh default-audience attestation token. *ret_delay_ms (written
 * on success and failure) is when the next step is due: U(0.7, 0.9) of the new token's
 * remaining lifetime, or the backoff after a failure. Returns the fetch result.
 */
SHD_RESULT wif_creds_refresh_step(struct wif_creds *c, uint64_t *ret_delay_ms);

/* Current state. */
void wif_creds_status_get(struct wif_creds *c, struct wif_creds_status *ret);

/* The schedule, as pure functions (for tests and docs): delay after a success with remaining_ms
 * of lifetime left and a uniform random value; backoff after the n-th consecutive failure
 * (n >= 1: 60 s, 120 s, 240 s, ..., 3600 s). */
uint64_t wif_creds_refresh_delay_ms(int64_t remaining_ms, uint32_t random);
uint64_t wif_creds_backoff_ms(unsigned failures);
