/*
 * codec.h - base64 (RFC 4648 §4 standard and §5 URL-safe, padded or not) and hex.
 *
 * Decoders come in two strictness levels:
 *   strict  (default): only the chosen alphabet; padding exactly as the variant says (required
 *           for padded, forbidden for unpadded); no whitespace; non-zero trailing bits rejected
 *           (canonical encoding only). This is what JOSE (RFC 7515 §2) and Go's
 *           base64.StdEncoding expect.
 *   lenient (SHD_B64_LENIENT): either alphabet, padding optional, ASCII whitespace ignored, for
 *           inputs produced by tools that are sloppy about it (MAA accepts padded base64url).
 * Errors carry a root message "illegal base64 data at input byte N" (the offset of the first bad
 * byte, as Go's encoding/base64 reports it), which the SKR wire errors reproduce.
 *
 * Encoders and decoders run in constant time with respect to the data bytes (branch-free symbol
 * mapping, STYLE.md rule 29), so they may process key material.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#define SHD_B64_STD 0u     /* '+' '/' alphabet, '=' padding */
#define SHD_B64_URL 1u     /* '-' '_' alphabet */
#define SHD_B64_NOPAD 2u   /* no '=' padding */
#define SHD_B64_LENIENT 4u /* decoding only: see above */

/* Convenience combinations. */
#define SHD_B64_STD_PAD (SHD_B64_STD)
#define SHD_B64_URL_NOPAD (SHD_B64_URL | SHD_B64_NOPAD)
#define SHD_B64_URL_PAD (SHD_B64_URL)

/* Length of the encoding of n bytes (without NUL); SIZE_MAX on overflow. */
size_t shd_b64_encoded_len(size_t n, unsigned flags);

/* Upper bound of the decoded length of an n-character input. */
size_t shd_b64_decoded_max(size_t n);

/*
 * Encodes n bytes into a fresh NUL-terminated string (shd_alloc; free with shd_free, or
 * shd_free_wipe when the input was secret). *ret_len (optional) gets the length without NUL.
 */
SHD_RESULT shd_b64_encode(const uint8_t *in, size_t n, unsigned flags, char **ret_str,
                          size_t *ret_len);

/*
 * Encodes into a caller buffer of cap bytes (room for the NUL included). Fails with
 * SHD_ERR_TOO_LARGE when it does not fit. For writing encodings of secrets into secret memory.
 */
SHD_RESULT shd_b64_encode_into(const uint8_t *in, size_t n, unsigned flags, char *out, size_t cap,
                               size_t *ret_len);

/*
 * Decodes n characters of `in` (need not be NUL-terminated) into a fresh buffer (shd_alloc,
 * with a NUL after the data for convenience). SHD_ERR_ENCODING on bad input.
 */
SHD_RESULT shd_b64_decode(const char *in, size_t n, unsigned flags, uint8_t **ret,
                          size_t *ret_len);

/* Decodes into a caller buffer of cap bytes (e.g. secret memory); SHD_ERR_TOO_LARGE if short.
 * On failure the bytes written so far are wiped. */
SHD_RESULT shd_b64_decode_into(const char *in, size_t n, unsigned flags, uint8_t *out, size_t cap,
                               size_t *ret_len);

/* Lower-case hex of n bytes into a fresh NUL-terminated string. */
SHD_RESULT shd_hex_encode(const uint8_t *in, size_t n, char **ret_str);

/* Lower-case hex into a caller buffer of at least 2 * n + 1 bytes. */
SHD_RESULT shd_hex_encode_into(const uint8_t *in, size_t n, char *out, size_t cap);

/* Decodes hex (either case, even length, no whitespace) into a fresh buffer. */
SHD_RESULT shd_hex_decode(const char *in, size_t n, uint8_t **ret, size_t *ret_len);
