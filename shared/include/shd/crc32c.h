/*
 * crc32c.h - CRC-32C (Castagnoli, RFC 3720 B.4: reflected polynomial 0x82F63B78, init and
 * xorout 0xFFFFFFFF; the check value of "123456789" is 0xE3069283), the checksum Cloud KMS puts
 * on request and response bytes (gcp-identity.md 6), and its JSON form: a
 * google.protobuf.Int64Value, i.e. a string holding the unsigned decimal value (a JSON integer
 * is accepted too).
 *
 * Used by gcp-wif and by the gcp-emu Cloud KMS emulator. Not a MAC: it detects corruption, not
 * forgery, so it is computed plainly (not in constant time).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

/* Decimal text of a CRC plus NUL: at most 10 digits ("4294967295"). */
#define SHD_CRC32C_DEC_LEN 11

/*
 * Continues a CRC over n more bytes (p may be NULL when n == 0). Start with crc = 0, the CRC of
 * nothing, and pass each result back in: update(update(0, a), b) == crc32c(a || b).
 */
uint32_t shd_crc32c_update(uint32_t crc, const uint8_t *p, size_t n);

/* The CRC-32C of n bytes (p may be NULL when n == 0). */
uint32_t shd_crc32c(const uint8_t *p, size_t n);

/* Writes the unsigned decimal text of crc ("3808858755"), NUL-terminated, into out. */
void shd_crc32c_format(uint32_t crc, char out[static SHD_CRC32C_DEC_LEN]);

/*
 * Reads an optional CRC member `key` of the JSON object obj. Absent or JSON null: SHD_OK with
 * *ret_present = false (*ret_crc untouched). A string of 1..10 decimal digits or a JSON integer,
 * in 0..2^32-1: SHD_OK, *ret_present = true and *ret_crc. Anything else (signs, other
 * characters, leading zeros beyond 10 digits, reals, other types): SHD_ERR_INPUT with the
 * message "field '<key>' is not a CRC32C value"; outputs untouched. A caller that requires the
 * member checks *ret_present itself.
 */
SHD_RESULT shd_crc32c_json_get(const json_t *obj, const char *key, bool *ret_present,
                               uint32_t *ret_crc);
