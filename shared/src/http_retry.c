/*
 * http_retry.c - the retry arithmetic of the HTTP client: which statuses retry, full-jitter
 * exponential backoff, and Retry-After parsing. Pure functions; the loop is in http_client.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "shd/http_client.h"

#include "http_int.h"

bool shd_http_retry_status(const struct shd_http_retry_policy *policy, int status)
{
    if (status == 408) {
        return policy->on_408;
    }
    if (status == 429) {
        return policy->on_429;
    }
    if (status >= 500 && status <= 599) {
        return policy->on_5xx;
    }
    return false;
}

uint32_t shd_http_retry_backoff_ms(const struct shd_http_retry_policy *policy, unsigned retry,
                                   uint32_t rnd)
{
    uint64_t cap = policy->base_delay_ms;

    /* base * 2^(retry-1), saturating at max_delay_ms (the shift is bounded by the loop). */
    for (unsigned i = 1; i < retry && cap < policy->max_delay_ms; i++) {
        cap *= 2;
    }
    if (cap > policy->max_delay_ms) {
        cap = policy->max_delay_ms;
    }
    /* "Full jitter" (AWS architecture blog, 2015): uniform in [0, cap]. Scaling instead of a
     * modulo keeps the distribution even and maps rnd = UINT32_MAX to cap exactly. */
    return (uint32_t)(((uint64_t)rnd * (cap + 1)) >> 32);
}

static bool parse_delta_seconds(const char *s, uint64_t *ret_s)
{
    uint64_t v = 0;
    size_t n = 0;

    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        if (n >= 12) {
            return false; /* absurdly long; refuse rather than overflow */
        }
        v = v * 10u + (uint64_t)(s[n] - '0');
    }
    if (n == 0 || s[n] != '\0') {
        return false;
    }
    *ret_s = v;
    return true;
}

bool shd_http_retry_after_parse(const char *value, time_t now, uint64_t *ret_ms)
{
    uint64_t secs = 0;

    if (value == NULL || *value == '\0') {
        return false;
    }
    if (value[0] >= '0' && value[0] <= '9') {
        if (!parse_delta_seconds(value, &secs)) {
            return false;
        }
    } else {
        /* An HTTP-date (IMF-fixdate, or the obsolete RFC 850 / asctime forms that RFC 9110
         * section 5.6.7 still asks recipients to accept). curl_getdate parses all three. It
         * takes only a leading letter here: delta-seconds were handled above. */
        time_t when = curl_getdate(value, NULL);

        if (when == (time_t)-1) {
            return false;
        }
        secs = when > now ? (uint64_t)(when - now) : 0;
    }
    if (secs > SHD_HTTP_RETRY_AFTER_MAX_S) {
        secs = SHD_HTTP_RETRY_AFTER_MAX_S;
    }
    *ret_ms = secs * 1000u;
    return true;
}
