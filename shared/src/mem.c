/*
 * mem.c - the only file allowed to call malloc/free/memcpy/memcmp directly (STYLE.md rule 21).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/*
 * Failure injection for tests. Atomic because allocations happen on every server thread; relaxed
 * order is enough, the counters guard no other memory.
 */
static atomic_long shd_mem_fail_countdown = -1;
static atomic_ulong shd_mem_allocs;

static bool shd_mem_should_fail(void)
{
    atomic_fetch_add_explicit(&shd_mem_allocs, 1, memory_order_relaxed);
    long left = atomic_load_explicit(&shd_mem_fail_countdown, memory_order_relaxed);

    while (left >= 0) {
        /* 0 means this allocation fails; the countdown then switches itself off (-1). */
        if (atomic_compare_exchange_weak_explicit(&shd_mem_fail_countdown, &left, left - 1,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            return left == 0;
        }
    }
    return false;
}

void shd_mem_fail_after(long n)
{
    atomic_store_explicit(&shd_mem_fail_countdown, n, memory_order_relaxed);
}

unsigned long shd_mem_alloc_count(void)
{
    return atomic_load_explicit(&shd_mem_allocs, memory_order_relaxed);
}

void *shd_alloc(size_t n)
{
    if (shd_mem_should_fail()) {
        return NULL;
    }
    return calloc(1, n == 0 ? 1 : n);
}

void *shd_alloc_array(size_t count, size_t size)
{
    size_t n;

    if (__builtin_mul_overflow(count, size, &n)) {
        return NULL;
    }
    return shd_alloc(n);
}

void *shd_realloc(void *p, size_t n)
{
    if (shd_mem_should_fail()) {
        return NULL;
    }
    return realloc(p, n == 0 ? 1 : n);
}

void *shd_realloc_wipe(void *p, size_t old_n, size_t new_n)
{
    uint8_t *q;

    if (p == NULL) {
        return shd_alloc(new_n);
    }
    q = shd_alloc(new_n);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, p, old_n < new_n ? old_n : new_n);
    shd_free_wipe(p, old_n);
    return q;
}

void shd_free(void *p)
{
    free(p);
}

void shd_free_wipe(void *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    shd_memzero(p, n);
    free(p);
}

char *shd_strdup(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    return shd_strndup(s, strlen(s));
}

char *shd_strndup(const char *s, size_t n)
{
    char *d;
    size_t len;

    if (s == NULL) {
        return NULL;
    }
    len = strnlen(s, n);
    if (len == SIZE_MAX) {
        return NULL;
    }
    d = shd_alloc(len + 1);
    if (d == NULL) {
        return NULL;
    }
    memcpy(d, s, len);
    return d;
}

void *shd_memdup(const void *p, size_t n)
{
    uint8_t *d;

    if (n == SIZE_MAX) {
        return NULL;
    }
    d = shd_alloc(n + 1);
    if (d == NULL) {
        return NULL;
    }
    shd_memcpy(d, p, n);
    return d;
}

void shd_memcpy(void *dst, const void *src, size_t n)
{
    if (n == 0) {
        return;
    }
    if (dst == NULL || src == NULL) {
        shd_misuse("shd_memcpy with NULL and n > 0");
    }
    memcpy(dst, src, n);
}

void shd_memmove(void *dst, const void *src, size_t n)
{
    if (n == 0) {
        return;
    }
    if (dst == NULL || src == NULL) {
        shd_misuse("shd_memmove with NULL and n > 0");
    }
    memmove(dst, src, n);
}

int shd_memcmp(const void *a, const void *b, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (a == NULL || b == NULL) {
        shd_misuse("shd_memcmp with NULL and n > 0");
    }
    return memcmp(a, b, n);
}

void shd_memzero(void *p, size_t n)
{
    if (p == NULL || n == 0) {
        return;
    }
    explicit_bzero(p, n);
}

bool shd_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t d = 0;

    if (n > 0 && (a == NULL || b == NULL)) {
        shd_misuse("shd_ct_equal with NULL and n > 0");
    }
    for (size_t i = 0; i < n; i++) {
        d = (uint8_t)(d | (x[i] ^ y[i]));
    }
    /* Map 0 -> true without a data-dependent branch on the accumulated difference bits. */
    return (1 & ((d - 1u) >> 8)) == 1;
}

shd_result shd_add_overflow(size_t a, size_t b, size_t *ret)
{
    size_t s;

    SHD_ENSURE_REF(ret);
    SHD_ENSURE(!__builtin_add_overflow(a, b, &s), SHD_ERR_OVERFLOW);
    *ret = s;
    return SHD_OK;
}

shd_result shd_mul_overflow(size_t a, size_t b, size_t *ret)
{
    size_t m;

    SHD_ENSURE_REF(ret);
    SHD_ENSURE(!__builtin_mul_overflow(a, b, &m), SHD_ERR_OVERFLOW);
    *ret = m;
    return SHD_OK;
}
