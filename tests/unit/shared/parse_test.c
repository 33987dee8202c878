/*
 * parse_test.c - shd_parse_uint: every base, the exact limits (max, max + 1, UINT64_MAX and one
 * past it), and everything that is not a plain run of digits.
 */
#include <string.h>

#include "shd/errors.h"
#include "shd/parse.h"
#include "shd_test.h"

static void parses_to(const char *s, unsigned base, uint64_t max, uint64_t want)
{
    uint64_t v = 12345;
    EXPECT_OK(shd_parse_uint(s, base, max, &v));
    assert_int_equal(v, want);
}

/* Fails with code and exactly msg, leaving the output alone. */
static void parse_fails(const char *s, unsigned base, uint64_t max, int code, const char *msg)
{
    uint64_t v = 12345;
    EXPECT_ERR(shd_parse_uint(s, base, max, &v), code);
    assert_int_equal(v, 12345);
    char got[256];
    (void)shd_error_render(got, sizeof(got));
    assert_string_equal(got, msg);
    shd_error_clear();
}

static void test_values(void **state)
{
    (void)state;
    parses_to("0", 10, 0, 0);
    parses_to("42", 10, 100, 42);
    parses_to("000042", 10, 42, 42); /* leading zeros are digits, max is inclusive */
    parses_to("65535", 10, 65535, 65535);
    parses_to("0777", 8, 0777, 0777);
    parses_to("17", 8, 0777, 15);
    parses_to("ff", 16, 255, 255);
    parses_to("FF", 16, 255, 255);
    parses_to("aBcDeF", 16, UINT64_MAX, 0xabcdef);
    parses_to("18446744073709551615", 10, UINT64_MAX, UINT64_MAX);
    parses_to("ffffffffffffffff", 16, UINT64_MAX, UINT64_MAX);
    parses_to("1777777777777777777777", 8, UINT64_MAX, UINT64_MAX);
    parses_to("4294967295", 10, UINT32_MAX, UINT32_MAX);
}

static void test_not_digits(void **state)
{
    (void)state;
    parse_fails("", 10, UINT64_MAX, SHD_ERR_INPUT, "empty number");
    /* Signs, white space, separators, prefixes, a UTF-8 digit and a high byte. */
    const char *bad10[] = {"-1",  "+1",  "-0",  " 1",   "1 ",    "1\n",      "\t1",
                           "12a", "1.0", "1e3", "0x10", "1_000", "\xd9\xa1", "1\xff"};
    for (size_t i = 0; i < sizeof(bad10) / sizeof(bad10[0]); i++) {
        parse_fails(bad10[i], 10, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    }
    /* No prefixes in any base: the caller chose the base. */
    parse_fails("0x1f", 16, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    parse_fails("0X1F", 16, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    parse_fails("0o17", 8, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    /* Digits of a larger base. */
    parse_fails("8", 8, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    parse_fails("0779", 8, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    parse_fails("a", 10, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    parse_fails("g", 16, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
    parse_fails("fG", 16, UINT64_MAX, SHD_ERR_INPUT, "invalid digit in number");
}

static void test_range(void **state)
{
    (void)state;
    /* max + 1 in each base. */
    parse_fails("65536", 10, 65535, SHD_ERR_INPUT, "number out of range");
    parse_fails("1000", 8, 0777, SHD_ERR_INPUT, "number out of range");
    parse_fails("100", 16, 0xff, SHD_ERR_INPUT, "number out of range");
    parse_fails("4294967296", 10, UINT32_MAX, SHD_ERR_INPUT, "number out of range");
    parse_fails("1", 10, 0, SHD_ERR_INPUT, "number out of range");
    /* A single digit above a small max (max - digit must not wrap around). */
    parse_fails("7", 10, 5, SHD_ERR_INPUT, "number out of range");
    parse_fails("f", 16, 9, SHD_ERR_INPUT, "number out of range");
    /* UINT64_MAX + 1 and far beyond, with max = UINT64_MAX. */
    parse_fails("18446744073709551616", 10, UINT64_MAX, SHD_ERR_INPUT, "number out of range");
    parse_fails("18446744073709551620", 10, UINT64_MAX, SHD_ERR_INPUT, "number out of range");
    parse_fails("10000000000000000", 16, UINT64_MAX, SHD_ERR_INPUT, "number out of range");
    parse_fails("2000000000000000000000", 8, UINT64_MAX, SHD_ERR_INPUT, "number out of range");
    parse_fails("99999999999999999999999999999999", 10, UINT64_MAX, SHD_ERR_INPUT,
                "number out of range");
    /* Leading zeros do not count against the range. */
    parses_to("0000000000000000000000000018446744073709551615", 10, UINT64_MAX, UINT64_MAX);
}

static void test_usage(void **state)
{
    (void)state;
    uint64_t v = 7;
    EXPECT_ERR(shd_parse_uint("1", 2, UINT64_MAX, &v), SHD_ERR_USAGE);
    EXPECT_ERR(shd_parse_uint("1", 0, UINT64_MAX, &v), SHD_ERR_USAGE);
    EXPECT_ERR(shd_parse_uint("1", 36, UINT64_MAX, &v), SHD_ERR_USAGE);
    EXPECT_ERR(shd_parse_uint(NULL, 10, UINT64_MAX, &v), SHD_ERR_NULL);
    EXPECT_ERR(shd_parse_uint("1", 10, UINT64_MAX, NULL), SHD_ERR_NULL);
    assert_int_equal(v, 7);
    shd_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_not_digits),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
