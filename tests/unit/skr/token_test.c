/*
 * token_test.c - AAD access tokens (skr/src/token.c) against a scripted in-process server:
 * the IMDS request shape, the workload-identity form over TLS, the cache with its 5-minute early
 * refresh, retries on 429/503 with an injected sleep, and the original's error chains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shd/http_client.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "skr.h"
#include "skr_fake_upstream.h"
#include "tls_server.h"
#include "token.h"

static void expect_chain(const char *want)
{
    char buf[4096];
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void expect_chain_prefix(const char *want)
{
    char buf[4096];
    (void)shd_error_render(buf, sizeof(buf));
    if (strncmp(buf, want, strlen(want)) != 0) {
        fail_msg("chain \"%s\" does not start with \"%s\"", buf, want);
    }
}

struct sleeps {
    unsigned n;
    uint32_t ms[8];
};

static void record_sleep(void *ctx, uint32_t ms)
{
    struct sleeps *s = ctx;
    if (s->n < 8) {
        s->ms[s->n] = ms;
    }
    s->n++;
}

static time_t g_now = 1700000000;

static time_t fake_now(void *ctx)
{
    (void)ctx;
    return g_now;
}

static struct shd_http_client *client_new(const char *ca_file, const char *connect_to,
                                          struct sleeps *s)
{
    static struct shd_http_client_hooks hooks;
    struct shd_http_client *c = NULL;
    hooks = (struct shd_http_client_hooks){.sleep_ms = record_sleep, .ctx = s};
    struct shd_http_client_options o = {.ca_file = ca_file,
                                        .connect_to = connect_to,
                                        .connect_timeout_ms = 2000,
                                        .timeout_ms = 5000,
                                        .retry = SHD_HTTP_RETRY_DEFAULT,
                                        .hooks = &hooks};
    EXPECT_OK(shd_http_client_create(&o, &c));
    return c;
}

/* An IMDS context pointing at the fake. */
struct imds_env {
    struct skr_fake_upstream *fake;
    struct sleeps sleeps;
    char base[64];
    char client_id[32];
    struct skr_ctx ctx;
};

static void imds_env_init(struct imds_env *e, bool with_client_id)
{
    memset(e, 0, sizeof(*e));
    e->fake = skr_fake_upstream_start(NULL);
    (void)snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u",
                   skr_fake_upstream_port(e->fake));
    (void)snprintf(e->client_id, sizeof(e->client_id), "cid-1 &x");
    e->ctx.imds_base = e->base;
    e->ctx.args.identity_client_id = with_client_id ? e->client_id : NULL;
    e->ctx.http = client_new(NULL, NULL, &e->sleeps);
}

static void imds_env_free(struct imds_env *e)
{
    shd_http_client_free(e->ctx.http);
    skr_fake_upstream_stop(e->fake);
}

static void free_token(char *t)
{
    shd_free_wipe(t, strlen(t) + 1);
}

static void test_resource_for(void **state)
{
    (void)state;
    assert_string_equal(skr_token_resource_for("myhsm.managedhsm.azure.net"),
                        "https://managedhsm.azure.net");
    assert_string_equal(skr_token_resource_for("myvault.vault.azure.net"),
                        "https://vault.azure.net");
    assert_string_equal(skr_token_resource_for(NULL), "https://vault.azure.net");
}

static void test_imds_request_shape(void **state)
{
    (void)state;
    struct imds_env e;
    char *tok = NULL;

    imds_env_init(&e, true);
    skr_fake_upstream_push(e.fake, 200,
                           "{\"access_token\":\"imds-tok\",\"refresh_token\":\"\",\"expires_in\":"
                           "\"86399\",\"expires_on\":\"1700086399\",\"not_before\":\"1700000000\","
                           "\"resource\":\"https://vault.azure.net\",\"token_type\":\"Bearer\"}",
                           NULL);
    EXPECT_OK(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok));
    assert_string_equal(tok, "imds-tok");
    free_token(tok);
    const struct skr_fake_request *r = skr_fake_upstream_last(e.fake);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->path, "/metadata/identity/oauth2/token");
    assert_string_equal(r->api_version, "2018-02-01");
    assert_string_equal(r->resource, "https://vault.azure.net");
    assert_string_equal(r->client_id, "cid-1 &x"); /* escaped on the wire, decoded here */
    assert_string_equal(r->metadata, "true");
    assert_string_equal(r->authorization, "");

    /* Without identity.client_id there is no client_id parameter; no cache: a fetch each time. */
    e.ctx.args.identity_client_id = NULL;
    EXPECT_OK(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_MANAGED_HSM, &tok));
    free_token(tok);
    r = skr_fake_upstream_last(e.fake);
    assert_string_equal(r->client_id, "");
    assert_string_equal(r->resource, "https://managedhsm.azure.net");
    assert_int_equal(skr_fake_upstream_count(e.fake), 2);
    imds_env_free(&e);
}

