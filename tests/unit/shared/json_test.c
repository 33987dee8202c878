/*
 * json_test.c - strict parsing with limits, error messages, typed getters, dotted paths, the
 * jansson allocator hook and allocation-failure injection.
 */
#include <string.h>

#include "shd/cleanup.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"

/* Parses a NUL-terminated literal with default limits. */
static shd_result parse(const char *s, json_t **ret)
{
    return shd_json_parse(s, strlen(s), NULL, ret);
}

static void expect_json_err(const char *s, int code)
{
    json_t *doc = NULL;

    EXPECT_ERR(parse(s, &doc), code);
    assert_null(doc);
}

/* Asserts the rendered error chain equals want. */
static void expect_msg(const char *want)
{
    char buf[SHD_ERROR_FRAME_LEN];

    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_parse_ok(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *s = NULL;

    EXPECT_OK(parse(" \t\r\n{\"a\":\"b\",\"n\":[1,2,{}]} \n", &doc));
    EXPECT_OK(shd_json_get_string(doc, "a", &s));
    assert_string_equal(s, "b");
}

static void test_parse_args(void **state)
{
    (void)state;
    json_t *doc = NULL;

    EXPECT_ERR(shd_json_parse(NULL, 2, NULL, &doc), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_parse("{}", 2, NULL, NULL), SHD_ERR_NULL);
    /* NULL with length 0 is an empty document, which is not JSON. */
    EXPECT_ERR(shd_json_parse(NULL, 0, NULL, &doc), SHD_ERR_JSON);
    assert_null(doc);
}

/* data need not be NUL-terminated: only len bytes are read. */
static void test_parse_not_terminated(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char buf[] = {'{', '}', 'x'};

    EXPECT_OK(shd_json_parse(buf, 2, NULL, &doc));
    assert_true(json_is_object(doc));
}

static void test_parse_too_large(void **state)
{
    (void)state;
    json_t *doc = NULL;
    struct shd_json_limits lim = {.max_bytes = 10};

    EXPECT_OK(shd_json_parse("[1,2,3,45]", 10, &lim, &doc));
    json_decref(doc);
    doc = NULL;
    EXPECT_ERR(shd_json_parse("[1,2,3,456]", 11, &lim, &doc), SHD_ERR_TOO_LARGE);
    expect_msg("JSON document of 11 bytes exceeds 10");
    assert_null(doc);

    /* The default: exactly 1 MiB passes, one byte more does not. */
    size_t n = SHD_JSON_DEFAULT_MAX_BYTES + 1;
    char *big = shd_alloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 2] = ']';
    EXPECT_OK(shd_json_parse(big, n - 1, NULL, &doc));
    json_decref(doc);
    doc = NULL;
    EXPECT_ERR(shd_json_parse(big, n, NULL, &doc), SHD_ERR_TOO_LARGE);
    assert_null(doc);
    shd_free(big);
}

/* Builds `depth` nested arrays around inner. */
static char *nested(size_t depth, const char *inner)
{
    size_t in = strlen(inner);
    char *s = shd_alloc(2 * depth + in + 1);

    assert_non_null(s);
    memset(s, '[', depth);
    shd_memcpy(s + depth, inner, in);
    memset(s + depth + in, ']', depth);
    return s;
}

static void test_parse_depth(void **state)
{
    (void)state;
    json_t *doc = NULL;
    char *ok = nested(SHD_JSON_DEFAULT_MAX_DEPTH, "1");
    char *deep = nested(SHD_JSON_DEFAULT_MAX_DEPTH + 1, "1");

    EXPECT_OK(parse(ok, &doc));
    json_decref(doc);
    doc = NULL;
    EXPECT_ERR(parse(deep, &doc), SHD_ERR_TOO_LARGE);
    expect_msg("JSON nesting deeper than 32 levels at byte 32");
    assert_null(doc);
    shd_free(ok);
    shd_free(deep);

    /* Objects count like arrays; a custom limit applies. */
    struct shd_json_limits lim = {.max_depth = 2};
    EXPECT_OK(shd_json_parse("{\"a\":[1]}", 9, &lim, &doc));
    json_decref(doc);
    doc = NULL;
    EXPECT_ERR(shd_json_parse("{\"a\":[{}]}", 10, &lim, &doc), SHD_ERR_TOO_LARGE);

    /* Brackets inside strings, also after an escaped quote, do not count. */
    EXPECT_OK(shd_json_parse("[\"[[[{{{\\\"[[[\"]", 15, &lim, &doc));
    json_decref(doc);
    doc = NULL;
    /* An escaped backslash ends the escape: the quote after it closes the string. */
    EXPECT_ERR(shd_json_parse("[\"\\\\\",[[[]]]]", 13, &lim, &doc), SHD_ERR_TOO_LARGE);
    /* The pre-scan also stops input far deeper than jansson's own limit of 2048. */
    char *abyss = nested(5000, "");
    EXPECT_ERR(parse(abyss, &doc), SHD_ERR_TOO_LARGE);
    shd_free(abyss);
}

