/*
 * util.h - small helpers of `azure-emu init`: hex, standard base64 and JSON dumps.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

/* Lower-case hex of n bytes into out (2 * n + 1 bytes, NUL-terminated). */
void aemu_hex_encode(const uint8_t *in, size_t n, char *out);

/* Standard padded base64 (RFC 4648 §4) without line breaks; *ret is shd_alloc'd. */
SHD_RESULT aemu_b64_encode(const uint8_t *in, size_t n, char **ret, size_t *ret_len);

/*
 * Compact JSON text of v (key order kept) into a shd_alloc'd NUL-terminated buffer. Uses
 * json_dumpb into our own buffer so the result never comes from jansson's allocator.
 */
SHD_RESULT aemu_json_dump(const json_t *v, size_t flags, char **ret, size_t *ret_len);

/* Paths and whole-file reads and writes: emu_files.h (tests/emulators/common). */
