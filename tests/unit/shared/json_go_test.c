/*
 * json_go_test.c - the Go encoding/json writer: golden bytes for escaping (Go 1.22+ rules, HTML
 * escaping on), key order, values, limits and allocation-failure injection.
 */
#include <string.h>

#include "shd/cleanup.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"

static void expect_quote_n(const char *in, size_t n, const char *want)
{
    char *out = NULL;
    size_t len = 0;

    EXPECT_OK(shd_json_go_quote(in, n, &out, &len));
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
    shd_free_wipe(out, len + 1);
}

static void expect_quote(const char *in, const char *want)
{
    expect_quote_n(in, strlen(in), want);
}

static void expect_dump(const json_t *v, unsigned flags, const char *want)
{
    char *out = NULL;
    size_t len = 0;

    EXPECT_OK(shd_json_go_dump(v, flags, &out, &len));
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
    shd_free_wipe(out, len + 1);
}

/* Parses a literal (test input, trusted to be valid). */
static json_t *doc(const char *s)
{
    json_t *v = NULL;

    EXPECT_OK(shd_json_parse(s, strlen(s), NULL, &v));
    return v;
}

static void test_error_body(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *v = json_pack("{s:s}", "error", "a<b>c&d\nline");

    assert_non_null(v);
    expect_dump(v, 0, "{\"error\":\"a\\u003cb\\u003ec\\u0026d\\nline\"}");

    /* The sidecar's real shape: prefix, ERROR_STRING lines, cause; '/' and ':' stay as is. */
    const char *msg = "secure key release failed\nERROR: Please refer to the documentation.\n"
                      "ACI: https://github.com/x/README.md: releasing the key k&v failed";
    struct shd_json_go_field f[] = {{"error", msg, strlen(msg)}};
    char *out = NULL;
    size_t len = 0;
    EXPECT_OK(shd_json_go_dump_strings(f, 1, &out, &len));
    assert_string_equal(out, "{\"error\":\"secure key release failed\\nERROR: Please refer to the "
                             "documentation.\\nACI: https://github.com/x/README.md: releasing the "
                             "key k\\u0026v failed\"}");
    shd_free(out);
}

static void test_control_chars(void **state)
{
    (void)state;
    char in[32];

    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (char)i;
    }
    expect_quote_n(in, sizeof(in),
                   "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
                   "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
                   "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
                   "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
}

static void test_ascii(void **state)
{
    (void)state;
    expect_quote("", "\"\"");
    expect_quote("\"\\/", "\"\\\"\\\\/\"");
    expect_quote("<>&", "\"\\u003c\\u003e\\u0026\"");
    /* DEL and the rest of printable ASCII are copied. */
    expect_quote("\x7f ~'!`", "\"\x7f ~'!`\"");
    expect_quote("abc xyz 0123 {}[]:,", "\"abc xyz 0123 {}[]:,\"");
}

