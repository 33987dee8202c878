/*
 * emu_faults_test.c - the fault table (first match, method and prefix filters, counts,
 * capacity, clear), the control-body parser under a service list and under "any name" (every
 * refusal with its exact message), the JSON listing, and the delay and Retry-After helpers.
 */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "emu_faults.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd_test.h"

static const char *const services[] = {"maa", "akv", "mhsm", "imds"};

static const struct emu_fault_schema listed = {
    .services = services,
    .nservices = 4,
    .drop_supported = false,
    .drop_refusal = "drop is not supported here",
    .max_bytes = 4096,
    .max_depth = 2,
};

static const struct emu_fault_schema any = {
    .services = NULL,
    .drop_supported = true,
    .max_bytes = 16384,
    .max_depth = 4,
};

static void parse_ok(const struct emu_fault_schema *s, const char *json, struct emu_fault *ret)
{
    EXPECT_OK(emu_fault_parse(json, strlen(json), s, ret));
}

/* The parse fails with code and exactly message (the 400 text of the control endpoint). */
static void parse_bad(const struct emu_fault_schema *s, const char *json, int code,
                      const char *message)
{
    struct emu_fault f;
    shd_memzero(&f, sizeof(f));
    f.status = 777;
    EXPECT_ERR(emu_fault_parse(json, strlen(json), s, &f), code);
    char msg[512];
    (void)shd_error_render(msg, sizeof(msg));
    if (message != NULL) {
        assert_string_equal(msg, message);
    }
    shd_error_clear();
    assert_int_equal(f.status, 777); /* untouched */
}

static void test_parse_full(void **state)
{
    (void)state;
    struct emu_fault f;
    parse_ok(&listed,
             "{\"service\":\"akv\",\"method\":\"POST\",\"path_prefix\":\"/keys\",\"count\":2,"
             "\"status\":503,\"retry_after\":1,\"delay_ms\":5,\"body\":\"malformed\","
             "\"drop\":false}",
             &f);
    assert_string_equal(f.service, "akv");
    assert_string_equal(f.method, "POST");
    assert_string_equal(f.path_prefix, "/keys");
    assert_int_equal(f.count, 2);
    assert_int_equal(f.status, 503);
    assert_int_equal(f.retry_after, 1);
    assert_int_equal(f.delay_ms, 5);
    assert_int_equal(f.body, EMU_FAULT_BODY_MALFORMED);
    assert_false(f.drop);
    /* Defaults: any method and path, unlimited, real status, error body. */
    parse_ok(&listed, "{\"service\":\"*\",\"body\":\"empty\"}", &f);
    assert_string_equal(f.method, "");
    assert_string_equal(f.path_prefix, "");
    assert_int_equal(f.count, 0);
    assert_int_equal(f.status, 0);
    assert_int_equal(f.body, EMU_FAULT_BODY_EMPTY);
    /* Bounds themselves are accepted. */
    parse_ok(&listed,
             "{\"service\":\"imds\",\"status\":599,\"count\":1000000,\"retry_after\":3600,"
             "\"delay_ms\":60000}",
             &f);
    parse_ok(&listed, "{\"service\":\"imds\",\"status\":200}", &f);
    /* Under "any": any non-empty name, and drop. */
    parse_ok(&any, "{\"service\":\"kms\",\"drop\":true}", &f);
    assert_string_equal(f.service, "kms");
    assert_true(f.drop);
}

