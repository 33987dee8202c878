/*
 * emu_files.h - file helpers of the emulators: path joining, bounded whole-file reads, writes
 * with an exact mode (in place or atomically), directories with a mode, and the private-key
 * mode check (STYLE.md rule 33).
 *
 * Every function reports failures through shd_result with the path in the message; none logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/* Longest path the emulators build (PATH_MAX on Linux). */
#define EMU_PATH_MAX 4096u

enum emu_file_flags {
    EMU_FILE_NOFOLLOW = 1u << 0, /* emu_file_read: refuse a symbolic link as the last component */
    EMU_FILE_ATOMIC = 1u << 1,   /* emu_file_write: temporary file, fsync, rename(2) */
};

/* "<dir>/<rel>" into out[0..cap), NUL-terminated. SHD_ERR_TOO_LARGE when it does not fit. */
SHD_RESULT emu_path_join(const char *dir, const char *rel, char *out, size_t cap);

/*
 * shd_file_read (shd/file.h) with an optional ret_len: a whole regular file of at most max
 * bytes in a fresh shd_alloc'd buffer followed by a NUL (not counted in *ret_len, which may be
 * NULL). flags: EMU_FILE_NOFOLLOW or 0. Errors: SHD_ERR_NOT_FOUND (no such file),
 * SHD_ERR_TOO_LARGE (over max, also when it grows while read), SHD_ERR_IO (anything else,
 * including a file that is not regular). A file that shrinks while read yields what is there.
 * The caller frees the buffer (shd_free_wipe when the file is secret).
 */
SHD_RESULT emu_file_read(const char *path, size_t max, unsigned flags, uint8_t **ret,
                         size_t *ret_len);

/*
 * Writes data to path with exactly `mode` (fchmod, so neither the umask nor a looser mode of an
 * existing file survives), never following a symbolic link. Without EMU_FILE_ATOMIC the file is
 * truncated and rewritten in place. With EMU_FILE_ATOMIC it is shd_file_write_atomic
 * (shd/file.h): a hidden "<dir>/.<name>.tmp.<pid>" (O_EXCL), fsync'd and renamed over path, so
 * readers see the old or the new file, never a part (endpoints.json, config.json). SHD_ERR_IO
 * on failure (the temporary file is removed); SHD_ERR_USAGE for a mode above 0777.
 */
SHD_RESULT emu_file_write(const char *path, const void *data, size_t len, unsigned mode,
                          unsigned flags);

/*
 * SHD_OK when path (a private key) is accessible by its owner only; SHD_ERR_PERMISSION naming
 * the mode otherwise, SHD_ERR_CONFIG when it cannot be stat'ed.
 */
SHD_RESULT emu_file_check_private(const char *path);

enum emu_dir_flags {
    EMU_DIR_CHMOD = 1u << 0, /* also apply mode to a directory that already exists */
};

/*
 * Creates directory path with mode, or accepts an existing directory (a symbolic link or any
 * other file there is SHD_ERR_CONFIG). flags: EMU_DIR_CHMOD or 0.
 */
SHD_RESULT emu_dir_make(const char *path, unsigned mode, unsigned flags);

/*
 * Prepares a state directory for `init`: when path exists it must be a directory (not a link),
 * and empty unless force (else SHD_ERR_CONFIG "... is not empty (use --force to overwrite)");
 * then emu_dir_make(path, 0700, flags).
 */
SHD_RESULT emu_dir_prepare(const char *path, bool force, unsigned flags);
