/*
 * maa_test.c - the MAA request body byte for byte (golden files from an independent Python
 * implementation, fixtures/gen-maa-golden.py), the POST and its error chains (skr/src/maa.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "maa.h"
#include "shd/http_client.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "skr.h"
#include "skr_fake_upstream.h"

static const char RUNTIME[] = "{\n   \"akey\" : \"avalue\"\n}\n";
static const uint8_t REFINFO[] = "\xd2\x84"
                                 "COSE_Sign1 stand-in for reference-info-base64\x00\xff";
#define NONCE UINT64_C(7394904505194784658)

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

static char *fixture(const char *name, size_t *ret_len)
{
    char path[1024];
    const char *src = getenv("SHD_SOURCE_DIR");
    assert_non_null(src);
    (void)snprintf(path, sizeof(path), "%s/tests/unit/skr/fixtures/%s", src, name);
    return (char *)shd_test_read_file(path, ret_len);
}

static void evidence_fill(struct skr_evidence *ev, bool with_refinfo)
{
    size_t n = 0;
    char *hex = (char *)shd_test_read_file(shd_test_vector_path("snp-milan-virtee/report.hex"), &n);
    uint8_t *report = shd_test_unhex(hex, &n);
    assert_int_equal(n, SHD_SNP_REPORT_LEN);
    shd_memcpy(ev->report, report, n);
    shd_free(report);
    shd_free(hex);
    ev->cert_chain_pem = (char *)shd_test_read_file(
        shd_test_vector_path("snp-milan-virtee/cert_chain.pem"), &ev->cert_chain_len);
    if (with_refinfo) {
        ev->uvm_reference_info = shd_memdup(REFINFO, sizeof(REFINFO) - 1);
        ev->uvm_reference_info_len = sizeof(REFINFO) - 1;
    }
}

static void evidence_free(struct skr_evidence *ev)
{
    shd_free(ev->cert_chain_pem);
    shd_free(ev->uvm_reference_info);
    memset(ev, 0, sizeof(*ev));
}

static void golden_check(bool with_refinfo, const char *golden)
{
    struct skr_evidence ev = {0};
    char *body = NULL;
    size_t len = 0, glen = 0;

    evidence_fill(&ev, with_refinfo);
    char *want = fixture(golden, &glen);
    EXPECT_OK(skr_maa_request_build(&ev, (const uint8_t *)RUNTIME, sizeof(RUNTIME) - 1, NONCE,
                                    &body, &len));
    assert_int_equal(len, glen);
    assert_string_equal(body, want);
    shd_free(body);
    shd_free(want);
    evidence_free(&ev);
}

static void test_request_golden(void **state)
{
    (void)state;
    golden_check(true, "maa_request_golden.json");
    golden_check(false, "maa_request_noendorse_golden.json");
}

/* Fixed parts of the body, independent of the golden files (§4.3). */
static void test_request_shape(void **state)
{
    (void)state;
    struct skr_evidence ev = {0};
    char *body = NULL;
    size_t len = 0;

    evidence_fill(&ev, false);
    EXPECT_OK(skr_maa_request_build(&ev, NULL, 0, UINT64_MAX, &body, &len));
    assert_int_equal(strncmp(body, "{\"report\":\"eyJTbnBSZXBvcnQiOiJ", 30), 0);
    const char *tail = "\",\"runtimeData\":{\"data\":\"\",\"dataType\":\"JSON\"},\"initTimeData\":"
                       "{\"data\":\"\",\"dataType\":\"\"},\"nonce\":18446744073709551615}";
    assert_non_null(strstr(body, tail));
    assert_int_equal(strlen(strstr(body, tail)), strlen(tail));
    shd_free(body);
    /* The encodings are padded base64url: 1184 report bytes end in "==" ... inside "report". */
    EXPECT_ERR(skr_maa_request_build(NULL, NULL, 0, 1, &body, &len), SHD_ERR_NULL);
    EXPECT_ERR(skr_maa_request_build(&ev, NULL, 3, 1, &body, &len), SHD_ERR_NULL);
    evidence_free(&ev);
}

