/*
 * json_go.c - a JSON writer whose bytes equal Go's json.Marshal (Go 1.22+, HTML escaping on),
 * as gin writes them on the SKR sidecar's wire (skr-sidecar.md section 2.0).
 *
 * The escaping follows Go's encoding/json appendString: `"` and `\` with a backslash; \b \f \n
 * \r \t short; other bytes below 0x20 and `<` `>` `&` as \u00xx with lower-case hex; U+2028 and
 * U+2029 as \u2028 and \u2029 (JSONP safety); a byte that does not start a valid UTF-8 sequence
 * (utf8.DecodeRuneInString returning RuneError with size 1) as \ufffd, one per byte; the rest
 * is copied. Go 1.22 changed \b and \f from \u0008 and \u000c to the short forms; the sidecar
 * images we mirror are built with go1.23.
 *
 * Output goes into a buffer that grows with shd_realloc_wipe, so no stale copy of an escaped
 * secret stays in the heap, and is wiped on every error path.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* Growable output with a hard maximum (STYLE.md rule 23); bytes past len are always zero. */
struct go_out {
    char *p;
    size_t len;
    size_t cap;
};

static void go_out_clear(struct go_out *o)
{
    shd_free_wipe(o->p, o->cap);
    o->p = NULL;
    o->len = 0;
    o->cap = 0;
}

/* Makes room for extra more bytes plus the terminating NUL. */
static shd_result go_out_reserve(struct go_out *o, size_t extra)
{
    size_t need;

    SHD_GUARD(shd_add_overflow(o->len, extra, &need));
    SHD_ENSURE_MSG(need <= SHD_JSON_GO_MAX_OUT, SHD_ERR_TOO_LARGE, "JSON output exceeds %zu bytes",
                   SHD_JSON_GO_MAX_OUT);
    need++;
    if (need <= o->cap) {
        return SHD_OK;
    }

    size_t cap = o->cap != 0 ? o->cap : 64;

    while (cap < need) {
        cap *= 2; /* cannot overflow: need <= SHD_JSON_GO_MAX_OUT + 1 */
    }
    if (cap > SHD_JSON_GO_MAX_OUT + 1) {
        cap = SHD_JSON_GO_MAX_OUT + 1;
    }

    char *p = shd_realloc_wipe(o->p, o->cap, cap);

    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    o->p = p;
    o->cap = cap;
    return SHD_OK;
}

static shd_result go_out_put(struct go_out *o, const void *bytes, size_t n)
{
    SHD_GUARD(go_out_reserve(o, n));
    shd_memcpy(o->p + o->len, bytes, n);
    o->len += n;
    return SHD_OK;
}

static shd_result go_out_puts(struct go_out *o, const char *s)
{
    return go_out_put(o, s, strlen(s));
}

/* Hands the buffer to the caller (NUL-terminated: bytes past len are zero and cap > len). */
static shd_result go_out_finish(struct go_out *o, char **ret, size_t *ret_len)
{
    SHD_GUARD(go_out_reserve(o, 0));
    *ret = o->p;
    *ret_len = o->len;
    o->p = NULL;
    o->len = 0;
    o->cap = 0;
    return SHD_OK;
}

/*
 * Length of the valid UTF-8 sequence at s[0..n), or 0 when s[0] does not start one. Mirrors Go's
 * utf8 first-byte table and accept ranges: no overlongs, no surrogates, nothing above U+10FFFF,
 * no truncated sequences.
 */
static size_t go_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;

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
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/* The escape for an ASCII byte, written to esc (at most 6 bytes), or 0 when it is copied. */
static size_t go_escape_ascii(unsigned char c, char esc[static 6])
{
    static const char hex[] = "0123456789abcdef";

    esc[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        esc[1] = (char)c;
        return 2;
    case '\b':
        esc[1] = 'b';
        return 2;
    case '\f':
        esc[1] = 'f';
        return 2;
    case '\n':
        esc[1] = 'n';
        return 2;
    case '\r':
        esc[1] = 'r';
        return 2;
    case '\t':
        esc[1] = 't';
        return 2;
    default:
        break;
    }
    if (c >= 0x20 && c != '<' && c != '>' && c != '&') {
        return 0;
    }
    esc[1] = 'u';
    esc[2] = '0';
    esc[3] = '0';
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 0xf];
    return 6;
}

