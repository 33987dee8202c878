/*
 * gobind.c - Go encoding/json Decoder + validator `required`, as gin's ShouldBindJSON runs them.
 *
 * Two passes, like Go: the scanner (gobind_scan.c) finds the end of the first JSON value or the
 * syntax error with Go's exact text; then the decoder here walks the validated bytes into the
 * string fields.
 */
#include "gobind.h"

#include <stdio.h>
#include <string.h>

#include "gobind_int.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* ---------------------------------------------------------------------------------------------
 * Decoder over the validated first value
 * ------------------------------------------------------------------------------------------- */

struct dec {
    const uint8_t *p;
    size_t n;
    size_t i;
};

static void dec_ws(struct dec *d)
{
    while (d->i < d->n && skr_gobind_is_space(d->p[d->i])) {
        d->i++;
    }
}

/* Skips one (syntactically valid) value. */
static void dec_skip(struct dec *d)
{
    size_t depth = 0;
    do {
        dec_ws(d);
        if (d->i >= d->n) {
            return;
        }
        uint8_t c = d->p[d->i];
        if (c == '"') {
            d->i++;
            while (d->i < d->n && d->p[d->i] != '"') {
                d->i += d->p[d->i] == '\\' ? 2 : 1;
            }
            d->i++;
        } else if (c == '{' || c == '[') {
            depth++;
            d->i++;
        } else if (c == '}' || c == ']') {
            depth--;
            d->i++;
        } else if (c == ',' || c == ':') {
            d->i++;
        } else {
            while (d->i < d->n && strchr(",:]} \t\r\n", d->p[d->i]) == NULL) {
                d->i++;
            }
        }
    } while (depth > 0);
}

static const char *go_kind_of(uint8_t c)
{
    switch (c) {
    case '{':
        return "object";
    case '[':
        return "array";
    case '"':
        return "string";
    case 't':
    case 'f':
        return "bool";
    case 'n':
        return "null";
    default:
        return "number";
    }
}

static int hex_val(uint8_t c)
{
    if (skr_gobind_is_digit(c)) {
        return c - '0';
    }
    return (c | 0x20) - 'a' + 10;
}

/* getu4: the \uXXXX at p (6 bytes available) or -1. */
static long get_u4(const uint8_t *p, size_t avail)
{
    if (avail < 6 || p[0] != '\\' || p[1] != 'u') {
        return -1;
    }
    long r = 0;
    for (int k = 2; k < 6; k++) {
        if (!skr_gobind_is_hex(p[k])) {
            return -1;
        }
        r = r * 16 + hex_val(p[k]);
    }
    return r;
}

