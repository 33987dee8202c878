/*
 * crc32c.h - gcp-emu's names for the CRC-32C of our shared library (shd/crc32c.h), the checksum
 * Cloud KMS uses for data integrity (gcp-identity.md 6). One implementation lives in
 * shared/src/crc32c.c; these forwarders keep the emulator's callers and tests unchanged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/crc32c.h"
#include "shd/result.h"

/* shd_crc32c_update: continues a CRC over n more bytes (start with crc = 0). */
static inline uint32_t gemu_crc32c_update(uint32_t crc, const uint8_t *p, size_t n)
{
    return shd_crc32c_update(crc, p, n);
}

/* shd_crc32c: the CRC-32C of n bytes. */
static inline uint32_t gemu_crc32c(const uint8_t *p, size_t n)
{
    return shd_crc32c(p, n);
}

/* shd_crc32c_format: decimal text of a CRC ("3808858755"); out needs 11 bytes. */
static inline void gemu_crc32c_format(uint32_t crc, char out[static SHD_CRC32C_DEC_LEN])
{
    shd_crc32c_format(crc, out);
}

/* shd_crc32c_json_get: an optional Int64Value CRC member (absent or null: not present). */
static inline SHD_RESULT gemu_crc32c_json_get(const json_t *obj, const char *key, bool *ret_present,
                                              uint32_t *ret_crc)
{
    return shd_crc32c_json_get(obj, key, ret_present, ret_crc);
}
