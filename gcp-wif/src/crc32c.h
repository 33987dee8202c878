/*
 * crc32c.h - CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF;
 * "123456789" -> 0xE3069283), the checksum Cloud KMS uses to protect request and response bytes
 * (gcp-identity.md section 6), and its JSON form, a google.protobuf.Int64Value: a string with
 * the unsigned decimal value (a JSON integer is accepted too).
 *
 * Note for the lead: tests/emulators/gcp/src/crc32c.c implements the same for gcp-emu; one copy
 * belongs in shared/ (components must not link emulator code).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

/* Decimal text of a CRC plus NUL: at most 10 digits. */
#define WIF_CRC32C_DEC_LEN 11

/* The CRC-32C of n bytes (p may be NULL when n == 0). */
uint32_t wif_crc32c(const uint8_t *p, size_t n);

/* Writes the decimal text of crc into out. */
void wif_crc32c_format(uint32_t crc, char out[static WIF_CRC32C_DEC_LEN]);

/*
 * Reads a CRC member of a JSON object: a string of 1..10 decimal digits or a JSON integer, in
 * 0..2^32-1. SHD_ERR_INPUT "missing field '<key>'" when absent (or null), "field '<key>' is not
 * a CRC32C value" for anything else. *ret_crc written only on success.
 */
SHD_RESULT wif_crc32c_json_get(const json_t *obj, const char *key, uint32_t *ret_crc);