static size_t put_utf8(unsigned long r, uint8_t *out)
{
    if (r < 0x80) {
        out[0] = (uint8_t)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (uint8_t)(0xc0 | (r >> 6));
        out[1] = (uint8_t)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (r >> 12));
        out[1] = (uint8_t)(0x80 | ((r >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (r & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (r >> 18));
    out[1] = (uint8_t)(0x80 | ((r >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((r >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (r & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at p (Go utf8.DecodeRune), 0 when invalid. */
static size_t utf8_valid_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    size_t len = 0;
    uint8_t lo = 0x80;
    uint8_t hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (avail < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k < len; k++) {
        if (p[k] < 0x80 || p[k] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/* Go unquote of the string token at d->i (validated): a fresh buffer of the decoded bytes. */
static shd_result dec_string(struct dec *d, char **ret, size_t *ret_len)
{
    size_t start = ++d->i;
    size_t end = start;
    while (d->p[end] != '"') {
        end += d->p[end] == '\\' ? 2 : 1;
    }
    size_t in_len = end - start;
    size_t cap = 0;
    SHD_GUARD(shd_mul_overflow(in_len, 3, &cap));
    uint8_t *out = shd_alloc(cap + 1);
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    const uint8_t *s = d->p + start;
    size_t o = 0;
    size_t i = 0;
    static const char ESC_IN[] = "bfnrt\\/\"";
    static const char ESC_OUT[] = "\b\f\n\r\t\\/\"";
    while (i < in_len) {
        uint8_t c = s[i];
        if (c == '\\') {
            uint8_t e = s[i + 1];
            if (e != 'u') {
                out[o++] = (uint8_t)ESC_OUT[strchr(ESC_IN, e) - ESC_IN];
                i += 2;
                continue;
            }
            long r1 = get_u4(s + i, in_len - i);
            i += 6;
            if (r1 >= 0xd800 && r1 < 0xe000) {
                long r2 = get_u4(s + i, in_len - i);
                if (r1 < 0xdc00 && r2 >= 0xdc00 && r2 < 0xe000) {
                    unsigned long cp = 0x10000ul + (((unsigned long)r1 - 0xd800ul) << 10) +
                                       ((unsigned long)r2 - 0xdc00ul);
                    o += put_utf8(cp, out + o);
                    i += 6;
                } else {
                    o += put_utf8(0xfffd, out + o);
                }
                continue;
            }
            o += put_utf8((unsigned long)r1, out + o);
            continue;
        }
        if (c < 0x80) {
            out[o++] = c;
            i++;
            continue;
        }
        size_t l = utf8_valid_len(s + i, in_len - i);
        if (l == 0) {
            o += put_utf8(0xfffd, out + o);
            i++;
        } else {
            shd_memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = 0;
    d->i = end + 1;
    *ret = (char *)out;
    *ret_len = o;
    return SHD_OK;
}

/* encoding/json field lookup: exact name first, then ASCII case folding. */
static long find_field(const struct skr_gobind_struct *st, const char *key, size_t key_len)
{
    for (size_t f = 0; f < st->nfields; f++) {
        const char *name = st->fields[f].json_name;
        if (strlen(name) == key_len && shd_memcmp(name, key, key_len) == 0) {
            return (long)f;
        }
    }
    for (size_t f = 0; f < st->nfields; f++) {
        const char *name = st->fields[f].json_name;
        if (strlen(name) != key_len) {
            continue;
        }
        bool same = true;
        for (size_t k = 0; k < key_len && same; k++) {
            uint8_t a = (uint8_t)name[k];
            uint8_t b = (uint8_t)key[k];
            a = (a >= 'A' && a <= 'Z') ? (uint8_t)(a | 0x20) : a;
            b = (b >= 'A' && b <= 'Z') ? (uint8_t)(b | 0x20) : b;
            same = a == b;
        }
        if (same) {
            return (long)f;
        }
    }
    return -1;
}

void skr_gobind_values_clear(struct skr_gobind_values *v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < SKR_GOBIND_MAX_FIELDS; i++) {
        if (v->vals[i] != NULL) {
            shd_free_wipe(v->vals[i], v->lens[i] + 1);
        }
    }
    shd_memzero(v, sizeof(*v));
}

/* Decodes the object at d->i; the first type error goes to err (decoding goes on, as Go). */
static shd_result dec_object(struct dec *d, const struct skr_gobind_struct *st,
                             struct skr_gobind_values *v, char *err, size_t err_n)
{
    d->i++; /* '{' */
    for (;;) {
        dec_ws(d);
        if (d->p[d->i] == '}') {
            d->i++;
            return SHD_OK;
        }
        if (d->p[d->i] == ',') {
            d->i++;
            dec_ws(d);
        }
        char *key = NULL;
        size_t key_len = 0;
        SHD_GUARD(dec_string(d, &key, &key_len));
        long f = find_field(st, key, key_len);
        shd_free(key);
        dec_ws(d);
        d->i++; /* ':' */
        dec_ws(d);
        uint8_t c = d->p[d->i];
        if (f < 0 || c == 'n') {
            dec_skip(d); /* unknown field, or null: the field stays as it is */
            continue;
        }
        if (c != '"') {
            if (err[0] == '\0') {
                (void)snprintf(err, err_n,
                               "json: cannot unmarshal %s into Go struct field %s.%s of type "
                               "string",
                               go_kind_of(c), st->name, st->fields[f].json_name);
            }
            dec_skip(d);
            continue;
        }
        char *val = NULL;
        size_t val_len = 0;
        SHD_GUARD(dec_string(d, &val, &val_len));
        if (v->vals[f] != NULL) {
            shd_free_wipe(v->vals[f], v->lens[f] + 1);
        }
        v->vals[f] = val;
        v->lens[f] = val_len;
    }
}

shd_result skr_gobind_decode(const uint8_t *body, size_t len, const struct skr_gobind_struct *st,
                             struct skr_gobind_values *ret)
{
    SHD_ENSURE(body != NULL || len == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(st->nfields <= SKR_GOBIND_MAX_FIELDS, SHD_ERR_USAGE);
    size_t end = 0;
    SHD_GUARD(skr_gobind_scan_first_value(body, len, &end));

    struct skr_gobind_values v = {0};
    struct dec d = {.p = body, .n = end, .i = 0};
    char err[SHD_ERROR_FRAME_LEN] = {0};
    dec_ws(&d);
    uint8_t c = d.p[d.i];
    shd_result r = SHD_OK;
    if (c == '{') {
        r = dec_object(&d, st, &v, err, sizeof(err));
    } else if (c != 'n') {
        (void)snprintf(err, sizeof(err),
                       "json: cannot unmarshal %s into Go value of type httpginendpoints.%s",
                       go_kind_of(c), st->name);
    }
    if (shd_is_ok(r) && err[0] != '\0') {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "%s", err);
    }
    if (shd_is_ok(r)) {
        /* validator: "required" fails on an empty string; all failures, in struct order. */
        char msg[SHD_ERROR_FRAME_LEN] = {0};
        size_t used = 0;
        for (size_t f = 0; f < st->nfields; f++) {
            const struct skr_gobind_field *fd = &st->fields[f];
            if (!fd->required || (v.vals[f] != NULL && v.lens[f] > 0)) {
                continue;
            }
            int w = snprintf(msg + used, sizeof(msg) - used,
                             "%sKey: '%s.%s' Error:Field validation for '%s' failed on the "
                             "'required' tag",
                             used > 0 ? "\n" : "", st->name, fd->go_name, fd->go_name);
            if (w > 0) {
                used = used + (size_t)w >= sizeof(msg) ? sizeof(msg) - 1 : used + (size_t)w;
            }
        }
        if (used > 0) {
            r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "%s", msg);
        }
    }
    if (shd_is_err(r)) {
        skr_gobind_values_clear(&v);
        return r;
    }
    *ret = v;
    return SHD_OK;
}
