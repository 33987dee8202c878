/*
 * buf_test.c - bounded buffer (limits, overflow, wiping, ownership, allocation failures) and the
 * read cursor (every width and byte order, truncation that does not move the cursor).
 */
#include <string.h>
#include <wchar.h>

#include "shd/buf.h"
#include "shd/mem.h"
#include "shd_test.h"

static void expect_root_message(const char *want)
{
    char buf[256];
    shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_buf_empty_and_append(void **state)
{
    struct shd_buf b;
    (void)state;

    shd_buf_init(64, 0, &b);
    assert_int_equal(shd_buf_len(&b), 0);
    assert_int_equal(shd_buf_max(&b), 64);
    assert_null(shd_buf_ptr(&b));
    assert_string_equal(shd_buf_str(&b), "");

    EXPECT_OK(shd_buf_append("ab", 2, &b));
    EXPECT_OK(shd_buf_append(NULL, 0, &b));
    EXPECT_OK(shd_buf_append_str("cd", &b));
    EXPECT_OK(shd_buf_appendf(&b, "-%d-%s-%02x", 42, "x", 0xa));
    EXPECT_OK(shd_buf_append("\0z", 2, &b));
    assert_int_equal(shd_buf_len(&b), 14);
    assert_memory_equal(shd_buf_ptr(&b), "abcd-42-x-0a\0z", 14);
    assert_int_equal(shd_buf_ptr(&b)[14], 0); /* always NUL-terminated */
    assert_string_equal(shd_buf_str(&b), "abcd-42-x-0a");

    shd_buf_truncate(4, &b);
    assert_string_equal(shd_buf_str(&b), "abcd");
    shd_buf_truncate(100, &b); /* longer than len: no-op */
    assert_int_equal(shd_buf_len(&b), 4);

    EXPECT_ERR(shd_buf_append(NULL, 1, &b), SHD_ERR_NULL);
    EXPECT_ERR(shd_buf_append_str(NULL, &b), SHD_ERR_NULL);
    EXPECT_ERR(shd_buf_append("a", 1, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_buf_reserve(1, NULL), SHD_ERR_NULL);
    shd_buf_free(&b);
    assert_null(shd_buf_ptr(&b));
    assert_int_equal(shd_buf_max(&b), 64); /* reusable after free */
    EXPECT_OK(shd_buf_append_str("again", &b));
    assert_string_equal(shd_buf_str(&b), "again");
    shd_buf_free(&b);
    shd_buf_free(&b); /* twice is fine */
    shd_buf_free(NULL);
    shd_buf_clear(NULL);
    shd_buf_clear(&b); /* never allocated */
}

static void test_buf_max_exceeded(void **state)
{
    struct shd_buf b;
    (void)state;

    shd_buf_init(8, 0, &b);
    EXPECT_OK(shd_buf_append("12345678", 8, &b));
    EXPECT_ERR(shd_buf_append("9", 1, &b), SHD_ERR_TOO_LARGE);
    expect_root_message("buffer limit of 8 bytes exceeded");
    EXPECT_ERR(shd_buf_appendf(&b, "%d", 9), SHD_ERR_TOO_LARGE);
    EXPECT_ERR(shd_buf_reserve(1, &b), SHD_ERR_TOO_LARGE);
    EXPECT_OK(shd_buf_reserve(0, &b));
    EXPECT_OK(shd_buf_append("", 0, &b));
    assert_string_equal(shd_buf_str(&b), "12345678"); /* unchanged */
    assert_true(b.cap <= 9);                          /* never allocated past max + NUL */

    shd_buf_truncate(6, &b);
    EXPECT_ERR(shd_buf_appendf(&b, "%s", "abc"), SHD_ERR_TOO_LARGE);
    EXPECT_OK(shd_buf_appendf(&b, "%s", "ab"));
    assert_string_equal(shd_buf_str(&b), "123456ab");
    shd_buf_free(&b);

    /* A single append larger than max on an empty buffer allocates nothing. */
    shd_buf_init(4, SHD_BUF_SECRET, &b);
    EXPECT_ERR(shd_buf_append("12345", 5, &b), SHD_ERR_TOO_LARGE);
    assert_null(shd_buf_ptr(&b));
    shd_buf_free(&b);
}

static void test_buf_overflow(void **state)
{
    struct shd_buf b;
    (void)state;

    shd_buf_init(SIZE_MAX, 0, &b);
    EXPECT_ERR(shd_buf_reserve(SIZE_MAX, &b), SHD_ERR_OVERFLOW); /* the NUL does not fit */
    EXPECT_OK(shd_buf_append("x", 1, &b));
    EXPECT_ERR(shd_buf_reserve(SIZE_MAX, &b), SHD_ERR_OVERFLOW);
    EXPECT_ERR(shd_buf_append("x", SIZE_MAX, &b), SHD_ERR_OVERFLOW);
    assert_string_equal(shd_buf_str(&b), "x");
    shd_buf_free(&b);

    shd_buf_init(SIZE_MAX / 2, 0, &b);
    EXPECT_ERR(shd_buf_reserve(SIZE_MAX / 2 + 1, &b), SHD_ERR_TOO_LARGE);
    shd_buf_free(&b);
}

static void test_buf_growth_keeps_data(void **state)
{
    struct shd_buf b;
    uint8_t want[1000];
    (void)state;

    for (unsigned flags = 0; flags <= SHD_BUF_SECRET; flags++) {
        shd_buf_init(sizeof(want), flags, &b);
        for (size_t i = 0; i < sizeof(want); i++) {
            want[i] = (uint8_t)(i * 7 + 3);
            EXPECT_OK(shd_buf_append(&want[i], 1, &b));
            assert_true(b.cap >= b.len + 1);
            assert_true(b.cap <= sizeof(want) + 1);
        }
        assert_int_equal(shd_buf_len(&b), sizeof(want));
        assert_memory_equal(shd_buf_ptr(&b), want, sizeof(want));
        assert_int_equal(b.cap, sizeof(want) + 1); /* growth clamps at max + 1 */
        EXPECT_ERR(shd_buf_append("x", 1, &b), SHD_ERR_TOO_LARGE);
        shd_buf_free(&b);
    }

    /* reserve makes the following appends allocation-free. */
    shd_buf_init(4096, 0, &b);
    EXPECT_OK(shd_buf_reserve(300, &b));
    unsigned long before = shd_mem_alloc_count();
    for (int i = 0; i < 100; i++) {
        EXPECT_OK(shd_buf_append("abc", 3, &b));
    }
    assert_int_equal(shd_mem_alloc_count(), before);
    shd_buf_free(&b);
}

static void test_buf_secret_wipes(void **state)
{
    struct shd_buf b;
    (void)state;

    shd_buf_init(256, SHD_BUF_SECRET, &b);
    EXPECT_OK(shd_buf_append_str("top secret key material", &b));
    const uint8_t *p = shd_buf_ptr(&b);
    size_t cap = b.cap;
    shd_buf_truncate(3, &b);
    assert_string_equal(shd_buf_str(&b), "top");
    for (size_t i = 3; i < cap; i++) {
        assert_int_equal(p[i], 0); /* the dropped tail is wiped */
    }
    EXPECT_OK(shd_buf_appendf(&b, "%s", " secret"));
    shd_buf_clear(&b);
    assert_int_equal(shd_buf_len(&b), 0);
    assert_ptr_equal(shd_buf_ptr(&b), p); /* allocation kept */
    for (size_t i = 0; i < cap; i++) {
        assert_int_equal(p[i], 0);
    }
    assert_string_equal(shd_buf_str(&b), "");
    shd_buf_free(&b);

    /* Non-secret clear wipes the contents too. */
    shd_buf_init(256, 0, &b);
    EXPECT_OK(shd_buf_append_str("bearer abc", &b));
    p = shd_buf_ptr(&b);
    shd_buf_clear(&b);
    for (size_t i = 0; i <= 10; i++) {
        assert_int_equal(p[i], 0);
    }
    shd_buf_free(&b);
}

static void test_buf_take(void **state)
{
    struct shd_buf b;
    uint8_t *data = NULL;
    size_t len = 99;
    (void)state;

    shd_buf_init(64, SHD_BUF_SECRET, &b);
    EXPECT_OK(shd_buf_take(&b, &data, &len)); /* empty: a fresh empty block */
    assert_int_equal(len, 0);
    assert_int_equal(data[0], 0);
    shd_free(data);

    EXPECT_OK(shd_buf_append_str("owned", &b));
    EXPECT_OK(shd_buf_take(&b, &data, &len));
    assert_int_equal(len, 5);
    assert_string_equal((const char *)data, "owned");
    assert_int_equal(shd_buf_len(&b), 0);
    assert_null(shd_buf_ptr(&b));
    EXPECT_OK(shd_buf_append_str("next", &b)); /* reusable */
    assert_string_equal(shd_buf_str(&b), "next");
    shd_buf_free(&b);
    shd_free_wipe(data, len + 1);

    data = NULL;
    shd_buf_init(64, 0, &b);
    shd_mem_fail_after(0);
    EXPECT_ERR(shd_buf_take(&b, &data, &len), SHD_ERR_NOMEM);
    assert_null(data);
    EXPECT_ERR(shd_buf_take(&b, NULL, &len), SHD_ERR_NULL);
    shd_buf_free(&b);
}

static void test_buf_format_error(void **state)
{
    struct shd_buf b;
    static const wchar_t not_ascii[] = {0x100, 0};
    (void)state;

    /* In the C locale a wide character above 0x7f cannot be converted: vsnprintf returns -1. */
    shd_buf_init(64, 0, &b);
    EXPECT_OK(shd_buf_append_str("kept", &b));
    EXPECT_ERR(shd_buf_appendf(&b, "%ls", not_ascii), SHD_ERR_USAGE);
    assert_string_equal(shd_buf_str(&b), "kept");
    shd_buf_free(&b);
}

/* One run of appends that grows the buffer several times; returns the first failure. */
static shd_result grow_sequence(struct shd_buf *b)
{
    for (int i = 0; i < 20; i++) {
        shd_result r = shd_buf_appendf(b, "%04d:", i);
        if (shd_is_err(r)) {
            return r;
        }
        r = shd_buf_append("0123456789abcdef0123456789abcdef", 32, b);
        if (shd_is_err(r)) {
            return r;
        }
    }
    return SHD_OK;
}

/* Fails each allocation in turn (curl's torture idea): the buffer keeps its last good state and
 * nothing leaks (valgrind / ASan check the leak half). */
static void test_buf_allocation_failures(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= SHD_BUF_SECRET; flags++) {
        bool completed = false;
        for (long n = 0; n < 100 && !completed; n++) {
            struct shd_buf b;
            shd_buf_init(4096, flags, &b);
            shd_mem_fail_after(n);
            shd_result r = grow_sequence(&b);
            shd_mem_fail_after(-1);
            if (shd_is_ok(r)) {
                completed = true;
                assert_int_equal(shd_buf_len(&b), 20 * 37);
            } else {
                assert_int_equal(r.err, SHD_ERR_NOMEM);
                /* The buffer holds whole pieces only: a failed append changed nothing. */
                size_t len = shd_buf_len(&b);
                assert_true(len % 37 == 0 || len % 37 == 5);
                assert_int_equal(strlen(shd_buf_str(&b)), len);
                EXPECT_OK(shd_buf_append_str("!", &b)); /* still usable */
            }
            shd_buf_free(&b);
        }
        assert_true(completed);
    }
}

static const uint8_t DATA[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                               0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
                               0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
                               0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24};

static void test_cursor_reads(void **state)
{
    struct shd_cursor c;
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    uint8_t bytes[3];
    const uint8_t *p = NULL;
    (void)state;

    shd_cursor_init(DATA, sizeof(DATA), &c);
    assert_int_equal(shd_cursor_remaining(&c), 36);
    EXPECT_OK(shd_cursor_read_u8(&c, &u8));
    assert_int_equal(u8, 0x01);
    EXPECT_OK(shd_cursor_read_u16le(&c, &u16));
    assert_int_equal(u16, 0x0302);
    EXPECT_OK(shd_cursor_read_u16be(&c, &u16));
    assert_int_equal(u16, 0x0405);
    EXPECT_OK(shd_cursor_read_u32le(&c, &u32));
    assert_int_equal(u32, 0x09080706u);
    EXPECT_OK(shd_cursor_read_u32be(&c, &u32));
    assert_int_equal(u32, 0x0a0b0c0du);
    EXPECT_OK(shd_cursor_read_u64le(&c, &u64));
    assert_true(u64 == 0x1514131211100f0eull);
    EXPECT_OK(shd_cursor_read_u64be(&c, &u64));
    assert_true(u64 == 0x161718191a1b1c1dull);
    assert_int_equal(shd_cursor_pos(&c), 29);
    EXPECT_OK(shd_cursor_read_bytes(3, &c, bytes));
    assert_memory_equal(bytes, "\x1e\x1f\x20", 3);
    EXPECT_OK(shd_cursor_take(2, &c, &p));
    assert_ptr_equal(p, &DATA[32]); /* no copy: points into the data */
    EXPECT_OK(shd_cursor_skip(1, &c));
    EXPECT_OK(shd_cursor_read_bytes(0, &c, NULL));
    EXPECT_OK(shd_cursor_take(0, &c, &p));
    assert_false(shd_cursor_at_end(&c));
    EXPECT_OK(shd_cursor_read_u8(&c, &u8));
    assert_int_equal(u8, 0x24);
    assert_true(shd_cursor_at_end(&c));
    assert_int_equal(shd_cursor_remaining(&c), 0);

    /* High bits survive the widening (no sign extension). */
    static const uint8_t ff[8] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0x80};
    shd_cursor_init(ff, sizeof(ff), &c);
    EXPECT_OK(shd_cursor_read_u64le(&c, &u64));
    assert_true(u64 == 0x80f9fafbfcfdfeffull);
    shd_cursor_init(ff, sizeof(ff), &c);
    EXPECT_OK(shd_cursor_read_u32be(&c, &u32));
    assert_int_equal(u32, 0xfffefdfcu);
}

