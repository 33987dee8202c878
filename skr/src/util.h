/*
 * util.h - small helpers of skr: Go's base64.StdEncoding. Number parsing and bounded file reads
 * live in shared/ (shd/parse.h, shd/file.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/*
 * Go base64.StdEncoding.DecodeString: standard alphabet, padding required, '\r' and '\n'
 * skipped anywhere. SHD_ERR_ENCODING "illegal base64 data at input byte N" with N counted in
 * the original input, like Go. *ret (shd_alloc'd, NUL after the data) written on success.
 */
SHD_RESULT skr_b64_go_std_decode(const char *in, size_t n, uint8_t **ret, size_t *ret_len);
