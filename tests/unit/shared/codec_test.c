/*
 * codec_test.c - base64 and hex: RFC 4648 §10 vectors, exhaustive symbol maps, round trips of
 * every length 0..64 for every flag combination, and the negative cases with the exact error
 * offsets.
 *
 * Offsets: we assume Go's encoding/base64 (Go 1.22 decodeQuantum, with .Strict() for the
 * trailing-bit checks) and reproduce its CorruptInputError value:
 *   - illegal character (wrong alphabet, '=' in an unpadded variant, whitespace in strict mode,
 *     a NUL or non-ASCII byte): its own offset;
 *   - '=' after 0 or 1 symbols of a quantum: the offset of that '=';
 *   - input ends inside a quantum of 1 symbol, or of 2-3 symbols in a padded variant: the
 *     offset of the quantum's first symbol ("YQ" -> 0, "Zm9vYg" -> 4);
 *   - "xx=" at the end (one '=' where two are needed): the input length;
 *   - "xx=" followed by something other than '=': the offset of the first '=';
 *   - anything after complete padding: the offset of that byte;
 *   - non-zero trailing bits (strict): offset end-1 for a 3-symbol quantum and end-2 for a
 *     2-symbol one, end being just past the quantum and its padding ("Zm9=" -> 3, "Zh==" -> 2,
 *     unpadded "Zm9" -> 2, "Zh" -> 0).
 * Go skips CR/LF everywhere; our strict mode does not (documented deviation), lenient skips all
 * ASCII whitespace.
 */
#include <stdio.h>
#include <string.h>

#include "shd/codec.h"
#include "shd/mem.h"
#include "shd_test.h"

static const unsigned FLAG_SETS[] = {
    SHD_B64_STD,
    SHD_B64_URL,
    SHD_B64_STD | SHD_B64_NOPAD,
    SHD_B64_URL | SHD_B64_NOPAD,
};

static const char STD_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Deterministic xorshift64 so that a failure reproduces. */
static uint8_t next_byte(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint8_t)(*s >> 32);
}