static void test_cursor_truncated_does_not_move(void **state)
{
    struct shd_cursor c;
    uint8_t u8 = 0xaa;
    uint16_t u16 = 0xaaaa;
    uint32_t u32 = 0xaaaaaaaa;
    uint64_t u64 = 0xaaaaaaaa;
    uint8_t bytes[8] = {0};
    const uint8_t *p = NULL;
    (void)state;

    shd_cursor_init(DATA, 9, &c);
    EXPECT_OK(shd_cursor_skip(6, &c));
    EXPECT_ERR(shd_cursor_read_u32le(&c, &u32), SHD_ERR_TRUNCATED);
    expect_root_message("need 4 bytes at offset 6, 3 left");
    EXPECT_ERR(shd_cursor_read_u32be(&c, &u32), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_read_u64le(&c, &u64), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_read_u64be(&c, &u64), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_read_bytes(4, &c, bytes), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_take(4, &c, &p), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_skip(4, &c), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_skip(SIZE_MAX, &c), SHD_ERR_TRUNCATED); /* no wrap-around */
    EXPECT_ERR(shd_cursor_take(SIZE_MAX - 5, &c, &p), SHD_ERR_TRUNCATED);
    assert_int_equal(u32, 0xaaaaaaaa);
    assert_true(u64 == 0xaaaaaaaa);
    assert_null(p);
    assert_memory_equal(bytes, "\0\0\0\0\0\0\0\0", 8);
    assert_int_equal(shd_cursor_pos(&c), 6);

    EXPECT_OK(shd_cursor_read_u16be(&c, &u16));
    assert_int_equal(u16, 0x0708);
    EXPECT_ERR(shd_cursor_read_u16le(&c, &u16), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_cursor_read_u16be(&c, &u16), SHD_ERR_TRUNCATED);
    assert_int_equal(u16, 0x0708);
    EXPECT_OK(shd_cursor_read_u8(&c, &u8));
    EXPECT_ERR(shd_cursor_read_u8(&c, &u8), SHD_ERR_TRUNCATED);
    expect_root_message("need 1 bytes at offset 9, 0 left");
    assert_int_equal(u8, 0x09);
    assert_true(shd_cursor_at_end(&c));

    /* An empty cursor over no data at all. */
    shd_cursor_init(NULL, 0, &c);
    assert_true(shd_cursor_at_end(&c));
    EXPECT_ERR(shd_cursor_read_u8(&c, &u8), SHD_ERR_TRUNCATED);
    EXPECT_OK(shd_cursor_take(0, &c, &p));
    EXPECT_OK(shd_cursor_skip(0, &c));

    /* NULL arguments. */
    shd_cursor_init(DATA, sizeof(DATA), &c);
    EXPECT_ERR(shd_cursor_read_u8(NULL, &u8), SHD_ERR_NULL);
    EXPECT_ERR(shd_cursor_read_u8(&c, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_cursor_read_u64le(&c, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_cursor_read_bytes(1, &c, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_cursor_take(1, &c, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_cursor_skip(1, NULL), SHD_ERR_NULL);
    assert_int_equal(shd_cursor_pos(&c), 0);
}

static int reset_injection(void **state)
{
    (void)state;
    shd_mem_fail_after(-1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_empty_and_append),
        cmocka_unit_test(test_buf_max_exceeded),
        cmocka_unit_test(test_buf_overflow),
        cmocka_unit_test(test_buf_growth_keeps_data),
        cmocka_unit_test(test_buf_secret_wipes),
        cmocka_unit_test_teardown(test_buf_take, reset_injection),
        cmocka_unit_test(test_buf_format_error),
        cmocka_unit_test_teardown(test_buf_allocation_failures, reset_injection),
        cmocka_unit_test(test_cursor_reads),
        cmocka_unit_test(test_cursor_truncated_does_not_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
