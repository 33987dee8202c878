/*
 * unwrap_test.c - the request-side checks: path validation, the decrypted header set (types,
 * arrays, hop-by-hop removal, injection), and the header list bounds.
 */
#include <string.h>

#include "headers.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "unwrap.h"
#include "shd_test.h"

static void test_target_check(void **state)
{
    (void)state;
    EXPECT_OK(proxy_target_check("/", 1));
    EXPECT_OK(proxy_target_check("/a/b?c=d&e=%20#frag", 19));
    static const char *const BAD[] = {"", "a", "/a b", "/a\rb", "/a\nb", "/a\tb", "/\x7f",
                                      "/\xc3\xa9", "http://x/"};
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        EXPECT_ERR(proxy_target_check(BAD[i], strlen(BAD[i])), SHD_ERR_INPUT);
    }
    EXPECT_ERR(proxy_target_check("/a\0b", 4), SHD_ERR_INPUT);
}

static shd_result from_json(const char *j, struct proxy_headers *h)
{
    proxy_headers_init(PROXY_HEADERS_MAX_COUNT, 4096, h);
    return proxy_headers_from_json((const uint8_t *)j, strlen(j), 4096, h);
}

static void test_header_json(void **state)
{
    (void)state;
    struct proxy_headers h;
    EXPECT_OK(from_json("{\"Accept\":\"application/json\",\"X-N\":42,\"X-B\":true,"
                        "\"X-A\":[\"1\",2],\"Connection\":\"close, X-Gone\",\"x-gone\":\"v\","
                        "\"Keep-Alive\":\"5\",\"TE\":\"trailers\","
                        "\"Transfer-Encoding\":\"chunked\","
                        "\"Host\":\"evil\",\"Content-Length\":\"999\",\"Upgrade\":\"ws\","
                        "\"Proxy-Authorization\":\"x\",\"Expect\":\"100-continue\"}",
                        &h));
    assert_int_equal(h.n, 5);
    assert_string_equal(proxy_headers_get(&h, "accept"), "application/json");
    assert_string_equal(proxy_headers_get(&h, "x-n"), "42");
    assert_string_equal(proxy_headers_get(&h, "x-b"), "true");
    assert_string_equal(h.v[3].value, "1");
    assert_string_equal(h.v[4].value, "2");
    assert_null(proxy_headers_get(&h, "x-gone"));
    assert_null(proxy_headers_get(&h, "host"));
    proxy_headers_clear(&h);
    EXPECT_OK(from_json("{}", &h));
    assert_int_equal(h.n, 0);

    static const char *const BAD[] = {
        "{\"x\":\"a\\r\\nInjected: 1\"}", "{\"x\":\"a\\u0000b\"}", "{\"bad name\":\"v\"}",
        "{\"\":\"v\"}", "{\"x\":null}", "{\"x\":1.5}", "{\"x\":{\"y\":1}}", "{\"x\":[[1]]}",
        "[\"x\"]", "\"x\"", "{\"a\":1,\"a\":2}", "{"};
    const int codes[] = {SHD_ERR_INPUT, SHD_ERR_JSON,  SHD_ERR_INPUT, SHD_ERR_INPUT,
                         SHD_ERR_INPUT, SHD_ERR_INPUT, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE,
                         SHD_ERR_INPUT, SHD_ERR_JSON,  SHD_ERR_JSON,  SHD_ERR_JSON};
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        struct proxy_headers b;
        EXPECT_ERR(from_json(BAD[i], &b), codes[i]);
        proxy_headers_clear(&b);
    }
}

static void test_header_bounds(void **state)
{
    (void)state;
    struct proxy_headers h;
    proxy_headers_init(2, 10, &h);
    EXPECT_OK(proxy_headers_add("a", 1, "1234", 4, &h));
    EXPECT_ERR(proxy_headers_add("b", 1, "123456", 6, &h), SHD_ERR_TOO_LARGE);
    EXPECT_OK(proxy_headers_add("b", 1, "12", 2, &h));
    EXPECT_ERR(proxy_headers_add("c", 1, "", 0, &h), SHD_ERR_TOO_LARGE);
    EXPECT_ERR(proxy_headers_add("a:b", 3, "", 0, &h), SHD_ERR_INPUT);
    proxy_headers_clear(&h);
    assert_true(proxy_header_is_hop("Connection", NULL));
    assert_true(proxy_header_is_hop("x-listed", "keep-alive, X-Listed"));
    assert_false(proxy_header_is_hop("x-listedx", "x-listed"));
    assert_false(proxy_header_is_hop("authorization", NULL));
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_check),
        cmocka_unit_test(test_header_json),
        cmocka_unit_test(test_header_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