static void expect_root_message(const char *want)
{
    char buf[256];
    shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

/* Decoding `in` with `flags` fails with "illegal base64 data at input byte off". */
static void expect_b64_bad(const char *in, size_t n, unsigned flags, size_t off)
{
    char want[64];
    uint8_t *out = NULL;
    size_t len = 99;

    snprintf(want, sizeof(want), "illegal base64 data at input byte %zu", off);
    EXPECT_ERR(shd_b64_decode(in, n, flags, &out, &len), SHD_ERR_ENCODING);
    assert_null(out);
    assert_int_equal(len, 99);
    expect_root_message(want);
}

static void expect_b64_bad_str(const char *in, unsigned flags, size_t off)
{
    expect_b64_bad(in, strlen(in), flags, off);
}

static void expect_b64_ok(const char *in, unsigned flags, const char *want)
{
    uint8_t *out = NULL;
    size_t len = 0;

    EXPECT_OK(shd_b64_decode(in, strlen(in), flags, &out, &len));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    assert_int_equal(out[len], 0);
    shd_free(out);
}

static void expect_b64_enc(const char *in, unsigned flags, const char *want)
{
    char *s = NULL;
    size_t len = 0;

    EXPECT_OK(shd_b64_encode((const uint8_t *)in, strlen(in), flags, &s, &len));
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(shd_b64_encoded_len(strlen(in), flags), len);
    shd_free(s);
}

static void test_rfc4648_base64(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const padded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                         "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const raw[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    (void)state;

    for (size_t i = 0; i < 7; i++) {
        /* RFC 4648 §10 vectors use no symbol beyond 61, so both alphabets agree. */
        expect_b64_enc(plain[i], SHD_B64_STD_PAD, padded[i]);
        expect_b64_enc(plain[i], SHD_B64_URL_PAD, padded[i]);
        expect_b64_enc(plain[i], SHD_B64_STD | SHD_B64_NOPAD, raw[i]);
        expect_b64_enc(plain[i], SHD_B64_URL_NOPAD, raw[i]);
        expect_b64_ok(padded[i], SHD_B64_STD_PAD, plain[i]);
        expect_b64_ok(padded[i], SHD_B64_URL_PAD, plain[i]);
        expect_b64_ok(raw[i], SHD_B64_STD | SHD_B64_NOPAD, plain[i]);
        expect_b64_ok(raw[i], SHD_B64_URL_NOPAD, plain[i]);
        expect_b64_ok(padded[i], SHD_B64_LENIENT, plain[i]);
        expect_b64_ok(raw[i], SHD_B64_LENIENT, plain[i]);
    }
}

static void test_alphabets_differ_in_62_63(void **state)
{
    (void)state;
    expect_b64_enc("\xfb\xff", SHD_B64_STD_PAD, "+/8=");
    expect_b64_enc("\xfb\xff", SHD_B64_URL_PAD, "-_8=");
    expect_b64_enc("\xfb\xff", SHD_B64_URL_NOPAD, "-_8");
    expect_b64_ok("+/8=", SHD_B64_STD_PAD, "\xfb\xff");
    expect_b64_ok("-_8", SHD_B64_URL_NOPAD, "\xfb\xff");
    /* Wrong alphabet in strict mode. */
    expect_b64_bad_str("-_8=", SHD_B64_STD_PAD, 0);
    expect_b64_bad_str("+/8", SHD_B64_URL_NOPAD, 0);
    expect_b64_bad_str("A/8", SHD_B64_URL_NOPAD, 1);
    /* Lenient takes either, even mixed. */
    expect_b64_ok("-/8=", SHD_B64_LENIENT, "\xfb\xff");
    expect_b64_ok("+_8", SHD_B64_LENIENT | SHD_B64_URL, "\xfb\xff");
}

/* Every byte value against a reference lookup: the branch-free map must agree with it. */
static void test_symbol_map_exhaustive(void **state)
{
    (void)state;
    for (unsigned f = 0; f < 3; f++) {
        unsigned flags = f == 0 ? SHD_B64_STD : f == 1 ? SHD_B64_URL : SHD_B64_LENIENT;
        for (int c = 0; c < 256; c++) {
            char in[4] = {(char)c, 'A', 'A', 'A'};
            const char *p = memchr(STD_ALPHABET, c, 64);
            const char *q = memchr(URL_ALPHABET, c, 64);
            int v = -1;
            if (p != NULL && flags != SHD_B64_URL) {
                v = (int)(p - STD_ALPHABET);
            }
            if (q != NULL && flags != SHD_B64_STD) {
                v = (int)(q - URL_ALPHABET);
            }
            uint8_t out[3];
            size_t len = 0;
            shd_result r = shd_b64_decode_into(in, 4, flags, out, sizeof(out), &len);
            if (v < 0 && flags == SHD_B64_LENIENT && strchr(" \t\n\v\f\r", c) != NULL && c != 0) {
                /* Lenient skips whitespace: "AAA" is left, two zero bytes. */
                assert_int_equal(r.err, 0);
                assert_int_equal(len, 2);
                assert_int_equal(out[0], 0);
                continue;
            }
            if (v < 0) {
                assert_int_equal(r.err, SHD_ERR_ENCODING);
                expect_root_message("illegal base64 data at input byte 0");
                continue;
            }
            assert_int_equal(r.err, 0);
            assert_int_equal(len, 3);
            assert_int_equal(out[0], (uint8_t)(v << 2));
        }
    }
    /* Encoding every 6-bit value: decode the alphabet, encode it back. */
    uint8_t bytes[48];
    size_t len = 0;
    char back[65];
    EXPECT_OK(shd_b64_decode_into(STD_ALPHABET, 64, SHD_B64_STD, bytes, sizeof(bytes), &len));
    assert_int_equal(len, 48);
    EXPECT_OK(shd_b64_encode_into(bytes, 48, SHD_B64_STD, back, sizeof(back), &len));
    assert_string_equal(back, STD_ALPHABET);
    EXPECT_OK(shd_b64_encode_into(bytes, 48, SHD_B64_URL_NOPAD, back, sizeof(back), NULL));
    assert_string_equal(back, URL_ALPHABET);
}

static void test_round_trip_all_lengths(void **state)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    uint8_t data[64];
    (void)state;

    for (size_t n = 0; n <= 64; n++) {
        for (size_t i = 0; i < n; i++) {
            data[i] = next_byte(&seed);
        }
        for (size_t f = 0; f < sizeof(FLAG_SETS) / sizeof(FLAG_SETS[0]); f++) {
            unsigned flags = FLAG_SETS[f];
            char *s = NULL;
            size_t slen = 0;
            EXPECT_OK(shd_b64_encode(data, n, flags, &s, &slen));
            assert_int_equal(slen, strlen(s));
            assert_int_equal(slen, shd_b64_encoded_len(n, flags));
            assert_true(shd_b64_decoded_max(slen) >= n);

            for (unsigned lenient = 0; lenient <= SHD_B64_LENIENT; lenient += SHD_B64_LENIENT) {
                uint8_t *out = NULL;
                size_t olen = 0;
                EXPECT_OK(shd_b64_decode(s, slen, flags | lenient, &out, &olen));
                assert_int_equal(olen, n);
                assert_memory_equal(out, data, n);
                shd_free_wipe(out, olen);
            }

            /* Into a caller buffer: exact size works, one byte less does not. */
            uint8_t exact[64];
            size_t olen = 0;
            EXPECT_OK(shd_b64_decode_into(s, slen, flags, exact, n, &olen));
            assert_int_equal(olen, n);
            assert_memory_equal(exact, data, n);
            if (n > 0) {
                EXPECT_ERR(shd_b64_decode_into(s, slen, flags, exact, n - 1, &olen),
                           SHD_ERR_TOO_LARGE);
            }
            char enc[100];
            EXPECT_OK(shd_b64_encode_into(data, n, flags, enc, slen + 1, &olen));
            assert_string_equal(enc, s);
            EXPECT_ERR(shd_b64_encode_into(data, n, flags, enc, slen, &olen), SHD_ERR_TOO_LARGE);
            shd_free(s);

            char *hex = NULL;
            uint8_t *raw = NULL;
            EXPECT_OK(shd_hex_encode(data, n, &hex));
            assert_int_equal(strlen(hex), 2 * n);
            EXPECT_OK(shd_hex_decode(hex, 2 * n, &raw, &olen));
            assert_int_equal(olen, n);
            assert_memory_equal(raw, data, n);
            shd_free(hex);
            shd_free(raw);
        }
    }
}

