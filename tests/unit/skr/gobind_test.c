/*
 * gobind_test.c - gin ShouldBindJSON / Go encoding/json bind errors, byte for byte
 * (skr-sidecar.md §2.0).
 */
#include "shd_test.h"

#include <string.h>

#include "gobind.h"
#include "shd/errors.h"
#include "shd/mem.h"

static const struct skr_gobind_field RAW_FIELDS[] = {{"runtime_data", "RuntimeData", true}};
static const struct skr_gobind_struct RAW = {"RawAttestData", RAW_FIELDS, 1};

static const struct skr_gobind_field MAA_FIELDS[] = {
    {"maa_endpoint", "MAAEndpoint", true},
    {"runtime_data", "RuntimeData", true},
};
static const struct skr_gobind_struct MAA = {"MAAAttestData", MAA_FIELDS, 2};

static const struct skr_gobind_field KEY_FIELDS[] = {
    {"maa_endpoint", "MAAEndpoint", true},
    {"akv_endpoint", "AKVEndpoint", true},
    {"kid", "KID", true},
    {"access_token", "AccessToken", false},
};
static const struct skr_gobind_struct KEY = {"KeyReleaseData", KEY_FIELDS, 4};

static void expect_bind_error(const struct skr_gobind_struct *st, const char *body, size_t len,
                              const char *msg)
{
    struct skr_gobind_values v = {0};
    shd_result r = skr_gobind_decode((const uint8_t *)body, len, st, &v);
    char buf[1024];
    (void)shd_error_render(buf, sizeof(buf));
    if (r.err != SHD_ERR_INPUT || strcmp(buf, msg) != 0) {
        fail_msg("body %.*s: got err %d \"%s\", want \"%s\"", (int)len, body, r.err, buf, msg);
    }
    for (size_t i = 0; i < SKR_GOBIND_MAX_FIELDS; i++) {
        assert_null(v.vals[i]);
    }
}

#define BIND_ERR(st, body, msg) expect_bind_error((st), (body), sizeof(body) - 1, (msg))

static void test_eof_shapes(void **state)
{
    (void)state;
    BIND_ERR(&RAW, "", "EOF");
    BIND_ERR(&RAW, " \t\r\n ", "EOF");
    BIND_ERR(&RAW, "{", "unexpected EOF");
    BIND_ERR(&RAW, "  {\"runtime_data\":\"abc", "unexpected EOF");
    BIND_ERR(&RAW, "{\"runtime_data\":\"abc\"", "unexpected EOF");
    BIND_ERR(&RAW, "tru", "unexpected EOF");
    BIND_ERR(&RAW, "-", "unexpected EOF");
    BIND_ERR(&RAW, "1.", "unexpected EOF");
    BIND_ERR(&RAW, "\"abc", "unexpected EOF");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    BIND_ERR(&RAW, "x", "invalid character 'x' looking for beginning of value");
    BIND_ERR(&RAW, "runtime_data=abc", "invalid character 'r' looking for beginning of value");
    BIND_ERR(&RAW, "{x", "invalid character 'x' looking for beginning of object key string");
    BIND_ERR(&RAW, "{\"a\":1,}", "invalid character '}' looking for beginning of object key string");
    BIND_ERR(&RAW, "{\"a\" 1", "invalid character '1' after object key");
    BIND_ERR(&RAW, "{\"a\":1 2", "invalid character '2' after object key:value pair");
    BIND_ERR(&RAW, "[1 2", "invalid character '2' after array element");
    BIND_ERR(&RAW, "[1,]", "invalid character ']' looking for beginning of value");
    BIND_ERR(&RAW, "{\"a\":\"\n\"}", "invalid character '\\n' in string literal");
    BIND_ERR(&RAW, "{\"a\":\"\t\"}", "invalid character '\\t' in string literal");
    BIND_ERR(&RAW, "{\"a\":\"\\x\"}", "invalid character 'x' in string escape code");
    BIND_ERR(&RAW, "{\"a\":\"\\u12g4\"}",
             "invalid character 'g' in \\u hexadecimal character escape");
    BIND_ERR(&RAW, "-a", "invalid character 'a' in numeric literal");
    BIND_ERR(&RAW, "1.x", "invalid character 'x' after decimal point in numeric literal");
    BIND_ERR(&RAW, "1ex", "invalid character 'x' in exponent of numeric literal");
    BIND_ERR(&RAW, "1e+}", "invalid character '}' in exponent of numeric literal");
    BIND_ERR(&RAW, "trux", "invalid character 'x' in literal true (expecting 'e')");
    BIND_ERR(&RAW, "fals0", "invalid character '0' in literal false (expecting 'e')");
    BIND_ERR(&RAW, "nul!", "invalid character '!' in literal null (expecting 'l')");
    BIND_ERR(&RAW, "{\"a\":nx}", "invalid character 'x' in literal null (expecting 'u')");
    /* quoteChar special cases and strconv.Quote of a byte as a rune */
    BIND_ERR(&RAW, "'", "invalid character '\\'' looking for beginning of value");
    BIND_ERR(&RAW, "{\"a\":\"b\"\"", "invalid character '\"' after object key:value pair");
    BIND_ERR(&RAW, "\x01", "invalid character '\\x01' looking for beginning of value");
    BIND_ERR(&RAW, "\x7f", "invalid character '\\x7f' looking for beginning of value");
    BIND_ERR(&RAW, "\\", "invalid character '\\\\' looking for beginning of value");
    BIND_ERR(&RAW, "\xc3\xa9", "invalid character '\xc3\x83' looking for beginning of value");
    BIND_ERR(&RAW, "\x85", "invalid character '\\u0085' looking for beginning of value");
    BIND_ERR(&RAW, "\xa0", "invalid character '\\u00a0' looking for beginning of value");
    BIND_ERR(&RAW, "<", "invalid character '<' looking for beginning of value");
    expect_bind_error(&RAW, "\0", 1, "invalid character '\\x00' looking for beginning of value");
}

