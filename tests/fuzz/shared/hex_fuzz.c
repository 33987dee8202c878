/*
 * hex_fuzz.c - fuzz target for the hex decoder and encoder (shared/src/codec.c).
 *
 * Target Functions: shd_hex_decode, shd_hex_decode_into, shd_hex_encode, shd_hex_encode_into
 *
 * Input: the whole input is the text to decode.
 * Properties checked:
 *   - decode fails only with SHD_ERR_ENCODING, exactly when the length is odd or a byte is not
 *     a hex digit; success yields n / 2 bytes followed by a NUL;
 *   - decode_into with an exact buffer agrees; one byte short is SHD_ERR_TOO_LARGE;
 *   - on success, encoding gives the input back in lower case;
 *   - encode(bytes) then decode is the identity on the input bytes themselves.
 */
#include <string.h>

#include "fuzz_common.h"
#include "shd/codec.h"
#include "shd/mem.h"

static bool is_hex_digit(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static void roundtrip_bytes(const uint8_t *in, size_t n)
{
    char *text = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_hex_encode(in, n, &text)));
    FUZZ_ASSERT(strlen(text) == 2 * n);

    char *copy = shd_alloc(2 * n + 1);
    FUZZ_ASSERT(copy != NULL);
    FUZZ_ASSERT(shd_is_ok(shd_hex_encode_into(in, n, copy, 2 * n + 1)));
    FUZZ_ASSERT(shd_memcmp(copy, text, 2 * n + 1) == 0);
    shd_result r = shd_hex_encode_into(in, n, copy, 2 * n);
    FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
    shd_free(copy);

    uint8_t *back = NULL;
    size_t back_len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_hex_decode(text, 2 * n, &back, &back_len)));
    FUZZ_ASSERT(back_len == n && (n == 0 || shd_memcmp(back, in, n) == 0));
    shd_free(back);
    shd_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    const char *text = (const char *)data;
    bool valid = size % 2 == 0;
    for (size_t i = 0; valid && i < size; i++) {
        valid = is_hex_digit(data[i]);
    }

    uint8_t *out = NULL;
    size_t out_len = 0;
    shd_result r = shd_hex_decode(text, size, &out, &out_len);
    FUZZ_ASSERT(shd_is_ok(r) == valid);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(r.err == SHD_ERR_ENCODING && out == NULL);
        uint8_t small[2];
        r = shd_hex_decode_into(text, size, small, sizeof(small), &out_len);
        FUZZ_ASSERT(r.err == SHD_ERR_ENCODING || r.err == SHD_ERR_TOO_LARGE);
    } else {
        FUZZ_ASSERT(out_len == size / 2 && out[out_len] == '\0');

        uint8_t *buf = shd_alloc(out_len + 1);
        FUZZ_ASSERT(buf != NULL);
        size_t len = 0;
        FUZZ_ASSERT(shd_is_ok(shd_hex_decode_into(text, size, buf, out_len, &len)));
        FUZZ_ASSERT(len == out_len && (len == 0 || shd_memcmp(buf, out, len) == 0));
        if (out_len > 0) {
            r = shd_hex_decode_into(text, size, buf, out_len - 1, &len);
            FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
        }
        shd_free(buf);

        char *again = NULL;
        FUZZ_ASSERT(shd_is_ok(shd_hex_encode(out, out_len, &again)));
        for (size_t i = 0; i < size; i++) {
            FUZZ_ASSERT((uint8_t)again[i] == ascii_lower(data[i]));
        }
        shd_free(again);
        shd_free(out);
    }

    roundtrip_bytes(data, size);
    fuzz_error_reset();
    return 0;
}
