/*
 * crc32c.h - CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF;
 * check value of "123456789" is 0xE3069283), the checksum Cloud KMS uses for data integrity
 * (gcp-identity.md 6), and its JSON form: an Int64Value, i.e. a string holding the unsigned
 * decimal value (a JSON number is accepted too).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

/* Continues a CRC over n more bytes: start with crc = 0 (not the register value). */
uint32_t gemu_crc32c_update(uint32_t crc, const uint8_t *p, size_t n);

/* The CRC-32C of n bytes. */
uint32_t gemu_crc32c(const uint8_t *p, size_t n);

/* Decimal text of a CRC ("3808858755"); out needs 11 bytes. */
void gemu_crc32c_format(uint32_t crc, char out[static 11]);

/*
 * Reads an optional Int64Value CRC member of obj: absent or JSON null -> SHD_OK with
 * *ret_present = false. A string of 1..10 decimal digits or a JSON integer, 0..2^32-1 ->
 * *ret_present = true and *ret_crc. Anything else: SHD_ERR_INPUT "Invalid value at '<key>'".
 */
SHD_RESULT gemu_crc32c_json_get(const json_t *obj, const char *key, bool *ret_present,
                                uint32_t *ret_crc);
