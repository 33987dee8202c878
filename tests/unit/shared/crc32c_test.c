/*
 * crc32c_test.c - CRC-32C known answers, incremental use, and the Int64Value JSON form.
 */
#include <string.h>

#include <jansson.h>

#include "shd/crc32c.h"
#include "shd/errors.h"
#include "shd_test.h"

static void test_known_answers(void **state)
{
    (void)state;
    /* The CRC catalogue check value of CRC-32C/ISCSI. */
    assert_int_equal(shd_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
    assert_int_equal(shd_crc32c(NULL, 0), 0u);
    /* RFC 3720 B.4: 32 bytes of zeros and 32 bytes of 0xff. */
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    assert_int_equal(shd_crc32c(buf, sizeof(buf)), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(shd_crc32c(buf, sizeof(buf)), 0x62A8AB43u);
}

static void test_incremental(void **state)
{
    (void)state;
    const uint8_t *s = (const uint8_t *)"123456789";
    uint32_t c = shd_crc32c_update(0, s, 4);
    c = shd_crc32c_update(c, s + 4, 5);
    assert_int_equal(c, 0xE3069283u);
}

static void test_format(void **state)
{
    (void)state;
    char out[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(0xE3069283u, out);
    assert_string_equal(out, "3808858755");
    shd_crc32c_format(0, out);
    assert_string_equal(out, "0");
    shd_crc32c_format(UINT32_MAX, out);
    assert_string_equal(out, "4294967295");
}

static void json_get(const char *text, bool want_ok, bool want_present, uint32_t want)
{
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    bool present = false;
    uint32_t crc = 7;
    shd_result r = shd_crc32c_json_get(doc, "c", &present, &crc);
    if (want_ok) {
        EXPECT_OK(r);
        assert_int_equal(present, want_present);
        if (want_present) {
            assert_int_equal(crc, want);
        }
    } else {
        EXPECT_ERR(r, SHD_ERR_INPUT);
        /* Outputs are written only on success. */
        assert_false(present);
        assert_int_equal(crc, 7);
        char msg[256];
        (void)shd_error_render(msg, sizeof(msg));
        assert_non_null(strstr(msg, "field 'c' is not a CRC32C value"));
        shd_error_clear();
    }
    json_decref(doc);
}

static void test_json_values(void **state)
{
    (void)state;
    json_get("{}", true, false, 0);
    json_get("{\"c\":null}", true, false, 0);
    json_get("{\"c\":\"3808858755\"}", true, true, 0xE3069283u);
    json_get("{\"c\":3808858755}", true, true, 0xE3069283u);
    json_get("{\"c\":\"0\"}", true, true, 0);
    json_get("{\"c\":\"4294967295\"}", true, true, UINT32_MAX);
    /* Out of range, signs, non-digits, empty, too long, wrong types. */
    json_get("{\"c\":\"4294967296\"}", false, false, 0);
    json_get("{\"c\":-1}", false, false, 0);
    json_get("{\"c\":\"-1\"}", false, false, 0);
    json_get("{\"c\":\"+1\"}", false, false, 0);
    json_get("{\"c\":\"12a\"}", false, false, 0);
    json_get("{\"c\":\"\"}", false, false, 0);
    json_get("{\"c\":\"00000000001\"}", false, false, 0);
    json_get("{\"c\":1.5}", false, false, 0);
    json_get("{\"c\":true}", false, false, 0);
    json_get("{\"c\":[1]}", false, false, 0);
}

static void test_null_args(void **state)
{
    (void)state;
    json_t *doc = json_object();
    assert_non_null(doc);
    bool present = false;
    uint32_t crc = 0;
    EXPECT_ERR(shd_crc32c_json_get(NULL, "c", &present, &crc), SHD_ERR_NULL);
    shd_error_clear();
    EXPECT_ERR(shd_crc32c_json_get(doc, NULL, &present, &crc), SHD_ERR_NULL);
    shd_error_clear();
    EXPECT_ERR(shd_crc32c_json_get(doc, "c", NULL, &crc), SHD_ERR_NULL);
    shd_error_clear();
    EXPECT_ERR(shd_crc32c_json_get(doc, "c", &present, NULL), SHD_ERR_NULL);
    shd_error_clear();
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers), cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_format),        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
