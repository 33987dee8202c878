/*
 * crc32c.c - bytewise table-driven CRC-32C. KMS payloads are small (at most 64 KiB), so the
 * 1 KiB table is plenty; the table is computed at compile time into read-only data.
 */
#include "crc32c.h"

#include <stdio.h>
#include <string.h>

#include "shd/errors.h"
#include "shd/safety.h"
#include "util.h"

#define POLY 0x82F63B78u

#define T1(c) (((c)&1u) ? ((c) >> 1) ^ POLY : (c) >> 1)
#define T8(c) T1(T1(T1(T1(T1(T1(T1(T1((uint32_t)(c)))))))))
#define R4(i) T8(i), T8((i) + 1), T8((i) + 2), T8((i) + 3)
#define R16(i) R4(i), R4((i) + 4), R4((i) + 8), R4((i) + 12)
#define R64(i) R16(i), R16((i) + 16), R16((i) + 32), R16((i) + 48)

static const uint32_t TABLE[256] = {R64(0), R64(64), R64(128), R64(192)};

uint32_t wif_crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc = TABLE[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

void wif_crc32c_format(uint32_t crc, char out[static WIF_CRC32C_DEC_LEN])
{
    (void)snprintf(out, WIF_CRC32C_DEC_LEN, "%lu", (unsigned long)crc);
}

shd_result wif_crc32c_json_get(const json_t *obj, const char *key, uint32_t *ret_crc)
{
    SHD_ENSURE_REF(obj);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_crc);
    const json_t *v = json_object_get(obj, key);
    SHD_ENSURE_MSG(v != NULL && !json_is_null(v), SHD_ERR_INPUT, "missing field '%s'", key);
    uint64_t crc = 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        SHD_ENSURE_MSG(i >= 0 && i <= (json_int_t)UINT32_MAX, SHD_ERR_INPUT,
                       "field '%s' is not a CRC32C value", key);
        crc = (uint64_t)i;
    } else {
        const char *s = json_string_value(v);
        SHD_ENSURE_MSG(s != NULL && json_string_length(v) == strlen(s) && strlen(s) <= 10 &&
                           shd_is_ok(wif_parse_uint(s, 10, UINT32_MAX, &crc)),
                       SHD_ERR_INPUT, "field '%s' is not a CRC32C value", key);
    }
    *ret_crc = (uint32_t)crc;
    return SHD_OK;
}
