/*
 * buf.h - a growable byte buffer with a hard maximum (struct shd_buf) and a bounds-checked read
 * cursor over const bytes (struct shd_cursor), STYLE.md rules 22-23.
 *
 * Both live on the caller's stack or inside a caller's struct, so their layout is public; the
 * fields are private all the same: use the functions below.
 *
 * shd_buf (curl's dynbuf, OpenSSH's sshbuf max_size): every buffer gets its maximum data length
 * at init and refuses to grow past it with SHD_ERR_TOO_LARGE. The data is always followed by a
 * NUL (not counted in len or max) once anything was allocated, so text can be read with
 * shd_buf_str. A buffer initialised with SHD_BUF_SECRET grows through shd_realloc_wipe and wipes
 * everything it frees (STYLE.md rule 28). A failed append leaves the buffer as it was.
 *
 * shd_cursor: reads integers and byte runs from a const byte range; a read that does not fit
 * returns SHD_ERR_TRUNCATED and does not move the cursor. The cursor does not own the bytes:
 * pointers from shd_cursor_take stay valid as long as the underlying data does.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/* shd_buf_init flags. */
#define SHD_BUF_SECRET 1u /* wipe on grow, clear and free */

struct shd_buf {
    uint8_t *ptr;   /* private: NULL until the first growth */
    size_t len;     /* private: data bytes */
    size_t cap;     /* private: allocated bytes (data + NUL) */
    size_t max;     /* private: hard limit on len */
    unsigned flags; /* private: SHD_BUF_* */
};

/*
 * Prepares an empty buffer whose data may grow up to max bytes. Allocates nothing, cannot fail.
 * max == 0 or unknown flags are programmer errors (shd_misuse).
 */
void shd_buf_init(size_t max, unsigned flags, struct shd_buf *buf);

/*
 * Makes room for n more data bytes (and the NUL) so that the next appends up to n bytes do not
 * allocate. SHD_ERR_OVERFLOW if len + n overflows, SHD_ERR_TOO_LARGE if it passes max,
 * SHD_ERR_NOMEM. The buffer is unchanged on failure.
 */
SHD_RESULT shd_buf_reserve(size_t n, struct shd_buf *buf);

/*
 * Appends n bytes from p (p may be NULL when n == 0). p must not point into buf itself (growth
 * may move the data). Errors as shd_buf_reserve.
 */
SHD_RESULT shd_buf_append(const void *p, size_t n, struct shd_buf *buf);

/* Appends a NUL-terminated string, without its NUL. Errors as shd_buf_reserve. */
SHD_RESULT shd_buf_append_str(const char *s, struct shd_buf *buf);

/*
 * Appends printf-formatted text, bounded by max like any append. The buffer comes first, against
 * rule 9, because the variable arguments must follow the format. SHD_ERR_USAGE if vsnprintf
 * reports an encoding error; otherwise errors as shd_buf_reserve.
 */
SHD_RESULT shd_buf_appendf(struct shd_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
SHD_RESULT shd_buf_appendv(struct shd_buf *buf, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drops the data past n bytes (wiping it); n > len is a no-op. Never reallocates. */
void shd_buf_truncate(size_t n, struct shd_buf *buf);

/* Data length in bytes. */
size_t shd_buf_len(const struct shd_buf *buf);

/* The maximum data length given at init. */
size_t shd_buf_max(const struct shd_buf *buf);

/*
 * The data: valid until the next call that changes the buffer. NULL while nothing has been
 * allocated (len is then 0).
 */
const uint8_t *shd_buf_ptr(const struct shd_buf *buf);

/* The data as a NUL-terminated string ("" while empty); same lifetime as shd_buf_ptr. The data
 * may itself contain NUL bytes: use shd_buf_len for binary data. */
const char *shd_buf_str(const struct shd_buf *buf);

/*
 * Moves the data out: *ret gets an shd_alloc'd block of *ret_len + 1 bytes (data and NUL) that
 * the caller frees (shd_free_wipe(p, len + 1) for a secret buffer), and the buffer is left empty
 * and reusable. An empty buffer yields a fresh 1-byte block. SHD_ERR_NOMEM only in that case.
 */
SHD_RESULT shd_buf_take(struct shd_buf *buf, uint8_t **ret, size_t *ret_len);

/* Wipes the data and sets len to 0; keeps the allocation for reuse. NULL is fine. */
void shd_buf_clear(struct shd_buf *buf);

/*
 * Releases the allocation (wiping it first for a SHD_BUF_SECRET buffer) and leaves the buffer
 * empty with its max and flags, so freeing twice or reusing it is fine. NULL is fine.
 */
void shd_buf_free(struct shd_buf *buf);

struct shd_cursor {
    const uint8_t *ptr; /* private */
    size_t len;         /* private */
    size_t pos;         /* private */
};

/* Starts a cursor at the first of len bytes at data (data may be NULL when len == 0). The bytes
 * must outlive the cursor and every pointer taken from it. */
void shd_cursor_init(const void *data, size_t len, struct shd_cursor *cur);

/*
 * Fixed-width reads: little (le) or big (be) endian. SHD_ERR_TRUNCATED when fewer bytes remain
 * (the cursor does not move, *ret is not written), SHD_ERR_NULL for NULL arguments.
 */
SHD_RESULT shd_cursor_read_u8(struct shd_cursor *cur, uint8_t *ret);
SHD_RESULT shd_cursor_read_u16le(struct shd_cursor *cur, uint16_t *ret);
SHD_RESULT shd_cursor_read_u16be(struct shd_cursor *cur, uint16_t *ret);
SHD_RESULT shd_cursor_read_u32le(struct shd_cursor *cur, uint32_t *ret);
SHD_RESULT shd_cursor_read_u32be(struct shd_cursor *cur, uint32_t *ret);
SHD_RESULT shd_cursor_read_u64le(struct shd_cursor *cur, uint64_t *ret);
SHD_RESULT shd_cursor_read_u64be(struct shd_cursor *cur, uint64_t *ret);

/* Copies the next n bytes to ret_out (room for n bytes). SHD_ERR_TRUNCATED as above. */
SHD_RESULT shd_cursor_read_bytes(size_t n, struct shd_cursor *cur, void *ret_out);

/*
 * Points *ret at the next n bytes inside the cursor's data (no copy) and moves past them. The
 * pointer is valid while the underlying data lives. SHD_ERR_TRUNCATED as above.
 */
SHD_RESULT shd_cursor_take(size_t n, struct shd_cursor *cur, const uint8_t **ret);

/* Moves past n bytes. SHD_ERR_TRUNCATED as above. */
SHD_RESULT shd_cursor_skip(size_t n, struct shd_cursor *cur);

/* Bytes left to read. */
size_t shd_cursor_remaining(const struct shd_cursor *cur);

/* Offset of the next byte to read from the start of the data. */
size_t shd_cursor_pos(const struct shd_cursor *cur);

/* True when nothing is left. */
bool shd_cursor_at_end(const struct shd_cursor *cur);
