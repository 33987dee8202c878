/*
 * cache_test.c - the credential chain's caches and schedule (creds.h): access-token cache hits,
 * the refresh 5 minutes before expiry, invalid_grant -> fresh attestation -> one retry, the
 * refresh delay window U(0.7, 0.9) and the 60 s .. 1 h backoff, with an injected clock.
 */
#include "shd_test.h"

#include <string.h>
#include <time.h>

#include "creds.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "skr_fake_upstream.h"
#include "wif_test_util.h"

#define AUD "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"
#define T0_MS 1700000000000LL
#define STS_OK(tok) "{\"access_token\":\"" tok "\",\"token_type\":\"Bearer\",\"expires_in\":3600}"
#define INVALID_GRANT "{\"error\":\"invalid_grant\",\"error_description\":\"stale\"}"

struct fixture {
    struct skr_fake_upstream *sts;
    struct shd_http_client *http;
    struct wif_test_clock clock;
    struct wif_test_source source;
    struct wif_creds_hooks hooks;
    struct wif_creds *creds;
    char url[64];
    /* refresher thread test */
    uint64_t waits[16];
    unsigned nwaits;
    pthread_mutex_t mu;
};

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    f->sts = skr_fake_upstream_start(NULL);
    f->http = wif_test_client(NULL);
    (void)snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", skr_fake_upstream_port(f->sts));
    wif_test_clock_init(&f->clock, T0_MS);
    wif_test_source_init(&f->source, &f->clock, 3600);
    assert_int_equal(pthread_mutex_init(&f->mu, NULL), 0);
    f->hooks = (struct wif_creds_hooks){
        .now_ms = wif_test_now_ms, .random_u32 = wif_test_random, .ctx = &f->clock};
    const struct wif_creds_options o = {
        .http = f->http,
        .sts_url = f->url,
        .audience = AUD,
        .source = {wif_test_fetch, &f->source},
        .hooks = &f->hooks,
    };
    EXPECT_OK(wif_creds_new(&o, &f->creds));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wif_creds_free(&f->creds);
    assert_null(f->creds);
    skr_fake_upstream_stop(f->sts);
    shd_http_client_free(f->http);
    shd_free(f);
    return 0;
}

static void get_token(struct fixture *f, const char *want)
{
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    EXPECT_OK(wif_creds_access_token(f->creds, &tok, &len, &expiry));
    assert_string_equal(tok, want);
    assert_int_equal(len, strlen(want));
    shd_free_wipe(tok, len + 1);
}

static void test_cache_hit(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->sts, 200, STS_OK("fed-1"), NULL);
    get_token(f, "fed-1");
    assert_int_equal(skr_fake_upstream_count(f->sts), 1);
    assert_int_equal(f->source.fetches, 1);
    /* The subject token sent was the attestation token. */
    assert_non_null(strstr(skr_fake_upstream_last(f->sts)->body, "&subject_token=att-1&"));
    get_token(f, "fed-1");
    get_token(f, "fed-1");
    assert_int_equal(skr_fake_upstream_count(f->sts), 1); /* no upstream call */
    assert_int_equal(f->source.fetches, 1);
    struct wif_creds_status st;
    wif_creds_status_get(f->creds, &st);
    assert_int_equal(st.access_expiry, T0_MS / 1000 + 3600);
    assert_int_equal(st.attestation_exp, T0_MS / 1000 + 3600);
    assert_int_equal(st.sts_exchanges, 1);
}

static void test_early_refresh(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->sts, 200, STS_OK("fed-1"), NULL);
    skr_fake_upstream_push(f->sts, 200, STS_OK("fed-2"), NULL);
    get_token(f, "fed-1");
    /* One second before the 5-minute mark: still cached. */
    wif_test_clock_advance(&f->clock, (3600 - 301) * 1000LL);
    get_token(f, "fed-1");
    assert_int_equal(skr_fake_upstream_count(f->sts), 1);
    /* At expiry - 5 min: refreshed. The attestation token (3600 s) still has 300 s > 60 s
     * margin, so it is reused. */
    wif_test_clock_advance(&f->clock, 1000);
    get_token(f, "fed-2");
    assert_int_equal(skr_fake_upstream_count(f->sts), 2);
    assert_int_equal(f->source.fetches, 1);
    /* fed-2 lives until T0 + 6900 s and is refreshed from T0 + 6600 s; by then att-1 (exp
     * T0 + 3600 s) is long past its margin, so a new attestation token is earned. */
    skr_fake_upstream_push(f->sts, 200, STS_OK("fed-3"), NULL);
    wif_test_clock_advance(&f->clock, (6600 - 3300 - 1) * 1000LL);
    get_token(f, "fed-2");
    wif_test_clock_advance(&f->clock, 1000);
    get_token(f, "fed-3");
    assert_int_equal(f->source.fetches, 2);
    assert_non_null(strstr(skr_fake_upstream_last(f->sts)->body, "&subject_token=att-2&"));
}

