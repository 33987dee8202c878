/*
 * wif_test_util.h - helpers shared by the gcp-wif unit tests (header-only, test code only): a
 * fake clock, a fake attestation token source, temporary directories and plain-HTTP clients.
 */
#pragma once

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "shd/http_client.h"
#include "shd/mem.h"
#include "shd_test.h"

/* A clock the tests move by hand (ms since the epoch). */
struct wif_test_clock {
    pthread_mutex_t mu;
    int64_t now_ms;
    uint32_t random;
};

static inline int64_t wif_test_now_ms(void *ctx)
{
    struct wif_test_clock *c = ctx;
    (void)pthread_mutex_lock(&c->mu);
    int64_t v = c->now_ms;
    (void)pthread_mutex_unlock(&c->mu);
    return v;
}

static inline uint32_t wif_test_random(void *ctx)
{
    return ((struct wif_test_clock *)ctx)->random;
}

static inline void wif_test_clock_advance(struct wif_test_clock *c, int64_t ms)
{
    (void)pthread_mutex_lock(&c->mu);
    c->now_ms += ms;
    (void)pthread_mutex_unlock(&c->mu);
}

/* A token source handing out "att-<n>" tokens that live lifetime_s from the clock's now. */
struct wif_test_source {
    struct wif_test_clock *clock;
    int64_t lifetime_s;
    unsigned fetches;
    unsigned fail_next; /* this many fetches fail with SHD_ERR_UNAVAILABLE */
    char last_audience[128];
    pthread_mutex_t mu;
};

static inline shd_result wif_test_fetch(void *ctx, const char *audience, char **ret_token,
                                        size_t *ret_len, int64_t *ret_exp)
{
    struct wif_test_source *s = ctx;
    (void)pthread_mutex_lock(&s->mu);
    (void)snprintf(s->last_audience, sizeof(s->last_audience), "%s",
                   audience != NULL ? audience : "");
    if (s->fail_next > 0) {
        s->fail_next--;
        (void)pthread_mutex_unlock(&s->mu);
        return shd_error_setf(SHD_ERR_UNAVAILABLE, __FILE__, __LINE__, "verifier unavailable");
    }
    unsigned n = ++s->fetches;
    (void)pthread_mutex_unlock(&s->mu);
    char buf[64];
    int len = snprintf(buf, sizeof(buf), "att-%u%s%s", n, audience != NULL ? "-" : "",
                       audience != NULL ? audience : "");
    *ret_token = shd_strdup(buf);
    assert_non_null(*ret_token);
    *ret_len = (size_t)len;
    *ret_exp = wif_test_now_ms(s->clock) / 1000 + s->lifetime_s;
    return SHD_OK;
}

static inline void wif_test_source_init(struct wif_test_source *s, struct wif_test_clock *clock,
                                        int64_t lifetime_s)
{
    shd_memzero(s, sizeof(*s));
    s->clock = clock;
    s->lifetime_s = lifetime_s;
    assert_int_equal(pthread_mutex_init(&s->mu, NULL), 0);
}

static inline void wif_test_clock_init(struct wif_test_clock *c, int64_t now_ms)
{
    shd_memzero(c, sizeof(*c));
    c->now_ms = now_ms;
    c->random = UINT32_MAX / 2;
    assert_int_equal(pthread_mutex_init(&c->mu, NULL), 0);
}

/* A fresh temporary directory (mkdtemp); the caller removes it with wif_test_rmdir. */
static inline char *wif_test_tmpdir(void)
{
    char tmpl[] = "/tmp/wif-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *copy = shd_strdup(d);
    assert_non_null(copy);
    return copy;
}

static inline void wif_test_rmdir(char *dir)
{
    char cmd[512];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    shd_free(dir);
}

/* A plain client without retries (or over a Unix socket when sock is not NULL). */
static inline struct shd_http_client *wif_test_client(const char *sock)
{
    const struct shd_http_client_options o = {
        .unix_socket_path = sock,
        .timeout_ms = 10000,
        .retry = SHD_HTTP_RETRY_NONE,
    };
    struct shd_http_client *c = NULL;
    EXPECT_OK(shd_http_client_create(&o, &c));
    return c;
}

/* Renders the current error chain into a static buffer (for message assertions). */
static inline const char *wif_test_err(void)
{
    static char buf[4096];
    (void)shd_error_render(buf, sizeof(buf));
    return buf;
}
