/*
 * codec.c - base64 (RFC 4648 §4, §5) and hex (§8) with constant-time symbol mapping.
 *
 * Symbols are mapped with masks instead of lookup tables or branches (STYLE.md rule 29): a table
 * indexed by a secret byte leaks it through the cache, a branch through the predictor. The idea
 * is the one of WireGuard's src/encoding.c; the code is ours. Control flow depends only on the
 * input length, the padding and the position of the first invalid byte.
 *
 * Error offsets follow Go's encoding/base64 decodeQuantum (Go 1.22), so that the SKR sidecar can
 * reproduce its wire errors byte for byte; docs/internals/CODEC.md lists the rules.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define B64_KNOWN_FLAGS (SHD_B64_URL | SHD_B64_NOPAD | SHD_B64_LENIENT)

/* All-ones when a < b, else zero. a and b are small (|a - b| < 2^31), so the subtraction cannot
 * overflow and its sign bit is the answer; the unsigned shift keeps it well defined. */
static inline uint32_t ct_lt(int a, int b)
{
    return 0u - ((uint32_t)(a - b) >> 31);
}

/* All-ones when lo <= c <= hi, else zero. */
static inline uint32_t ct_in(int c, int lo, int hi)
{
    return ~ct_lt(c, lo) & ~ct_lt(hi, c);
}

/* All-ones when flag is true; flags are public, this only keeps the mapping expressions uniform. */
static inline uint32_t ct_mask(bool flag)
{
    return 0u - (uint32_t)flag;
}

/* Character of a 6-bit value v; c62 and c63 are the alphabet's last two symbols. */
static inline char b64_char(uint32_t v, int c62, int c63)
{
    int x = (int)v;
    uint32_t r = 0;

    r |= ct_in(x, 0, 25) & (uint32_t)(x + 'A');
    r |= ct_in(x, 26, 51) & (uint32_t)(x + 'a' - 26);
    r |= ct_in(x, 52, 61) & (uint32_t)(x + '0' - 52);
    r |= ct_in(x, 62, 62) & (uint32_t)c62;
    r |= ct_in(x, 63, 63) & (uint32_t)c63;
    return (char)r;
}

/* 6-bit value of character c, or -1. The accumulator holds value + 1 so that 0 means "none". */
static inline int b64_value(unsigned char ch, bool allow_std, bool allow_url)
{
    int c = ch;
    uint32_t std = ct_mask(allow_std);
    uint32_t url = ct_mask(allow_url);
    uint32_t r = 0;

    r |= ct_in(c, 'A', 'Z') & (uint32_t)(c - 'A' + 1);
    r |= ct_in(c, 'a', 'z') & (uint32_t)(c - 'a' + 27);
    r |= ct_in(c, '0', '9') & (uint32_t)(c - '0' + 53);
    r |= std & ct_in(c, '+', '+') & 63u;
    r |= std & ct_in(c, '/', '/') & 64u;
    r |= url & ct_in(c, '-', '-') & 63u;
    r |= url & ct_in(c, '_', '_') & 64u;
    return (int)r - 1;
}

static inline char hex_char(uint32_t nibble)
{
    int x = (int)nibble;
    uint32_t r = 0;

    r |= ct_in(x, 0, 9) & (uint32_t)(x + '0');
    r |= ct_in(x, 10, 15) & (uint32_t)(x + 'a' - 10);
    return (char)r;
}

