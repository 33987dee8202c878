/*
 * errors_test.c - error table, categories, cause-chain rendering and the safety macros.
 */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/safety.h"
#include "shd_test.h"

static shd_result root_fails(void)
{
    SHD_BAIL_MSG(SHD_ERR_CONNECT, "dial tcp 127.0.0.1:1: connection refused");
}

static shd_result middle_fails(void)
{
    SHD_GUARD_CTX(root_fails(), "AKV post request failed");
    return SHD_OK;
}

static shd_result outer_fails(const char *kid)
{
    SHD_GUARD_CTX(middle_fails(), "releasing the key %s failed", kid);
    return SHD_OK;
}

static void test_chain_renders_outer_first(void **state)
{
    char buf[256];
    (void)state;

    EXPECT_ERR(outer_fails("k1"), SHD_ERR_CONNECT);
    size_t n = shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "releasing the key k1 failed: AKV post request failed: dial tcp "
                             "127.0.0.1:1: connection refused");
    assert_int_equal(n, strlen(buf));
    assert_int_equal(shd_error_type_of(shd_error_code()), SHD_ERR_T_IO);
    assert_non_null(strstr(shd_error_location(), "errors_test.c:"));
}

static void test_render_truncates_and_reports_need(void **state)
{
    char small[8];
    char big[256];
    (void)state;

    EXPECT_ERR(outer_fails("key"), SHD_ERR_CONNECT);
    size_t need = shd_error_render(small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(need, shd_error_render(big, sizeof(big)));
    assert_int_equal(need, strlen(big));
    assert_memory_equal(small, big, sizeof(small) - 1);
    assert_int_equal(shd_error_render(NULL, 0), need);
}

static shd_result bail_plain(void)
{
    SHD_BAIL(SHD_ERR_TRUNCATED);
}

static void test_root_defaults_to_code_text(void **state)
{
    char buf[128];
    (void)state;

    EXPECT_ERR(bail_plain(), SHD_ERR_TRUNCATED);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "truncated input");
    shd_error_wrap("parsing report");
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "parsing report: truncated input");
}

static void test_chain_is_bounded_and_keeps_root(void **state)
{
    char buf[4096];
    (void)state;

    EXPECT_ERR(root_fails(), SHD_ERR_CONNECT);
    for (int i = 0; i < 3 * SHD_ERROR_MAX_FRAMES; i++) {
        shd_error_wrap("frame %d", i);
    }
    (void)shd_error_render(buf, sizeof(buf));
    assert_non_null(strstr(buf, "connection refused"));
    assert_null(strstr(buf, "frame 20"));
    assert_true(strncmp(buf, "frame 6: ", 9) == 0);
}

static void test_frame_is_truncated_not_overflowed(void **state)
{
    char longmsg[3 * SHD_ERROR_FRAME_LEN];
    char buf[4 * SHD_ERROR_FRAME_LEN];
    (void)state;

    memset(longmsg, 'x', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    shd_result r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "%s", longmsg);
    assert_int_equal(r.err, SHD_ERR_INPUT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_int_equal(strlen(buf), SHD_ERROR_FRAME_LEN - 1);
}

static void test_table_and_categories(void **state)
{
    (void)state;

    assert_string_equal(shd_error_str(SHD_ERR_NONE), "success");
    assert_string_equal(shd_error_str(SHD_ERR_BAD_SIGNATURE), "signature verification failed");
    assert_string_equal(shd_error_str(0x7fff1234), "unknown error");
    assert_int_equal(shd_error_type_of(SHD_ERR_TIMEOUT), SHD_ERR_T_RETRY);
    assert_int_equal(shd_error_type_of(SHD_ERR_BAD_CERT), SHD_ERR_T_CRYPTO);
    assert_int_equal(shd_error_type_of(SHD_ERR_TPM), SHD_ERR_T_TPM);
    assert_int_equal(shd_error_type_of(SHD_ERR_NOMEM), SHD_ERR_T_INTERNAL);
    assert_int_equal(shd_error_type_of(SHD_ERR_CONFIG), SHD_ERR_T_USAGE);
    assert_int_equal(shd_error_type_of(SHD_ERR_NONE), SHD_ERR_T_OK);
    assert_int_equal(shd_error_type_of(0x7fff1234), SHD_ERR_T_INTERNAL);
    assert_string_equal(shd_error_type_str(SHD_ERR_T_INPUT), "INPUT");
    assert_string_equal(shd_error_type_str((enum shd_error_type)99), "UNKNOWN");
}

static shd_result posix_fails(void)
{
    errno = 0;
    SHD_GUARD_POSIX((errno = ENOENT, -1));
    return SHD_OK;
}

static shd_result ossl_fails(void)
{
    /* An unknown digest name makes OpenSSL queue a real error. */
    SHD_GUARD_OSSL(EVP_MD_fetch(NULL, "NO-SUCH-DIGEST", NULL) != NULL, SHD_ERR_CRYPTO);
    return SHD_OK;
}

static shd_result curl_fails(void)
{
    SHD_GUARD_CURL(28 /* CURLE_OPERATION_TIMEDOUT */, SHD_ERR_TIMEOUT);
    return SHD_OK;
}

static shd_result tss_fails(void)
{
    SHD_GUARD_TSS(0x922UL, SHD_ERR_TPM);
    return SHD_OK;
}

static shd_result ensure_ref(const void *p)
{
    SHD_ENSURE_REF(p);
    SHD_ENSURE_MSG(p != (const void *)1, SHD_ERR_INPUT, "pointer %d", 1);
    return SHD_OK;
}

static void test_foreign_adapters(void **state)
{
    unsigned long code = 0;
    char buf[512];
    (void)state;

    EXPECT_ERR(posix_fails(), SHD_ERR_IO);
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_ERRNO);
    assert_int_equal(code, ENOENT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "No such file or directory");

    EXPECT_ERR(ossl_fails(), SHD_ERR_CRYPTO);
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_OPENSSL);
    assert_int_not_equal(code, 0);
    assert_int_equal(ERR_peek_error(), 0); /* queue drained */

    EXPECT_ERR(curl_fails(), SHD_ERR_TIMEOUT);
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_CURL);
    assert_int_equal(code, 28);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "Timeout was reached");

    EXPECT_ERR(tss_fails(), SHD_ERR_TPM);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "TSS2 error 0x922");

    EXPECT_ERR(ensure_ref(NULL), SHD_ERR_NULL);
    EXPECT_ERR(ensure_ref((const void *)1), SHD_ERR_INPUT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "pointer 1");
    EXPECT_OK(ensure_ref(buf));
}

static void test_clear(void **state)
{
    char buf[16] = "junk";
    (void)state;

    EXPECT_ERR(bail_plain(), SHD_ERR_TRUNCATED);
    shd_error_clear();
    assert_int_equal(shd_error_code(), SHD_ERR_NONE);
    assert_int_equal(shd_error_render(buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_string_equal(shd_error_location(), "");
    shd_error_wrap("ignored without an error");
    assert_int_equal(shd_error_code(), SHD_ERR_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_renders_outer_first),
        cmocka_unit_test(test_render_truncates_and_reports_need),
        cmocka_unit_test(test_root_defaults_to_code_text),
        cmocka_unit_test(test_chain_is_bounded_and_keeps_root),
        cmocka_unit_test(test_frame_is_truncated_not_overflowed),
        cmocka_unit_test(test_table_and_categories),
        cmocka_unit_test(test_foreign_adapters),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
