/*
 * gobind_int.h - internals shared by gobind.c (decoder) and gobind_scan.c (scanner).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/* JSON white space as Go's scanner sees it. */
static inline bool skr_gobind_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline bool skr_gobind_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline bool skr_gobind_is_hex(uint8_t c)
{
    return skr_gobind_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Finds the end of the first JSON value in p[0..n) like encoding/json Decoder.readValue:
 * *ret_end is the offset just past it. SHD_ERR_INPUT with Go's text ("EOF", "unexpected EOF",
 * "invalid character ..."), SHD_ERR_NOMEM.
 */
SHD_RESULT skr_gobind_scan_first_value(const uint8_t *p, size_t n, size_t *ret_end);
