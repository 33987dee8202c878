/*
 * http_int.h - internals shared by http_client.c, http_retry.c, http_util.c and http_server*.c.
 * Not a public header: the unit tests include it to reach the pure helpers directly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shd/http_client.h"
#include "shd/result.h"

/* Largest Retry-After we parse as delta-seconds (longer values are capped anyway). */
#define SHD_HTTP_RETRY_AFTER_MAX_S 86400u

/*
 * Full-jitter backoff before retry number `retry` (1 = the first retry): a value in
 * [0, min(max_delay_ms, base_delay_ms * 2^(retry-1))] picked by rnd (0 gives 0, UINT32_MAX gives
 * the cap).
 */
uint32_t shd_http_retry_backoff_ms(const struct shd_http_retry_policy *policy, unsigned retry,
                                   uint32_t rnd);

/*
 * Parses a Retry-After value (RFC 9110 section 10.2.3): delta-seconds (1*DIGIT) or an HTTP-date
 * relative to now (a date in the past gives 0). Returns false for anything else; *ret_ms is
 * written only on success and is at most SHD_HTTP_RETRY_AFTER_MAX_S * 1000.
 */
bool shd_http_retry_after_parse(const char *value, time_t now, uint64_t *ret_ms);

/* True when the policy retries this HTTP status. */
bool shd_http_retry_status(const struct shd_http_retry_policy *policy, int status);

/* True for an HTTP token (RFC 9110 section 5.6.2), e.g. a header name or a method. */
bool shd_http_is_token(const char *s);

/* True when a header value holds no CR, LF or NUL (no header injection) and no other control
 * character except horizontal tab. */
bool shd_http_is_field_value(const char *s);

/* Case-insensitive ASCII comparison of two NUL-terminated strings. */
bool shd_http_ascii_ieq(const char *a, const char *b);

/* ---- the client's response object (http_response.c) ---- */

struct shd_http_resp_field {
    char *name;
    char *value;
};

struct shd_http_response {
    int status;
    unsigned attempts;
    uint8_t *body; /* body_len bytes + NUL; body_cap bytes allocated */
    size_t body_len;
    size_t body_cap;
    struct shd_http_resp_field headers[SHD_HTTP_CLIENT_MAX_HEADERS];
    size_t nheaders;
    size_t header_bytes;
};

/* State of one transfer, reached from the libcurl callbacks. */
struct shd_http_xfer {
    struct shd_http_response *resp;
    size_t max_body;
    bool body_too_large;
    bool headers_too_large;
    bool nomem;
};

/* An empty response (body "" allocated). NULL when out of memory. */
struct shd_http_response *shd_http_response_new(void);

/* CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION with a struct shd_http_xfer as user data. */
size_t shd_http_response_on_body(char *data, size_t size, size_t nmemb, void *userdata);
size_t shd_http_response_on_header(char *data, size_t size, size_t nmemb, void *userdata);
