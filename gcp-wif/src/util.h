/*
 * util.h - RFC 3339 time stamps as Google APIs write them. Number parsing and file reading and
 * writing live in shared/ (shd/parse.h, shd/file.h).
 */
#pragma once

#include <stdint.h>

#include "shd/result.h"

/*
 * Parses an RFC 3339 UTC time stamp as Google APIs write them ("2014-10-02T15:01:23Z",
 * fractions of any length allowed and truncated, "Z" required) into Unix seconds.
 * SHD_ERR_INPUT for anything else.
 */
SHD_RESULT wif_rfc3339_parse(const char *s, int64_t *ret);
