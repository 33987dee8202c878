/*
 * mds_lookalike_test.c - the metadata-server look-alike: Metadata-Flavor checks both ways,
 * X-Forwarded-For refusal, token / identity / email / project values, 404 for the unknown.
 */
#include "shd_test.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "creds.h"
#include "ctx.h"
#include "mds_lookalike.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "skr_fake_upstream.h"
#include "wif_test_util.h"

#define AUD "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"
#define V1 "/computeMetadata/v1/"

struct fixture {
    struct skr_fake_upstream *sts;
    struct shd_http_client *http;
    struct wif_test_clock clock;
    struct wif_test_source source;
    struct wif_config cfg;
    struct wif_ctx ctx;
    struct shd_http_server *server;
    char base[64];
};

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    f->sts = skr_fake_upstream_start(NULL);
    f->http = wif_test_client(NULL);
    wif_test_clock_init(&f->clock, (int64_t)time(NULL) * 1000);
    wif_test_source_init(&f->source, &f->clock, 3600);
    f->cfg.service_account = shd_strdup("sa@p.iam.gserviceaccount.com");
    f->cfg.project = shd_strdup("test-project");
    f->cfg.project_number = shd_strdup("123");
    f->cfg.zone = shd_strdup("us-central1-a");
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", skr_fake_upstream_port(f->sts));
    const struct wif_creds_options co = {
        .http = f->http,
        .sts_url = url,
        .audience = AUD,
        .source = {wif_test_fetch, &f->source},
    };
    f->ctx.cfg = &f->cfg;
    EXPECT_OK(wif_creds_new(&co, &f->ctx.creds));
    struct shd_http_server_options so;
    wif_mds_lookalike_server_options(&f->ctx, &so);
    EXPECT_OK(shd_http_server_create(&so, &f->server));
    uint16_t port = 0;
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->server, &port));
    EXPECT_OK(shd_http_server_start(f->server));
    (void)snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    shd_http_server_free(f->server);
    wif_creds_free(&f->ctx.creds);
    skr_fake_upstream_stop(f->sts);
    shd_http_client_free(f->http);
    shd_free(f->cfg.service_account);
    shd_free(f->cfg.project);
    shd_free(f->cfg.project_number);
    shd_free(f->cfg.zone);
    shd_free(f);
    return 0;
}

/* GET path with the given extra headers; checks the Metadata-Flavor answer header. */
static int get(struct fixture *f, const char *path, const struct shd_http_header *h, size_t nh,
               char **ret_body)
{
    char url[512];
    (void)snprintf(url, sizeof(url), "%s%s", f->base, path);
    const struct shd_http_request req = {.method = "GET", .url = url, .headers = h, .nheaders = nh};
    struct shd_http_response *resp = NULL;
    EXPECT_OK(shd_http_client_do(f->http, &req, &resp, NULL));
    const char *flavor = shd_http_response_header(resp, "Metadata-Flavor");
    assert_non_null(flavor);
    assert_string_equal(flavor, "Google");
    size_t len = 0;
    const uint8_t *b = shd_http_response_body(resp, &len);
    *ret_body = shd_strndup((const char *)b, len);
    int status = shd_http_response_status(resp);
    shd_http_response_free(resp);
    return status;
}

static const struct shd_http_header GOOGLE = {"Metadata-Flavor", "Google"};

static void test_header_checks(void **state)
{
    struct fixture *f = *state;
    char *body = NULL;
    assert_int_equal(get(f, V1 "instance/service-accounts/default/token", NULL, 0, &body), 403);
    assert_string_equal(body, "Missing Metadata-Flavor:Google header.\n");
    shd_free(body);
    const struct shd_http_header wrong = {"Metadata-Flavor", "google"};
    assert_int_equal(get(f, V1 "instance/service-accounts/default/token", &wrong, 1, &body), 403);
    shd_free(body);
    const struct shd_http_header proxied[] = {GOOGLE, {"X-Forwarded-For", "10.0.0.1"}};
    assert_int_equal(get(f, V1 "instance/service-accounts/default/token", proxied, 2, &body), 403);
    shd_free(body);
    assert_int_equal(skr_fake_upstream_count(f->sts), 0); /* no token was minted */
    assert_int_equal(f->source.fetches, 0);
}

static void test_values(void **state)
{
    struct fixture *f = *state;
    char *body = NULL;
    skr_fake_upstream_push(f->sts, 200,
                           "{\"access_token\":\"fed-1\",\"token_type\":\"Bearer\","
                           "\"expires_in\":3600}",
                           NULL);
    assert_int_equal(
        get(f, V1 "instance/service-accounts/default/token?scopes=x", &GOOGLE, 1, &body), 200);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(body, strlen(body), NULL, &doc));
    assert_string_equal(json_string_value(json_object_get(doc, "access_token")), "fed-1");
    assert_string_equal(json_string_value(json_object_get(doc, "token_type")), "Bearer");
    json_int_t exp = json_integer_value(json_object_get(doc, "expires_in"));
    assert_true(exp > 3590 && exp <= 3600);
    json_decref(doc);
    shd_free(body);

    assert_int_equal(get(f,
                         V1 "instance/service-accounts/default/identity?audience=https%3A%2F%2Fa"
                            "&format=full",
                         &GOOGLE, 1, &body),
                     200);
    assert_string_equal(body, "att-2-https://a"); /* raw JWT text, no newline */
    shd_free(body);
    assert_int_equal(get(f, V1 "instance/service-accounts/default/identity", &GOOGLE, 1, &body),
                     400);
    shd_free(body);

    const struct {
        const char *path;
        const char *want;
    } vals[] = {
        {V1 "instance/service-accounts/default/email", "sa@p.iam.gserviceaccount.com"},
        {V1 "project/project-id", "test-project"},
        {V1 "project/numeric-project-id", "123"},
        {V1 "instance/zone", "projects/123/zones/us-central1-a"},
        {V1 "instance/service-accounts/default/scopes",
         "https://www.googleapis.com/auth/cloud-platform\n"},
    };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        assert_int_equal(get(f, vals[i].path, &GOOGLE, 1, &body), 200);
        assert_string_equal(body, vals[i].want);
        shd_free(body);
    }
    assert_int_equal(get(f, V1 "instance", &GOOGLE, 1, &body), 200);
    shd_free(body);
    assert_int_equal(get(f, V1 "instance/attributes/foo", &GOOGLE, 1, &body), 404);
    shd_free(body);
    assert_int_equal(get(f, "/other", &GOOGLE, 1, &body), 404);
    shd_free(body);
    /* Without a service account, email is 404. */
    shd_free(f->cfg.service_account);
    f->cfg.service_account = NULL;
    assert_int_equal(get(f, V1 "instance/service-accounts/default/email", &GOOGLE, 1, &body), 404);
    shd_free(body);
}

static void test_upstream_failure(void **state)
{
    struct fixture *f = *state;
    f->source.fail_next = 1;
    char *body = NULL;
    assert_int_equal(get(f, V1 "instance/service-accounts/default/token", &GOOGLE, 1, &body), 500);
    assert_string_equal(body, "token: attestation: verifier unavailable\n");
    shd_free(body);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
