/*
 * base64_fuzz.c - fuzz target for the base64 decoder and encoder (shared/src/codec.c).
 *
 * Target Functions: shd_b64_decode, shd_b64_decode_into, shd_b64_encode,
 *                   shd_b64_encode_into, shd_b64_encoded_len, shd_b64_decoded_max
 *
 * Input: byte 0 selects the flags (bits 0-2: URL, NOPAD, LENIENT; bit 3 adds an unknown flag
 * bit, which must be refused with SHD_ERR_USAGE); bytes 1.. are the text to decode.
 * Properties checked:
 *   - decode fails only with SHD_ERR_ENCODING and never yields more than decoded_max bytes;
 *   - decode_into with an exact buffer gives the same bytes; one byte short is SHD_ERR_TOO_LARGE;
 *   - strict success => re-encoding with the same flags gives the input text back (canonical
 *     encodings only), and the lenient decoder accepts the same text with the same bytes;
 *   - encode(bytes) then strict decode gives the bytes back, for the input bytes themselves.
 */
#include <string.h>

#include "fuzz_common.h"
#include "shd/codec.h"
#include "shd/mem.h"

#define B64_FLAG_MASK (SHD_B64_URL | SHD_B64_NOPAD | SHD_B64_LENIENT)
/* A bit codec.h does not define: every entry point must refuse it. */
#define B64_UNKNOWN_FLAG 0x40u

/* Strict encode-then-decode of arbitrary bytes must be the identity. */
static void roundtrip_bytes(const uint8_t *in, size_t n, unsigned flags)
{
    char *text = NULL;
    size_t text_len = 0;
    shd_result r = shd_b64_encode(in, n, flags, &text, &text_len);
    FUZZ_ASSERT(shd_is_ok(r));
    FUZZ_ASSERT(text_len == shd_b64_encoded_len(n, flags));
    FUZZ_ASSERT(text[text_len] == '\0');

    /* encode_into agrees, and refuses a buffer without room for the NUL. */
    char *copy = shd_alloc(text_len + 1);
    FUZZ_ASSERT(copy != NULL);
    size_t copy_len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_b64_encode_into(in, n, flags, copy, text_len + 1, &copy_len)));
    FUZZ_ASSERT(copy_len == text_len && shd_memcmp(copy, text, text_len) == 0);
    r = shd_b64_encode_into(in, n, flags, copy, text_len, &copy_len);
    FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
    shd_free(copy);

    uint8_t *back = NULL;
    size_t back_len = 0;
    r = shd_b64_decode(text, text_len, flags, &back, &back_len);
    FUZZ_ASSERT(shd_is_ok(r));
    FUZZ_ASSERT(back_len == n && (n == 0 || shd_memcmp(back, in, n) == 0));
    shd_free(back);
    shd_free(text);
}

/* Checks decode_into against a decode that gave out[0..out_len). */
static void decode_into_agrees(const char *text, size_t n, unsigned flags, const uint8_t *out,
                               size_t out_len)
{
    uint8_t *buf = shd_alloc(out_len + 1);
    FUZZ_ASSERT(buf != NULL);
    size_t len = 0;
    shd_result r = shd_b64_decode_into(text, n, flags, buf, out_len, &len);
    FUZZ_ASSERT(shd_is_ok(r));
    FUZZ_ASSERT(len == out_len && (len == 0 || shd_memcmp(buf, out, len) == 0));
    if (out_len > 0) {
        r = shd_b64_decode_into(text, n, flags, buf, out_len - 1, &len);
        FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
        /* "On failure the bytes written so far are wiped." */
        for (size_t i = 0; i + 1 < out_len; i++) {
            FUZZ_ASSERT(buf[i] == 0);
        }
    }
    shd_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    unsigned flags = data[0] & B64_FLAG_MASK;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;

    if ((data[0] & 0x08u) != 0) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        shd_result r = shd_b64_decode(text, n, flags | B64_UNKNOWN_FLAG, &out, &out_len);
        FUZZ_ASSERT(r.err == SHD_ERR_USAGE && out == NULL);
        uint8_t one[1];
        r = shd_b64_decode_into(text, n, flags | B64_UNKNOWN_FLAG, one, sizeof(one), &out_len);
        FUZZ_ASSERT(r.err == SHD_ERR_USAGE);
        fuzz_error_reset();
        return 0;
    }

    uint8_t *out = NULL;
    size_t out_len = 0;
    shd_result r = shd_b64_decode(text, n, flags, &out, &out_len);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(r.err == SHD_ERR_ENCODING && out == NULL);
        /* An invalid text is invalid whatever the buffer size. */
        uint8_t small[4];
        r = shd_b64_decode_into(text, n, flags, small, sizeof(small), &out_len);
        FUZZ_ASSERT(r.err == SHD_ERR_ENCODING);
    } else {
        FUZZ_ASSERT(out != NULL && out_len <= shd_b64_decoded_max(n));
        FUZZ_ASSERT(out[out_len] == '\0');
        decode_into_agrees(text, n, flags, out, out_len);
        if ((flags & SHD_B64_LENIENT) == 0) {
            /* Strict decoding accepts canonical text only: encoding gives it back. */
            char *again = NULL;
            size_t again_len = 0;
            FUZZ_ASSERT(shd_is_ok(shd_b64_encode(out, out_len, flags, &again, &again_len)));
            FUZZ_ASSERT(again_len == n && (n == 0 || shd_memcmp(again, text, n) == 0));
            shd_free(again);
            /* Lenient decoding is a superset of strict decoding. */
            uint8_t *lax = NULL;
            size_t lax_len = 0;
            r = shd_b64_decode(text, n, flags | SHD_B64_LENIENT, &lax, &lax_len);
            FUZZ_ASSERT(shd_is_ok(r));
            FUZZ_ASSERT(lax_len == out_len && (lax_len == 0 || shd_memcmp(lax, out, lax_len) == 0));
            shd_free(lax);
        }
        shd_free_wipe(out, out_len + 1);
    }

    /* The raw input bytes as data: every variant must round-trip them. */
    roundtrip_bytes(data + 1, n, flags & ~SHD_B64_LENIENT);
    fuzz_error_reset();
    return 0;
}
