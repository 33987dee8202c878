/*
 * tpm_instance.c - the DER codec of Google's GCE instance-identity certificate extension
 * (tpm_akcert.h). Hand-written because the structure is tiny and the decoder must be strict
 * (X.690 §10: DER) while reading untrusted certificates.
 */
#include <string.h>

#include "tpm_akcert.h"

#include "shd/buf.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define TAG_BOOLEAN 0x01u
#define TAG_INTEGER 0x02u
#define TAG_UTF8STRING 0x0Cu
#define TAG_PRINTABLESTRING 0x13u
#define TAG_SEQUENCE 0x30u
#define TAG_CTX0 0xA0u
#define TAG_CTX1 0xA1u

/* Largest extension we write or read (a few names and integers). */
#define INSTANCE_INFO_MAX 2048u

shd_result gemu_parse_dec_i64(const char *s, int64_t *ret)
{
    int64_t v = 0;

    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(s[0] != '\0', SHD_ERR_INPUT, "empty number");
    SHD_ENSURE_MSG(s[0] != '0' || s[1] == '\0', SHD_ERR_INPUT, "number with a leading zero");
    for (const char *p = s; *p != '\0'; p++) {
        SHD_ENSURE_MSG(*p >= '0' && *p <= '9', SHD_ERR_INPUT, "not a decimal number");
        SHD_ENSURE_MSG(v <= (INT64_MAX - (*p - '0')) / 10, SHD_ERR_INPUT, "number too large");
        v = v * 10 + (*p - '0');
    }
    *ret = v;
    return SHD_OK;
}

static shd_result copy_name(const char *s, char out[static GEMU_GCE_NAME_MAX + 1])
{
    size_t n = s == NULL ? 0 : strlen(s);

    SHD_ENSURE_MSG(n >= 1 && n <= GEMU_GCE_NAME_MAX, SHD_ERR_CONFIG,
                   "instance field empty or longer than %u bytes", GEMU_GCE_NAME_MAX);
    shd_memcpy(out, s, n);
    out[n] = '\0';
    return SHD_OK;
}

shd_result gemu_instance_info_from_text(const char *zone, const char *project_id,
                                        const char *project_number, const char *instance_id,
                                        const char *instance_name, struct gemu_instance_info *ret)
{
    struct gemu_instance_info info;

    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(project_number);
    SHD_ENSURE_REF(instance_id);
    shd_memzero(&info, sizeof(info));
    SHD_GUARD_CTX(copy_name(zone, info.zone), "zone");
    SHD_GUARD_CTX(copy_name(project_id, info.project_id), "project id");
    SHD_GUARD_CTX(copy_name(instance_name, info.instance_name), "instance name");
    if (shd_is_err(gemu_parse_dec_i64(project_number, &info.project_number)) ||
        info.project_number <= 0) {
        SHD_BAIL_MSG(SHD_ERR_CONFIG, "project number '%s' is not a positive integer",
                     project_number);
    }
    if (shd_is_err(gemu_parse_dec_i64(instance_id, &info.instance_id)) || info.instance_id <= 0) {
        SHD_BAIL_MSG(SHD_ERR_CONFIG, "instance id '%s' is not a positive integer", instance_id);
    }
    info.has_security_properties = true;
    info.has_security_version = true;
    info.security_version = 1;
    info.has_is_production = true;
    info.is_production = true;
    *ret = info;
    return SHD_OK;
}

bool gemu_instance_info_equal(const struct gemu_instance_info *a,
                              const struct gemu_instance_info *b)
{
    return strcmp(a->zone, b->zone) == 0 && strcmp(a->project_id, b->project_id) == 0 &&
           strcmp(a->instance_name, b->instance_name) == 0 &&
           a->project_number == b->project_number && a->instance_id == b->instance_id &&
           a->has_security_properties == b->has_security_properties &&
           a->has_security_version == b->has_security_version &&
           (!a->has_security_version || a->security_version == b->security_version) &&
           a->has_is_production == b->has_is_production &&
           (!a->has_is_production || a->is_production == b->is_production);
}

/* ---- encoder ---------------------------------------------------------------------------- */