static void test_max_depth(void **state)
{
    (void)state;
    size_t n = SKR_GOBIND_MAX_DEPTH + 1;
    char *deep = shd_alloc(n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    expect_bind_error(&RAW, deep, n, "invalid character '[' exceeded max depth");
    /* exactly the limit: the scanner accepts the nesting and runs out of input */
    expect_bind_error(&RAW, deep, n - 1, "unexpected EOF");
    shd_free(deep);
}

static void test_type_errors(void **state)
{
    (void)state;
    BIND_ERR(&RAW, "{\"runtime_data\":1}",
             "json: cannot unmarshal number into Go struct field RawAttestData.runtime_data of "
             "type string");
    BIND_ERR(&RAW, "{\"RUNTIME_DATA\":true}",
             "json: cannot unmarshal bool into Go struct field RawAttestData.runtime_data of "
             "type string");
    BIND_ERR(&RAW, "{\"runtime_data\":[\"a\"]}",
             "json: cannot unmarshal array into Go struct field RawAttestData.runtime_data of "
             "type string");
    BIND_ERR(&RAW, "{\"runtime_data\":{\"x\":1}}",
             "json: cannot unmarshal object into Go struct field RawAttestData.runtime_data of "
             "type string");
    BIND_ERR(&RAW, "[]",
             "json: cannot unmarshal array into Go value of type httpginendpoints.RawAttestData");
    BIND_ERR(&RAW, "\"x\"",
             "json: cannot unmarshal string into Go value of type httpginendpoints.RawAttestData");
    BIND_ERR(&RAW, "12",
             "json: cannot unmarshal number into Go value of type httpginendpoints.RawAttestData");
    /* the Decoder reads the first value only: "12" then garbage is still a number */
    BIND_ERR(&RAW, "12x",
             "json: cannot unmarshal number into Go value of type httpginendpoints.RawAttestData");
    BIND_ERR(&RAW, "false",
             "json: cannot unmarshal bool into Go value of type httpginendpoints.RawAttestData");
    /* the first type error is reported, and it beats the required check */
    BIND_ERR(&KEY, "{\"kid\":\"k\",\"maa_endpoint\":1,\"akv_endpoint\":true}",
             "json: cannot unmarshal number into Go struct field KeyReleaseData.maa_endpoint of "
             "type string");
    BIND_ERR(&KEY, "{\"access_token\":5}",
             "json: cannot unmarshal number into Go struct field KeyReleaseData.access_token of "
             "type string");
}

static void test_required(void **state)
{
    (void)state;
    const char *one = "Key: 'RawAttestData.RuntimeData' Error:Field validation for "
                      "'RuntimeData' failed on the 'required' tag";
    BIND_ERR(&RAW, "{}", one);
    BIND_ERR(&RAW, "null", one);
    BIND_ERR(&RAW, "{\"runtime_data\":\"\"}", one);
    BIND_ERR(&RAW, "{\"runtime_data\":null}", one);
    BIND_ERR(&RAW, "{\"runtimedata\":\"x\"}", one);
    BIND_ERR(&MAA, "{}",
             "Key: 'MAAAttestData.MAAEndpoint' Error:Field validation for 'MAAEndpoint' failed "
             "on the 'required' tag\n"
             "Key: 'MAAAttestData.RuntimeData' Error:Field validation for 'RuntimeData' failed "
             "on the 'required' tag");
    BIND_ERR(&KEY, "{\"akv_endpoint\":\"a\"}",
             "Key: 'KeyReleaseData.MAAEndpoint' Error:Field validation for 'MAAEndpoint' failed "
             "on the 'required' tag\n"
             "Key: 'KeyReleaseData.KID' Error:Field validation for 'KID' failed on the "
             "'required' tag");
}

static void bind_ok(const struct skr_gobind_struct *st, const char *body, size_t len,
                    struct skr_gobind_values *v)
{
    EXPECT_OK(skr_gobind_decode((const uint8_t *)body, len, st, v));
}

#define BIND_OK(st, body, v) bind_ok((st), (body), sizeof(body) - 1, (v))

static void test_values(void **state)
{
    (void)state;
    struct skr_gobind_values v = {0};
    /* trailing bytes after the first value are ignored; unknown fields too */
    BIND_OK(&RAW, " {\"x\":[1,{\"y\":null}],\"runtime_data\":\"YWJj\",\"z\":-1.5e3} garbage", &v);
    assert_string_equal(v.vals[0], "YWJj");
    assert_int_equal(v.lens[0], 4);
    skr_gobind_values_clear(&v);

    /* case-insensitive match; the later duplicate wins; null keeps the earlier value */
    BIND_OK(&RAW, "{\"runtime_data\":\"a\",\"Runtime_Data\":\"b\",\"RUNTIME_DATA\":null}", &v);
    assert_string_equal(v.vals[0], "b");
    skr_gobind_values_clear(&v);

    /* escapes, surrogate pairs, lone surrogates and invalid UTF-8 become U+FFFD */
    BIND_OK(&RAW,
            "{\"runtime_data\":\"\\u00e9\\ud83d\\ude00\\ud800x\\n\\/\\\"\xff\xe2\x82\xac\"}", &v);
    assert_string_equal(v.vals[0], "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\n/\"\xef\xbf\xbd"
                                   "\xe2\x82\xac");
    skr_gobind_values_clear(&v);

    /* an escaped NUL is kept (the handlers refuse it where a C string is needed) */
    BIND_OK(&RAW, "{\"runtime_data\":\"a\\u0000b\"}", &v);
    assert_int_equal(v.lens[0], 3);
    assert_memory_equal(v.vals[0], "a\0b", 3);
    skr_gobind_values_clear(&v);

    BIND_OK(&KEY, "{\"maa_endpoint\":\"m\",\"akv_endpoint\":\"a\",\"kid\":\"k/1\"}", &v);
    assert_string_equal(v.vals[0], "m");
    assert_string_equal(v.vals[1], "a");
    assert_string_equal(v.vals[2], "k/1");
    assert_null(v.vals[3]);
    skr_gobind_values_clear(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eof_shapes),   cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_max_depth),    cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_required),     cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests_name("skr_gobind", tests, NULL, NULL);
}