static void test_url(void **state)
{
    (void)state;
    char *url = NULL;

    EXPECT_OK(skr_maa_url("sharedeus.eus.attest.azure.net", &url));
    assert_string_equal(
        url, "https://sharedeus.eus.attest.azure.net/attest/SevSnpVM?api-version=2020-10-01");
    shd_free(url);
    EXPECT_OK(skr_maa_url("localhost:8443", &url));
    assert_string_equal(url, "https://localhost:8443/attest/SevSnpVM?api-version=2020-10-01");
    shd_free(url);
    const char *bad[] = {"",
                         "https://x.attest.azure.net",
                         "x.attest.azure.net/path",
                         "x.attest.azure.net?q=1",
                         "user@x.attest.azure.net",
                         "a b",
                         "a..b",
                         ".a",
                         "a.",
                         "x:0",
                         "x:65536",
                         "x:",
                         "x:08",
                         "[::1]:443",
                         "x\n.net"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(skr_maa_url(bad[i], &url), SHD_ERR_INPUT);
    }
    expect_chain("invalid endpoint \"x\n.net\": expected a host name with an optional port");
}

/* ---- the POST against a scripted server ---- */

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

static struct shd_http_client *client_new(const char *ua, unsigned attempts,
                                          const struct shd_http_client_hooks *hooks)
{
    struct shd_http_client *c = NULL;
    struct shd_http_client_options o = {.user_agent = ua,
                                        .connect_timeout_ms = 2000,
                                        .timeout_ms = 5000,
                                        .retry = SHD_HTTP_RETRY_DEFAULT,
                                        .hooks = hooks};
    o.retry.max_attempts = attempts;
    EXPECT_OK(shd_http_client_create(&o, &c));
    return c;
}

static char *local_url(uint16_t port)
{
    char buf[128];
    (void)snprintf(buf, sizeof(buf), "http://127.0.0.1:%u/attest/SevSnpVM?api-version=2020-10-01",
                   port);
    return shd_strdup(buf);
}

static void test_post_ok(void **state)
{
    (void)state;
    struct skr_fake_upstream *f = skr_fake_upstream_start(NULL);
    struct shd_http_client *c = client_new("skr-native/test", 1, NULL);
    char *url = local_url(skr_fake_upstream_port(f));
    static const char body[] = "{\"report\":\"x\"}";
    char *token = NULL;

    skr_fake_upstream_push(f, 200, "{\"token\":\"eyJ.eyJ.sig\"}", NULL);
    EXPECT_OK(skr_maa_post(c, url, body, sizeof(body) - 1, &token));
    assert_string_equal(token, "eyJ.eyJ.sig");
    const struct skr_fake_request *r = skr_fake_upstream_last(f);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/attest/SevSnpVM");
    assert_string_equal(r->api_version, "2020-10-01");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(r->user_agent, "skr-native/test");
    assert_string_equal(r->authorization, "");
    assert_string_equal(r->body, body);
    shd_free_wipe(token, strlen(token) + 1);

    /* Go matches the field case-insensitively and ignores other members. */
    skr_fake_upstream_push(f, 200, "{\"x\":1,\"Token\":\"t2\"}", NULL);
    EXPECT_OK(skr_maa_post(c, url, body, sizeof(body) - 1, &token));
    assert_string_equal(token, "t2");
    shd_free_wipe(token, strlen(token) + 1);

    shd_free(url);
    shd_http_client_free(c);
    skr_fake_upstream_stop(f);
}

static void post_expect(struct skr_fake_upstream *f, struct shd_http_client *c, const char *url,
                        unsigned status, const char *reply, int code, const char *chain,
                        bool prefix)
{
    char *token = NULL;

    skr_fake_upstream_push(f, status, reply, NULL);
    EXPECT_ERR(skr_maa_post(c, url, "{}", 2, &token), code);
    assert_null(token);
    if (prefix) {
        expect_chain_prefix(chain);
    } else {
        expect_chain(chain);
    }
}