static shd_result put_header(uint8_t tag, size_t len, struct shd_buf *b)
{
    uint8_t h[6];
    size_t n = 0;

    SHD_ENSURE(len <= 0xffffffu, SHD_ERR_TOO_LARGE);
    h[n++] = tag;
    if (len < 0x80u) {
        h[n++] = (uint8_t)len;
    } else if (len <= 0xffu) {
        h[n++] = 0x81;
        h[n++] = (uint8_t)len;
    } else if (len <= 0xffffu) {
        h[n++] = 0x82;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = 0x83;
        h[n++] = (uint8_t)(len >> 16);
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    }
    return shd_buf_append(h, n, b);
}

static shd_result put_tlv(uint8_t tag, const uint8_t *v, size_t len, struct shd_buf *b)
{
    SHD_GUARD(put_header(tag, len, b));
    return shd_buf_append(v, len, b);
}

static shd_result put_integer(int64_t v, struct shd_buf *b)
{
    uint8_t be[9];
    size_t start = 0;

    SHD_ENSURE(v >= 0, SHD_ERR_USAGE);
    be[0] = 0;
    for (size_t i = 0; i < 8; i++) {
        be[1 + i] = (uint8_t)((uint64_t)v >> (8 * (7 - i)));
    }
    /* X.690 §8.3.2: minimal two's complement; keep a 0x00 before a set top bit. */
    while (start < 8 && be[start] == 0 && (be[start + 1] & 0x80u) == 0) {
        start++;
    }
    return put_tlv(TAG_INTEGER, be + start, sizeof(be) - start, b);
}

static shd_result put_string(const char *s, struct shd_buf *b)
{
    return put_tlv(TAG_UTF8STRING, (const uint8_t *)s, strlen(s), b);
}

/* Wraps the contents of inner in tag and appends to out. */
static shd_result put_wrapped(uint8_t tag, const struct shd_buf *inner, struct shd_buf *out)
{
    return put_tlv(tag, shd_buf_ptr(inner), shd_buf_len(inner), out);
}

static shd_result encode_security(const struct gemu_instance_info *info, struct shd_buf *out)
{
    struct shd_buf seq, tmp;
    shd_result r = SHD_OK;

    shd_buf_init(64, 0, &seq);
    shd_buf_init(64, 0, &tmp);
    if (info->has_security_version) {
        r = put_integer(info->security_version, &tmp);
        if (shd_is_ok(r)) {
            r = put_wrapped(TAG_CTX0, &tmp, &seq);
        }
        shd_buf_clear(&tmp);
    }
    if (shd_is_ok(r) && info->has_is_production) {
        const uint8_t v = info->is_production ? 0xff : 0x00;

        r = put_tlv(TAG_BOOLEAN, &v, 1, &tmp);
        if (shd_is_ok(r)) {
            r = put_wrapped(TAG_CTX1, &tmp, &seq);
        }
    }
    shd_buf_free(&tmp);
    shd_buf_init(80, 0, &tmp);
    if (shd_is_ok(r)) {
        r = put_wrapped(TAG_SEQUENCE, &seq, &tmp);
    }
    if (shd_is_ok(r)) {
        r = put_wrapped(TAG_CTX0, &tmp, out);
    }
    shd_buf_free(&tmp);
    shd_buf_free(&seq);
    return r;
}

shd_result gemu_instance_info_encode(const struct gemu_instance_info *info, uint8_t **ret_der,
                                     size_t *ret_len)
{
    struct shd_buf body, out;
    shd_result r;

    SHD_ENSURE_REF(info);
    SHD_ENSURE_REF(ret_der);
    SHD_ENSURE_REF(ret_len);
    shd_buf_init(INSTANCE_INFO_MAX, 0, &body);
    shd_buf_init(INSTANCE_INFO_MAX, 0, &out);
    r = put_string(info->zone, &body);
    if (shd_is_ok(r)) {
        r = put_integer(info->project_number, &body);
    }
    if (shd_is_ok(r)) {
        r = put_string(info->project_id, &body);
    }
    if (shd_is_ok(r)) {
        r = put_integer(info->instance_id, &body);
    }
    if (shd_is_ok(r)) {
        r = put_string(info->instance_name, &body);
    }
    if (shd_is_ok(r) && info->has_security_properties) {
        r = encode_security(info, &body);
    }
    if (shd_is_ok(r)) {
        r = put_wrapped(TAG_SEQUENCE, &body, &out);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_take(&out, ret_der, ret_len);
    }
    shd_buf_free(&body);
    shd_buf_free(&out);
    return r;
}