static void test_bad_characters(void **state)
{
    (void)state;
    expect_b64_bad_str("Zm9v!mFy", SHD_B64_STD, 4);
    expect_b64_bad_str("Zm9vYmF.", SHD_B64_URL_NOPAD, 7);
    expect_b64_bad_str("\x80m9v", SHD_B64_STD, 0);
    expect_b64_bad_str("Zm9\xff", SHD_B64_LENIENT, 3);
    expect_b64_bad("Zm\0v", 4, SHD_B64_STD, 2); /* an embedded NUL is data, not a terminator */
    expect_b64_bad_str("Zm9v!mFy", SHD_B64_LENIENT, 4);
}

static void test_padding_strict(void **state)
{
    (void)state;
    /* Missing padding: Go reports the start of the incomplete quantum. */
    expect_b64_bad_str("Zg", SHD_B64_STD_PAD, 0);
    expect_b64_bad_str("Zm8", SHD_B64_STD_PAD, 0);
    expect_b64_bad_str("Zm9vYg", SHD_B64_URL_PAD, 4);
    /* One '=' where two are needed. */
    expect_b64_bad_str("Zg=", SHD_B64_STD_PAD, 3);
    expect_b64_bad_str("Zg=x", SHD_B64_STD_PAD, 2);
    /* Extra padding. */
    expect_b64_bad_str("Zm8==", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("Zg===", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("Zm9v====", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("=", SHD_B64_STD_PAD, 0);
    expect_b64_bad_str("Z===", SHD_B64_STD_PAD, 1);
    /* Padding in an unpadded variant is an illegal character. */
    expect_b64_bad_str("Zg==", SHD_B64_URL_NOPAD, 2);
    expect_b64_bad_str("Zm8=", SHD_B64_STD | SHD_B64_NOPAD, 3);
    /* Padding in the middle. */
    expect_b64_bad_str("Zg==Zm9v", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("Zm8=Zm9v", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("Zm=9v", SHD_B64_STD_PAD, 2);
}

static void test_padding_lenient(void **state)
{
    (void)state;
    expect_b64_ok("Zg", SHD_B64_LENIENT, "f");
    expect_b64_ok("Zg==", SHD_B64_LENIENT | SHD_B64_NOPAD, "f");
    expect_b64_ok("Zg = = \n", SHD_B64_LENIENT, "f");
    expect_b64_bad_str("Zg=", SHD_B64_LENIENT, 3);
    expect_b64_bad_str("Zg= x", SHD_B64_LENIENT, 4);
    expect_b64_bad_str("Zg== x", SHD_B64_LENIENT, 5);
    expect_b64_bad_str("Zg==Zm9v", SHD_B64_LENIENT, 4);
    expect_b64_bad_str("Zm9v=", SHD_B64_LENIENT, 4);
}

static void test_non_canonical_trailing_bits(void **state)
{
    (void)state;
    expect_b64_bad_str("Zh==", SHD_B64_STD_PAD, 2);
    expect_b64_bad_str("Zm9=", SHD_B64_STD_PAD, 3);
    expect_b64_bad_str("Zh", SHD_B64_URL_NOPAD, 0);
    expect_b64_bad_str("Zm9", SHD_B64_URL_NOPAD, 2);
    expect_b64_bad_str("Zm9vZm9=", SHD_B64_STD_PAD, 7);
    /* Go checks the bits before it reports garbage after the padding. */
    expect_b64_bad_str("Zh==Zg==", SHD_B64_STD_PAD, 2);
    /* Lenient ignores the trailing bits. */
    expect_b64_ok("Zh==", SHD_B64_LENIENT, "f");
    expect_b64_ok("Zm9", SHD_B64_LENIENT, "fo");
}

static void test_truncated_quantum(void **state)
{
    (void)state;
    expect_b64_bad_str("Zm9vY", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("Zm9vY", SHD_B64_URL_NOPAD, 4);
    expect_b64_bad_str("Z", SHD_B64_URL_NOPAD, 0);
    expect_b64_bad_str("Zm9v Y ", SHD_B64_LENIENT, 5);
}

static void test_whitespace(void **state)
{
    (void)state;
    expect_b64_bad_str("Zm9v\nYmFy", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str("Zm9v\r\nYmFy", SHD_B64_STD_PAD, 4);
    expect_b64_bad_str(" Zm9v", SHD_B64_URL_NOPAD, 0);
    expect_b64_bad_str("Zm9v ", SHD_B64_URL_NOPAD, 4);
    expect_b64_ok(" Zm 9v\r\nYm\tFy\v\f", SHD_B64_LENIENT, "foobar");
    expect_b64_ok(" \n ", SHD_B64_LENIENT, "");
}

static void test_caller_buffer_too_small_is_wiped(void **state)
{
    uint8_t out[16];
    size_t len = 77;
    (void)state;

    memset(out, 0xaa, sizeof(out));
    EXPECT_ERR(shd_b64_decode_into("Zm9vYmFy", 8, SHD_B64_STD, out, 5, &len), SHD_ERR_TOO_LARGE);
    expect_root_message("decoded base64 needs 6 bytes, buffer has 5");
    assert_int_equal(len, 77);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(out[i], 0);
    }
    for (size_t i = 5; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0xaa); /* nothing past cap is touched */
    }

    /* Invalid input wins over a small buffer, and what was written is wiped. */
    memset(out, 0xaa, sizeof(out));
    EXPECT_ERR(shd_b64_decode_into("Zm9vYmFy!", 9, SHD_B64_STD, out, 2, &len), SHD_ERR_ENCODING);
    expect_root_message("illegal base64 data at input byte 8");
    memset(out, 0xaa, sizeof(out));
    EXPECT_ERR(shd_b64_decode_into("Zm9vYmFy!", 9, SHD_B64_STD, out, sizeof(out), &len),
               SHD_ERR_ENCODING);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out[i], 0);
    }
    assert_int_equal(len, 77);

    /* Encoding into a short buffer writes nothing. */
    char enc[9];
    memset(enc, 'x', sizeof(enc));
    EXPECT_ERR(shd_b64_encode_into((const uint8_t *)"foobar", 6, SHD_B64_STD, enc, 8, &len),
               SHD_ERR_TOO_LARGE);
    expect_root_message("base64 encoding needs 9 bytes, buffer has 8");
    assert_memory_equal(enc, "xxxxxxxxx", 9);
    EXPECT_OK(shd_b64_encode_into((const uint8_t *)"foobar", 6, SHD_B64_STD, enc, 9, &len));
    assert_string_equal(enc, "Zm9vYmFy");
    assert_int_equal(len, 8);
}

static void test_hex_rfc4648_and_exhaustive(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const upper[] = {"",         "66",         "666F",        "666F6F",
                                        "666F6F62", "666F6F6261", "666F6F626172"};
    (void)state;

    for (size_t i = 0; i < 7; i++) {
        char *s = NULL;
        uint8_t *raw = NULL;
        size_t len = 0;
        char lower[16];
        EXPECT_OK(shd_hex_encode((const uint8_t *)plain[i], strlen(plain[i]), &s));
        for (size_t k = 0; k <= strlen(upper[i]); k++) {
            lower[k] =
                (char)(upper[i][k] >= 'A' && upper[i][k] <= 'F' ? upper[i][k] + 32 : upper[i][k]);
        }
        assert_string_equal(s, lower);
        EXPECT_OK(shd_hex_decode(upper[i], strlen(upper[i]), &raw, &len));
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(raw, plain[i], len);
        assert_int_equal(raw[len], 0);
        shd_free(s);
        shd_free(raw);
    }
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        char got[3];
        char want[3];
        EXPECT_OK(shd_hex_encode_into(&byte, 1, got, sizeof(got)));
        snprintf(want, sizeof(want), "%02x", b);
        assert_string_equal(got, want);
    }
    for (int c = 0; c < 256; c++) {
        char in[2] = {'0', (char)c};
        uint8_t out = 0xee;
        size_t len = 0;
        const char *digits = "0123456789abcdef0123456789ABCDEF";
        const char *p = c == 0 ? NULL : memchr(digits, c, 32);
        shd_result r = shd_hex_decode_into(in, 2, &out, 1, &len);
        if (p == NULL) {
            assert_int_equal(r.err, SHD_ERR_ENCODING);
            expect_root_message("invalid hex character at input byte 1");
            assert_int_equal(out, 0xee); /* nothing was written */
            continue;
        }
        assert_int_equal(r.err, 0);
        assert_int_equal(out, (p - digits) % 16);
    }
}

static void test_hex_negative(void **state)
{
    uint8_t *raw = NULL;
    size_t len = 5;
    uint8_t out[4];
    (void)state;

    EXPECT_ERR(shd_hex_decode("abc", 3, &raw, &len), SHD_ERR_ENCODING);
    expect_root_message("invalid hex: odd length 3");
    EXPECT_ERR(shd_hex_decode("g0", 2, &raw, &len), SHD_ERR_ENCODING);
    expect_root_message("invalid hex character at input byte 0");
    EXPECT_ERR(shd_hex_decode("0g", 2, &raw, &len), SHD_ERR_ENCODING);
    expect_root_message("invalid hex character at input byte 1");
    EXPECT_ERR(shd_hex_decode("66 6f", 5, &raw, &len), SHD_ERR_ENCODING);
    EXPECT_ERR(shd_hex_decode("66 6", 4, &raw, &len), SHD_ERR_ENCODING);
    expect_root_message("invalid hex character at input byte 2");
    EXPECT_ERR(shd_hex_decode("0x66", 4, &raw, &len), SHD_ERR_ENCODING);
    expect_root_message("invalid hex character at input byte 1");
    assert_null(raw);
    assert_int_equal(len, 5);

    memset(out, 0xaa, sizeof(out));
    EXPECT_ERR(shd_hex_decode_into("0102030405", 10, out, 4, &len), SHD_ERR_TOO_LARGE);
    assert_int_equal(out[0], 0xaa);
    EXPECT_ERR(shd_hex_decode_into("010203zz", 8, out, 4, &len), SHD_ERR_ENCODING);
    assert_memory_equal(out, "\0\0\0", 3); /* the three good bytes are wiped */
    EXPECT_OK(shd_hex_decode_into("01020304", 8, out, 4, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(out, "\x01\x02\x03\x04", 4);

    char hex[5];
    memset(hex, 'x', sizeof(hex));
    EXPECT_ERR(shd_hex_encode_into(out, 2, hex, 4), SHD_ERR_TOO_LARGE);
    assert_memory_equal(hex, "xxxxx", 5);
    EXPECT_OK(shd_hex_encode_into(out, 2, hex, 5));
    assert_string_equal(hex, "0102");
}

static void test_overflow_lengths(void **state)
{
    uint8_t byte = 0;
    char *s = NULL;
    char buf[8];
    (void)state;

    assert_int_equal(shd_b64_encoded_len(SIZE_MAX, SHD_B64_STD), SIZE_MAX);
    assert_int_equal(shd_b64_encoded_len(SIZE_MAX / 3 * 3, SHD_B64_NOPAD), SIZE_MAX);
    assert_int_equal(shd_b64_encoded_len(SIZE_MAX / 4 * 3 - 1, SHD_B64_STD), SIZE_MAX / 4 * 4);
    assert_int_equal(shd_b64_decoded_max(SIZE_MAX), SIZE_MAX / 4 * 3 + 2);
    assert_int_equal(shd_b64_decoded_max(7), 5);
    /* The length check comes first: no byte of the (fake) input is read. */
    EXPECT_ERR(shd_b64_encode(&byte, SIZE_MAX, SHD_B64_STD, &s, NULL), SHD_ERR_OVERFLOW);
    EXPECT_ERR(shd_b64_encode_into(&byte, SIZE_MAX, SHD_B64_URL_NOPAD, buf, sizeof(buf), NULL),
               SHD_ERR_OVERFLOW);
    EXPECT_ERR(shd_hex_encode(&byte, SIZE_MAX / 2 + 1, &s), SHD_ERR_OVERFLOW);
    EXPECT_ERR(shd_hex_encode(&byte, SIZE_MAX / 2, &s), SHD_ERR_OVERFLOW);
    EXPECT_ERR(shd_hex_encode_into(&byte, SIZE_MAX / 2, buf, sizeof(buf)), SHD_ERR_OVERFLOW);
    assert_null(s);
}

static void test_usage_and_nomem(void **state)
{
    char *s = NULL;
    uint8_t *raw = NULL;
    size_t len = 0;
    (void)state;

    EXPECT_ERR(shd_b64_encode((const uint8_t *)"a", 1, 8u, &s, &len), SHD_ERR_USAGE);
    EXPECT_ERR(shd_b64_decode("YQ==", 4, 0x100u, &raw, &len), SHD_ERR_USAGE);
    EXPECT_ERR(shd_b64_decode(NULL, 4, SHD_B64_STD, &raw, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_b64_decode("YQ==", 4, SHD_B64_STD, NULL, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_b64_encode(NULL, 1, SHD_B64_STD, &s, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_hex_decode(NULL, 2, &raw, &len), SHD_ERR_NULL);
    EXPECT_OK(shd_b64_decode(NULL, 0, SHD_B64_STD, &raw, &len));
    assert_int_equal(len, 0);
    shd_free(raw);
    raw = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)"a", 1, SHD_B64_LENIENT, &s, NULL));
    assert_string_equal(s, "YQ==");
    shd_free(s);
    s = NULL;

    shd_mem_fail_after(0);
    EXPECT_ERR(shd_b64_encode((const uint8_t *)"a", 1, SHD_B64_STD, &s, &len), SHD_ERR_NOMEM);
    shd_mem_fail_after(0);
    EXPECT_ERR(shd_b64_decode("YQ==", 4, SHD_B64_STD, &raw, &len), SHD_ERR_NOMEM);
    shd_mem_fail_after(0);
    EXPECT_ERR(shd_hex_encode((const uint8_t *)"a", 1, &s), SHD_ERR_NOMEM);
    shd_mem_fail_after(0);
    EXPECT_ERR(shd_hex_decode("61", 2, &raw, &len), SHD_ERR_NOMEM);
    assert_null(s);
    assert_null(raw);
}

static int reset_injection(void **state)
{
    (void)state;
    shd_mem_fail_after(-1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_base64),
        cmocka_unit_test(test_alphabets_differ_in_62_63),
        cmocka_unit_test(test_symbol_map_exhaustive),
        cmocka_unit_test(test_round_trip_all_lengths),
        cmocka_unit_test(test_bad_characters),
        cmocka_unit_test(test_padding_strict),
        cmocka_unit_test(test_padding_lenient),
        cmocka_unit_test(test_non_canonical_trailing_bits),
        cmocka_unit_test(test_truncated_quantum),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_caller_buffer_too_small_is_wiped),
        cmocka_unit_test(test_hex_rfc4648_and_exhaustive),
        cmocka_unit_test(test_hex_negative),
        cmocka_unit_test(test_overflow_lengths),
        cmocka_unit_test_teardown(test_usage_and_nomem, reset_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