static void test_cache_and_early_refresh(void **state)
{
    (void)state;
    struct imds_env e;
    struct skr_token_cache *cache = NULL;
    const struct skr_token_cache_hooks hooks = {.now = fake_now};
    char *tok = NULL;

    imds_env_init(&e, false);
    EXPECT_OK(skr_token_cache_new(&hooks, &cache));
    g_now = 1700000000;
    skr_fake_upstream_push(e.fake, 200, "{\"access_token\":\"t1\",\"expires_in\":\"3600\"}", NULL);
    skr_fake_upstream_push(e.fake, 200, "{\"access_token\":\"t2\",\"expires_in\":3600}", NULL);
    skr_fake_upstream_push(e.fake, 200, "{\"access_token\":\"t3\",\"expires_on\":\"1700010000\"}",
                           NULL);
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    assert_string_equal(tok, "t1");
    free_token(tok);
    /* Within the lifetime minus 5 minutes: served from the cache. */
    g_now += 3600 - 301;
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    assert_string_equal(tok, "t1");
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 1);
    /* Another resource is another entry. */
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_MANAGED_HSM, &tok));
    assert_string_equal(tok, "t2");
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 2);
    /* 5 minutes before expiry: refreshed early. */
    g_now += 1;
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    assert_string_equal(tok, "t3");
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 3);
    /* expires_on (absolute) when there is no expires_in. */
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    assert_string_equal(tok, "t3");
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 3);
    g_now = 1700010000 - 300;
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 4);
    skr_token_cache_free(&cache);
    assert_null(cache);
    skr_token_cache_free(NULL);
    imds_env_free(&e);
}

/* A token without any expiry is used once and never cached. */
static void test_cache_no_expiry(void **state)
{
    (void)state;
    struct imds_env e;
    struct skr_token_cache *cache = NULL;
    char *tok = NULL;

    imds_env_init(&e, false);
    EXPECT_OK(skr_token_cache_new(NULL, &cache));
    skr_fake_upstream_push(e.fake, 200, "{\"access_token\":\"t\"}", NULL);
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    free_token(tok);
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok));
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 2);
    skr_token_cache_free(&cache);
    imds_env_free(&e);
}

static void test_imds_retries(void **state)
{
    (void)state;
    struct imds_env e;
    char *tok = NULL;

    imds_env_init(&e, false);
    skr_fake_upstream_push(e.fake, 503, "{}", NULL);
    skr_fake_upstream_push(e.fake, 429, "{}", "3");
    skr_fake_upstream_push(e.fake, 200, "{\"access_token\":\"after-retries\"}", NULL);
    EXPECT_OK(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok));
    assert_string_equal(tok, "after-retries");
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 3);
    assert_int_equal(e.sleeps.n, 2);
    assert_true(e.sleeps.ms[0] <= 250);
    assert_int_equal(e.sleeps.ms[1], 3000);
    imds_env_free(&e);

    /* Exhausted (4 attempts): the last status is reported like a single failure. */
    imds_env_init(&e, false);
    skr_fake_upstream_push(e.fake, 500, "{\"error\":\"boom\"}", NULL);
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_HTTP_STATUS);
    expect_chain("retrieving authentication token failed: pulling http get authentication token "
                 "response failed: {\"error\":\"boom\"}: http response status equal to 500 "
                 "Internal Server Error");
    assert_int_equal(skr_fake_upstream_count(e.fake), 4);
    assert_int_equal(e.sleeps.n, 3);
    imds_env_free(&e);
}