static void test_post_errors(void **state)
{
    (void)state;
    struct skr_fake_upstream *f = skr_fake_upstream_start(NULL);
    struct shd_http_client *c = client_new(NULL, 1, NULL);
    char *url = local_url(skr_fake_upstream_port(f));

    post_expect(f, c, url, 400, "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"bad\"}}",
                SHD_ERR_HTTP_STATUS,
                "pulling maa post response failed: {\"error\":{\"code\":\"InvalidParameter\","
                "\"message\":\"bad\"}}: http response status equal to 400 Bad Request",
                false);
    post_expect(f, c, url, 401, "", SHD_ERR_HTTP_STATUS,
                "pulling maa post response failed: : http response status equal to 401 "
                "Unauthorized",
                false);
    post_expect(f, c, url, 200, "not json", SHD_ERR_JSON,
                "unmarshalling maa http response body failed: ", true);
    post_expect(f, c, url, 200, "{\"token\":5}", SHD_ERR_JSON,
                "unmarshalling maa http response body failed: json: cannot unmarshal number "
                "into Go struct field .token of type string",
                false);
    post_expect(f, c, url, 200, "[1]", SHD_ERR_JSON,
                "unmarshalling maa http response body failed: json: cannot unmarshal array into "
                "Go value of type struct",
                false);
    post_expect(f, c, url, 200, "{\"token\":\"\"}", SHD_ERR_INPUT,
                "empty token string in maa response", false);
    post_expect(f, c, url, 200, "{\"token\":null}", SHD_ERR_INPUT,
                "empty token string in maa response", false);
    post_expect(f, c, url, 200, "{}", SHD_ERR_INPUT, "empty token string in maa response", false);
    shd_free(url);
    shd_http_client_free(c);
    uint16_t port = skr_fake_upstream_port(f);
    skr_fake_upstream_stop(f);

    /* Nothing listens any more: the transport error in Go's url.Error form. */
    c = client_new(NULL, 1, NULL);
    url = local_url(port);
    char *token = NULL;
    char want[256];
    EXPECT_ERR(skr_maa_post(c, url, "{}", 2, &token), SHD_ERR_CONNECT);
    (void)snprintf(want, sizeof(want),
                   "maa post request failed: HTTP GET failed: Post \"%s\": ", url);
    expect_chain_prefix(want);
    char buf[1024];
    (void)shd_error_render(buf, sizeof(buf));
    assert_null(strstr(buf + strlen(want), "POST http")); /* the URL is named once */
    shd_free(url);
    shd_http_client_free(c);
}

/* Retryable statuses are retried with backoff; when retries run out, the last body is quoted. */
static void test_post_retries(void **state)
{
    (void)state;
    struct sleeps s = {0};
    const struct shd_http_client_hooks hooks = {.sleep_ms = record_sleep, .ctx = &s};
    struct skr_fake_upstream *f = skr_fake_upstream_start(NULL);
    struct shd_http_client *c = client_new(NULL, 3, &hooks);
    char *url = local_url(skr_fake_upstream_port(f));
    char *token = NULL;

    skr_fake_upstream_push(f, 503, "{\"error\":\"busy\"}", NULL);
    skr_fake_upstream_push(f, 429, "{\"error\":\"slow down\"}", "2");
    skr_fake_upstream_push(f, 200, "{\"token\":\"t\"}", NULL);
    EXPECT_OK(skr_maa_post(c, url, "{}", 2, &token));
    assert_string_equal(token, "t");
    shd_free_wipe(token, 2);
    assert_int_equal(skr_fake_upstream_count(f), 3);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ms[1], 2000); /* Retry-After honoured */
    skr_fake_upstream_stop(f);

    f = skr_fake_upstream_start(NULL);
    shd_free(url);
    url = local_url(skr_fake_upstream_port(f));
    skr_fake_upstream_push(f, 503, "{\"error\":\"down\"}", NULL);
    EXPECT_ERR(skr_maa_post(c, url, "{}", 2, &token), SHD_ERR_HTTP_STATUS);
    expect_chain("pulling maa post response failed: {\"error\":\"down\"}: http response status "
                 "equal to 503 Service Unavailable");
    assert_int_equal(skr_fake_upstream_count(f), 3);
    shd_free(url);
    shd_http_client_free(c);
    skr_fake_upstream_stop(f);
}

/* A malformed endpoint fails before any report is taken, inside the original's chain. */
static void test_attest_bad_endpoint(void **state)
{
    (void)state;
    struct skr_ctx ctx = {0};
    char *token = NULL;

    EXPECT_ERR(skr_maa_attest(&ctx, "https://sharedeus.eus.attest.azure.net",
                              (const uint8_t *)RUNTIME, sizeof(RUNTIME) - 1, &token),
               SHD_ERR_INPUT);
    expect_chain("Retrieving MAA token from MAA endpoint failed: maa post request failed: invalid "
                 "endpoint \"https://sharedeus.eus.attest.azure.net\": expected a host name with "
                 "an optional port");
    assert_null(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_golden),
        cmocka_unit_test(test_request_shape),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_post_ok),
        cmocka_unit_test(test_post_errors),
        cmocka_unit_test(test_post_retries),
        cmocka_unit_test(test_attest_bad_endpoint),
    };
    return cmocka_run_group_tests_name("skr/maa", tests, NULL, NULL);
}
