/*
 * secret.c - guard-paged, locked, non-dumpable memory for key material (secret.h), and the
 * OpenSSL secure heap set-up. Model: libsodium's sodium_malloc (utils.c) and s2n-tls's
 * s2n_mem.c (mlock failure hard unless S2N_DONT_MLOCK).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"

struct shd_secret {
    uint8_t *ptr;    /* first byte of the secret */
    size_t len;      /* current length (shrinks) */
    uint8_t *map;    /* start of the mapping: the leading guard page */
    size_t map_len;  /* whole mapping, both guard pages included */
    uint8_t *data;   /* first data page (map + page) */
    size_t data_len; /* data pages only; ptr + original len == data + data_len */
    bool locked;     /* data pages are mlock'd */
};

bool shd_secret_mlock_is_soft(void)
{
    const char *v = secure_getenv("SHD_DONT_MLOCK");

    return v != NULL && v[0] == '1' && v[1] == '\0';
}

static shd_result shd_secret_page_size(size_t *ret)
{
    long ps = sysconf(_SC_PAGESIZE);

    SHD_ENSURE_MSG(ps > 0, SHD_ERR_INTERNAL, "cannot determine the page size");
    *ret = (size_t)ps;
    return SHD_OK;
}

/* Releases a fully or partly built secret (map may be NULL). */
static void shd_secret_destroy(struct shd_secret *s)
{
    if (s->map != NULL) {
        /* The data pages are read-write in every state the constructor can leave them. */
        shd_memzero(s->data, s->data_len);
        if (s->locked) {
            (void)munlock(s->data, s->data_len);
        }
        (void)munmap(s->map, s->map_len);
    }
    shd_memzero(s, sizeof(*s));
    shd_free(s);
}

static shd_result shd_secret_mlock_error(size_t n, int errnum)
{
    char text[128];
    shd_result r = shd_error_setf(
        SHD_ERR_PERMISSION, __FILE__, __LINE__,
        "mlock of %zu bytes of secret memory failed (%s): raise RLIMIT_MEMLOCK (ulimit -l, "
        "systemd LimitMEMLOCK=, docker run --ulimit memlock=...) or grant CAP_IPC_LOCK; "
        "SHD_DONT_MLOCK=1 runs without locked memory (tests only)",
        n, strerror_r(errnum, text, sizeof(text)));

    shd_error_set_foreign(SHD_FOREIGN_ERRNO, (unsigned long)errnum);
    return r;
}

/* Guard pages, no-dump advice and the lock, on a freshly mapped s. */
static shd_result shd_secret_protect(struct shd_secret *s, size_t page)
{
    if (mprotect(s->map, page, PROT_NONE) != 0 ||
        mprotect(s->data + s->data_len, page, PROT_NONE) != 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_INTERNAL, errno, __FILE__, __LINE__);
        shd_error_wrap("mprotect of a secret guard page");
        return r;
    }
#ifndef SHD_NO_DONTDUMP
    if (madvise(s->data, s->data_len, MADV_DONTDUMP) != 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_INTERNAL, errno, __FILE__, __LINE__);
        shd_error_wrap("madvise(MADV_DONTDUMP) of secret memory");
        return r;
    }
#endif
    if (mlock(s->data, s->data_len) == 0) {
        s->locked = true;
        return SHD_OK;
    }
    if (!shd_secret_mlock_is_soft()) {
        return shd_secret_mlock_error(s->data_len, errno);
    }
    return SHD_OK;
}

shd_result shd_secret_alloc(size_t len, struct shd_secret **ret)
{
    size_t page = 0;
    size_t data_len;
    size_t map_len;

    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(len <= SHD_SECRET_MAX_LEN, SHD_ERR_TOO_LARGE,
                   "secret of %zu bytes exceeds the maximum of %zu", len, SHD_SECRET_MAX_LEN);
    SHD_GUARD(shd_secret_page_size(&page));
    /* At least one data page, so even a 0-byte secret sits between its guards. */
    data_len = len == 0 ? page : ((len + page - 1) / page) * page;
    SHD_GUARD(shd_add_overflow(data_len, 2 * page, &map_len));

    struct shd_secret *s = shd_alloc(sizeof(*s));
    SHD_ENSURE_MSG(s != NULL, SHD_ERR_NOMEM, "secret metadata");
    void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        int e = errno;
        shd_secret_destroy(s);
        shd_result r = shd_error_set_errno(SHD_ERR_NOMEM, e, __FILE__, __LINE__);
        shd_error_wrap("mapping %zu bytes of secret memory", map_len);
        return r;
    }
    s->map = map;
    s->map_len = map_len;
    s->data = s->map + page;
    s->data_len = data_len;
    s->len = len;
    /* End-aligned: the first byte past the secret is the trailing guard page. */
    s->ptr = s->data + data_len - len;
    shd_result r = shd_secret_protect(s, page);
    if (shd_is_err(r)) {
        shd_secret_destroy(s);
        return r;
    }
    *ret = s;
    return SHD_OK;
}

shd_result shd_secret_from(const void *bytes, size_t len, struct shd_secret **ret)
{
    struct shd_secret *s = NULL;

    SHD_ENSURE(bytes != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    SHD_GUARD(shd_secret_alloc(len, &s));
    shd_memcpy(s->ptr, bytes, len);
    *ret = s;
    return SHD_OK;
}

uint8_t *shd_secret_ptr(struct shd_secret *s)
{
    if (s == NULL) {
        shd_misuse("shd_secret_ptr(NULL)");
    }
    return s->ptr;
}

const uint8_t *shd_secret_data(const struct shd_secret *s)
{
    if (s == NULL) {
        shd_misuse("shd_secret_data(NULL)");
    }
    return s->ptr;
}

size_t shd_secret_len(const struct shd_secret *s)
{
    return s != NULL ? s->len : 0;
}

bool shd_secret_is_locked(const struct shd_secret *s)
{
    return s != NULL && s->locked;
}

void shd_secret_clear(struct shd_secret *s)
{
    if (s == NULL) {
        return;
    }
    shd_memzero(s->ptr, s->len);
}

shd_result shd_secret_shrink(struct shd_secret *s, size_t new_len)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_MSG(new_len <= s->len, SHD_ERR_USAGE,
                   "cannot grow a secret in place (%zu > %zu bytes)", new_len, s->len);
    shd_memzero(s->ptr + new_len, s->len - new_len);
    s->len = new_len;
    return SHD_OK;
}

void shd_secret_free(struct shd_secret **s)
{
    if (s == NULL || *s == NULL) {
        return;
    }
    shd_secret_destroy(*s);
    *s = NULL;
}

static bool shd_is_pow2(size_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

shd_result shd_secure_heap_init(size_t size, size_t min_size)
{
    SHD_ENSURE_MSG(shd_is_pow2(size) && shd_is_pow2(min_size) && min_size < size, SHD_ERR_USAGE,
                   "secure heap: size (%zu) and min_size (%zu) must be powers of two with "
                   "min_size < size",
                   size, min_size);
    if (CRYPTO_secure_malloc_initialized()) {
        return SHD_OK;
    }
    /* 1: locked and guarded; 2: created, but mlock/madvise/mprotect failed; 0: failed. */
    int rc = CRYPTO_secure_malloc_init(size, min_size);
    if (rc == 0) {
        return shd_error_set_ossl(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    if (rc == 2 && !shd_secret_mlock_is_soft()) {
        (void)CRYPTO_secure_malloc_done();
        shd_result r = shd_secret_mlock_error(size, EPERM);
        shd_error_wrap("OpenSSL secure heap could not be locked");
        return r;
    }
    return SHD_OK;
}
