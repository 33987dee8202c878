/*
 * http_client.h - an HTTP(S) client on libcurl with hard limits, bounded retries and no way to
 * switch certificate verification off.
 *
 * One client holds immutable settings (trust anchors, connect-to mapping, timeouts, caps, retry
 * policy). Every request runs on its own curl easy handle, so one client may be used by several
 * threads at once (STYLE.md rule 32: a CURL * is never shared between concurrent callers).
 *
 * Security properties, fixed and not configurable:
 * - TLS peer and host-name verification are always on (CURLOPT_SSL_VERIFYPEER=1,
 *   CURLOPT_SSL_VERIFYHOST=2), TLS 1.2 at least. Tests reach emulators through a test CA
 *   (ca_file / SSL_CERT_FILE) and the connect-to mapping, never through an "insecure" switch.
 * - Only http and https; redirects are never followed (a 3xx comes back as data).
 * - Proxy environment variables (http_proxy, ...) are ignored: requests go where the URL and the
 *   connect-to mapping say, nowhere else.
 * - Response bodies and headers live in buffers wiped when freed (they may hold tokens or
 *   released keys). Request bodies are sent from the caller's buffer without a copy; request
 *   header lines are wiped before they are freed. Nothing here logs bodies or header values.
 *   (libcurl's own internal send buffers are outside our control and are not wiped.)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shd/result.h"

struct shd_http_client;
struct shd_http_response;

/* Defaults applied when an option is 0 / NULL. */
#define SHD_HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define SHD_HTTP_CLIENT_DEFAULT_TIMEOUT_MS 30000u
#define SHD_HTTP_CLIENT_DEFAULT_MAX_RESPONSE_BYTES ((size_t)1 << 20)
/* Hard caps on response headers (all lines together, and their number). */
#define SHD_HTTP_CLIENT_MAX_HEADER_BYTES ((size_t)64 * 1024)
#define SHD_HTTP_CLIENT_MAX_HEADERS 128u
/* Bounds on the connect-to list: entries, and bytes of the whole string. */
#define SHD_HTTP_CONNECT_TO_MAX_ENTRIES 64u
#define SHD_HTTP_CONNECT_TO_MAX_LEN 4096u
/* Bound on max_attempts (a policy asking for more is a configuration error). */
#define SHD_HTTP_RETRY_MAX_ATTEMPTS 16u

/*
 * When to try again. An attempt is retried when it failed in one of the enabled ways and
 * attempts remain. The delay before retry k (k = 1, 2, ...) is "full jitter" exponential backoff:
 * a uniform random value in [0, min(max_delay_ms, base_delay_ms * 2^(k-1))]. A 429 or 503 that
 * carries Retry-After (delta-seconds or an HTTP-date, RFC 9110 section 10.2.3) waits that long
 * instead, capped at max_delay_ms.
 */
struct shd_http_retry_policy {
    unsigned max_attempts;  /* total attempts including the first; 0 and 1 mean no retry */
    uint32_t base_delay_ms; /* first backoff cap */
    uint32_t max_delay_ms;  /* cap of every delay, Retry-After included */
    bool on_transport;      /* connect failures, timeouts, resets, empty replies */
    bool on_408;            /* 408 Request Timeout */
    bool on_429;            /* 429 Too Many Requests */
    bool on_5xx;            /* 500..599 */
};

/* No retries at all. Brace initialisers, usable in static and automatic initialisers. */
#define SHD_HTTP_RETRY_NONE                                                                        \
    {                                                                                              \
        .max_attempts = 1                                                                          \
    }

/* A sensible policy for cloud control planes: 4 attempts, 250 ms .. 8 s. */
#define SHD_HTTP_RETRY_DEFAULT                                                                     \
    {                                                                                              \
        .max_attempts = 4, .base_delay_ms = 250, .max_delay_ms = 8000, .on_transport = true,       \
        .on_408 = true, .on_429 = true, .on_5xx = true                                             \
    }

/*
 * Test hooks (tests/ only; production leaves the pointer NULL). Each function pointer may be NULL
 * to keep the real behaviour: sleep_ms = nanosleep, random_u32 = getrandom(2), now = time(2).
 * The functions must be thread-safe if the client is used from several threads.
 */
struct shd_http_client_hooks {
    void (*sleep_ms)(void *ctx, uint32_t ms);
    uint32_t (*random_u32)(void *ctx);
    time_t (*now)(void *ctx);
    void *ctx;
};

struct shd_http_client_options {
    /* PEM bundle of trust anchors, the only ones trusted (the system CA path is dropped).
     * NULL: secure_getenv("SSL_CERT_FILE") when set and non-empty, else libcurl's default. */
    const char *ca_file;
    /* "HOST:PORT:CONNECT-HOST:CONNECT-PORT[,...]" (CURLOPT_CONNECT_TO syntax; an empty HOST or
     * PORT matches any; IPv6 literals in brackets). NULL or "" for none. Validated at create. */
    const char *connect_to;
    /* Connect to this Unix-domain socket instead of TCP (the URL host then only fills Host). */
    const char *unix_socket_path;
    uint32_t connect_timeout_ms; /* per attempt; 0: SHD_HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS */
    uint32_t timeout_ms;         /* whole attempt; 0: SHD_HTTP_CLIENT_DEFAULT_TIMEOUT_MS */
    size_t max_response_bytes;   /* body cap; 0: SHD_HTTP_CLIENT_DEFAULT_MAX_RESPONSE_BYTES */
    const char *user_agent;      /* NULL: no User-Agent header */
    struct shd_http_retry_policy retry;        /* zero-initialised = no retries */
    const struct shd_http_client_hooks *hooks; /* NULL in production */
};

