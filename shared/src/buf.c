/*
 * buf.c - bounded growable buffer and bounds-checked read cursor (STYLE.md rules 22-23, 25, 28).
 *
 * Invariants of struct shd_buf: len <= max; ptr == NULL iff cap == 0; when ptr != NULL,
 * len + 1 <= cap and ptr[len] == 0. For a SHD_BUF_SECRET buffer every byte past the NUL is zero
 * as well (growth zero-fills, truncate and clear wipe), so wiping len + 1 bytes wipes all the data
 * that was ever there; shd_buf_take relies on it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* First allocation: small enough for short strings, large enough to avoid a burst of reallocs. */
#define SHD_BUF_MIN_CAP 32u

void shd_buf_init(size_t max, unsigned flags, struct shd_buf *buf)
{
    if (buf == NULL || max == 0 || (flags & ~SHD_BUF_SECRET) != 0) {
        shd_misuse("shd_buf_init: NULL buffer, zero max or unknown flags");
    }
    *buf = (struct shd_buf){.max = max, .flags = flags};
}

static bool buf_secret(const struct shd_buf *buf)
{
    return (buf->flags & SHD_BUF_SECRET) != 0;
}

/* Allocation size for at least `need` bytes: doubling (amortised O(1) appends), at least
 * SHD_BUF_MIN_CAP, never more than limit (max + 1, saturated). need <= limit. */
static size_t buf_grow_size(size_t cap, size_t need, size_t limit)
{
    size_t next = cap;

    if (__builtin_mul_overflow(cap, (size_t)2, &next)) {
        next = limit;
    }
    if (next < SHD_BUF_MIN_CAP) {
        next = SHD_BUF_MIN_CAP;
    }
    if (next < need) {
        next = need;
    }
    return next < limit ? next : limit;
}

shd_result shd_buf_reserve(size_t n, struct shd_buf *buf)
{
    size_t want;
    size_t need;

    SHD_ENSURE_REF(buf);
    SHD_GUARD(shd_add_overflow(buf->len, n, &want));
    SHD_ENSURE_MSG(want <= buf->max, SHD_ERR_TOO_LARGE, "buffer limit of %zu bytes exceeded",
                   buf->max);
    /* want <= max, so only max == SIZE_MAX can overflow here; the NUL needs a byte too. */
    SHD_GUARD(shd_add_overflow(want, 1, &need));
    if (need <= buf->cap) {
        return SHD_OK;
    }
    size_t limit = buf->max == SIZE_MAX ? SIZE_MAX : buf->max + 1;
    size_t cap = buf_grow_size(buf->cap, need, limit);
    uint8_t *p;
    if (buf_secret(buf)) {
        p = shd_realloc_wipe(buf->ptr, buf->cap, cap);
    } else {
        p = shd_realloc(buf->ptr, cap);
    }
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    if (buf->ptr == NULL) {
        p[0] = 0;
    }
    buf->ptr = p;
    buf->cap = cap;
    return SHD_OK;
}

shd_result shd_buf_append(const void *p, size_t n, struct shd_buf *buf)
{
    SHD_ENSURE_REF(buf);
    SHD_ENSURE(p != NULL || n == 0, SHD_ERR_NULL);
    SHD_GUARD(shd_buf_reserve(n, buf));
    shd_memcpy(buf->ptr + buf->len, p, n);
    buf->len += n;
    buf->ptr[buf->len] = 0;
    return SHD_OK;
}

shd_result shd_buf_append_str(const char *s, struct shd_buf *buf)
{
    SHD_ENSURE_REF(s);
    return shd_buf_append(s, strlen(s), buf);
}

