/*
 * release_policy_text.c - string helpers of the release policy evaluator: message formatting and
 * escaping, case-insensitive comparison, strict integers, authority URL normalisation.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shd/mem.h"

#include "release_policy_int.h"

/* clang-format off: one keyword per line */
const char *const aemu_rp_key_names[AEMU_RP_KEY_COUNT_] = {
    [AEMU_RP_KEY_EQUALS] = "equals",       [AEMU_RP_KEY_NOT_EQUALS] = "notEquals",
    [AEMU_RP_KEY_LESS] = "less",           [AEMU_RP_KEY_LESS_OR_EQUALS] = "lessOrEquals",
    [AEMU_RP_KEY_GREATER] = "greater",     [AEMU_RP_KEY_GREATER_OR_EQUALS] = "greaterOrEquals",
    [AEMU_RP_KEY_EXISTS] = "exists",       [AEMU_RP_KEY_CLAIM] = "claim",
    [AEMU_RP_KEY_ANY_OF] = "anyOf",        [AEMU_RP_KEY_ALL_OF] = "allOf",
    [AEMU_RP_KEY_AUTHORITY] = "authority", [AEMU_RP_KEY_VERSION] = "version",
};
/* clang-format on */

void aemu_rp_msgf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    /* Truncation is intended: messages are bounded by the verdict buffer. */
    (void)vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

const char *aemu_rp_show(const char *s, size_t len, char out[static AEMU_RP_SHOW_BUF])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '\'' && c != '\\';
        size_t need = plain ? 1 : 4;

        if (o + need > AEMU_RP_SHOW_MAX) {
            shd_memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 0x0f];
    }
    out[o] = '\0';
    return out;
}

bool aemu_rp_equal_nocase(const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len != b_len) {
        return false;
    }
    for (size_t i = 0; i < a_len; i++) {
        unsigned char x = (unsigned char)a[i];
        unsigned char y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

bool aemu_rp_parse_int(const char *s, size_t len, long long *ret)
{
    size_t i = 0;
    bool neg = false;
    unsigned long long acc = 0;

    if (len > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len || len - i > 19) {
        return false;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        /* 19 digits stay below 10^19 < 2^64: no wrap before the range check. */
        acc = acc * 10u + (unsigned long long)(s[i] - '0');
    }
    if (acc > (unsigned long long)LLONG_MAX + (neg ? 1u : 0u)) {
        return false;
    }
    if (neg) {
        *ret = acc == (unsigned long long)LLONG_MAX + 1u ? LLONG_MIN : -(long long)acc;
    } else {
        *ret = (long long)acc;
    }
    return true;
}

bool aemu_rp_url_normalize(const char *s, size_t len, char *out, size_t out_n)
{
    static const char scheme[] = "https://";
    const size_t scheme_len = sizeof(scheme) - 1;

    if (len <= scheme_len || len > AEMU_RELEASE_POLICY_MAX_URL_LEN || len >= out_n) {
        return false;
    }
    if (!aemu_rp_equal_nocase(s, scheme_len, scheme, scheme_len)) {
        return false;
    }
    bool in_host = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c <= 0x20 || c >= 0x7f || c == '@' || c == '?' || c == '#' || c == '\\') {
            return false;
        }
        if (i >= scheme_len && c == '/') {
            if (i == scheme_len) {
                return false; /* empty host */
            }
            in_host = false;
        }
        out[i] = (in_host && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (out[len - 1] == '/') {
        len--;
    }
    out[len] = '\0';
    return true;
}
