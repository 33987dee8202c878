/*
 * crc32c.c - CRC-32C (crc32c.h). Bitwise, one byte at a time: the inputs (Cloud KMS payloads)
 * are at most 64 KiB, so a lookup table buys nothing worth its 1 KiB.
 */
#include "shd/crc32c.h"

#include <stdio.h>
#include <string.h>

#include "shd/errors.h"
#include "shd/safety.h"

#define CRC32C_POLY_REFLECTED 0x82F63B78u

uint32_t shd_crc32c_update(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (unsigned k = 0; k < 8; k++) {
            /* Branch-free: mask is all ones when the low bit is set. */
            uint32_t mask = (uint32_t)(-(int32_t)(c & 1u));
            c = (c >> 1) ^ (CRC32C_POLY_REFLECTED & mask);
        }
    }
    return ~c;
}

uint32_t shd_crc32c(const uint8_t *p, size_t n)
{
    return shd_crc32c_update(0, p, n);
}

void shd_crc32c_format(uint32_t crc, char out[static SHD_CRC32C_DEC_LEN])
{
    (void)snprintf(out, SHD_CRC32C_DEC_LEN, "%lu", (unsigned long)crc);
}

/* 1..10 ASCII digits (the whole JSON string, no embedded NUL) with a value below 2^32. */
static shd_result crc32c_parse_dec(const json_t *v, const char *key, uint64_t *ret)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    SHD_ENSURE_MSG(n >= 1 && n <= 10 && strlen(s) == n, SHD_ERR_INPUT,
                   "field '%s' is not a CRC32C value", key);
    uint64_t val = 0;
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_MSG(s[i] >= '0' && s[i] <= '9', SHD_ERR_INPUT,
                       "field '%s' is not a CRC32C value", key);
        val = val * 10u + (uint64_t)(s[i] - '0');
    }
    *ret = val;
    return SHD_OK;
}

shd_result shd_crc32c_json_get(const json_t *obj, const char *key, bool *ret_present,
                               uint32_t *ret_crc)
{
    SHD_ENSURE_REF(obj);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_present);
    SHD_ENSURE_REF(ret_crc);
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *ret_present = false;
        return SHD_OK;
    }
    uint64_t val = 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        SHD_ENSURE_MSG(i >= 0 && i <= (json_int_t)UINT32_MAX, SHD_ERR_INPUT,
                       "field '%s' is not a CRC32C value", key);
        val = (uint64_t)i;
    } else {
        SHD_ENSURE_MSG(json_is_string(v), SHD_ERR_INPUT, "field '%s' is not a CRC32C value", key);
        SHD_GUARD(crc32c_parse_dec(v, key, &val));
    }
    SHD_ENSURE_MSG(val <= UINT32_MAX, SHD_ERR_INPUT, "field '%s' is not a CRC32C value", key);
    *ret_present = true;
    *ret_crc = (uint32_t)val;
    return SHD_OK;
}
