/*
 * util.c - RFC 3339 time stamps (util.h).
 */
#include "util.h"

#include <stdbool.h>
#include <string.h>

#include "shd/errors.h"
#include "shd/safety.h"

/* n decimal digits at s into *ret. */
static bool digits(const char *s, size_t n, int64_t *ret)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2 ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

shd_result wif_rfc3339_parse(const char *s, int64_t *ret)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    /* YYYY-MM-DDTHH:MM:SS */
    size_t len = strlen(s);
    SHD_ENSURE_MSG(len >= 20 && len <= 40, SHD_ERR_INPUT, "malformed RFC 3339 time");
    int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    bool ok = digits(s, 4, &y) && s[4] == '-' && digits(s + 5, 2, &mo) && s[7] == '-' &&
              digits(s + 8, 2, &d) && (s[10] == 'T' || s[10] == 't') && digits(s + 11, 2, &h) &&
              s[13] == ':' && digits(s + 14, 2, &mi) && s[16] == ':' && digits(s + 17, 2, &sec);
    SHD_ENSURE_MSG(ok, SHD_ERR_INPUT, "malformed RFC 3339 time");
    static const int8_t mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    SHD_ENSURE_MSG(mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] && h <= 23 && mi <= 59 &&
                       sec <= 60,
                   SHD_ERR_INPUT, "RFC 3339 time out of range");
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        SHD_ENSURE_MSG(i > start, SHD_ERR_INPUT, "malformed RFC 3339 time");
    }
    SHD_ENSURE_MSG((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0', SHD_ERR_INPUT,
                   "RFC 3339 time must be UTC (Z)");
    *ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return SHD_OK;
}
