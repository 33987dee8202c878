/*
 * file.h - whole-file reads with a hard size limit, and atomic replacement of a file.
 *
 * For the small files our programs read (configuration, PEM bundles, federated tokens, wrapped
 * keys, configfs-tsm attributes, emulator state) and write (token files, emulator state). The
 * reader treats every file as possibly secret: each intermediate buffer is wiped. Neither
 * function logs; every error names the path in its cause chain.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"

enum shd_file_flags {
    /*
     * Refuse a symbolic link as the last path component (O_NOFOLLOW): SHD_ERR_IO. Without it
     * links are followed, which Kubernetes needs: projected service-account tokens and mounted
     * ConfigMaps are links into a "..data" directory that the kubelet swaps atomically.
     */
    SHD_FILE_NOFOLLOW = 1u << 0,
};

/*
 * Reads the whole regular file at path (at most max bytes, max < SIZE_MAX - 2) into a fresh
 * shd_alloc'd buffer followed by a NUL that *ret_len does not count; the caller owns *ret and
 * frees it with shd_free, or shd_free_wipe(*ret, *ret_len + 1) when the file holds a secret.
 * flags: 0 or SHD_FILE_NOFOLLOW. The file is opened O_CLOEXEC | O_NOCTTY | O_NONBLOCK, so a FIFO
 * or a device is refused without blocking; a file that grows while it is read is read on, up
 * to max + 1 bytes, so it cannot slip past the limit.
 * Errors: SHD_ERR_NOT_FOUND (ENOENT), SHD_ERR_TOO_LARGE (over max), SHD_ERR_IO for anything
 * else (not a regular file, a link with SHD_FILE_NOFOLLOW, EACCES; errno attached),
 * SHD_ERR_NOMEM, SHD_ERR_USAGE (max too large), SHD_ERR_NULL. Every buffer that held file bytes
 * is wiped before it is freed, on every path. *ret and *ret_len are written only on success.
 */
SHD_RESULT shd_file_read(const char *path, size_t max, unsigned flags, uint8_t **ret,
                         size_t *ret_len);

/*
 * Replaces path atomically with len bytes of data (data may be NULL when len is 0): writes
 * "<dir>/.<name>.tmp.<pid>", created O_EXCL | O_NOFOLLOW | O_CLOEXEC and fchmod'ed to mode
 * (so the umask neither widens nor narrows it), fsyncs it, and renames it over path. Readers
 * see the old or the new content, never a part; a symbolic link at path is replaced, not
 * followed. The temporary file is removed on failure. The directory itself is not fsync'd:
 * after a power loss the old content may come back, never a mix.
 * Errors: SHD_ERR_IO (errno attached; the cause names path), SHD_ERR_TOO_LARGE (the temporary
 * path does not fit PATH_MAX), SHD_ERR_USAGE (mode above 0777, or path ends in '/'),
 * SHD_ERR_NULL.
 */
SHD_RESULT shd_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