static void test_parse_refused(void **state)
{
    (void)state;
    parse_bad(&listed, "{\"service\":\"imds\"}", SHD_ERR_INPUT,
              "the rule does nothing: set status, delay_ms, drop or body");
    parse_bad(&listed, "{\"status\":503}", SHD_ERR_INPUT, "missing field 'service'");
    parse_bad(&listed, "{\"service\":\"kms\",\"status\":503}", SHD_ERR_INPUT,
              "field 'service' must be maa, akv, mhsm, imds or *");
    parse_bad(&listed, "{\"service\":\"\",\"status\":503}", SHD_ERR_INPUT,
              "field 'service' must be maa, akv, mhsm, imds or *");
    parse_bad(&listed, "{\"service\":\"akv\",\"status\":99}", SHD_ERR_INPUT,
              "field 'status' must be 0 or 200..599");
    parse_bad(&listed, "{\"service\":\"akv\",\"status\":600}", SHD_ERR_INPUT, NULL);
    parse_bad(&listed, "{\"service\":\"akv\",\"status\":503,\"x\":1}", SHD_ERR_INPUT,
              "unknown member 'x'");
    parse_bad(&listed, "{\"service\":\"akv\",\"path_prefix\":\"keys\",\"status\":503}",
              SHD_ERR_INPUT, "field 'path_prefix' must start with /");
    parse_bad(&listed, "{\"service\":\"akv\",\"path_prefix\":\"/a b\",\"status\":503}",
              SHD_ERR_INPUT, "field 'path_prefix' must be printable ASCII without spaces");
    parse_bad(&listed, "{\"service\":\"akv\",\"method\":\"GETTINGTOOLONGXYZ\",\"status\":503}",
              SHD_ERR_INPUT, "field 'method' is longer than 15 bytes");
    parse_bad(&listed, "{\"service\":\"akv\",\"delay_ms\":60001}", SHD_ERR_INPUT, NULL);
    parse_bad(&listed, "{\"service\":\"akv\",\"count\":-1,\"status\":503}", SHD_ERR_INPUT, NULL);
    parse_bad(&listed, "{\"service\":\"akv\",\"count\":\"2\",\"status\":503}", SHD_ERR_INPUT, NULL);
    parse_bad(&listed, "{\"service\":\"akv\",\"body\":\"junk\"}", SHD_ERR_INPUT,
              "field 'body' must be \"error\", \"malformed\" or \"empty\"");
    parse_bad(&listed, "{\"service\":\"akv\",\"drop\":true}", SHD_ERR_UNSUPPORTED,
              "drop is not supported here");
    parse_bad(&listed, "{\"service\":\"akv\",\"drop\":1}", SHD_ERR_INPUT, NULL);
    parse_bad(&listed, "[1]", SHD_ERR_INPUT, "expected a JSON object");
    parse_bad(&any, "{\"service\":\"\",\"status\":503}", SHD_ERR_INPUT, "field 'service' is empty");
    /* Truncated, nested deeper than the schema allows, larger than it allows. */
    struct emu_fault f;
    EXPECT_ERR(emu_fault_parse("{\"service\":", 11, &listed, &f), SHD_ERR_JSON);
    shd_error_clear();
    EXPECT_ERR(emu_fault_parse("{\"service\":{\"a\":[1]}}", 21, &listed, &f), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    char big[5000];
    memset(big, ' ', sizeof(big));
    static const char rule[] = "{\"service\":\"akv\",\"status\":503}";
    shd_memcpy(big, rule, sizeof(rule) - 1);
    EXPECT_ERR(emu_fault_parse(big, sizeof(big), &listed, &f), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    EXPECT_OK(emu_fault_parse(big, sizeof(big), &any, &f));
    EXPECT_ERR(emu_fault_parse("{}", 2, NULL, &f), SHD_ERR_NULL);
    shd_error_clear();
}

static void test_table(void **state)
{
    (void)state;
    struct emu_faults *t = NULL;
    EXPECT_OK(emu_faults_new(&t));
    struct emu_fault a = {
        .service = "akv", .method = "POST", .path_prefix = "/keys/", .count = 2, .status = 503};
    struct emu_fault b = {.service = "*", .status = 429};
    EXPECT_OK(emu_faults_add(&a, t));
    EXPECT_OK(emu_faults_add(&b, t));
    struct emu_fault got;
    /* Method filter: a GET skips a and takes b. */
    assert_true(emu_faults_take("akv", "GET", "/keys/k", t, &got));
    assert_int_equal(got.status, 429);
    /* Path prefix filter. */
    assert_true(emu_faults_take("akv", "POST", "/secrets/k", t, &got));
    assert_int_equal(got.status, 429);
    /* First match wins, twice, then a is used up. */
    assert_true(emu_faults_take("akv", "POST", "/keys/k/release", t, &got));
    assert_int_equal(got.status, 503);
    assert_int_equal(got.count, 2);
    assert_true(emu_faults_take("akv", "POST", "/keys/k/release", t, &got));
    assert_int_equal(got.count, 1);
    assert_true(emu_faults_take("akv", "POST", "/keys/k/release", t, &got));
    assert_int_equal(got.status, 429);
    json_t *arr = NULL;
    EXPECT_OK(emu_faults_to_json(t, &arr));
    char text[512];
    size_t n = json_dumpb(arr, text, sizeof(text) - 1, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_true(n > 0 && n < sizeof(text));
    text[n] = '\0';
    assert_string_equal(text,
                        "[{\"service\":\"*\",\"method\":\"\",\"path_prefix\":\"\",\"count\":0,"
                        "\"status\":429,\"retry_after\":0,\"delay_ms\":0,\"body\":\"error\","
                        "\"drop\":false}]");
    json_decref(arr);
    emu_faults_clear(t);
    assert_false(emu_faults_take("akv", "POST", "/keys/k", t, &got));
    EXPECT_OK(emu_faults_to_json(t, &arr));
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    /* Capacity. */
    for (unsigned i = 0; i < EMU_FAULTS_MAX; i++) {
        EXPECT_OK(emu_faults_add(&b, t));
    }
    EXPECT_ERR(emu_faults_add(&b, t), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    /* NULL arguments. */
    assert_false(emu_faults_take(NULL, "GET", "/", t, &got));
    assert_false(emu_faults_take("akv", "GET", "/", NULL, &got));
    assert_false(emu_faults_take("akv", "GET", "/", t, NULL));
    EXPECT_ERR(emu_faults_add(NULL, t), SHD_ERR_NULL);
    shd_error_clear();
    EXPECT_ERR(emu_faults_to_json(NULL, &arr), SHD_ERR_NULL);
    shd_error_clear();
    emu_faults_free(t);
    emu_faults_free(NULL);
    emu_faults_clear(NULL);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_apply_helpers(void **state)
{
    (void)state;
    assert_string_equal(emu_fault_body_name(EMU_FAULT_BODY_ERROR), "error");
    assert_string_equal(emu_fault_body_name(EMU_FAULT_BODY_MALFORMED), "malformed");
    assert_string_equal(emu_fault_body_name(EMU_FAULT_BODY_EMPTY), "empty");
    struct emu_fault f = {.service = "*", .delay_ms = 30, .retry_after = 7};
    uint64_t t0 = now_ms();
    emu_fault_sleep(&f);
    assert_true(now_ms() - t0 >= 30);
    emu_fault_sleep(NULL);
    struct shd_http_resp *resp = NULL;
    EXPECT_OK(shd_http_resp_new(&resp));
    EXPECT_OK(emu_fault_retry_after(&f, resp));
    assert_string_equal(shd_http_resp_get_header(resp, "Retry-After"), "7");
    shd_http_resp_free(resp);
    f.retry_after = 0;
    EXPECT_OK(shd_http_resp_new(&resp));
    EXPECT_OK(emu_fault_retry_after(&f, resp));
    assert_null(shd_http_resp_get_header(resp, "Retry-After"));
    shd_http_resp_free(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_apply_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
