/*
 * creds.c - attestation token cache and refresher, STS/IAM exchange, access-token cache.
 *
 * Locks: token_mu serialises access-token refreshes and guards the access-token cache;
 * att_mu guards the attestation cache and the refresher's counters. Order: token_mu, then
 * att_mu. Both can be held for seconds (an STS round trip, a TPM quote), so GET /status reads a
 * snapshot kept under st_mu, taken last and never held across a call. stop_mu/stop_cv carry the
 * stop request to the refresher's sleep.
 */
#include "creds.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "iam.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "sts.h"
#include "wif.h"

#define WIF_CREDS_REMAINING_MAX_MS (48LL * 3600 * 1000)

struct wif_creds {
    const struct shd_http_client *http;
    char *sts_url;
    char *iam_url;
    char *audience;
    char *attestation_audience;
    char *service_account;
    uint32_t sa_lifetime_s;
    struct wif_token_source source;
    void (*on_attestation)(void *ctx, const char *token, size_t len);
    void *on_attestation_ctx;
    struct wif_creds_hooks hooks;

    pthread_mutex_t token_mu;
    struct wif_access_token access; /* cached access token (token NULL: none) */
    uint64_t sts_exchanges;

    pthread_mutex_t att_mu;
    char *att; /* cached default-audience attestation token */
    size_t att_len;
    int64_t att_exp;
    unsigned failures;
    uint64_t refreshes;

    pthread_mutex_t st_mu;
    struct wif_creds_status status; /* snapshot for wif_creds_status_get */

    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stop;
    bool running;
    pthread_t thread;
};

/* ---- time and randomness ---- */

