/*
 * mem.h - the project's allocator (STYLE.md rule 21) and its copy/compare/wipe primitives.
 *
 * Every allocation goes through shd_alloc/shd_realloc/shd_free so that tests can count calls and
 * fail the Nth one (shd_mem_fail_after) to prove error paths do not leak. shd_alloc returns
 * zeroed memory. shd_memzero is a wipe the compiler cannot elide.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/* Zeroed allocation of n bytes (n == 0 allocates 1 byte). NULL on failure. */
void *shd_alloc(size_t n) __attribute__((malloc, warn_unused_result));

/* Zeroed allocation of count * size bytes; NULL on overflow or failure. */
void *shd_alloc_array(size_t count, size_t size) __attribute__((malloc, warn_unused_result));

/* realloc semantics; on failure p is untouched and NULL is returned. Not for secrets. */
void *shd_realloc(void *p, size_t n) __attribute__((warn_unused_result));

/*
 * Resizes a buffer that may hold secrets: allocates, copies, wipes and frees the old block, so
 * no copy of old contents is left behind (recallocarray semantics, STYLE.md rule 28). Grown
 * bytes are zero; when shrinking, the dropped tail is wiped.
 */
void *shd_realloc_wipe(void *p, size_t old_n, size_t new_n) __attribute__((warn_unused_result));

/* Releases p; NULL is fine. */
void shd_free(void *p);

/* Wipes n bytes at p, then frees it (freezero semantics). NULL is fine. */
void shd_free_wipe(void *p, size_t n);

/* Duplicates a NUL-terminated string / n bytes (plus a NUL). NULL on failure. */
char *shd_strdup(const char *s) __attribute__((malloc, warn_unused_result));
char *shd_strndup(const char *s, size_t n) __attribute__((malloc, warn_unused_result));
void *shd_memdup(const void *p, size_t n) __attribute__((malloc, warn_unused_result));

/* memcpy/memmove/memcmp that accept n == 0 with NULL pointers. */
void shd_memcpy(void *dst, const void *src, size_t n);
void shd_memmove(void *dst, const void *src, size_t n);
int shd_memcmp(const void *a, const void *b, size_t n);

/* Wipes n bytes; never optimised away (explicit_bzero). */
void shd_memzero(void *p, size_t n);

/* Constant-time equality of two n-byte buffers (STYLE.md rule 29): timing depends on n only. */
bool shd_ct_equal(const void *a, const void *b, size_t n) __attribute__((warn_unused_result));

/* Overflow-checked size arithmetic (STYLE.md rule 25). */
SHD_RESULT shd_add_overflow(size_t a, size_t b, size_t *ret);
SHD_RESULT shd_mul_overflow(size_t a, size_t b, size_t *ret);

/*
 * Test hooks: count allocations and fail the one after `n` more succeed (n < 0 disables).
 * Process-wide on purpose: the failure injection must reach allocations deep inside the code
 * under test. The counters are atomic, since every server thread allocates; which allocation
 * fails is only predictable in single-threaded tests.
 */
void shd_mem_fail_after(long n);
unsigned long shd_mem_alloc_count(void);