static inline int hex_value(unsigned char ch)
{
    int c = ch;
    uint32_t r = 0;

    r |= ct_in(c, '0', '9') & (uint32_t)(c - '0' + 1);
    r |= ct_in(c, 'a', 'f') & (uint32_t)(c - 'a' + 11);
    r |= ct_in(c, 'A', 'F') & (uint32_t)(c - 'A' + 11);
    return (int)r - 1;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t shd_b64_encoded_len(size_t n, unsigned flags)
{
    size_t rem = n % 3;
    size_t len;

    /* An infallible accessor: the builtin rather than shd_mul_overflow, which records an error. */
    if (__builtin_mul_overflow(n / 3, (size_t)4, &len)) {
        return SIZE_MAX;
    }
    if (rem == 0) {
        return len;
    }
    if (__builtin_add_overflow(len, (flags & SHD_B64_NOPAD) != 0 ? rem + 1 : 4, &len)) {
        return SIZE_MAX;
    }
    return len;
}

size_t shd_b64_decoded_max(size_t n)
{
    /* 4 symbols -> 3 bytes; a tail of 2 or 3 symbols -> 1 or 2 bytes. */
    return (n / 4) * 3 + ((n % 4) * 3) / 4;
}

/* Writes the encoding of n bytes (len characters, no NUL) to out. */
static void b64_encode_raw(const uint8_t *in, size_t n, unsigned flags, char *out)
{
    bool url = (flags & SHD_B64_URL) != 0;
    int c62 = url ? '-' : '+';
    int c63 = url ? '_' : '/';
    uint32_t acc = 0;
    SHD_CLEANUP_ERASE(acc);
    size_t i = 0;
    size_t o = 0;

    for (; n - i >= 3; i += 3) {
        acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_char(acc >> 18, c62, c63);
        out[o++] = b64_char((acc >> 12) & 63u, c62, c63);
        out[o++] = b64_char((acc >> 6) & 63u, c62, c63);
        out[o++] = b64_char(acc & 63u, c62, c63);
    }
    if (n - i == 0) {
        return;
    }
    acc = (uint32_t)in[i] << 16;
    if (n - i == 2) {
        acc |= (uint32_t)in[i + 1] << 8;
    }
    out[o++] = b64_char(acc >> 18, c62, c63);
    out[o++] = b64_char((acc >> 12) & 63u, c62, c63);
    if (n - i == 2) {
        out[o++] = b64_char((acc >> 6) & 63u, c62, c63);
    } else if ((flags & SHD_B64_NOPAD) == 0) {
        out[o++] = '=';
    }
    if ((flags & SHD_B64_NOPAD) == 0) {
        out[o++] = '=';
    }
}

shd_result shd_b64_encode_into(const uint8_t *in, size_t n, unsigned flags, char *out, size_t cap,
                               size_t *ret_len)
{
    SHD_ENSURE_MSG((flags & ~B64_KNOWN_FLAGS) == 0, SHD_ERR_USAGE, "unknown base64 flags 0x%x",
                   flags);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(out);
    size_t len = shd_b64_encoded_len(n, flags);
    SHD_ENSURE_MSG(len != SIZE_MAX, SHD_ERR_OVERFLOW, "base64 encoding of %zu bytes", n);
    SHD_ENSURE_MSG(cap > len, SHD_ERR_TOO_LARGE, "base64 encoding needs %zu bytes, buffer has %zu",
                   len + 1, cap);
    b64_encode_raw(in, n, flags, out);
    out[len] = '\0';
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

shd_result shd_b64_encode(const uint8_t *in, size_t n, unsigned flags, char **ret_str,
                          size_t *ret_len)
{
    SHD_ENSURE_MSG((flags & ~B64_KNOWN_FLAGS) == 0, SHD_ERR_USAGE, "unknown base64 flags 0x%x",
                   flags);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret_str);
    size_t len = shd_b64_encoded_len(n, flags);
    SHD_ENSURE_MSG(len != SIZE_MAX, SHD_ERR_OVERFLOW, "base64 encoding of %zu bytes", n);
    char *s = shd_alloc(len + 1);
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    b64_encode_raw(in, n, flags, s);
    *ret_str = s;
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

/*
 * Decoder state. `w` counts every decoded byte; only those below `cap` are stored, so that an
 * invalid input is reported as such whatever the buffer size. acc holds up to 18 data bits and
 * is wiped with the rest of the struct.
 */
struct b64_dec {
    const char *in;
    size_t n;
    bool strict;
    bool padded;
    bool allow_std;
    bool allow_url;
    uint8_t *out;
    size_t cap;
    size_t w;
    uint32_t acc;
    unsigned nsym;
    size_t qstart;
};

static void b64_put(struct b64_dec *d, uint32_t byte)
{
    if (d->w < d->cap) {
        d->out[d->w] = (uint8_t)byte;
    }
    d->w++;
}

/*
 * Completes a final quantum of nsym (2 or 3) symbols that ends just before `end`. Strict mode
 * rejects non-zero trailing bits at Go's offsets (end - 1 for 3 symbols, end - 2 for 2).
 */
static bool b64_finish_partial(struct b64_dec *d, size_t end, size_t *ret_bad)
{
    if (d->nsym == 3) {
        if (d->strict && (d->acc & 0x3u) != 0) {
            *ret_bad = end - 1;
            return false;
        }
        b64_put(d, d->acc >> 10);
        b64_put(d, (d->acc >> 2) & 0xffu);
        return true;
    }
    if (d->strict && (d->acc & 0xfu) != 0) {
        *ret_bad = end - 2;
        return false;
    }
    b64_put(d, d->acc >> 4);
    return true;
}

/* Handles the '=' at offset i: checks the padding and that only whitespace (lenient) follows. */
static bool b64_padding(struct b64_dec *d, size_t i, size_t *ret_bad)
{
    size_t j = i + 1;

    if (d->nsym < 2) {
        *ret_bad = i;
        return false;
    }
    if (d->nsym == 2) {
        while (!d->strict && j < d->n && is_ascii_space(d->in[j])) {
            j++;
        }
        if (j == d->n) {
            *ret_bad = d->n; /* Go: "not enough padding" reports len(src) */
            return false;
        }
        if (d->in[j] != '=') {
            /* Go reports the first '=' (si - 1); lenient mode, Go-less, names the culprit. */
            *ret_bad = d->strict ? i : j;
            return false;
        }
        j++;
    }
    size_t end = j;
    while (!d->strict && j < d->n && is_ascii_space(d->in[j])) {
        j++;
    }
    /* Go checks the trailing bits before it reports garbage after the padding. */
    if (!b64_finish_partial(d, end, ret_bad)) {
        return false;
    }
    if (j < d->n) {
        *ret_bad = j;
        return false;
    }
    d->nsym = 0;
    return true;
}

/* End of input inside a quantum: Go reports the quantum's start when it cannot be completed. */
static bool b64_end(struct b64_dec *d, size_t *ret_bad)
{
    if (d->nsym == 0) {
        return true;
    }
    if (d->nsym == 1 || (d->strict && d->padded)) {
        *ret_bad = d->qstart;
        return false;
    }
    return b64_finish_partial(d, d->n, ret_bad);
}

static bool b64_run(struct b64_dec *d, size_t *ret_bad)
{
    for (size_t i = 0; i < d->n; i++) {
        int v = b64_value((unsigned char)d->in[i], d->allow_std, d->allow_url);
        if (v >= 0) {
            if (d->nsym == 0) {
                d->qstart = i;
            }
            d->acc = (d->acc << 6) | (uint32_t)v;
            d->nsym++;
            if (d->nsym == 4) {
                b64_put(d, d->acc >> 16);
                b64_put(d, (d->acc >> 8) & 0xffu);
                b64_put(d, d->acc & 0xffu);
                d->nsym = 0;
                d->acc = 0;
            }
            continue;
        }
        if (!d->strict && is_ascii_space(d->in[i])) {
            continue;
        }
        if (d->in[i] == '=' && (!d->strict || d->padded)) {
            return b64_padding(d, i, ret_bad);
        }
        *ret_bad = i;
        return false;
    }
    return b64_end(d, ret_bad);
}

/* Decodes into out[0..cap); wipes what it wrote on any failure. */
static shd_result b64_decode_core(const char *in, size_t n, unsigned flags, uint8_t *out,
                                  size_t cap, size_t *ret_len)
{
    bool lenient = (flags & SHD_B64_LENIENT) != 0;
    bool url = (flags & SHD_B64_URL) != 0;
    struct b64_dec d = {
        .in = in,
        .n = n,
        .strict = !lenient,
        .padded = (flags & SHD_B64_NOPAD) == 0,
        .allow_std = lenient || !url,
        .allow_url = lenient || url,
        .out = out,
        .cap = cap,
    };
    SHD_CLEANUP_ERASE(d);
    size_t bad = 0;

    bool ok = b64_run(&d, &bad);
    size_t stored = d.w < cap ? d.w : cap;
    if (!ok) {
        shd_memzero(out, stored);
        SHD_BAIL_MSG(SHD_ERR_ENCODING, "illegal base64 data at input byte %zu", bad);
    }
    if (d.w > cap) {
        shd_memzero(out, stored);
        SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "decoded base64 needs %zu bytes, buffer has %zu", d.w, cap);
    }
    *ret_len = d.w;
    return SHD_OK;
}

shd_result shd_b64_decode_into(const char *in, size_t n, unsigned flags, uint8_t *out, size_t cap,
                               size_t *ret_len)
{
    size_t len;

    SHD_ENSURE_MSG((flags & ~B64_KNOWN_FLAGS) == 0, SHD_ERR_USAGE, "unknown base64 flags 0x%x",
                   flags);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(out != NULL || cap == 0, SHD_ERR_NULL);
    SHD_GUARD(b64_decode_core(in, n, flags, out, cap, &len));
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

shd_result shd_b64_decode(const char *in, size_t n, unsigned flags, uint8_t **ret, size_t *ret_len)
{
    size_t len;

    SHD_ENSURE_MSG((flags & ~B64_KNOWN_FLAGS) == 0, SHD_ERR_USAGE, "unknown base64 flags 0x%x",
                   flags);
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    /* decoded_max(n) <= 3n/4, so the NUL cannot overflow. */
    size_t cap = shd_b64_decoded_max(n);
    uint8_t *buf = shd_alloc(cap + 1);
    SHD_ENSURE(buf != NULL, SHD_ERR_NOMEM);
    shd_result r = b64_decode_core(in, n, flags, buf, cap, &len);
    if (shd_is_err(r)) {
        shd_free_wipe(buf, cap + 1);
        return r;
    }
    *ret = buf;
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

static void hex_encode_raw(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_char((uint32_t)in[i] >> 4);
        out[2 * i + 1] = hex_char((uint32_t)in[i] & 0xfu);
    }
    out[2 * n] = '\0';
}

/* 2n + 1, or SIZE_MAX on overflow. */
static size_t hex_encoded_size(size_t n)
{
    if (n > (SIZE_MAX - 1) / 2) {
        return SIZE_MAX;
    }
    return 2 * n + 1;
}

shd_result shd_hex_encode_into(const uint8_t *in, size_t n, char *out, size_t cap)
{
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(out);
    size_t need = hex_encoded_size(n);
    SHD_ENSURE_MSG(need != SIZE_MAX, SHD_ERR_OVERFLOW, "hex encoding of %zu bytes", n);
    SHD_ENSURE_MSG(cap >= need, SHD_ERR_TOO_LARGE, "hex encoding needs %zu bytes, buffer has %zu",
                   need, cap);
    hex_encode_raw(in, n, out);
    return SHD_OK;
}

shd_result shd_hex_encode(const uint8_t *in, size_t n, char **ret_str)
{
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret_str);
    size_t need = hex_encoded_size(n);
    SHD_ENSURE_MSG(need != SIZE_MAX, SHD_ERR_OVERFLOW, "hex encoding of %zu bytes", n);
    char *s = shd_alloc(need);
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    hex_encode_raw(in, n, s);
    *ret_str = s;
    return SHD_OK;
}

/* Decodes n (even) hex digits into out[0..cap), cap >= n / 2; wipes out on failure. */
static shd_result hex_decode_core(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value((unsigned char)in[i]);
        int lo = hex_value((unsigned char)in[i + 1]);
        if ((hi | lo) < 0) {
            shd_memzero(out, i / 2);
            SHD_BAIL_MSG(SHD_ERR_ENCODING, "invalid hex character at input byte %zu",
                         hi < 0 ? i : i + 1);
        }
        out[i / 2] = (uint8_t)((hi << 4) | lo);
    }
    return SHD_OK;
}

shd_result shd_hex_decode_into(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE(out != NULL || cap == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG(n % 2 == 0, SHD_ERR_ENCODING, "invalid hex: odd length %zu", n);
    SHD_ENSURE_MSG(n / 2 <= cap, SHD_ERR_TOO_LARGE, "decoded hex needs %zu bytes, buffer has %zu",
                   n / 2, cap);
    SHD_GUARD(hex_decode_core(in, n, out));
    if (ret_len != NULL) {
        *ret_len = n / 2;
    }
    return SHD_OK;
}

shd_result shd_hex_decode(const char *in, size_t n, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE(in != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(n % 2 == 0, SHD_ERR_ENCODING, "invalid hex: odd length %zu", n);
    uint8_t *buf = shd_alloc(n / 2 + 1);
    SHD_ENSURE(buf != NULL, SHD_ERR_NOMEM);
    shd_result r = hex_decode_core(in, n, buf);
    if (shd_is_err(r)) {
        shd_free_wipe(buf, n / 2 + 1);
        return r;
    }
    *ret = buf;
    if (ret_len != NULL) {
        *ret_len = n / 2;
    }
    return SHD_OK;
}