static void test_parse_duplicates(void **state)
{
    (void)state;
    expect_json_err("{\"a\":1,\"a\":2}", SHD_ERR_JSON);
    expect_msg("invalid JSON at line 1, column 10, byte 10: duplicate object key");
    expect_json_err("{\"o\":{\"k\":true,\"x\":1,\"k\":true}}", SHD_ERR_JSON);
    /* Same key in different objects is fine. */
    json_t *doc = NULL;
    EXPECT_OK(parse("[{\"a\":1},{\"a\":1}]", &doc));
    json_decref(doc);
}

static void test_parse_trailing(void **state)
{
    (void)state;
    expect_json_err("{} x", SHD_ERR_JSON);
    expect_json_err("{}{}", SHD_ERR_JSON);
    expect_json_err("{\"error\":\"x\"}{\"report\":\"\"}", SHD_ERR_JSON);
    expect_json_err("[1],", SHD_ERR_JSON);
}

static void test_parse_truncated(void **state)
{
    (void)state;
    expect_json_err("", SHD_ERR_JSON);
    expect_json_err("   ", SHD_ERR_JSON);
    expect_json_err("{", SHD_ERR_JSON);
    expect_json_err("{\"a\":", SHD_ERR_JSON);
    expect_json_err("{\"a\":\"b", SHD_ERR_JSON);
    expect_json_err("{\"a\":\"b\\", SHD_ERR_JSON);
    expect_json_err("[1,2", SHD_ERR_JSON);
    expect_json_err("{\"a\":tru}", SHD_ERR_JSON);
    expect_json_err("{\"a\":\"\\u12\"}", SHD_ERR_JSON);
}

static void test_parse_syntax(void **state)
{
    (void)state;
    expect_json_err("{'a':1}", SHD_ERR_JSON);
    expect_json_err("{\"a\":1,}", SHD_ERR_JSON);
    expect_json_err("[1,]", SHD_ERR_JSON);
    expect_json_err("{\"a\":01}", SHD_ERR_JSON);
    expect_json_err("{\"a\":NaN}", SHD_ERR_JSON);
    expect_json_err("{\"a\":\"tab\there\"}", SHD_ERR_JSON);
    expect_json_err("/* c */ {}", SHD_ERR_JSON);
    /* Scalars at the root only when asked for. */
    expect_json_err("\"x\"", SHD_ERR_JSON);
    expect_json_err("1", SHD_ERR_JSON);

    json_t *doc = NULL;
    struct shd_json_limits lim = {.allow_any_root = true};
    EXPECT_OK(shd_json_parse("\"x\"", 3, &lim, &doc));
    assert_string_equal(json_string_value(doc), "x");
    json_decref(doc);
}

static void test_parse_numbers(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    int64_t x = 0;

    EXPECT_OK(parse("{\"max\":9223372036854775807,\"min\":-9223372036854775808}", &doc));
    EXPECT_OK(shd_json_get_int(doc, "max", INT64_MIN, INT64_MAX, &x));
    assert_true(x == INT64_MAX);
    EXPECT_OK(shd_json_get_int(doc, "min", INT64_MIN, INT64_MAX, &x));
    assert_true(x == INT64_MIN);
    expect_json_err("{\"a\":9223372036854775808}", SHD_ERR_JSON);
    expect_json_err("{\"a\":-9223372036854775809}", SHD_ERR_JSON);
    expect_json_err("{\"a\":1e400}", SHD_ERR_JSON);
}