/* Writes the escaped body of s[0..n), n > 0; esc is the caller's scratch for one escape. */
static shd_result go_write_escaped(struct go_out *o, const char *s, size_t n, char esc[static 6])
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0;
    size_t i = 0;

    while (i < n) {
        const char *rep = NULL;
        size_t rep_len = 0;
        size_t adv = 1;

        if (u[i] < 0x80) {
            rep_len = go_escape_ascii(u[i], esc);
            rep = esc;
        } else {
            adv = go_utf8_len(u + i, n - i);
            if (adv == 0) {
                rep = "\\ufffd";
                adv = 1;
            } else if (adv == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 &&
                       (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)) {
                rep = u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
            }
            rep_len = rep != NULL ? 6 : 0;
        }
        if (rep_len == 0) {
            i += adv;
            continue;
        }
        SHD_GUARD(go_out_put(o, s + start, i - start));
        SHD_GUARD(go_out_put(o, rep, rep_len));
        i += adv;
        start = i;
    }
    return go_out_put(o, s + start, n - start);
}

static shd_result go_write_string(struct go_out *o, const char *s, size_t n)
{
    SHD_ENSURE(s != NULL || n == 0, SHD_ERR_NULL);
    if (n == 0) {
        return go_out_put(o, "\"\"", 2); /* and no arithmetic on a NULL s */
    }
    SHD_GUARD(go_out_put(o, "\"", 1));

    char esc[6];
    shd_result r = go_write_escaped(o, s, n, esc);

    /* An escaped control byte of a secret is a byte of the secret. */
    shd_memzero(esc, sizeof(esc));
    SHD_GUARD(r);
    return go_out_put(o, "\"", 1);
}

static shd_result go_write_int(struct go_out *o, json_int_t x)
{
    char digits[24];
    size_t pos = sizeof(digits);
    /* Magnitude in unsigned arithmetic, so LLONG_MIN needs no special case. */
    unsigned long long mag = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;

    do {
        digits[--pos] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    if (x < 0) {
        digits[--pos] = '-';
    }
    return go_out_put(o, digits + pos, sizeof(digits) - pos);
}

/*
 * jansson's iteration API takes json_t * although it does not modify the object; the dump
 * functions promise not to modify v, and only iterate.
 */
static json_t *go_unconst(const json_t *v)
{
    return (json_t *)(uintptr_t)v;
}

struct go_member {
    const char *key;
    size_t key_len;
    json_t *val;
};

/* Bytewise order, a proper prefix first: Go's strings.Compare on map keys. */
static int go_member_cmp(const void *a, const void *b)
{
    const struct go_member *x = a;
    const struct go_member *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = shd_memcmp(x->key, y->key, n);

    if (c != 0) {
        return c;
    }
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static shd_result go_write_value(struct go_out *o, const json_t *v, unsigned flags, unsigned depth);

static shd_result go_write_members(struct go_out *o, const struct go_member *m, size_t n,
                                   unsigned flags, unsigned depth)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            SHD_GUARD(go_out_put(o, ",", 1));
        }
        SHD_GUARD(go_write_string(o, m[i].key, m[i].key_len));
        SHD_GUARD(go_out_put(o, ":", 1));
        SHD_GUARD(go_write_value(o, m[i].val, flags, depth));
    }
    return SHD_OK;
}

static shd_result go_write_object(struct go_out *o, const json_t *v, unsigned flags, unsigned depth)
{
    size_t n = json_object_size(v);
    struct go_member *m = shd_alloc_array(n, sizeof(*m));

    SHD_ENSURE(m != NULL, SHD_ERR_NOMEM);

    size_t i = 0;
    json_t *obj = go_unconst(v);

    /* jansson 2.8+ iterates in insertion order: Go's struct field order when built in order. */
    for (void *it = json_object_iter(obj); it != NULL && i < n;
         it = json_object_iter_next(obj, it)) {
        m[i].key = json_object_iter_key(it);
        m[i].key_len = json_object_iter_key_len(it);
        m[i].val = json_object_iter_value(it);
        i++;
    }
    if ((flags & SHD_JSON_SORT_KEYS) != 0 && i > 1) {
        qsort(m, i, sizeof(*m), go_member_cmp);
    }

    shd_result r = go_out_put(o, "{", 1);

    if (shd_is_ok(r)) {
        r = go_write_members(o, m, i, flags, depth);
    }
    if (shd_is_ok(r)) {
        r = go_out_put(o, "}", 1);
    }
    shd_free(m);
    return r;
}