shd_result shd_buf_appendv(struct shd_buf *buf, const char *fmt, va_list ap)
{
    va_list measure;

    SHD_ENSURE_REF(buf);
    SHD_ENSURE_REF(fmt);
    va_copy(measure, ap);
    int n = vsnprintf(NULL, 0, fmt, measure);
    va_end(measure);
    SHD_ENSURE_MSG(n >= 0, SHD_ERR_USAGE, "format error in \"%s\"", fmt);
    SHD_GUARD(shd_buf_reserve((size_t)n, buf));
    /* reserve left room for n bytes and the NUL, so this cannot truncate. */
    int m = vsnprintf((char *)buf->ptr + buf->len, buf->cap - buf->len, fmt, ap);
    if (m != n) {
        /* Drop whatever was written (this also restores the NUL at len). */
        shd_memzero(buf->ptr + buf->len, buf->cap - buf->len);
        SHD_BAIL_MSG(SHD_ERR_INTERNAL, "vsnprintf gave %d bytes after measuring %d", m, n);
    }
    buf->len += (size_t)n;
    return SHD_OK;
}

shd_result shd_buf_appendf(struct shd_buf *buf, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shd_result r = shd_buf_appendv(buf, fmt, ap);
    va_end(ap);
    return r;
}

void shd_buf_truncate(size_t n, struct shd_buf *buf)
{
    if (buf == NULL) {
        shd_misuse("shd_buf_truncate: NULL buffer");
    }
    if (n >= buf->len) {
        return;
    }
    /* Wipe the dropped data and the old NUL; the new NUL goes at n. */
    shd_memzero(buf->ptr + n, buf->len - n + 1);
    buf->len = n;
}

size_t shd_buf_len(const struct shd_buf *buf)
{
    if (buf == NULL) {
        shd_misuse("shd_buf_len: NULL buffer");
    }
    return buf->len;
}

size_t shd_buf_max(const struct shd_buf *buf)
{
    if (buf == NULL) {
        shd_misuse("shd_buf_max: NULL buffer");
    }
    return buf->max;
}

const uint8_t *shd_buf_ptr(const struct shd_buf *buf)
{
    if (buf == NULL) {
        shd_misuse("shd_buf_ptr: NULL buffer");
    }
    return buf->ptr;
}

const char *shd_buf_str(const struct shd_buf *buf)
{
    if (buf == NULL) {
        shd_misuse("shd_buf_str: NULL buffer");
    }
    return buf->ptr == NULL ? "" : (const char *)buf->ptr;
}

shd_result shd_buf_take(struct shd_buf *buf, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(buf);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    if (buf->ptr == NULL) {
        uint8_t *empty = shd_alloc(1);
        SHD_ENSURE(empty != NULL, SHD_ERR_NOMEM);
        *ret = empty;
        *ret_len = 0;
        return SHD_OK;
    }
    *ret = buf->ptr;
    *ret_len = buf->len;
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
    return SHD_OK;
}

void shd_buf_clear(struct shd_buf *buf)
{
    if (buf == NULL || buf->ptr == NULL) {
        return;
    }
    shd_memzero(buf->ptr, buf->len + 1);
    buf->len = 0;
}