static void test_imds_errors(void **state)
{
    (void)state;
    struct imds_env e;
    char *tok = NULL;

    imds_env_init(&e, false);
    skr_fake_upstream_push(
        e.fake, 400, "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}",
        NULL);
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_HTTP_STATUS);
    expect_chain("retrieving authentication token failed: pulling http get authentication token "
                 "response failed: {\"error\":\"invalid_request\",\"error_description\":"
                 "\"Identity not found\"}: http response status equal to 400 Bad Request");
    assert_int_equal(skr_fake_upstream_count(e.fake), 1); /* 400 is final */
    imds_env_free(&e);

    const char *bodies[] = {"not json", "{\"access_token\":7}", "{\"access_token\":\"\"}",
                            "{\"access_token\":\"t\",\"expires_in\":\"soon\"}"};
    for (size_t i = 0; i < 4; i++) {
        imds_env_init(&e, false);
        skr_fake_upstream_push(e.fake, 200, bodies[i], NULL);
        assert_true(shd_is_err(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok)));
        expect_chain_prefix("retrieving authentication token failed: unmarshalling "
                            "authentication token response failed: ");
        assert_null(tok);
        imds_env_free(&e);
    }

    /* Nothing listening: Go's url.Error form with the full URI. */
    imds_env_init(&e, false);
    uint16_t port = skr_fake_upstream_port(e.fake);
    skr_fake_upstream_stop(e.fake);
    e.fake = NULL;
    char want[512];
    (void)snprintf(want, sizeof(want),
                   "retrieving authentication token failed: http get authentication token failed "
                   "for http://127.0.0.1:%u/metadata/identity/oauth2/token?api-version=2018-02-01"
                   "&resource=https%%3A%%2F%%2Fvault.azure.net: HTTP GET failed: Get "
                   "\"http://127.0.0.1:%u/metadata/identity/oauth2/token?api-version=2018-02-01"
                   "&resource=https%%3A%%2F%%2Fvault.azure.net\": giving up after 4 attempts: ",
                   port, port);
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_RETRY_EXHAUSTED);
    expect_chain_prefix(want);
    shd_http_client_free(e.ctx.http);
}

/* ---- workload identity over TLS ---- */

struct wi_env {
    struct shd_test_pki *pki;
    struct skr_fake_upstream *fake;
    struct sleeps sleeps;
    char ca_path[64];
    char token_path[64];
    char connect_to[128];
    char client_id[32];
    char tenant[32];
    char authority[64];
    struct skr_ctx ctx;
};

static void wi_env_init(struct wi_env *e, const char *federated)
{
    static const char *const names[] = {"login.microsoftonline.com"};

    memset(e, 0, sizeof(*e));
    e->pki = shd_test_pki_new("token test CA", names, 1);
    e->fake = skr_fake_upstream_start(e->pki);
    (void)snprintf(e->ca_path, sizeof(e->ca_path), "/tmp/skr-token-ca-%d.pem", (int)getpid());
    (void)snprintf(e->token_path, sizeof(e->token_path), "/tmp/skr-token-fed-%d", (int)getpid());
    shd_test_pki_write_ca(e->pki, e->ca_path);
    FILE *fp = fopen(e->token_path, "w");
    assert_non_null(fp);
    fputs(federated, fp);
    fclose(fp);
    (void)snprintf(e->connect_to, sizeof(e->connect_to),
                   "login.microsoftonline.com:443:127.0.0.1:%u", skr_fake_upstream_port(e->fake));
    (void)snprintf(e->client_id, sizeof(e->client_id), "app-id-1");
    (void)snprintf(e->tenant, sizeof(e->tenant), "tenant-1");
    (void)snprintf(e->authority, sizeof(e->authority), "https://login.microsoftonline.com/");
    e->ctx.http = client_new(e->ca_path, e->connect_to, &e->sleeps);
    e->ctx.wi_client_id = e->client_id;
    e->ctx.wi_tenant_id = e->tenant;
    e->ctx.wi_token_file = e->token_path;
    e->ctx.aad_authority = e->authority;
}

static void wi_env_free(struct wi_env *e)
{
    shd_http_client_free(e->ctx.http);
    skr_fake_upstream_stop(e->fake);
    shd_test_pki_free(e->pki);
    unlink(e->ca_path);
    unlink(e->token_path);
}

