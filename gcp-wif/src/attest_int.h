/*
 * attest_int.h - internals of the attestation source (attest.h), shared by attest.c (API,
 * configuration, token check), attest_tpm.c (the mode-B coordinator) and launcher.c.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "attest.h"

#include "shd/result.h"

/* How long a fetched JWKS is trusted before it is fetched again, and the least time between
 * two fetches caused by an unknown kid (a forged kid must not make us hammer the verifier). */
#define WIF_ATTEST_JWKS_MAX_AGE_S 3600
#define WIF_ATTEST_JWKS_MIN_REFETCH_S 30
/* Clock skew tolerated on exp / nbf / iat (the launcher's own workload waits nbf + 1 s). */
#define WIF_ATTEST_SKEW_S 60u
/* Bound on the configured paths and URLs. */
#define WIF_ATTEST_STRING_MAX 1024u

/* The launcher's token file as last read (launcher.c). */
struct wif_launcher_cache {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char *token; /* SECRET: shd_free_wipe(token, token_len + 1) */
    size_t token_len;
    int64_t exp;
};

struct wif_attest {
    pthread_mutex_t lock; /* serialises wif_attest_token: one TPM/ESAPI user at a time */
    enum wif_attest_mode mode;
    char *tcti;
    bool ak_ecc;
    char *event_log_path; /* "" = send no event log */
    char *verifier_url;
    char *verifier_issuer; /* expected iss of discovery and tokens */
    char *mds_url;
    char *project_id; /* NULL: from the MDS */
    char *location;   /* NULL: from the MDS zone */
    char *launcher_token_path;
    char *launcher_socket;
    struct shd_http_client *http;     /* borrowed */
    struct shd_http_client *http_mds; /* borrowed */
    struct shd_http_client *http_tee; /* owned: the teeserver Unix socket (launcher mode) */

    /* Verifier signing keys (attest.c), guarded by lock. */
    json_t *jwks;
    time_t jwks_fetched; /* CLOCK_MONOTONIC seconds */

    struct wif_launcher_cache launcher; /* guarded by lock */
};

/*
 * Checks a token from any source (attest.c): RS256 against the verifier's JWKS (fetched through
 * the discovery document and cached), iss == a->verifier_issuer, aud == audience, exp/nbf/iat.
 * *ret_exp gets exp. Caller holds a->lock.
 */
SHD_RESULT wif_attest_check_token(const char *token, size_t len, const char *audience,
                                  struct wif_attest *a, int64_t *ret_exp);

/* Mode B: one full round trip (attest_tpm.c). audience is never NULL here. Caller holds lock.
 * *ret_token is SECRET (shd_free_wipe(token, len + 1)); it is not yet checked. */
SHD_RESULT wif_attest_tpm_fetch(const char *audience, struct wif_attest *a, char **ret_token,
                                size_t *ret_len);

/* Mode A (launcher.c). Outputs as wif_attest_token; the token is checked. Caller holds lock. */
SHD_RESULT wif_launcher_token(const char *audience, struct wif_attest *a, char **ret_token,
                              size_t *ret_len, int64_t *ret_exp);

/* Frees the launcher cache (wiping the token). */
void wif_launcher_cache_clear(struct wif_launcher_cache *c);

/* Creates a->http_tee for a->launcher_socket (attest.c calls it in wif_attest_new). */
SHD_RESULT wif_launcher_client_new(struct wif_attest *a);