void shd_buf_free(struct shd_buf *buf)
{
    if (buf == NULL) {
        return;
    }
    if (buf_secret(buf)) {
        shd_free_wipe(buf->ptr, buf->cap);
    } else {
        shd_free(buf->ptr);
    }
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void shd_cursor_init(const void *data, size_t len, struct shd_cursor *cur)
{
    if (cur == NULL || (data == NULL && len > 0)) {
        shd_misuse("shd_cursor_init: NULL cursor, or NULL data with len > 0");
    }
    *cur = (struct shd_cursor){.ptr = data, .len = len};
}

/* Checks that n more bytes can be read; pos <= len always holds, so len - pos cannot wrap. */
static shd_result cursor_need(size_t n, const struct shd_cursor *cur)
{
    SHD_ENSURE_REF(cur);
    SHD_ENSURE_MSG(n <= cur->len - cur->pos, SHD_ERR_TRUNCATED,
                   "need %zu bytes at offset %zu, %zu left", n, cur->pos, cur->len - cur->pos);
    return SHD_OK;
}

/* Reads an n-byte unsigned integer (n <= 8) in either byte order. */
static shd_result cursor_read_uint(size_t n, bool big_endian, struct shd_cursor *cur, uint64_t *ret)
{
    uint64_t v = 0;

    SHD_GUARD(cursor_need(n, cur));
    SHD_ENSURE_REF(ret);
    const uint8_t *p = cur->ptr + cur->pos;
    for (size_t i = 0; i < n; i++) {
        size_t k = big_endian ? i : n - 1 - i;
        v = (v << 8) | p[k];
    }
    cur->pos += n;
    *ret = v;
    return SHD_OK;
}

shd_result shd_cursor_read_u8(struct shd_cursor *cur, uint8_t *ret)
{
    uint64_t v;

    SHD_ENSURE_REF(ret);
    SHD_GUARD(cursor_read_uint(1, true, cur, &v));
    *ret = (uint8_t)v;
    return SHD_OK;
}

shd_result shd_cursor_read_u16le(struct shd_cursor *cur, uint16_t *ret)
{
    uint64_t v;

    SHD_ENSURE_REF(ret);
    SHD_GUARD(cursor_read_uint(2, false, cur, &v));
    *ret = (uint16_t)v;
    return SHD_OK;
}

shd_result shd_cursor_read_u16be(struct shd_cursor *cur, uint16_t *ret)
{
    uint64_t v;

    SHD_ENSURE_REF(ret);
    SHD_GUARD(cursor_read_uint(2, true, cur, &v));
    *ret = (uint16_t)v;
    return SHD_OK;
}

shd_result shd_cursor_read_u32le(struct shd_cursor *cur, uint32_t *ret)
{
    uint64_t v;

    SHD_ENSURE_REF(ret);
    SHD_GUARD(cursor_read_uint(4, false, cur, &v));
    *ret = (uint32_t)v;
    return SHD_OK;
}

shd_result shd_cursor_read_u32be(struct shd_cursor *cur, uint32_t *ret)
{
    uint64_t v;

    SHD_ENSURE_REF(ret);
    SHD_GUARD(cursor_read_uint(4, true, cur, &v));
    *ret = (uint32_t)v;
    return SHD_OK;
}

shd_result shd_cursor_read_u64le(struct shd_cursor *cur, uint64_t *ret)
{
    SHD_ENSURE_REF(ret);
    return cursor_read_uint(8, false, cur, ret);
}

shd_result shd_cursor_read_u64be(struct shd_cursor *cur, uint64_t *ret)
{
    SHD_ENSURE_REF(ret);
    return cursor_read_uint(8, true, cur, ret);
}

shd_result shd_cursor_read_bytes(size_t n, struct shd_cursor *cur, void *ret_out)
{
    SHD_GUARD(cursor_need(n, cur));
    SHD_ENSURE(ret_out != NULL || n == 0, SHD_ERR_NULL);
    shd_memcpy(ret_out, cur->ptr + cur->pos, n);
    cur->pos += n;
    return SHD_OK;
}

shd_result shd_cursor_take(size_t n, struct shd_cursor *cur, const uint8_t **ret)
{
    SHD_GUARD(cursor_need(n, cur));
    SHD_ENSURE_REF(ret);
    *ret = cur->ptr == NULL ? NULL : cur->ptr + cur->pos;
    cur->pos += n;
    return SHD_OK;
}

shd_result shd_cursor_skip(size_t n, struct shd_cursor *cur)
{
    SHD_GUARD(cursor_need(n, cur));
    cur->pos += n;
    return SHD_OK;
}

size_t shd_cursor_remaining(const struct shd_cursor *cur)
{
    if (cur == NULL) {
        shd_misuse("shd_cursor_remaining: NULL cursor");
    }
    return cur->len - cur->pos;
}

size_t shd_cursor_pos(const struct shd_cursor *cur)
{
    if (cur == NULL) {
        shd_misuse("shd_cursor_pos: NULL cursor");
    }
    return cur->pos;
}

bool shd_cursor_at_end(const struct shd_cursor *cur)
{
    return shd_cursor_remaining(cur) == 0;
}
