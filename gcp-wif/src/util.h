/*
 * util.h - small checked helpers of gcp-wif: number parsing (no strtol, STYLE.md rule 25),
 * bounded file reading, atomic file writing and RFC 3339 time stamps.
 *
 * Note for the lead: wif_parse_uint and wif_file_read do what skr's skr_parse_uint and
 * skr_file_read do; both belong in shared/ (a component may not include another's headers).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"

/*
 * Parses a whole NUL-terminated string of digits in base 8 or 10 (no sign, no prefix, no white
 * space, at least one digit) into a value <= max. SHD_ERR_INPUT otherwise; *ret written only on
 * success.
 */
SHD_RESULT wif_parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret);

/*
 * Reads a whole regular file of at most max bytes into a fresh NUL-terminated buffer
 * (shd_alloc). SHD_ERR_NOT_FOUND when it does not exist, SHD_ERR_TOO_LARGE past max, SHD_ERR_IO
 * otherwise (errno attached); the cause names the path. Every intermediate buffer is wiped, so
 * the file may hold a secret: free such a result with shd_free_wipe(buf, *ret_len + 1).
 */
SHD_RESULT wif_file_read(const char *path, size_t max, uint8_t **ret, size_t *ret_len);

/*
 * Replaces path atomically with len bytes of data: writes "<dir>/.<name>.tmp.<pid>" created
 * O_EXCL|O_NOFOLLOW with the given mode (fchmod'ed, so the umask does not widen or narrow it),
 * fsyncs, renames over path. Readers see the old or the new content, never a partial one.
 * The temporary file is removed on failure. SHD_ERR_IO with errno attached, naming the path.
 */
SHD_RESULT wif_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Parses an RFC 3339 UTC time stamp as Google APIs write them ("2014-10-02T15:01:23Z",
 * fractions of any length allowed and truncated, "Z" required) into Unix seconds.
 * SHD_ERR_INPUT for anything else.
 */
SHD_RESULT wif_rfc3339_parse(const char *s, int64_t *ret);