static void test_unicode(void **state)
{
    (void)state;
    /* U+2028 and U+2029 are escaped; their neighbours U+2027 and U+202A are not. */
    expect_quote("a\xe2\x80\xa8"
                 "b\xe2\x80\xa9"
                 "c",
                 "\"a\\u2028b\\u2029c\"");
    expect_quote("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"");
    /* Valid 2-, 3- and 4-byte sequences, and a literal U+FFFD, are copied. */
    expect_quote("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd",
                 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd\"");
    /* Edges of the accepted ranges. */
    expect_quote("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80"
                 "\xf4\x8f\xbf\xbf",
                 "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80"
                 "\xf4\x8f\xbf\xbf\"");
}

/* Go replaces each byte that does not start a valid sequence with one U+FFFD escape. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_quote("\xff", "\"\\ufffd\"");
    expect_quote("a\x80z", "\"a\\ufffdz\"");
    expect_quote("\xc0\xaf", "\"\\ufffd\\ufffd\"");                       /* overlong */
    expect_quote("\xc1\xbf", "\"\\ufffd\\ufffd\"");                       /* overlong */
    expect_quote("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");            /* overlong 3-byte */
    expect_quote("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate D800 */
    expect_quote("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* overlong 4-byte */
    expect_quote("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
    expect_quote("\xf5\x80", "\"\\ufffd\\ufffd\"");
    /* Truncated sequences: the lead byte is replaced, the rest is re-examined. */
    expect_quote("\xe2\x82", "\"\\ufffd\\ufffd\"");
    expect_quote("\xe2\x82z", "\"\\ufffd\\ufffdz\"");
    expect_quote("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"");
    expect_quote("\xe2\xe2\x82\xac", "\"\\ufffd\xe2\x82\xac\"");
    expect_quote("\xc3", "\"\\ufffd\"");
    /* A continuation byte outside the range of the lead byte. */
    expect_quote("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
}

static void test_embedded_nul(void **state)
{
    (void)state;
    expect_quote_n("a\0b", 3, "\"a\\u0000b\"");

    struct shd_json_go_field f[] = {{"k", "x\0y", 3}, {"e", NULL, 0}};
    char *out = NULL;
    size_t len = 0;
    EXPECT_OK(shd_json_go_dump_strings(f, 2, &out, &len));
    assert_string_equal(out, "{\"k\":\"x\\u0000y\",\"e\":\"\"}");
    shd_free(out);
}

static void test_key_order(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *v = json_object();

    assert_non_null(v);
    assert_int_equal(json_object_set_new(v, "b", json_integer(1)), 0);
    assert_int_equal(json_object_set_new(v, "a", json_integer(2)), 0);
    assert_int_equal(json_object_set_new(v, "aa", json_integer(3)), 0);
    assert_int_equal(json_object_set_new(v, "B", json_integer(4)), 0);
    assert_int_equal(json_object_set_new(v, "\xc3\xa9", json_integer(5)), 0);
    assert_int_equal(json_object_set_new(v, "", json_integer(6)), 0);
    expect_dump(v, 0, "{\"b\":1,\"a\":2,\"aa\":3,\"B\":4,\"\xc3\xa9\":5,\"\":6}");
    expect_dump(v, SHD_JSON_SORT_KEYS, "{\"\":6,\"B\":4,\"a\":2,\"aa\":3,\"b\":1,\"\xc3\xa9\":5}");

    /* Keys are escaped like values; sorting applies at every level. */
    SHD_CLEANUP_JSON json_t *n = doc("{\"z\":{\"y\":[{\"b\":1,\"a\":2}],\"x\":0},\"<k>\":\"&\"}");
    expect_dump(n, 0,
                "{\"z\":{\"y\":[{\"b\":1,\"a\":2}],\"x\":0},\"\\u003ck\\u003e\":\"\\u0026\"}");
    expect_dump(n, SHD_JSON_SORT_KEYS,
                "{\"\\u003ck\\u003e\":\"\\u0026\",\"z\":{\"x\":0,\"y\":[{\"a\":2,\"b\":1}]}}");
}

static void test_values(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *v =
        doc("{ \"o\" : { } , \"a\" : [ ] , \"t\" : true , \"f\" : false , \"n\" : null ,\n"
            "\"i\" : [0, -1, 42, 9223372036854775807, -9223372036854775808],\n"
            "\"nest\" : [[[]], [{}], {\"a\": [1, \"x\"]}] }");

    expect_dump(v, 0,
                "{\"o\":{},\"a\":[],\"t\":true,\"f\":false,\"n\":null,"
                "\"i\":[0,-1,42,9223372036854775807,-9223372036854775808],"
                "\"nest\":[[[]],[{}],{\"a\":[1,\"x\"]}]}");

    json_t *s = json_stringn("x", 1);
    assert_non_null(s);
    expect_dump(s, 0, "\"x\"");
    json_decref(s);
    expect_dump(json_true(), 0, "true");
    expect_dump(json_null(), 0, "null");
}

/* skr's 200 body: the JWK (a Go map, so sorted keys) serialised, then embedded as a string. */
static void test_released_key_body(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *jwk =
        json_pack("{s:s,s:s,s:[s]}", "kty", "oct", "k", "q-_AB0", "key_ops", "encrypt");
    char *inner = NULL;
    size_t inner_len = 0;
    char *body = NULL;
    size_t body_len = 0;

    assert_non_null(jwk);
    EXPECT_OK(shd_json_go_dump(jwk, SHD_JSON_SORT_KEYS, &inner, &inner_len));
    assert_string_equal(inner, "{\"k\":\"q-_AB0\",\"key_ops\":[\"encrypt\"],\"kty\":\"oct\"}");

    struct shd_json_go_field f[] = {{"key", inner, inner_len}};
    EXPECT_OK(shd_json_go_dump_strings(f, 1, &body, &body_len));
    assert_string_equal(body,
                        "{\"key\":\"{\\\"k\\\":\\\"q-_AB0\\\",\\\"key_ops\\\":[\\\"encrypt\\\"],"
                        "\\\"kty\\\":\\\"oct\\\"}\"}");
    assert_int_equal(body_len, strlen(body));

    /* The body parses back to the same JWK (client: json.loads(json.loads(body)["key"])). */
    SHD_CLEANUP_JSON json_t *outer = doc(body);
    const char *k = NULL;
    EXPECT_OK(shd_json_get_string(outer, "key", &k));
    SHD_CLEANUP_JSON json_t *back = doc(k);
    assert_true(json_equal(back, jwk));

    shd_free_wipe(inner, inner_len + 1);
    shd_free_wipe(body, body_len + 1);
}

static void test_dump_strings(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;

    EXPECT_OK(shd_json_go_dump_strings(NULL, 0, &out, &len));
    assert_string_equal(out, "{}");
    assert_int_equal(len, 2);
    shd_free(out);

    struct shd_json_go_field f[] = {{"report", "ab", 2}, {"<", ">", 1}};
    EXPECT_OK(shd_json_go_dump_strings(f, 2, &out, &len));
    assert_string_equal(out, "{\"report\":\"ab\",\"\\u003c\":\"\\u003e\"}");
    shd_free(out);

    out = NULL;
    struct shd_json_go_field bad_key[] = {{NULL, "x", 1}};
    struct shd_json_go_field bad_val[] = {{"k", NULL, 1}};
    EXPECT_ERR(shd_json_go_dump_strings(bad_key, 1, &out, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_dump_strings(bad_val, 1, &out, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_dump_strings(NULL, 1, &out, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_dump_strings(f, 1, NULL, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_dump_strings(f, 1, &out, NULL), SHD_ERR_NULL);
    assert_null(out);
}

static void test_refused(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    SHD_CLEANUP_JSON json_t *r = doc("{\"a\":[1.5]}");

    EXPECT_ERR(shd_json_go_dump(r, 0, &out, &len), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(shd_json_go_dump(r, 0x2, &out, &len), SHD_ERR_USAGE);
    EXPECT_ERR(shd_json_go_dump(NULL, 0, &out, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_dump(r, 0, NULL, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_dump(r, 0, &out, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_json_go_quote(NULL, 1, &out, &len), SHD_ERR_NULL);
    assert_null(out);
    expect_quote_n(NULL, 0, "\"\"");
}

/* Builds `depth` arrays nested inside each other. */
static json_t *nest(int depth)
{
    json_t *v = json_array();

    assert_non_null(v);
    for (int i = 1; i < depth; i++) {
        json_t *outer = json_array();
        assert_non_null(outer);
        assert_int_equal(json_array_append_new(outer, v), 0);
        v = outer;
    }
    return v;
}

static void test_limits(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    json_t *ok = nest(SHD_JSON_GO_MAX_DEPTH);
    json_t *deep = nest(SHD_JSON_GO_MAX_DEPTH + 1);

    EXPECT_OK(shd_json_go_dump(ok, 0, &out, &len));
    assert_int_equal(len, 2 * SHD_JSON_GO_MAX_DEPTH);
    shd_free(out);
    out = NULL;
    EXPECT_ERR(shd_json_go_dump(deep, 0, &out, &len), SHD_ERR_TOO_LARGE);
    assert_null(out);
    json_decref(ok);
    json_decref(deep);

    /* Output bound: quoting adds 2 bytes, so MAX - 2 input bytes fit and MAX - 1 do not. */
    size_t n = SHD_JSON_GO_MAX_OUT - 1;
    char *big = shd_alloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    EXPECT_OK(shd_json_go_quote(big, n - 1, &out, &len));
    assert_int_equal(len, SHD_JSON_GO_MAX_OUT);
    assert_int_equal(out[len], '\0');
    shd_free(out);
    out = NULL;
    EXPECT_ERR(shd_json_go_quote(big, n, &out, &len), SHD_ERR_TOO_LARGE);
    /* Escapes count: 1/6 of the bound in '<' already expands past it. */
    memset(big, '<', n);
    EXPECT_ERR(shd_json_go_quote(big, n / 5, &out, &len), SHD_ERR_TOO_LARGE);
    assert_null(out);
    shd_free(big);
}

/* Fails each allocation in turn; each failure is SHD_ERR_NOMEM, *ret stays untouched, and the
 * valgrind/ASan runs see no leak. */
static void test_alloc_failures(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *v =
        doc("{\"b\":\"a value long enough to make the buffer grow a few times: <<<<<<<<<<<<<<<<"
            "<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\",\"a\":[{\"y\":1,\"x\":2},{}],\"c\":null}");
    int rounds = 0;

    for (long n = 0;; n++) {
        char *out = NULL;
        size_t len = 0;

        shd_mem_fail_after(n);
        shd_result r = shd_json_go_dump(v, SHD_JSON_SORT_KEYS, &out, &len);
        shd_mem_fail_after(-1);
        if (shd_is_ok(r)) {
            assert_int_equal(len, strlen(out));
            shd_free(out);
            break;
        }
        assert_int_equal(r.err, SHD_ERR_NOMEM);
        assert_null(out);
        rounds++;
    }
    assert_true(rounds >= 4);

    struct shd_json_go_field f[] = {{"key", "secret<material>", 16}};
    for (long n = 0;; n++) {
        char *out = NULL;
        size_t len = 0;

        shd_mem_fail_after(n);
        shd_result r = shd_json_go_dump_strings(f, 1, &out, &len);
        shd_mem_fail_after(-1);
        if (shd_is_ok(r)) {
            assert_string_equal(out, "{\"key\":\"secret\\u003cmaterial\\u003e\"}");
            shd_free_wipe(out, len + 1);
            break;
        }
        assert_int_equal(r.err, SHD_ERR_NOMEM);
        assert_null(out);
    }
}

/* What the writer escapes, jansson reads back to the same string (valid UTF-8 input). */
static void test_round_trip(void **state)
{
    (void)state;
    const char *samples[] = {"",
                             "plain",
                             "<script>&amp;</script>",
                             "\x01\x1f\b\f\n\r\t\"\\",
                             "\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80\xc3\xa9",
                             "\x7f/"};

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char *out = NULL;
        size_t len = 0;
        json_t *v = NULL;
        struct shd_json_limits lim = {.allow_any_root = true};

        EXPECT_OK(shd_json_go_quote(samples[i], strlen(samples[i]), &out, &len));
        EXPECT_OK(shd_json_parse(out, len, &lim, &v));
        assert_string_equal(json_string_value(v), samples[i]);
        json_decref(v);
        shd_free(out);
    }
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
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_control_chars),
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_released_key_body),
        cmocka_unit_test(test_dump_strings),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
