/*
 * secret.h - memory for key material (STYLE.md rules 26-28, 30).
 *
 * A struct shd_secret owns a private anonymous mapping laid out as
 *
 *   [ guard page (PROT_NONE) ][ data pages, mlock'd, MADV_DONTDUMP ][ guard page (PROT_NONE) ]
 *
 * The bytes end exactly at the trailing guard page, so reading or writing one byte past the end
 * faults at once (libsodium's sodium_malloc layout); the pointer is therefore aligned only as far
 * as len is (16-byte aligned when len is a multiple of 16). The leading guard page catches
 * underflows that cross the page boundary.
 *
 * mlock failure is an error (SHD_ERR_PERMISSION, telling the operator to raise RLIMIT_MEMLOCK or
 * grant CAP_IPC_LOCK) unless the environment has SHD_DONT_MLOCK=1 (read with secure_getenv), as
 * unit tests and small containers need. MADV_DONTDUMP is compiled out when SHD_NO_DONTDUMP is
 * defined (ASan and fuzz builds). Freeing wipes, unlocks and unmaps.
 *
 * Not thread-safe per object: one owner at a time (STYLE.md rule 32).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_secret;

/* Hard maximum of one secret (STYLE.md rule 23): keys and tokens, not bulk data. */
#define SHD_SECRET_MAX_LEN ((size_t)16 * 1024 * 1024)

/*
 * Allocates a zeroed secret of len bytes (0 <= len <= SHD_SECRET_MAX_LEN; a 0-byte secret has a
 * non-NULL pointer that must not be dereferenced). Errors: SHD_ERR_NULL, SHD_ERR_TOO_LARGE,
 * SHD_ERR_NOMEM (mmap or metadata allocation), SHD_ERR_PERMISSION (mlock refused and
 * SHD_DONT_MLOCK is not 1), SHD_ERR_INTERNAL (mprotect/madvise). *ret is written only on
 * success; free with shd_secret_free.
 */
SHD_RESULT shd_secret_alloc(size_t len, struct shd_secret **ret);

/*
 * Allocates a secret of len bytes and copies bytes into it. The caller still owns (and should
 * wipe) its copy of bytes. Same errors as shd_secret_alloc.
 */
SHD_RESULT shd_secret_from(const void *bytes, size_t len, struct shd_secret **ret);

/* Start of the bytes; valid until shd_secret_free. Never NULL for a live secret. */
uint8_t *shd_secret_ptr(struct shd_secret *s);

/* Read-only view of the bytes. */
const uint8_t *shd_secret_data(const struct shd_secret *s);

/* Current length in bytes. */
size_t shd_secret_len(const struct shd_secret *s);

/* True when the data pages are mlock'd (false only in the SHD_DONT_MLOCK=1 soft path). */
bool shd_secret_is_locked(const struct shd_secret *s);

/* Zeroes all bytes, keeping the secret usable (the _clear of STYLE.md rule 8). NULL is fine. */
void shd_secret_clear(struct shd_secret *s);

/*
 * Shrinks to new_len <= len: the dropped tail is wiped first (STYLE.md rule 28); the pointer does
 * not move, so after a shrink the trailing guard page lies len - new_len bytes further away.
 * SHD_ERR_USAGE when new_len > len (secrets do not grow in place: allocate and copy instead).
 */
SHD_RESULT shd_secret_shrink(struct shd_secret *s, size_t new_len);

/* Wipes, munlocks and unmaps *s, then sets *s to NULL. s == NULL and *s == NULL are fine. */
void shd_secret_free(struct shd_secret **s);

/*
 * Sets up OpenSSL's secure heap (CRYPTO_secure_malloc_init) so that private keys loaded into
 * EVP_PKEYs afterwards live in locked, non-dumpable memory (STYLE.md rule 30). size and min_size
 * must be powers of two with min_size < size (OpenSSL's rule; e.g. 1 MiB and 32). Call once in
 * the key holder before loading any key; calling again when the heap exists is a no-op.
 * If OpenSSL cannot mlock the arena: SHD_ERR_PERMISSION (the heap is torn down again), or, with
 * SHD_DONT_MLOCK=1, SHD_OK with an unlocked heap. The heap counts against RLIMIT_MEMLOCK too.
 */
SHD_RESULT shd_secure_heap_init(size_t size, size_t min_size);

/* True when the environment has SHD_DONT_MLOCK=1 (secure_getenv: ignored in setuid contexts). */
bool shd_secret_mlock_is_soft(void);