/* One request header. Values may be credentials: they are never logged. */
struct shd_http_header {
    const char *name;
    const char *value;
};

/*
 * A request. method is an upper-case token ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD").
 * body (may hold secrets) is sent as is and must stay valid during the call; a body with a method
 * other than GET/HEAD is sent with Content-Length (also when body_len is 0 for POST/PUT/PATCH).
 * Without a Content-Type header in `headers`, none is sent (libcurl's form default is removed).
 */
struct shd_http_request {
    const char *method;
    const char *url;
    const struct shd_http_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
};

/*
 * Checks a connect-to string ("" and NULL are valid and give 0 entries) and counts its entries.
 * Rules per entry: exactly four ':'-separated fields (an IPv6 host in brackets); HOST and
 * CONNECT-HOST empty, a DNS name ([A-Za-z0-9-.], labels 1..63, at most 253 bytes) or an IP
 * literal; PORT and CONNECT-PORT empty or a decimal 1..65535. No spaces, no empty entries.
 * SHD_ERR_CONFIG with a message naming the bad entry; *ret_count written only on success.
 */
SHD_RESULT shd_http_connect_to_validate(const char *spec, size_t *ret_count);

/*
 * Creates a client. Validates every option (SHD_ERR_CONFIG: malformed connect-to, retry policy
 * over SHD_HTTP_RETRY_MAX_ATTEMPTS, base > max delay, unreadable ca_file) and copies what it
 * keeps, so opts and its strings may be freed afterwards. *ret_client written only on success;
 * free with shd_http_client_free.
 */
SHD_RESULT shd_http_client_create(const struct shd_http_client_options *opts,
                                  struct shd_http_client **ret_client);

/* Frees a client (NULL is fine). No request may be running on it. */
void shd_http_client_free(struct shd_http_client *client);

/*
 * Performs a request with the client's retry policy.
 *
 * SHD_OK: an HTTP response arrived whose status is final under the policy - any 2xx, 3xx, 4xx or
 *   5xx that the policy does not retry. Non-2xx statuses are data: the caller decides (and can
 *   quote the body). *ret_resp receives the response (free with shd_http_response_free).
 *
 * Errors (*ret_resp untouched):
 * - SHD_ERR_RETRY_EXHAUSTED (only with max_attempts > 1; with a single attempt a status is
 *   always data and a transport failure keeps its own code): every attempt failed retryably.
 *   The cause chain reads
 *   "giving up after N attempts: POST https://host/path: http response status 503 Service
 *   Unavailable" or "...: <curl transport error>". When the last attempt got a response
 *   (status case) and reterr_resp is not NULL, *reterr_resp receives that last response, so
 *   the caller can show the upstream body; otherwise *reterr_resp is untouched.
 * - Without retries (or for non-retryable failures): SHD_ERR_CONNECT (refused, unresolvable,
 *   TLS handshake failure), SHD_ERR_TIMEOUT, SHD_ERR_BAD_CERT (peer verification or unusable CA
 *   file), SHD_ERR_TOO_LARGE (body over max_response_bytes or headers over the caps; the
 *   transfer is aborted, never retried), SHD_ERR_USAGE (bad URL, unsupported scheme or method),
 *   SHD_ERR_IO (other transport failures), SHD_ERR_NOMEM. The libcurl code is attached as the
 *   foreign code; the chain names method and URL without its query string (queries can carry
 *   signatures).
 */
SHD_RESULT shd_http_client_do(const struct shd_http_client *client,
                              const struct shd_http_request *req,
                              struct shd_http_response **ret_resp,
                              struct shd_http_response **reterr_resp);

/* HTTP status of the response (100..599). */
int shd_http_response_status(const struct shd_http_response *resp);

/*
 * The body: a pointer valid until shd_http_response_free, always followed by a NUL (not counted
 * in *ret_len), so JSON/text parsers can use it directly. Never NULL (an empty body is "").
 * ret_len may be NULL.
 */
const uint8_t *shd_http_response_body(const struct shd_http_response *resp, size_t *ret_len);

/*
 * Value of the first response header called name (case-insensitive), leading and trailing
 * white space removed; NULL when absent. Valid until shd_http_response_free. Only headers of the
 * final response are kept (not those of a 100 Continue).
 */
const char *shd_http_response_header(const struct shd_http_response *resp, const char *name);

/* Number of attempts it took to get this response (1 when there was no retry). */
unsigned shd_http_response_attempts(const struct shd_http_response *resp);

/* Wipes body and headers, then frees the response. NULL is fine. */
void shd_http_response_free(struct shd_http_response *resp);

/* Reason phrase of a status as Go's http.StatusText gives it ("Forbidden"); "" if unknown. */
const char *shd_http_status_text(int status);