static void test_parse_nul(void **state)
{
    (void)state;
    const char *s = "{\"a\":\"x\\u0000y\"}";
    json_t *doc = NULL;

    expect_json_err(s, SHD_ERR_JSON);
    expect_json_err("{\"a\\u0000\":1}", SHD_ERR_JSON);
    /* A raw NUL byte is never JSON. */
    EXPECT_ERR(shd_json_parse("{\"a\":\"x\0y\"}", 11, NULL, &doc), SHD_ERR_JSON);
    EXPECT_ERR(shd_json_parse("{}\0", 3, NULL, &doc), SHD_ERR_JSON);
    assert_null(doc);

    struct shd_json_limits lim = {.allow_nul = true};
    const char *v = NULL;
    size_t len = 0;
    EXPECT_OK(shd_json_parse(s, strlen(s), &lim, &doc));
    EXPECT_OK(shd_json_get_stringn(doc, "a", &v, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(v, "x\0y", 3);
    v = NULL;
    EXPECT_ERR(shd_json_get_string(doc, "a", &v), SHD_ERR_INPUT);
    expect_msg("field 'a' contains a NUL character");
    assert_null(v);
    json_decref(doc);
}

static void test_parse_utf8(void **state)
{
    (void)state;
    expect_json_err("{\"a\":\"\xff\"}", SHD_ERR_JSON);
    expect_json_err("{\"a\":\"\xc0\xaf\"}", SHD_ERR_JSON);         /* overlong '/' */
    expect_json_err("{\"a\":\"\xed\xa0\x80\"}", SHD_ERR_JSON);     /* UTF-8 surrogate */
    expect_json_err("{\"a\":\"\xf4\x90\x80\x80\"}", SHD_ERR_JSON); /* above U+10FFFF */
    expect_json_err("{\"a\":\"\xe2\x82\"}", SHD_ERR_JSON);         /* truncated sequence */
    expect_json_err("{\"\xfe\":1}", SHD_ERR_JSON);                 /* in a key */
    expect_json_err("{\"a\":\"\\ud800\"}", SHD_ERR_JSON);          /* lone high surrogate */
    expect_json_err("{\"a\":\"\\udc00\"}", SHD_ERR_JSON);          /* lone low surrogate */

    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *s = NULL;
    EXPECT_OK(parse("{\"a\":\"\\ud83d\\ude00 \xe2\x82\xac\"}", &doc));
    EXPECT_OK(shd_json_get_string(doc, "a", &s));
    assert_string_equal(s, "\xf0\x9f\x98\x80 \xe2\x82\xac");
}

/* jansson's " near '<token>'" would copy input (maybe a secret) into the error message. */
static void test_parse_message_hides_input(void **state)
{
    (void)state;
    json_t *doc = NULL;
    const char *s = "{\"key\" \"SECRETSECRET\"}";

    EXPECT_ERR(parse(s, &doc), SHD_ERR_JSON);
    expect_msg("invalid JSON at line 1, column 21, byte 21: ':' expected");
    EXPECT_ERR(parse("{\"a\":1}\n  SECRET", &doc), SHD_ERR_JSON);
    expect_msg("invalid JSON at line 2, column 8, byte 16: end of file expected");
    EXPECT_ERR(parse("{\"a\":", &doc), SHD_ERR_JSON);
    expect_msg("invalid JSON at line 1, column 5, byte 5: unexpected token near end of file");
}

static void test_get_string(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *s = "unchanged";

    EXPECT_OK(parse("{\"s\":\"v\",\"n\":1,\"z\":null,\"e\":\"\"}", &doc));
    EXPECT_ERR(shd_json_get_string(doc, "x", &s), SHD_ERR_INPUT);
    expect_msg("missing field 'x'");
    EXPECT_ERR(shd_json_get_string(doc, "n", &s), SHD_ERR_INPUT);
    expect_msg("field 'n' is not a string");
    EXPECT_ERR(shd_json_get_string(doc, "z", &s), SHD_ERR_INPUT);
    assert_string_equal(s, "unchanged");
    EXPECT_OK(shd_json_get_string(doc, "e", &s));
    assert_string_equal(s, "");
    EXPECT_ERR(shd_json_get_string(NULL, "s", &s), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_get_string(doc, NULL, &s), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_get_string(doc, "s", NULL), SHD_ERR_NULL);

    json_t *arr = json_array();
    assert_non_null(arr);
    EXPECT_ERR(shd_json_get_string(arr, "s", &s), SHD_ERR_INPUT);
    expect_msg("expected a JSON object");
    json_decref(arr);
}

static void test_get_string_opt(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const char *s = "unchanged";

    EXPECT_OK(parse("{\"s\":\"v\",\"n\":1,\"z\":null}", &doc));
    EXPECT_OK(shd_json_get_string_opt(doc, "s", &s));
    assert_string_equal(s, "v");
    EXPECT_OK(shd_json_get_string_opt(doc, "missing", &s));
    assert_null(s);
    s = "unchanged";
    EXPECT_OK(shd_json_get_string_opt(doc, "z", &s));
    assert_null(s);
    s = "unchanged";
    EXPECT_ERR(shd_json_get_string_opt(doc, "n", &s), SHD_ERR_INPUT);
    expect_msg("field 'n' is not a string");
    assert_string_equal(s, "unchanged");
}

static void test_get_int(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    int64_t x = 42;

    EXPECT_OK(parse("{\"i\":5,\"neg\":-1,\"r\":1.0,\"e\":1e3,\"s\":\"5\",\"b\":true}", &doc));
    EXPECT_OK(shd_json_get_int(doc, "i", 5, 5, &x));
    assert_int_equal(x, 5);
    x = 42;
    EXPECT_ERR(shd_json_get_int(doc, "i", 0, 4, &x), SHD_ERR_INPUT);
    expect_msg("field 'i' is out of range");
    EXPECT_ERR(shd_json_get_int(doc, "i", 6, 10, &x), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_int(doc, "neg", 0, INT64_MAX, &x), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_int(doc, "r", INT64_MIN, INT64_MAX, &x), SHD_ERR_INPUT);
    expect_msg("field 'r' is not an integer");
    EXPECT_ERR(shd_json_get_int(doc, "e", INT64_MIN, INT64_MAX, &x), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_int(doc, "s", INT64_MIN, INT64_MAX, &x), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_int(doc, "b", INT64_MIN, INT64_MAX, &x), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_int(doc, "x", INT64_MIN, INT64_MAX, &x), SHD_ERR_INPUT);
    expect_msg("missing field 'x'");
    EXPECT_ERR(shd_json_get_int(doc, "i", 1, 0, &x), SHD_ERR_USAGE);
    assert_int_equal(x, 42);
}

static void test_get_bool(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    bool b = false;

    EXPECT_OK(parse("{\"t\":true,\"f\":false,\"s\":\"true\",\"n\":1,\"z\":null}", &doc));
    EXPECT_OK(shd_json_get_bool(doc, "t", &b));
    assert_true(b);
    EXPECT_OK(shd_json_get_bool(doc, "f", &b));
    assert_false(b);
    b = true;
    EXPECT_ERR(shd_json_get_bool(doc, "s", &b), SHD_ERR_INPUT);
    expect_msg("field 's' is not a boolean");
    EXPECT_ERR(shd_json_get_bool(doc, "n", &b), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_bool(doc, "z", &b), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_bool(doc, "x", &b), SHD_ERR_INPUT);
    assert_true(b);
}

static void test_get_object_array(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    json_t *v = NULL;

    EXPECT_OK(parse("{\"o\":{\"k\":1},\"a\":[1],\"s\":\"{}\"}", &doc));
    EXPECT_OK(shd_json_get_object(doc, "o", &v));
    assert_ptr_equal(v, json_object_get(doc, "o"));
    EXPECT_OK(shd_json_get_array(doc, "a", &v));
    assert_int_equal(json_array_size(v), 1);
    v = NULL;
    EXPECT_ERR(shd_json_get_object(doc, "a", &v), SHD_ERR_INPUT);
    expect_msg("field 'a' is not an object");
    EXPECT_ERR(shd_json_get_object(doc, "s", &v), SHD_ERR_INPUT);
    EXPECT_ERR(shd_json_get_array(doc, "o", &v), SHD_ERR_INPUT);
    expect_msg("field 'o' is not an array");
    EXPECT_ERR(shd_json_get_array(doc, "x", &v), SHD_ERR_INPUT);
    assert_null(v);
}

static void test_get_path(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    json_t *v = NULL;
    const char *doc_text = "{\"x-ms-isolation-tee\":{\"x-ms-attestation-type\":\"sevsnpvm\","
                           "\"x-ms-compliance-status\":\"azure-compliant-uvm\",\"n\":null},"
                           "\"x-ms-sevsnpvm-vmpl\":0,\"arr\":[{\"k\":1}],\"0\":{\"1\":true},"
                           "\"s\":\"str\"}";

    EXPECT_OK(parse(doc_text, &doc));
    EXPECT_OK(shd_json_get_path(doc, "x-ms-isolation-tee.x-ms-attestation-type", &v));
    assert_string_equal(json_string_value(v), "sevsnpvm");
    EXPECT_OK(shd_json_get_path(doc, "x-ms-sevsnpvm-vmpl", &v));
    assert_int_equal(json_integer_value(v), 0);
    EXPECT_OK(shd_json_get_path(doc, "x-ms-isolation-tee", &v));
    assert_true(json_is_object(v));
    /* A present JSON null resolves (to the null). */
    EXPECT_OK(shd_json_get_path(doc, "x-ms-isolation-tee.n", &v));
    assert_true(json_is_null(v));
    /* Numeric segments are object keys, not indexes. */
    EXPECT_OK(shd_json_get_path(doc, "0.1", &v));
    assert_true(json_is_true(v));

    /* Absent: missing segment, a scalar or an array in the middle, root not an object. */
    const char *absent[] = {"missing",
                            "x-ms-isolation-tee.missing",
                            "missing.x",
                            "x-ms-sevsnpvm-vmpl.x",
                            "s.x",
                            "arr.0",
                            "arr.0.k",
                            "x-ms-isolation-tee.x-ms-attestation-type.x",
                            "X-MS-SEVSNPVM-VMPL"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        v = doc;
        EXPECT_OK(shd_json_get_path(doc, absent[i], &v));
        assert_null(v);
    }
    json_t *arr = json_object_get(doc, "arr");
    v = doc;
    EXPECT_OK(shd_json_get_path(arr, "0", &v));
    assert_null(v);

    /* Malformed paths are errors, whatever the data. */
    const char *bad[] = {"", ".", "..", ".a", "a.", "a..b", "x-ms-isolation-tee..n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = doc;
        EXPECT_ERR(shd_json_get_path(doc, bad[i], &v), SHD_ERR_INPUT);
        assert_ptr_equal(v, doc);
    }
    expect_msg("claim path has an empty segment");
    EXPECT_ERR(shd_json_get_path(doc, "", &v), SHD_ERR_INPUT);
    expect_msg("empty claim path");

    char long_path[SHD_JSON_PATH_MAX + 2];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    EXPECT_ERR(shd_json_get_path(doc, long_path, &v), SHD_ERR_INPUT);
    expect_msg("claim path longer than 1024 bytes");
    long_path[SHD_JSON_PATH_MAX] = '\0';
    EXPECT_OK(shd_json_get_path(doc, long_path, &v));
    assert_null(v);

    EXPECT_ERR(shd_json_get_path(NULL, "a", &v), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_get_path(doc, NULL, &v), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_get_path(doc, "a", NULL), SHD_ERR_NULL);
}

static void test_allocator_hook(void **state)
{
    (void)state;
    json_malloc_t a = NULL;
    json_free_t f = NULL;
    json_malloc_t a2 = NULL;
    json_free_t f2 = NULL;

    json_get_alloc_funcs(&a, &f);
    shd_json_allocator_install(); /* second call: no change */
    json_get_alloc_funcs(&a2, &f2);
    assert_ptr_equal(a, a2);
    assert_ptr_equal(f, f2);

    /* jansson's allocations now go through shd_alloc. */
    unsigned long before = shd_mem_alloc_count();
    json_t *s = json_string("a string that jansson copies");
    assert_non_null(s);
    assert_true(shd_mem_alloc_count() > before);
    json_decref(s);
}

/* Fails each allocation of a parse in turn: every failure is SHD_ERR_NOMEM and leaks nothing
 * (valgrind and ASan runs check the leaks). */
static void test_parse_alloc_failures(void **state)
{
    (void)state;
    const char *s = "{\"a\":[1,2,{\"b\":\"long enough string value to need a buffer\"}],"
                    "\"c\":{\"d\":null,\"e\":true},\"f\":\"\\u00e9\"}";
    long n = 0;

    for (;; n++) {
        json_t *doc = NULL;

        shd_mem_fail_after(n);
        shd_result r = parse(s, &doc);
        shd_mem_fail_after(-1);
        if (shd_is_ok(r)) {
            json_decref(doc);
            break;
        }
        assert_int_equal(r.err, SHD_ERR_NOMEM);
        assert_null(doc);
    }
    assert_true(n > 5);
}

static int group_setup(void **state)
{
    (void)state;
    shd_json_allocator_install();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_args),
        cmocka_unit_test(test_parse_not_terminated),
        cmocka_unit_test(test_parse_too_large),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_parse_duplicates),
        cmocka_unit_test(test_parse_trailing),
        cmocka_unit_test(test_parse_truncated),
        cmocka_unit_test(test_parse_syntax),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_parse_utf8),
        cmocka_unit_test(test_parse_message_hides_input),
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_get_string_opt),
        cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_get_bool),
        cmocka_unit_test(test_get_object_array),
        cmocka_unit_test(test_get_path),
        cmocka_unit_test(test_allocator_hook),
        cmocka_unit_test(test_parse_alloc_failures),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