/* ---- decoder ---------------------------------------------------------------------------- */

/* Reads one DER TLV header and takes its value. */
static shd_result get_tlv(struct shd_cursor *cur, uint8_t *ret_tag, struct shd_cursor *ret_val)
{
    uint8_t tag = 0, l0 = 0;
    size_t len = 0;
    const uint8_t *v = NULL;

    SHD_GUARD(shd_cursor_read_u8(cur, &tag));
    SHD_ENSURE_MSG((tag & 0x1fu) != 0x1fu, SHD_ERR_INPUT, "high-tag-number form");
    SHD_GUARD(shd_cursor_read_u8(cur, &l0));
    if (l0 < 0x80u) {
        len = l0;
    } else {
        size_t nbytes = l0 & 0x7fu;

        SHD_ENSURE_MSG(nbytes >= 1 && nbytes <= 3, SHD_ERR_INPUT, "bad DER length");
        for (size_t i = 0; i < nbytes; i++) {
            uint8_t c = 0;

            SHD_GUARD(shd_cursor_read_u8(cur, &c));
            SHD_ENSURE_MSG(i != 0 || c != 0, SHD_ERR_INPUT, "non-minimal DER length");
            len = (len << 8) | c;
        }
        SHD_ENSURE_MSG(len >= 0x80u, SHD_ERR_INPUT, "non-minimal DER length");
    }
    SHD_GUARD(shd_cursor_take(len, cur, &v));
    *ret_tag = tag;
    shd_cursor_init(v, len, ret_val);
    return SHD_OK;
}

static shd_result get_expected(struct shd_cursor *cur, uint8_t want, struct shd_cursor *ret_val)
{
    uint8_t tag = 0;

    SHD_GUARD(get_tlv(cur, &tag, ret_val));
    SHD_ENSURE_MSG(tag == want, SHD_ERR_INPUT, "DER tag 0x%02x where 0x%02x expected", tag, want);
    return SHD_OK;
}

static shd_result get_integer(struct shd_cursor *cur, int64_t *ret)
{
    struct shd_cursor v;
    size_t n;
    const uint8_t *p = NULL;
    uint64_t acc = 0;

    SHD_GUARD(get_expected(cur, TAG_INTEGER, &v));
    n = shd_cursor_remaining(&v);
    SHD_ENSURE_MSG(n >= 1 && n <= 9, SHD_ERR_INPUT, "INTEGER length %zu", n);
    SHD_GUARD(shd_cursor_take(n, &v, &p));
    SHD_ENSURE_MSG((p[0] & 0x80u) == 0, SHD_ERR_INPUT, "negative INTEGER");
    SHD_ENSURE_MSG(n == 1 || p[0] != 0 || (p[1] & 0x80u) != 0, SHD_ERR_INPUT,
                   "non-minimal INTEGER");
    SHD_ENSURE_MSG(n < 9 || p[0] == 0, SHD_ERR_INPUT, "INTEGER out of range");
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
    }
    SHD_ENSURE_MSG(acc <= (uint64_t)INT64_MAX, SHD_ERR_INPUT, "INTEGER out of range");
    *ret = (int64_t)acc;
    return SHD_OK;
}

