/*
 * parse.h - checked parsing of unsigned numbers written as text: flags, environment variables,
 * configuration values and the few decimal strings of wire formats (JSON Int64Value members).
 * The checked replacement for the strto* and ato* functions (STYLE.md rules 25 and 42): the
 * whole string must be digits, and the value is compared with the caller's maximum before it
 * can overflow.
 */
#pragma once

#include <stdint.h>

#include "shd/result.h"

/*
 * Parses the whole NUL-terminated string s as an unsigned number in base 8, 10 or 16 into a
 * value in 0..max. Accepted: one or more digits of the base (hex digits in either case), nothing
 * else: no sign, no "0x"/"0" prefix handling, no white space. Leading zeros are digits like any
 * other. Errors, all SHD_ERR_INPUT with a fixed message that never echoes s: "empty number",
 * "invalid digit in number", "number out of range" (above max, including anything beyond
 * UINT64_MAX). SHD_ERR_USAGE for another base, SHD_ERR_NULL for a NULL s or ret. *ret is
 * written only on success.
 */
SHD_RESULT shd_parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret);
