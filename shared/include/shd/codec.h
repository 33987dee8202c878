/*
 * codec.h - base64 (RFC 4648 §4 standard and §5 URL-safe, padded or not) and hex (§8).
 *
 * Decoders come in two strictness levels:
 *   strict  (default): only the chosen alphabet; padding exactly as the variant says (required
 *           for padded, forbidden for unpadded); no whitespace (not even CR/LF); non-zero
 *           trailing bits rejected (canonical encoding only, RFC 4648 §3.5). This is what JOSE
 *           (RFC 7515 §2) needs and what Go's base64.StdEncoding.Strict() accepts, minus the
 *           CR/LF that Go always skips.
 *   lenient (SHD_B64_LENIENT): either alphabet (mixed too), padding optional but complete when
 *           present ("YQ=" is still an error), ASCII whitespace ignored anywhere, trailing bits
 *           ignored, for inputs produced by tools that are sloppy about it (MAA accepts padded
 *           base64url).
 * Errors are SHD_ERR_ENCODING with the root message "illegal base64 data at input byte N",
 * where N is the offset Go's encoding/base64 CorruptInputError gives for the same input (see
 * docs/internals/CODEC.md for the exact rules), which the SKR wire errors reproduce.
 *
 * Encoders and decoders run in constant time with respect to the data bytes (branch-free symbol
 * mapping, STYLE.md rule 29), so they may process key material. Only the length, the padding
 * and the position of the first invalid byte influence control flow.
 *
 * Flags: any bit other than the four below is SHD_ERR_USAGE. Encoders ignore SHD_B64_LENIENT.
 * In every function `in` may be NULL when n == 0; ret_len pointers are optional (may be NULL);
 * other outputs are written only on success.
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

/* Upper bound of the decoded length of an n-character input (never overflows). */
size_t shd_b64_decoded_max(size_t n);

/*
 * Encodes n bytes into a fresh NUL-terminated string (shd_alloc; free with shd_free, or
 * shd_free_wipe when the input was secret). *ret_len (optional) gets the length without NUL.
 * SHD_ERR_OVERFLOW when the encoded length does not fit in size_t, SHD_ERR_NOMEM.
 */
SHD_RESULT shd_b64_encode(const uint8_t *in, size_t n, unsigned flags, char **ret_str,
                          size_t *ret_len);

/*
 * Encodes into a caller buffer of cap bytes (room for the NUL included). Fails with
 * SHD_ERR_TOO_LARGE, writing nothing, when it does not fit. For writing encodings of secrets
 * into secret memory.
 */
SHD_RESULT shd_b64_encode_into(const uint8_t *in, size_t n, unsigned flags, char *out, size_t cap,
                               size_t *ret_len);

/*
 * Decodes n characters of `in` (need not be NUL-terminated; a NUL byte is an illegal character)
 * into a fresh buffer (shd_alloc, with a NUL after the data for convenience; free with
 * shd_free_wipe(p, len) when the data is secret). SHD_ERR_ENCODING on bad input.
 */
SHD_RESULT shd_b64_decode(const char *in, size_t n, unsigned flags, uint8_t **ret, size_t *ret_len);

/*
 * Decodes into a caller buffer of cap bytes (e.g. secret memory). SHD_ERR_TOO_LARGE if the
 * decoded data does not fit; an invalid input is reported as SHD_ERR_ENCODING whatever cap is.
 * On failure the bytes written so far are wiped.
 */
SHD_RESULT shd_b64_decode_into(const char *in, size_t n, unsigned flags, uint8_t *out, size_t cap,
                               size_t *ret_len);

/* Lower-case hex of n bytes into a fresh NUL-terminated string (shd_alloc). */
SHD_RESULT shd_hex_encode(const uint8_t *in, size_t n, char **ret_str);

/* Lower-case hex into a caller buffer of at least 2 * n + 1 bytes, else SHD_ERR_TOO_LARGE. */
SHD_RESULT shd_hex_encode_into(const uint8_t *in, size_t n, char *out, size_t cap);

/*
 * Decodes hex (either case, even length, no whitespace) into a fresh buffer (shd_alloc, NUL after
 * the data). SHD_ERR_ENCODING: "invalid hex: odd length N" or
 * "invalid hex character at input byte N".
 */
SHD_RESULT shd_hex_decode(const char *in, size_t n, uint8_t **ret, size_t *ret_len);

/*
 * Decodes hex into a caller buffer of cap bytes; SHD_ERR_TOO_LARGE if n / 2 > cap. Errors as
 * shd_hex_decode; on failure the bytes written so far are wiped.
 */
SHD_RESULT shd_hex_decode_into(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len);
