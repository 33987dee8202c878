/*
 * sts_test.c - STS form bytes, the exchange and IAM impersonation against a scripted fake.
 */
#include "shd_test.h"

#include <string.h>

#include "gapi.h"
#include "iam.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "skr_fake_upstream.h"
#include "sts.h"
#include "util.h"
#include "wif_test_util.h"

#define AUD "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/x"

static const char FORM[] =
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
    "&audience=%2F%2Fiam.googleapis.com%2Fprojects%2F123%2Flocations%2Fglobal%2F"
    "workloadIdentityPools%2Fp%2Fproviders%2Fx"
    "&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"
    "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
    "&subject_token=eyJh.b-c_d.e%2Bf+g%7E"
    "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt";

static void test_form_exact(void **state)
{
    (void)state;
    char *form = NULL;
    size_t len = 0;
    EXPECT_OK(wif_sts_form_build(AUD, "eyJh.b-c_d.e+f g~", &form, &len));
    assert_string_equal(form, FORM);
    assert_int_equal(len, strlen(FORM));
    shd_free_wipe(form, len + 1);
}

struct fixture {
    struct skr_fake_upstream *fake;
    struct shd_http_client *http;
    char url[64];
};

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    f->fake = skr_fake_upstream_start(NULL);
    f->http = wif_test_client(NULL);
    (void)snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", skr_fake_upstream_port(f->fake));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_stop(f->fake);
    shd_http_client_free(f->http);
    shd_free(f);
    return 0;
}

static void test_exchange_ok(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->fake, 200,
                           "{\"access_token\":\"ya29.fed\",\"issued_token_type\":\"urn:ietf:params:"
                           "oauth:token-type:access_token\",\"token_type\":\"Bearer\","
                           "\"expires_in\":3599}",
                           NULL);
    struct wif_access_token t = {0};
    EXPECT_OK(wif_sts_exchange(f->http, f->url, AUD, "eyJh.b-c_d.e+f g~", 1000, &t));
    assert_string_equal(t.token, "ya29.fed");
    assert_int_equal(t.len, 8);
    assert_int_equal(t.expiry, 1000 + 3599);
    const struct skr_fake_request *req = skr_fake_upstream_last(f->fake);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/v1/token");
    assert_string_equal(req->content_type, "application/x-www-form-urlencoded");
    assert_string_equal(req->authorization, ""); /* STS takes no credentials */
    assert_string_equal(req->body, FORM);
    wif_access_token_clear(&t);
    assert_null(t.token);
}

static void test_exchange_invalid_grant(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->fake, 400,
                           "{\"error\":\"invalid_grant\",\"error_description\":\"ID Token issued "
                           "at 1713260741 is stale to sign-in.\"}",
                           NULL);
    struct wif_access_token t = {0};
    EXPECT_ERR(wif_sts_exchange(f->http, f->url, AUD, "tok", 1000, &t), SHD_ERR_TOKEN);
    assert_string_equal(wif_test_err(), "STS token exchange: HTTP 400 invalid_grant: ID Token "
                                        "issued at 1713260741 is stale to sign-in.");
    assert_null(t.token);
}

static void test_exchange_other_errors(void **state)
{
    struct fixture *f = *state;
    struct wif_access_token t = {0};
    skr_fake_upstream_push(f->fake, 400,
                           "{\"error\":\"unauthorized_client\",\"error_description\":\"The given "
                           "credential is rejected by the attribute condition.\"}",
                           NULL);
    EXPECT_ERR(wif_sts_exchange(f->http, f->url, AUD, "tok", 0, &t), SHD_ERR_PERMISSION);
    assert_non_null(strstr(wif_test_err(), "unauthorized_client: The given credential"));
    /* Malformed 200 answers. */
    const char *bad[] = {
        "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
        "{\"access_token\":\"a b\",\"expires_in\":3599}",
        "{\"access_token\":\"\",\"expires_in\":3599}",
        "{\"access_token\":\"x\",\"expires_in\":\"3599\"}",
        "{\"access_token\":\"x\",\"expires_in\":0}",
        "{\"access_token\":\"x\",\"expires_in\":3599,\"token_type\":\"MAC\"}",
        "[\"access_token\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        skr_fake_upstream_push(f->fake, 200, bad[i], NULL);
        EXPECT_ERR(wif_sts_exchange(f->http, f->url, AUD, "tok", 0, &t), SHD_ERR_INPUT);
        assert_null(t.token);
    }
}