static void test_workload_identity(void **state)
{
    (void)state;
    struct wi_env e;
    struct skr_token_cache *cache = NULL;
    char *tok = NULL;

    wi_env_init(&e, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n");
    EXPECT_OK(skr_token_cache_new(NULL, &cache));
    skr_fake_upstream_push(e.fake, 200,
                           "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                           "\"access_token\":\"wi-token\"}",
                           NULL);
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_MANAGED_HSM, &tok));
    assert_string_equal(tok, "wi-token");
    free_token(tok);
    const struct skr_fake_request *r = skr_fake_upstream_last(e.fake);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/tenant-1/oauth2/v2.0/token");
    assert_string_equal(r->content_type, "application/x-www-form-urlencoded");
    assert_string_equal(r->body,
                        "grant_type=client_credentials&client_id=app-id-1&client_assertion_type="
                        "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
                        "&client_assertion=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
                        "&scope=https%3A%2F%2Fmanagedhsm.azure.net%2F.default");
    /* Cached per source and resource. */
    EXPECT_OK(skr_token_get(&e.ctx, cache, SKR_RESOURCE_MANAGED_HSM, &tok));
    free_token(tok);
    assert_int_equal(skr_fake_upstream_count(e.fake), 1);

    /* AAD refuses: the original's workload-identity chain. */
    skr_fake_upstream_push(
        e.fake, 401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS700024\"}", NULL);
    EXPECT_ERR(skr_token_get(&e.ctx, cache, SKR_RESOURCE_VAULT, &tok), SHD_ERR_HTTP_STATUS);
    expect_chain("retrieving authentication token using workload identity failed: failed to "
                 "acquire access token: {\"error\":\"invalid_client\",\"error_description\":"
                 "\"AADSTS700024\"}: http response status equal to 401 Unauthorized");
    skr_token_cache_free(&cache);
    wi_env_free(&e);
}

static void test_workload_identity_errors(void **state)
{
    (void)state;
    struct wi_env e;
    char *tok = NULL;

    wi_env_init(&e, "assertion");
    /* The assertion is a credential: never sent over plain http. */
    (void)snprintf(e.authority, sizeof(e.authority), "http://127.0.0.1:1");
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_CONFIG);
    expect_chain("retrieving authentication token using workload identity failed: failed to "
                 "acquire access token: authority host http://127.0.0.1:1 is not an https URL");
    (void)snprintf(e.authority, sizeof(e.authority), "https://login.microsoftonline.com");
    (void)snprintf(e.tenant, sizeof(e.tenant), "../evil");
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_CONFIG);
    (void)snprintf(e.tenant, sizeof(e.tenant), "tenant-1");
    unlink(e.token_path);
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_NOT_FOUND);
    expect_chain_prefix("retrieving authentication token using workload identity failed: failed "
                        "to acquire access token: reading the federated token file failed: ");
    FILE *fp = fopen(e.token_path, "w");
    assert_non_null(fp);
    fputs("\n", fp);
    fclose(fp);
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_INPUT);
    expect_chain("retrieving authentication token using workload identity failed: failed to "
                 "acquire access token: the federated token file is empty");
    assert_int_equal(skr_fake_upstream_count(e.fake), 0);
    wi_env_free(&e);

    /* A server certificate for another name: TLS verification fails (never switched off). */
    static const char *const names[] = {"elsewhere.example.com"};
    wi_env_init(&e, "assertion");
    shd_http_client_free(e.ctx.http);
    struct shd_test_pki *other = shd_test_pki_new("other CA", names, 1);
    struct skr_fake_upstream *wrong = skr_fake_upstream_start(other);
    (void)snprintf(e.connect_to, sizeof(e.connect_to), "login.microsoftonline.com:443:127.0.0.1:%u",
                   skr_fake_upstream_port(wrong));
    e.ctx.http = client_new(e.ca_path, e.connect_to, &e.sleeps);
    EXPECT_ERR(skr_token_get(&e.ctx, NULL, SKR_RESOURCE_VAULT, &tok), SHD_ERR_BAD_CERT);
    expect_chain_prefix("retrieving authentication token using workload identity failed: failed "
                        "to acquire access token: HTTP GET failed: Post "
                        "\"https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token\": ");
    assert_int_equal(skr_fake_upstream_count(wrong), 0);
    skr_fake_upstream_stop(wrong);
    shd_test_pki_free(other);
    wi_env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resource_for),
        cmocka_unit_test(test_imds_request_shape),
        cmocka_unit_test(test_cache_and_early_refresh),
        cmocka_unit_test(test_cache_no_expiry),
        cmocka_unit_test(test_imds_retries),
        cmocka_unit_test(test_imds_errors),
        cmocka_unit_test(test_workload_identity),
        cmocka_unit_test(test_workload_identity_errors),
    };
    return cmocka_run_group_tests_name("skr/token", tests, NULL, NULL);
}
