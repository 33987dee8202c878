/*
 * util.h - small checked helpers of skr: number parsing (no strtol, STYLE.md rule 25) and
 * bounded file reading.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/*
 * Parses a whole NUL-terminated string of digits in base 8, 10 or 16 (no sign, no prefix, no
 * white space, at least one digit; hex digits in either case) into a value <= max.
 * SHD_ERR_INPUT for anything else, *ret written only on success.
 */
SHD_RESULT skr_parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret);

/*
 * Reads a whole regular file of at most max bytes into a fresh NUL-terminated buffer (shd_alloc).
 * SHD_ERR_NOT_FOUND when it does not exist, SHD_ERR_TOO_LARGE past max, SHD_ERR_IO otherwise
 * (errno attached). The cause names the path. Intermediate buffers are wiped, so the file may
 * hold a credential: free such a result with shd_free_wipe(buf, len + 1).
 */
SHD_RESULT skr_file_read(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * Go base64.StdEncoding.DecodeString: standard alphabet, padding required, '\r' and '\n'
 * skipped anywhere. SHD_ERR_ENCODING "illegal base64 data at input byte N" with N counted in
 * the original input, like Go. *ret (shd_alloc'd, NUL after the data) written on success.
 */
SHD_RESULT skr_b64_go_std_decode(const char *in, size_t n, uint8_t **ret, size_t *ret_len);