static void test_iam(void **state)
{
    struct fixture *f = *state;
    skr_fake_upstream_push(f->fake, 200,
                           "{\"accessToken\":\"ya29.sa\",\"expireTime\":"
                           "\"2014-10-02T15:01:23.045123456Z\"}",
                           NULL);
    struct wif_access_token t = {0};
    EXPECT_OK(wif_iam_generate_access_token(f->http, f->url, "sa@p.iam.gserviceaccount.com", 3600,
                                            "ya29.fed", 1412262000, &t));
    assert_string_equal(t.token, "ya29.sa");
    assert_int_equal(t.expiry, 1412262083);
    const struct skr_fake_request *req = skr_fake_upstream_last(f->fake);
    assert_string_equal(req->path, "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:"
                                   "generateAccessToken");
    assert_string_equal(req->authorization, "Bearer ya29.fed");
    assert_string_equal(req->body,
                        "{\"scope\":[\"https://www.googleapis.com/auth/cloud-platform\"],"
                        "\"lifetime\":\"3600s\"}");
    wif_access_token_clear(&t);

    /* expireTime in the past, malformed, permission denied. */
    skr_fake_upstream_push(f->fake, 200,
                           "{\"accessToken\":\"ya29.sa\",\"expireTime\":\"2014-10-02T15:01:23Z\"}",
                           NULL);
    EXPECT_ERR(wif_iam_generate_access_token(f->http, f->url, "sa@p.iam.gserviceaccount.com", 3600,
                                             "ya29.fed", 1412262083, &t),
               SHD_ERR_INPUT);
    skr_fake_upstream_push(
        f->fake, 200, "{\"accessToken\":\"ya29.sa\",\"expireTime\":\"2014-10-02 15:01:23\"}", NULL);
    EXPECT_ERR(wif_iam_generate_access_token(f->http, f->url, "sa@p.iam.gserviceaccount.com", 3600,
                                             "ya29.fed", 0, &t),
               SHD_ERR_INPUT);
    skr_fake_upstream_push(f->fake, 403,
                           "{\"error\":{\"code\":403,\"message\":\"Permission "
                           "'iam.serviceAccounts.getAccessToken' denied on resource (or it may "
                           "not exist).\",\"status\":\"PERMISSION_DENIED\"}}",
                           NULL);
    EXPECT_ERR(wif_iam_generate_access_token(f->http, f->url, "sa@p.iam.gserviceaccount.com", 3600,
                                             "ya29.fed", 0, &t),
               SHD_ERR_PERMISSION);
    assert_string_equal(wif_test_err(),
                        "IAM generateAccessToken for sa@p.iam.gserviceaccount.com: HTTP 403 "
                        "PERMISSION_DENIED: Permission 'iam.serviceAccounts.getAccessToken' "
                        "denied on resource (or it may not exist).");
    unsigned before = skr_fake_upstream_count(f->fake);
    /* A service account that could walk the URL path never reaches the network. */
    EXPECT_ERR(wif_iam_generate_access_token(f->http, f->url, "../x@y", 3600, "t", 0, &t),
               SHD_ERR_CONFIG);
    EXPECT_ERR(wif_iam_generate_access_token(f->http, f->url, "a@b?c", 3600, "t", 0, &t),
               SHD_ERR_CONFIG);
    assert_int_equal(skr_fake_upstream_count(f->fake), before);
    assert_null(t.token);
}

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t t = 0;
    EXPECT_OK(wif_rfc3339_parse("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    EXPECT_OK(wif_rfc3339_parse("2000-02-29T12:34:56.1Z", &t));
    assert_int_equal(t, 951827696);
    EXPECT_OK(wif_rfc3339_parse("2038-01-19T03:14:08.000000000Z", &t));
    assert_int_equal(t, 2147483648LL);
    t = 5;
    const char *bad[] = {"",
                         "2014-10-02T15:01:23",
                         "2014-10-02T15:01:23+01:00",
                         "2014-13-02T15:01:23Z",
                         "2014-02-30T15:01:23Z",
                         "2014-10-02T24:01:23Z",
                         "2014-10-02T15:01:23.Z",
                         "2014-10-02T15:01:23ZZ",
                         "20141002T150123Z",
                         "2014-10-02T15:01:2aZ"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(wif_rfc3339_parse(bad[i], &t), SHD_ERR_INPUT);
    }
    assert_int_equal(t, 5);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_exact),
        cmocka_unit_test_setup_teardown(test_exchange_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_invalid_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_other_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iam, setup, teardown),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