static shd_result go_write_array(struct go_out *o, const json_t *v, unsigned flags, unsigned depth)
{
    size_t n = json_array_size(v);

    SHD_GUARD(go_out_put(o, "[", 1));
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            SHD_GUARD(go_out_put(o, ",", 1));
        }
        SHD_GUARD(go_write_value(o, json_array_get(v, i), flags, depth));
    }
    return go_out_put(o, "]", 1);
}

static shd_result go_write_value(struct go_out *o, const json_t *v, unsigned flags, unsigned depth)
{
    SHD_ENSURE_REF(v);

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        SHD_ENSURE_MSG(depth < SHD_JSON_GO_MAX_DEPTH, SHD_ERR_TOO_LARGE,
                       "JSON value nests deeper than %d levels", SHD_JSON_GO_MAX_DEPTH);
        return go_write_object(o, v, flags, depth + 1);
    case JSON_ARRAY:
        SHD_ENSURE_MSG(depth < SHD_JSON_GO_MAX_DEPTH, SHD_ERR_TOO_LARGE,
                       "JSON value nests deeper than %d levels", SHD_JSON_GO_MAX_DEPTH);
        return go_write_array(o, v, flags, depth + 1);
    case JSON_STRING:
        return go_write_string(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return go_write_int(o, json_integer_value(v));
    case JSON_REAL:
        SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "real numbers are not written in Go format");
    case JSON_TRUE:
        return go_out_puts(o, "true");
    case JSON_FALSE:
        return go_out_puts(o, "false");
    case JSON_NULL:
        return go_out_puts(o, "null");
    default:
        SHD_BAIL_MSG(SHD_ERR_INTERNAL, "unknown jansson type %d", (int)json_typeof(v));
    }
}

SHD_RESULT shd_json_go_dump(const json_t *v, unsigned flags, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_MSG((flags & ~SHD_JSON_SORT_KEYS) == 0, SHD_ERR_USAGE, "unknown flags 0x%x",
                   flags & ~SHD_JSON_SORT_KEYS);

    struct go_out o = {0};
    shd_result r = go_write_value(&o, v, flags, 0);

    if (shd_is_ok(r)) {
        r = go_out_finish(&o, ret, ret_len);
    }
    go_out_clear(&o);
    return r;
}

SHD_RESULT shd_json_go_quote(const char *s, size_t n, char **ret, size_t *ret_len)
{
    SHD_ENSURE(s != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);

    struct go_out o = {0};
    shd_result r = go_write_string(&o, s, n);

    if (shd_is_ok(r)) {
        r = go_out_finish(&o, ret, ret_len);
    }
    go_out_clear(&o);
    return r;
}

static shd_result go_write_fields(struct go_out *o, const struct shd_json_go_field *fields,
                                  size_t n)
{
    SHD_GUARD(go_out_put(o, "{", 1));
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_REF(fields[i].key);
        if (i > 0) {
            SHD_GUARD(go_out_put(o, ",", 1));
        }
        SHD_GUARD(go_write_string(o, fields[i].key, strlen(fields[i].key)));
        SHD_GUARD(go_out_put(o, ":", 1));
        SHD_GUARD(go_write_string(o, fields[i].val, fields[i].val_len));
    }
    return go_out_put(o, "}", 1);
}

SHD_RESULT shd_json_go_dump_strings(const struct shd_json_go_field *fields, size_t n, char **ret,
                                    size_t *ret_len)
{
    SHD_ENSURE(fields != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);

    struct go_out o = {0};
    shd_result r = go_write_fields(&o, fields, n);

    if (shd_is_ok(r)) {
        r = go_out_finish(&o, ret, ret_len);
    }
    go_out_clear(&o);
    return r;
}
