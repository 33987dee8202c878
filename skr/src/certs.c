/*
 * certs.c - the guarded certificate state (STYLE.md rule 31: the one mutable piece of skr_ctx,
 * behind a mutex; callers work on copies) and the background THIM fetch of D8.
 */
#include "certs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define FETCH_BACKOFF_MIN_S 1
#define FETCH_BACKOFF_MAX_S 60
#define LAST_ERROR_LEN 512

struct skr_cert_state {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled to stop the fetch thread */
    bool have;
    struct skr_certs initial;
    struct skr_certs current;
    char last_error[LAST_ERROR_LEN];

    /* background fetch */
    bool thread_started;
    bool stop;
    pthread_t thread;
    const struct shd_http_client *http;
    const char *url;
};

shd_result skr_cert_state_new(const struct skr_certs *initial, bool force_mismatch,
                              struct skr_cert_state **ret)
{
    SHD_ENSURE_REF(ret);
    struct skr_cert_state *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        shd_free(s);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    pthread_condattr_t ca;
    bool cond_ok = pthread_condattr_init(&ca) == 0;
    cond_ok = cond_ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    cond_ok = cond_ok && pthread_cond_init(&s->wake, &ca) == 0;
    (void)pthread_condattr_destroy(&ca);
    if (!cond_ok) {
        (void)pthread_mutex_destroy(&s->lock);
        shd_free(s);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    (void)snprintf(s->last_error, sizeof(s->last_error), "no fetch attempted yet");
    if (initial != NULL) {
        shd_result r = skr_certs_copy(initial, &s->initial);
        if (shd_is_ok(r)) {
            r = skr_certs_copy(initial, &s->current);
        }
        if (shd_is_err(r)) {
            skr_cert_state_free(s);
            return r;
        }
        if (force_mismatch) {
            /* The original's CertState.Tcbm = 0xffffffff ("TESTING: corrupts the TCB"). */
            s->current.tcbm = 0xffffffffu;
        }
        s->have = true;
    }
    *ret = s;
    return SHD_OK;
}

void skr_cert_state_free(struct skr_cert_state *s)
{
    if (s == NULL) {
        return;
    }
    if (s->thread_started) {
        (void)pthread_mutex_lock(&s->lock);
        s->stop = true;
        (void)pthread_cond_broadcast(&s->wake);
        (void)pthread_mutex_unlock(&s->lock);
        (void)pthread_join(s->thread, NULL);
    }
    skr_certs_clear(&s->initial);
    skr_certs_clear(&s->current);
    (void)pthread_cond_destroy(&s->wake);
    (void)pthread_mutex_destroy(&s->lock);
    shd_free(s);
}

bool skr_cert_state_ready(struct skr_cert_state *s)
{
    (void)pthread_mutex_lock(&s->lock);
    bool have = s->have;
    (void)pthread_mutex_unlock(&s->lock);
    return have;
}

static shd_result copy_locked(struct skr_cert_state *s, bool initial, struct skr_certs *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    (void)pthread_mutex_lock(&s->lock);
    shd_result r = SHD_OK;
    if (!s->have) {
        r = shd_error_setf(SHD_ERR_UNAVAILABLE, __FILE__, __LINE__,
                           "AMD certificates are not available yet (%s)", s->last_error);
    } else {
        r = skr_certs_copy(initial ? &s->initial : &s->current, ret);
    }
    (void)pthread_mutex_unlock(&s->lock);
    return r;
}

shd_result skr_cert_state_current(struct skr_cert_state *s, struct skr_certs *ret)
{
    return copy_locked(s, false, ret);
}

shd_result skr_cert_state_initial(struct skr_cert_state *s, struct skr_certs *ret)
{
    return copy_locked(s, true, ret);
}

shd_result skr_cert_state_update(const struct skr_certs *certs, struct skr_cert_state *s)
{
    SHD_ENSURE_REF(certs);
    SHD_ENSURE_REF(s);
    struct skr_certs copy = {0};
    SHD_GUARD(skr_certs_copy(certs, &copy));
    (void)pthread_mutex_lock(&s->lock);
    skr_certs_clear(&s->current);
    s->current = copy;
    if (!s->have) {
        /* First certificates at all: they are the start-up set as well. */
        shd_result r = skr_certs_copy(certs, &s->initial);
        if (shd_is_ok(r)) {
            s->have = true;
        }
        (void)pthread_mutex_unlock(&s->lock);
        return r;
    }
    (void)pthread_mutex_unlock(&s->lock);
    return SHD_OK;
}

/* Sleeps up to seconds unless stop is requested; returns true when asked to stop. */
static bool wait_or_stop(struct skr_cert_state *s, unsigned seconds)
{
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)seconds;
    (void)pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        int rc = pthread_cond_timedwait(&s->wake, &s->lock, &until);
        if (rc == ETIMEDOUT) {
            break;
        }
    }
    bool stop = s->stop;
    (void)pthread_mutex_unlock(&s->lock);
    return stop;
}

static void *fetch_thread(void *arg)
{
    struct skr_cert_state *s = arg;
    unsigned backoff = FETCH_BACKOFF_MIN_S;
    for (unsigned attempt = 1;; attempt++) {
        struct skr_certs certs = {0};
        shd_result r = skr_certs_fetch_thim(s->http, s->url, &certs);
        if (shd_is_ok(r)) {
            r = skr_cert_state_update(&certs, s);
            skr_certs_clear(&certs);
            if (shd_is_ok(r)) {
                SHD_LOG_INFO(SKR_LOG_CERTS, "THIM certificates arrived after %u attempt(s)",
                             attempt);
                return NULL;
            }
        }
        char msg[LAST_ERROR_LEN];
        (void)shd_error_render(msg, sizeof(msg));
        (void)pthread_mutex_lock(&s->lock);
        (void)snprintf(s->last_error, sizeof(s->last_error), "Failed to retrieve thim certs: %.400s",
                       msg);
        (void)pthread_mutex_unlock(&s->lock);
        SHD_LOG_RESULT(attempt == 1 ? SHD_LOG_LEVEL_WARNING : SHD_LOG_LEVEL_INFO, SKR_LOG_CERTS,
                       r, "Failed to retrieve thim certs (attempt %u, next in %u s)", attempt,
                       backoff);
        if (wait_or_stop(s, backoff)) {
            return NULL;
        }
        backoff = backoff * 2 > FETCH_BACKOFF_MAX_S ? FETCH_BACKOFF_MAX_S : backoff * 2;
    }
}

shd_result skr_cert_state_fetch_start(const struct shd_http_client *http, const char *url,
                                      struct skr_cert_state *s)
{
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(url);
    SHD_ENSURE_REF(s);
    SHD_ENSURE(!s->thread_started, SHD_ERR_USAGE);
    if (skr_cert_state_ready(s)) {
        return SHD_OK;
    }
    s->http = http;
    s->url = url;
    int rc = pthread_create(&s->thread, NULL, fetch_thread, s);
    if (rc != 0) {
        return shd_error_set_errno(SHD_ERR_INTERNAL, rc, __FILE__, __LINE__);
    }
    s->thread_started = true;
    return SHD_OK;
}