static void test_invalid_grant_retry_once(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->sts, 400, INVALID_GRANT, NULL);
    skr_fake_upstream_push(f->sts, 200, STS_OK("fed-ok"), NULL);
    get_token(f, "fed-ok");
    assert_int_equal(skr_fake_upstream_count(f->sts), 2);
    assert_int_equal(f->source.fetches, 2); /* a fresh attestation token was earned */
    assert_non_null(strstr(skr_fake_upstream_last(f->sts)->body, "&subject_token=att-2&"));
}

static void test_invalid_grant_twice_fails(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->sts, 400, INVALID_GRANT, NULL); /* repeats */
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    EXPECT_ERR(wif_creds_access_token(f->creds, &tok, &len, &expiry), SHD_ERR_TOKEN);
    assert_null(tok);
    assert_int_equal(skr_fake_upstream_count(f->sts), 2); /* the first try and one retry */
    assert_int_equal(f->source.fetches, 2);
    assert_string_equal(wif_test_err(), "STS token exchange: HTTP 400 invalid_grant: stale");
}

static void test_attestation_failure_named(void **state)
{
    struct fixture *f = *state;
    f->source.fail_next = 1;
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    EXPECT_ERR(wif_creds_access_token(f->creds, &tok, &len, &expiry), SHD_ERR_UNAVAILABLE);
    assert_string_equal(wif_test_err(), "attestation: verifier unavailable");
    assert_int_equal(skr_fake_upstream_count(f->sts), 0);
}

static void test_identity_audiences(void **state)
{
    struct fixture *f = *state;
    char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    EXPECT_OK(wif_creds_attestation_token(NULL, f->creds, &tok, &len, &exp));
    assert_string_equal(tok, "att-1");
    shd_free_wipe(tok, len + 1);
    EXPECT_OK(wif_creds_attestation_token("", f->creds, &tok, &len, &exp));
    assert_string_equal(tok, "att-1"); /* cached */
    shd_free_wipe(tok, len + 1);
    EXPECT_OK(wif_creds_attestation_token("https://svc", f->creds, &tok, &len, &exp));
    assert_string_equal(tok, "att-2-https://svc"); /* custom audiences are never cached */
    shd_free_wipe(tok, len + 1);
    EXPECT_OK(wif_creds_attestation_token("https://svc", f->creds, &tok, &len, &exp));
    assert_string_equal(tok, "att-3-https://svc");
    shd_free_wipe(tok, len + 1);
}

static void test_refresh_window(void **state)
{
    (void)state;
    const int64_t life = 3600000;
    assert_int_equal(wif_creds_refresh_delay_ms(life, 0), 2520000u);          /* 0.7 */
    assert_int_equal(wif_creds_refresh_delay_ms(life, UINT32_MAX), 3239996u); /* < 0.9 */
    assert_int_equal(wif_creds_refresh_delay_ms(life, 1u << 31), 2880000u);   /* 0.8 */
    for (uint32_t r = 0; r < 64; r++) {
        uint32_t rnd = r * 67108864u + r;
        uint64_t d = wif_creds_refresh_delay_ms(life, rnd);
        assert_true(d >= 2520000u && d <= 3240000u);
    }
    /* Very short or past lifetimes never make the refresher spin. */
    assert_int_equal(wif_creds_refresh_delay_ms(0, 0), WIF_CREDS_REFRESH_MIN_MS);
    assert_int_equal(wif_creds_refresh_delay_ms(-5, 0), WIF_CREDS_REFRESH_MIN_MS);
    assert_int_equal(wif_creds_refresh_delay_ms(1000, 0), WIF_CREDS_REFRESH_MIN_MS);
    assert_int_equal(wif_creds_refresh_delay_ms(10000, 0), 7000u);
}

static void test_backoff(void **state)
{
    (void)state;
    const uint64_t want[] = {60000, 120000, 240000, 480000, 960000, 1920000, 3600000, 3600000};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(wif_creds_backoff_ms(i + 1), want[i]);
    }
    assert_int_equal(wif_creds_backoff_ms(1000), 3600000u);
    assert_int_equal(wif_creds_backoff_ms(UINT32_MAX), 3600000u);
}

