/*
 * shd_test.c - helpers for the unit tests (see shd_test.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shd/mem.h"
#include "shd_test.h"

void shd_test_expect_ok(shd_result r, const char *expr, const char *file, int line)
{
    char why[1024];

    if (r.err == 0) {
        return;
    }
    (void)shd_error_render(why, sizeof(why));
    fail_msg("%s:%d: %s failed: %s (%s at %s)", file, line, expr, why, shd_error_str(r.err),
             shd_error_location());
}

void shd_test_expect_err(shd_result r, int code, const char *expr, const char *file, int line)
{
    if (r.err == code) {
        return;
    }
    fail_msg("%s:%d: %s returned %s (0x%x), expected %s (0x%x)", file, line, expr,
             shd_error_str(r.err), (unsigned)r.err, shd_error_str(code), (unsigned)code);
}

uint8_t *shd_test_read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rbe");
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;

    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = (cap == 0) ? 8192 : cap * 2;
            buf = shd_realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    assert_int_equal(ferror(f), 0);
    (void)fclose(f);
    buf[len] = 0;
    *ret_len = len;
    return buf;
}

const char *shd_test_vector_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("SHD_VECTORS_DIR");

    if (dir == NULL || *dir == '\0') {
        fail_msg("SHD_VECTORS_DIR is not set");
    }
    int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    return path;
}

static int shd_test_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

uint8_t *shd_test_unhex(const char *hex, size_t *ret_len)
{
    size_t n = strlen(hex);
    uint8_t *out = shd_alloc(n / 2 + 1);
    size_t len = 0;
    int hi = -1;

    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        if (hex[i] == ' ' || hex[i] == '\n' || hex[i] == '\r' || hex[i] == '\t') {
            continue;
        }
        int v = shd_test_nibble(hex[i]);
        if (v < 0) {
            fail_msg("bad hex digit at %zu", i);
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        out[len++] = (uint8_t)((hi << 4) | v);
        hi = -1;
    }
    if (hi >= 0) {
        fail_msg("odd number of hex digits");
    }
    *ret_len = len;
    return out;
}

void shd_test_json_free(void *p)
{
    json_malloc_t alloc_fn = NULL;
    json_free_t free_fn = NULL;

    if (p == NULL) {
        return;
    }
    json_get_alloc_funcs(&alloc_fn, &free_fn);
    free_fn(p);
}
