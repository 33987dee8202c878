/*
 * parse.c - checked unsigned number parsing (shd/parse.h).
 */
#include "shd/parse.h"

#include "shd/errors.h"
#include "shd/safety.h"

/* Value of one digit in base 16 and below, or -1. */
static int parse_digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

shd_result shd_parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(base == 8 || base == 10 || base == 16, SHD_ERR_USAGE);
    SHD_ENSURE_MSG(*s != '\0', SHD_ERR_INPUT, "empty number");
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        int d = parse_digit_value(*p);
        SHD_ENSURE_MSG(d >= 0 && (unsigned)d < base, SHD_ERR_INPUT, "invalid digit in number");
        uint64_t ud = (uint64_t)d;
        /* v * base + ud <= max without overflow; ud <= max first, or max - ud would wrap (a
         * single digit above a small max, "7" with max 5, would otherwise pass). */
        SHD_ENSURE_MSG(ud <= max && v <= (max - ud) / base, SHD_ERR_INPUT, "number out of range");
        v = v * base + ud;
    }
    *ret = v;
    return SHD_OK;
}