static shd_result get_string(struct shd_cursor *cur, char out[static GEMU_GCE_NAME_MAX + 1])
{
    struct shd_cursor v;
    uint8_t tag = 0;
    size_t n;
    const uint8_t *p = NULL;

    SHD_GUARD(get_tlv(cur, &tag, &v));
    SHD_ENSURE_MSG(tag == TAG_UTF8STRING || tag == TAG_PRINTABLESTRING, SHD_ERR_INPUT,
                   "DER tag 0x%02x where a string was expected", tag);
    n = shd_cursor_remaining(&v);
    SHD_ENSURE_MSG(n <= GEMU_GCE_NAME_MAX, SHD_ERR_INPUT, "string longer than %u bytes",
                   GEMU_GCE_NAME_MAX);
    SHD_GUARD(shd_cursor_take(n, &v, &p));
    SHD_ENSURE_MSG(memchr(p, 0, n) == NULL, SHD_ERR_INPUT, "string with a NUL byte");
    shd_memcpy(out, p, n);
    out[n] = '\0';
    return SHD_OK;
}

static shd_result decode_security(struct shd_cursor *cur, struct gemu_instance_info *info)
{
    struct shd_cursor seq, inner, v;
    uint8_t tag = 0;

    SHD_GUARD(get_expected(cur, TAG_SEQUENCE, &seq));
    SHD_ENSURE_MSG(shd_cursor_at_end(cur), SHD_ERR_INPUT, "trailing bytes");
    info->has_security_properties = true;
    while (!shd_cursor_at_end(&seq)) {
        SHD_GUARD(get_tlv(&seq, &tag, &inner));
        if (tag == TAG_CTX0 && !info->has_security_version && !info->has_is_production) {
            SHD_GUARD(get_integer(&inner, &info->security_version));
            info->has_security_version = true;
        } else if (tag == TAG_CTX1 && !info->has_is_production) {
            const uint8_t *b = NULL;

            SHD_GUARD(get_expected(&inner, TAG_BOOLEAN, &v));
            SHD_ENSURE_MSG(shd_cursor_remaining(&v) == 1, SHD_ERR_INPUT, "bad BOOLEAN");
            SHD_GUARD(shd_cursor_take(1, &v, &b));
            SHD_ENSURE_MSG(b[0] == 0x00 || b[0] == 0xff, SHD_ERR_INPUT, "non-DER BOOLEAN");
            info->has_is_production = true;
            info->is_production = b[0] == 0xff;
        } else {
            SHD_BAIL_MSG(SHD_ERR_INPUT, "unexpected security property tag 0x%02x", tag);
        }
        SHD_ENSURE_MSG(shd_cursor_at_end(&inner), SHD_ERR_INPUT, "trailing bytes");
    }
    return SHD_OK;
}

shd_result gemu_instance_info_decode(const uint8_t *der, size_t len, struct gemu_instance_info *ret)
{
    struct shd_cursor top, seq, ctx;
    struct gemu_instance_info info;

    SHD_ENSURE_REF(der);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(len <= INSTANCE_INFO_MAX, SHD_ERR_TOO_LARGE);
    shd_memzero(&info, sizeof(info));
    shd_cursor_init(der, len, &top);
    SHD_GUARD(get_expected(&top, TAG_SEQUENCE, &seq));
    SHD_ENSURE_MSG(shd_cursor_at_end(&top), SHD_ERR_INPUT, "trailing bytes after the SEQUENCE");
    SHD_GUARD_CTX(get_string(&seq, info.zone), "zone");
    SHD_GUARD_CTX(get_integer(&seq, &info.project_number), "project number");
    SHD_ENSURE_MSG(info.project_number > 0, SHD_ERR_INPUT, "project number must be positive");
    SHD_GUARD_CTX(get_string(&seq, info.project_id), "project id");
    SHD_GUARD_CTX(get_integer(&seq, &info.instance_id), "instance id");
    SHD_ENSURE_MSG(info.instance_id > 0, SHD_ERR_INPUT, "instance id must be positive");
    SHD_GUARD_CTX(get_string(&seq, info.instance_name), "instance name");
    if (!shd_cursor_at_end(&seq)) {
        SHD_GUARD(get_expected(&seq, TAG_CTX0, &ctx));
        SHD_GUARD_CTX(decode_security(&ctx, &info), "security properties");
        SHD_ENSURE_MSG(shd_cursor_at_end(&seq), SHD_ERR_INPUT, "trailing bytes");
    }
    *ret = info;
    return SHD_OK;
}