static void test_refresh_step(void **state)
{
    struct fixture *f = *state;
    uint64_t delay = 0;
    f->clock.random = 0;
    EXPECT_OK(wif_creds_refresh_step(f->creds, &delay));
    assert_int_equal(delay, 2520000u);
    f->source.fail_next = 3;
    EXPECT_ERR(wif_creds_refresh_step(f->creds, &delay), SHD_ERR_UNAVAILABLE);
    assert_int_equal(delay, 60000u);
    EXPECT_ERR(wif_creds_refresh_step(f->creds, &delay), SHD_ERR_UNAVAILABLE);
    assert_int_equal(delay, 120000u);
    EXPECT_ERR(wif_creds_refresh_step(f->creds, &delay), SHD_ERR_UNAVAILABLE);
    assert_int_equal(delay, 240000u);
    struct wif_creds_status st;
    wif_creds_status_get(f->creds, &st);
    assert_int_equal(st.refresh_failures, 3);
    /* Success resets the backoff; the delay follows the remaining lifetime. */
    f->source.lifetime_s = 100;
    f->clock.random = UINT32_MAX;
    EXPECT_OK(wif_creds_refresh_step(f->creds, &delay));
    assert_int_equal(delay, 89999u);
    wif_creds_status_get(f->creds, &st);
    assert_int_equal(st.refresh_failures, 0);
    assert_int_equal(st.refreshes, 2);
}

/* The refresher thread with an injected sleep: records each delay, moves the clock by it and
 * returns at once; after enough steps it yields so wif_creds_stop can take effect. */
static void fake_wait(void *ctx, uint64_t ms)
{
    struct fixture *f = ctx;
    (void)pthread_mutex_lock(&f->mu);
    if (f->nwaits < 16) {
        f->waits[f->nwaits] = ms;
    }
    f->nwaits++;
    unsigned n = f->nwaits;
    (void)pthread_mutex_unlock(&f->mu);
    wif_test_clock_advance(&f->clock, (int64_t)ms);
    if (n >= 6) {
        const struct timespec ts = {0, 5000000};
        (void)nanosleep(&ts, NULL);
    }
}

static int64_t fixture_now(void *ctx)
{
    return wif_test_now_ms(&((struct fixture *)ctx)->clock);
}

static uint32_t fixture_random(void *ctx)
{
    return wif_test_random(&((struct fixture *)ctx)->clock);
}

static void test_refresher_thread(void **state)
{
    struct fixture *f = *state;
    wif_creds_free(&f->creds);
    f->hooks = (struct wif_creds_hooks){
        .now_ms = fixture_now, .random_u32 = fixture_random, .wait_ms = fake_wait, .ctx = f};
    const struct wif_creds_options o = {
        .http = f->http,
        .sts_url = f->url,
        .audience = AUD,
        .source = {wif_test_fetch, &f->source},
        .hooks = &f->hooks,
    };
    EXPECT_OK(wif_creds_new(&o, &f->creds));
    f->clock.random = 0;
    f->source.lifetime_s = 10; /* short lifetimes run through quickly with the fake sleep */
    f->source.fail_next = 2;
    EXPECT_OK(wif_creds_start(f->creds));
    EXPECT_ERR(wif_creds_start(f->creds), SHD_ERR_USAGE);
    for (int i = 0; i < 2000; i++) {
        (void)pthread_mutex_lock(&f->mu);
        unsigned n = f->nwaits;
        (void)pthread_mutex_unlock(&f->mu);
        if (n >= 6) {
            break;
        }
        const struct timespec ts = {0, 1000000};
        (void)nanosleep(&ts, NULL);
    }
    wif_creds_stop(f->creds);
    assert_true(f->nwaits >= 6);
    /* Two failures (60 s, 120 s), then 0.7 of each 10 s token's remaining lifetime. */
    assert_int_equal(f->waits[0], 60000u);
    assert_int_equal(f->waits[1], 120000u);
    for (unsigned i = 2; i < 6; i++) {
        assert_int_equal(f->waits[i], 7000u);
    }
    assert_true(f->source.fetches >= 4);
    wif_creds_stop(f->creds); /* idempotent */
}

static void test_new_rejects(void **state)
{
    (void)state;
    struct wif_creds *c = NULL;
    struct wif_creds_options o = {0};
    EXPECT_ERR(wif_creds_new(&o, &c), SHD_ERR_CONFIG);
    assert_null(c);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_grant_retry_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_grant_twice_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_failure_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_audiences, setup, teardown),
        cmocka_unit_test(test_refresh_window),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test_setup_teardown(test_refresh_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresher_thread, setup, teardown),
        cmocka_unit_test(test_new_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
