/*
 * crc32c_test.c - CRC-32C known answers and the Int64Value JSON form.
 */
#include "shd_test.h"

#include <string.h>

#include <jansson.h>

#include "crc32c.h"
#include "shd/json.h"

static void test_kat(void **state)
{
    (void)state;
    assert_int_equal(wif_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
    assert_int_equal(wif_crc32c(NULL, 0), 0u);
    /* RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA, 32 bytes of 0xFF -> 0x62A8AB43. */
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    assert_int_equal(wif_crc32c(buf, sizeof(buf)), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(wif_crc32c(buf, sizeof(buf)), 0x62A8AB43u);
    char dec[WIF_CRC32C_DEC_LEN];
    wif_crc32c_format(0xE3069283u, dec);
    assert_string_equal(dec, "3808858755");
    wif_crc32c_format(0, dec);
    assert_string_equal(dec, "0");
}

static json_t *parse(const char *s)
{
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(s, strlen(s), NULL, &doc));
    return doc;
}

static void test_json(void **state)
{
    (void)state;
    json_t *doc = parse("{\"s\":\"3808858755\",\"i\":42,\"max\":\"4294967295\",\"over\":"
                        "\"4294967296\",\"neg\":-1,\"bad\":\"12a\",\"empty\":\"\",\"long\":"
                        "\"00000000001\",\"real\":1.5,\"null\":null,\"plus\":\"+1\"}");
    uint32_t crc = 0;
    EXPECT_OK(wif_crc32c_json_get(doc, "s", &crc));
    assert_int_equal(crc, 0xE3069283u);
    EXPECT_OK(wif_crc32c_json_get(doc, "i", &crc));
    assert_int_equal(crc, 42u);
    EXPECT_OK(wif_crc32c_json_get(doc, "max", &crc));
    assert_int_equal(crc, UINT32_MAX);
    crc = 7;
    const char *bad[] = {"over", "neg", "bad", "empty", "long", "real", "null", "plus", "absent"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(wif_crc32c_json_get(doc, bad[i], &crc), SHD_ERR_INPUT);
        assert_int_equal(crc, 7u); /* untouched on failure */
    }
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