static int64_t now_ms(const struct wif_creds *c)
{
    if (c->hooks.now_ms != NULL) {
        return c->hooks.now_ms(c->hooks.ctx);
    }
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_s(const struct wif_creds *c)
{
    return now_ms(c) / 1000;
}

static uint32_t random_u32(const struct wif_creds *c)
{
    if (c->hooks.random_u32 != NULL) {
        return c->hooks.random_u32(c->hooks.ctx);
    }
    uint8_t b[4] = {0};
    if (shd_is_err(shd_crypto_random(b, sizeof(b)))) {
        shd_error_clear();
        return UINT32_MAX / 2; /* the middle of the window: still a valid schedule */
    }
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t wif_creds_refresh_delay_ms(int64_t remaining_ms, uint32_t random)
{
    if (remaining_ms <= 0) {
        return WIF_CREDS_REFRESH_MIN_MS;
    }
    /* Exp comes from a checked token, but bound it anyway: STS takes no token living > 48 h. */
    if (remaining_ms > WIF_CREDS_REMAINING_MAX_MS) {
        remaining_ms = WIF_CREDS_REMAINING_MAX_MS;
    }
    /* 0.7 + 0.2 * random / 2^32, in parts per million. */
    uint64_t ppm = 700000u + (uint64_t)(((uint64_t)random * 200000u) >> 32);
    uint64_t d = (uint64_t)remaining_ms * ppm / 1000000u;
    return d < WIF_CREDS_REFRESH_MIN_MS ? WIF_CREDS_REFRESH_MIN_MS : d;
}

uint64_t wif_creds_backoff_ms(unsigned failures)
{
    uint64_t d = WIF_CREDS_BACKOFF_FIRST_MS;
    for (unsigned i = 1; i < failures && d < WIF_CREDS_BACKOFF_MAX_MS; i++) {
        d *= 2;
    }
    return d > WIF_CREDS_BACKOFF_MAX_MS ? WIF_CREDS_BACKOFF_MAX_MS : d;
}

/* ---- construction ---- */

static shd_result dup_opt(const char *s, char **ret)
{
    *ret = NULL;
    if (s != NULL && s[0] != '\0') {
        *ret = shd_strdup(s);
        SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    }
    return SHD_OK;
}

static void creds_destroy(struct wif_creds *c)
{
    wif_access_token_clear(&c->access);
    if (c->att != NULL) {
        shd_free_wipe(c->att, c->att_len + 1);
    }
    shd_free(c->sts_url);
    shd_free(c->iam_url);
    shd_free(c->audience);
    shd_free(c->attestation_audience);
    shd_free(c->service_account);
    (void)pthread_mutex_destroy(&c->token_mu);
    (void)pthread_mutex_destroy(&c->att_mu);
    (void)pthread_mutex_destroy(&c->st_mu);
    (void)pthread_mutex_destroy(&c->stop_mu);
    (void)pthread_cond_destroy(&c->stop_cv);
    shd_free(c);
}

shd_result wif_creds_new(const struct wif_creds_options *opts, struct wif_creds **ret)
{
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(opts->source.fetch != NULL && opts->http != NULL && opts->sts_url != NULL &&
                       opts->audience != NULL && opts->audience[0] != '\0',
                   SHD_ERR_CONFIG,
                   "credentials need a token source, an HTTP client, an STS URL "
                   "and a provider audience");
    SHD_ENSURE_MSG(opts->service_account == NULL || opts->iam_url != NULL, SHD_ERR_CONFIG,
                   "impersonation needs an IAM URL");
    struct wif_creds *c = shd_alloc(sizeof(*c));
    SHD_ENSURE(c != NULL, SHD_ERR_NOMEM);
    pthread_condattr_t ca;
    bool ok = pthread_mutex_init(&c->token_mu, NULL) == 0;
    ok = pthread_mutex_init(&c->att_mu, NULL) == 0 && ok;
    ok = pthread_mutex_init(&c->st_mu, NULL) == 0 && ok;
    ok = pthread_mutex_init(&c->stop_mu, NULL) == 0 && ok;
    ok = pthread_condattr_init(&ca) == 0 && ok;
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && ok;
    ok = pthread_cond_init(&c->stop_cv, &ca) == 0 && ok;
    (void)pthread_condattr_destroy(&ca);
    c->http = opts->http;
    c->sa_lifetime_s = opts->sa_lifetime_s != 0 ? opts->sa_lifetime_s : 3600u;
    c->source = opts->source;
    c->on_attestation = opts->on_attestation;
    c->on_attestation_ctx = opts->on_attestation_ctx;
    if (opts->hooks != NULL) {
        c->hooks = *opts->hooks;
    }
    shd_result r = ok ? SHD_OK : shd_error_set(SHD_ERR_INTERNAL, __FILE__, __LINE__);
    if (shd_is_ok(r)) {
        r = dup_opt(opts->sts_url, &c->sts_url);
    }
    if (shd_is_ok(r)) {
        r = dup_opt(opts->iam_url, &c->iam_url);
    }
    if (shd_is_ok(r)) {
        r = dup_opt(opts->audience, &c->audience);
    }
    if (shd_is_ok(r)) {
        r = dup_opt(opts->attestation_audience, &c->attestation_audience);
    }
    if (shd_is_ok(r)) {
        r = dup_opt(opts->service_account, &c->service_account);
    }
    if (shd_is_err(r)) {
        creds_destroy(c);
        return r;
    }
    *ret = c;
    return SHD_OK;
}

void wif_creds_free(struct wif_creds **c)
{
    if (c == NULL || *c == NULL) {
        return;
    }
    wif_creds_stop(*c);
    creds_destroy(*c);
    *c = NULL;
}

/* ---- status snapshot ---- */

/* Copies the counters into the snapshot. Called with att_mu (and maybe token_mu) held. */
static void snapshot_att(struct wif_creds *c)
{
    (void)pthread_mutex_lock(&c->st_mu);
    c->status.attestation_exp = c->att != NULL ? c->att_exp : 0;
    c->status.refresh_failures = c->failures;
    c->status.refreshes = c->refreshes;
    (void)pthread_mutex_unlock(&c->st_mu);
}

static void snapshot_access(struct wif_creds *c)
{
    (void)pthread_mutex_lock(&c->st_mu);
    c->status.access_expiry = c->access.token != NULL ? c->access.expiry : 0;
    c->status.sts_exchanges = c->sts_exchanges;
    (void)pthread_mutex_unlock(&c->st_mu);
}

/* ---- attestation tokens ---- */

static shd_result copy_out(const char *s, size_t len, char **ret, size_t *ret_len)
{
    char *copy = shd_strndup(s, len);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    *ret_len = len;
    return SHD_OK;
}

/* Earns a fresh default-audience token into the cache. Called with att_mu held. */
static shd_result att_earn_locked(struct wif_creds *c)
{
    char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    shd_result r = c->source.fetch(c->source.ctx, c->attestation_audience, &tok, &len, &exp);
    if (shd_is_err(r)) {
        shd_error_wrap("attestation");
        return r;
    }
    if (c->att != NULL) {
        shd_free_wipe(c->att, c->att_len + 1);
    }
    c->att = tok;
    c->att_len = len;
    c->att_exp = exp;
    snapshot_att(c);
    if (c->on_attestation != NULL) {
        c->on_attestation(c->on_attestation_ctx, tok, len);
    }
    return SHD_OK;
}

/* The cached default-audience token (earned if missing, nearly expired or force). */
static shd_result att_get(struct wif_creds *c, bool force, char **ret, size_t *ret_len,
                          int64_t *ret_exp)
{
    (void)pthread_mutex_lock(&c->att_mu);
    shd_result r = SHD_OK;
    if (force || c->att == NULL || c->att_exp - now_s(c) < WIF_CREDS_ATTESTATION_MARGIN_S) {
        r = att_earn_locked(c);
    }
    int64_t exp = c->att_exp;
    if (shd_is_ok(r)) {
        r = copy_out(c->att, c->att_len, ret, ret_len);
    }
    (void)pthread_mutex_unlock(&c->att_mu);
    if (shd_is_ok(r) && ret_exp != NULL) {
        *ret_exp = exp;
    }
    return r;
}

shd_result wif_creds_attestation_token(const char *audience, struct wif_creds *c, char **ret_token,
                                       size_t *ret_len, int64_t *ret_exp)
{
    SHD_ENSURE_REF(c);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_REF(ret_exp);
    if (audience == NULL || audience[0] == '\0') {
        return att_get(c, false, ret_token, ret_len, ret_exp);
    }
    shd_result r = c->source.fetch(c->source.ctx, audience, ret_token, ret_len, ret_exp);
    if (shd_is_err(r)) {
        shd_error_wrap("attestation");
    }
    return r;
}

shd_result wif_creds_refresh_step(struct wif_creds *c, uint64_t *ret_delay_ms)
{
    SHD_ENSURE_REF(c);
    SHD_ENSURE_REF(ret_delay_ms);
    (void)pthread_mutex_lock(&c->att_mu);
    shd_result r = att_earn_locked(c);
    if (shd_is_ok(r)) {
        c->failures = 0;
        c->refreshes++;
        *ret_delay_ms = wif_creds_refresh_delay_ms(c->att_exp * 1000 - now_ms(c), random_u32(c));
    } else {
        if (c->failures < UINT32_MAX) {
            c->failures++;
        }
        *ret_delay_ms = wif_creds_backoff_ms(c->failures);
    }
    snapshot_att(c);
    (void)pthread_mutex_unlock(&c->att_mu);
    return r;
}

/* ---- the refresher thread ---- */

static bool stop_requested(struct wif_creds *c)
{
    (void)pthread_mutex_lock(&c->stop_mu);
    bool stop = c->stop;
    (void)pthread_mutex_unlock(&c->stop_mu);
    return stop;
}

static void wait_or_stop(struct wif_creds *c, uint64_t ms)
{
    if (c->hooks.wait_ms != NULL) {
        c->hooks.wait_ms(c->hooks.ctx, ms);
        return;
    }
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000u);
    until.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    (void)pthread_mutex_lock(&c->stop_mu);
    while (!c->stop) {
        if (pthread_cond_timedwait(&c->stop_cv, &c->stop_mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    (void)pthread_mutex_unlock(&c->stop_mu);
}

static void *refresher(void *arg)
{
    struct wif_creds *c = arg;
    while (!stop_requested(c)) {
        uint64_t delay = 0;
        shd_result r = wif_creds_refresh_step(c, &delay);
        if (shd_is_err(r)) {
            (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_WARNING, WIF_LOG_CREDS, r,
                                 "attestation refresh failed; next attempt in %llu s",
                                 (unsigned long long)(delay / 1000u));
            shd_error_clear();
        } else {
            SHD_LOG_KV(SHD_LOG_LEVEL_INFO, WIF_LOG_CREDS, "attestation token refreshed",
                       SHD_LOG_UINT("next_refresh_s", delay / 1000u));
        }
        wait_or_stop(c, delay);
    }
    return NULL;
}

shd_result wif_creds_start(struct wif_creds *c)
{
    SHD_ENSURE_REF(c);
    SHD_ENSURE_MSG(!c->running, SHD_ERR_USAGE, "refresher already running");
    c->stop = false;
    int e = pthread_create(&c->thread, NULL, refresher, c);
    if (e != 0) {
        return shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
    }
    c->running = true;
    return SHD_OK;
}

void wif_creds_stop(struct wif_creds *c)
{
    if (c == NULL || !c->running) {
        return;
    }
    (void)pthread_mutex_lock(&c->stop_mu);
    c->stop = true;
    (void)pthread_cond_broadcast(&c->stop_cv);
    (void)pthread_mutex_unlock(&c->stop_mu);
    (void)pthread_join(c->thread, NULL);
    c->running = false;
}

/* ---- access tokens ---- */

/* STS with the given subject token, then IAM when impersonating. */
static shd_result exchange(struct wif_creds *c, const char *subject, struct wif_access_token *ret)
{
    struct wif_access_token fed = {0};
    SHD_GUARD(wif_sts_exchange(c->http, c->sts_url, c->audience, subject, now_s(c), &fed));
    if (c->service_account == NULL) {
        *ret = fed;
        return SHD_OK;
    }
    shd_result r = wif_iam_generate_access_token(c->http, c->iam_url, c->service_account,
                                                 c->sa_lifetime_s, fed.token, now_s(c), ret);
    wif_access_token_clear(&fed);
    return r;
}

static shd_result access_refresh_locked(struct wif_creds *c)
{
    char *subject = NULL;
    size_t subject_len = 0;
    SHD_GUARD(att_get(c, false, &subject, &subject_len, NULL));
    struct wif_access_token t = {0};
    shd_result r = exchange(c, subject, &t);
    shd_free_wipe(subject, subject_len + 1);
    if (r.err == SHD_ERR_TOKEN) {
        /* invalid_grant: the subject token is stale or was rejected; earn a new one, once. */
        SHD_LOG_WARNING(WIF_LOG_CREDS, "STS rejected the attestation token (invalid_grant); "
                                       "earning a fresh one and retrying once");
        shd_error_clear();
        SHD_GUARD(att_get(c, true, &subject, &subject_len, NULL));
        r = exchange(c, subject, &t);
        shd_free_wipe(subject, subject_len + 1);
    }
    SHD_GUARD(r);
    wif_access_token_clear(&c->access);
    c->access = t;
    c->sts_exchanges++;
    snapshot_access(c);
    return SHD_OK;
}

shd_result wif_creds_access_token(struct wif_creds *c, char **ret_token, size_t *ret_len,
                                  int64_t *ret_expiry)
{
    SHD_ENSURE_REF(c);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_REF(ret_expiry);
    (void)pthread_mutex_lock(&c->token_mu);
    shd_result r = SHD_OK;
    if (c->access.token == NULL || now_s(c) >= c->access.expiry - WIF_CREDS_EARLY_REFRESH_S) {
        r = access_refresh_locked(c);
    }
    int64_t expiry = c->access.expiry;
    if (shd_is_ok(r)) {
        r = copy_out(c->access.token, c->access.len, ret_token, ret_len);
    }
    (void)pthread_mutex_unlock(&c->token_mu);
    if (shd_is_ok(r)) {
        *ret_expiry = expiry;
    }
    return r;
}

void wif_creds_status_get(struct wif_creds *c, struct wif_creds_status *ret)
{
    if (c == NULL || ret == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&c->st_mu);
    *ret = c->status;
    (void)pthread_mutex_unlock(&c->st_mu);
}
