/*
 * http_util.c - small pure helpers of the HTTP modules: the connect-to list check, HTTP tokens
 * and field values, status reason phrases and JSON string escaping.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "http_int.h"

bool shd_http_ascii_ieq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = (unsigned char)*a;
        unsigned char cb = (unsigned char)*b;

        if (ca >= 'A' && ca <= 'Z') {
            ca = (unsigned char)(ca - 'A' + 'a');
        }
        if (cb >= 'A' && cb <= 'Z') {
            cb = (unsigned char)(cb - 'A' + 'a');
        }
        if (ca != cb) {
            return false;
        }
        if (ca == '\0') {
            return true;
        }
    }
}

bool shd_http_is_token(const char *s)
{
    /* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
     *       / "~" / DIGIT / ALPHA */
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (s == NULL || *s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c != '\0' && strchr(extra, c) != NULL);

        if (!ok) {
            return false;
        }
    }
    return true;
}

bool shd_http_is_field_value(const char *s)
{
    if (s == NULL) {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/* ---- connect-to list ---- */

static bool parse_port(const char *s, size_t len)
{
    uint32_t v = 0;

    if (len == 0) {
        return true; /* empty matches any port (source side) or keeps it (target side) */
    }
    if (len > 5) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static bool valid_dns_name(const char *s, size_t len)
{
    size_t label = 0;

    if (len > 253) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0) {
                return false; /* empty label: leading dot or ".." */
            }
            label = 0;
            continue;
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-')) {
            return false;
        }
        if (++label > 63) {
            return false;
        }
    }
    return true;
}

static bool valid_ipv6_literal(const char *s, size_t len)
{
    /* Inside brackets: hex digits, ':' and '.' (an embedded IPv4); inet_pton is the real check
     * at connect time, here we only keep the separators of the list unambiguous. */
    if (len < 2 || len > 45) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == ':' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* Reads one host field starting at *pos up to the next ':' (bracketed IPv6 allowed). */
static bool take_host(const char *e, size_t n, size_t *pos)
{
    size_t start = *pos;

    if (start < n && e[start] == '[') {
        const char *close = memchr(e + start, ']', n - start);

        if (close == NULL) {
            return false;
        }
        size_t inner = (size_t)(close - (e + start)) - 1;
        if (!valid_ipv6_literal(e + start + 1, inner)) {
            return false;
        }
        *pos = start + inner + 2;
        return *pos == n || e[*pos] == ':';
    }
    const char *colon = memchr(e + start, ':', n - start);
    size_t end = colon == NULL ? n : (size_t)(colon - e);

    if (!valid_dns_name(e + start, end - start)) {
        return false;
    }
    *pos = end;
    return true;
}

static bool take_port(const char *e, size_t n, size_t *pos)
{
    const char *colon = memchr(e + *pos, ':', n - *pos);
    size_t end = colon == NULL ? n : (size_t)(colon - e);

    if (!parse_port(e + *pos, end - *pos)) {
        return false;
    }
    *pos = end;
    return true;
}

static bool take_colon(const char *e, size_t n, size_t *pos)
{
    if (*pos >= n || e[*pos] != ':') {
        return false;
    }
    (*pos)++;
    return true;
}

static bool valid_entry(const char *e, size_t n)
{
    size_t pos = 0;

    return n > 0 && take_host(e, n, &pos) && take_colon(e, n, &pos) && take_port(e, n, &pos) &&
           take_colon(e, n, &pos) && take_host(e, n, &pos) && take_colon(e, n, &pos) &&
           take_port(e, n, &pos) && pos == n;
}

shd_result shd_http_connect_to_validate(const char *spec, size_t *ret_count)
{
    size_t count = 0;

    SHD_ENSURE_REF(ret_count);
    if (spec == NULL || *spec == '\0') {
        *ret_count = 0;
        return SHD_OK;
    }
    size_t total = strnlen(spec, SHD_HTTP_CONNECT_TO_MAX_LEN + 1);
    SHD_ENSURE_MSG(total <= SHD_HTTP_CONNECT_TO_MAX_LEN, SHD_ERR_CONFIG,
                   "connect-to list longer than %u bytes", SHD_HTTP_CONNECT_TO_MAX_LEN);
    for (size_t start = 0; start <= total;) {
        const char *comma = memchr(spec + start, ',', total - start);
        size_t end = comma == NULL ? total : (size_t)(comma - spec);

        count++;
        SHD_ENSURE_MSG(count <= SHD_HTTP_CONNECT_TO_MAX_ENTRIES, SHD_ERR_CONFIG,
                       "connect-to list has more than %u entries", SHD_HTTP_CONNECT_TO_MAX_ENTRIES);
        /* The entry is quoted by position, not by content: the string may come from an
         * environment variable we should not echo in full. */
        SHD_ENSURE_MSG(valid_entry(spec + start, end - start), SHD_ERR_CONFIG,
                       "connect-to entry %zu is not HOST:PORT:CONNECT-HOST:CONNECT-PORT", count);
        start = end + 1;
    }
    *ret_count = count;
    return SHD_OK;
}

/* ---- reason phrases (the texts Go's net/http uses, which the sidecar's errors quote) ---- */

struct status_row {
    int status;
    const char *text;
};

static const struct status_row status_rows[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Entity"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *shd_http_status_text(int status)
{
    for (size_t i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++) {
        if (status_rows[i].status == status) {
            return status_rows[i].text;
        }
    }
    return "";
}

/* ---- JSON string escaping ---- */

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when it is not valid (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f)) {
            return 0; /* overlong, or a UTF-16 surrogate */
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

shd_result shd_http_json_escape(const char *s, char **ret_escaped)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;

    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret_escaped);
    size_t in = strlen(s);
    size_t cap = 0;
    /* Worst case: every byte becomes "\u00XX" (6) or U+FFFD (3 bytes). */
    SHD_GUARD(shd_mul_overflow(in, 6, &cap));
    SHD_GUARD(shd_add_overflow(cap, 1, &cap));
    char *out = shd_alloc(cap);
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    size_t o = 0;

    for (size_t i = 0; i < in;) {
        unsigned char c = p[i];
        size_t n = utf8_seq_len(p + i);

        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : (c == '\r' ? 'r' : 't');
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0x0f];
        } else if (n == 0) {
            /* Invalid UTF-8 would make the whole document invalid JSON: replace the byte. */
            out[o++] = (char)0xef;
            out[o++] = (char)0xbf;
            out[o++] = (char)0xbd;
            i++;
            continue;
        } else {
            shd_memcpy(out + o, p + i, n);
            o += n;
            i += n;
            continue;
        }
        i++;
    }
    out[o] = '\0';
    *ret_escaped = out;
    return SHD_OK;
}
