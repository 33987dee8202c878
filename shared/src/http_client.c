/*
 * http_client.c - the libcurl side of the HTTP client: options, one easy handle per attempt,
 * bounded body and header capture, and the retry loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "http_int.h"

struct shd_http_client {
    char *ca_file;     /* NULL: libcurl's default trust store */
    char *unix_socket; /* NULL: TCP */
    char *user_agent;  /* NULL: none */
    struct curl_slist *connect_to;
    uint32_t connect_timeout_ms;
    uint32_t timeout_ms;
    size_t max_response_bytes;
    struct shd_http_retry_policy retry;
    struct shd_http_client_hooks hooks;
};

SHD_DEFINE_CLEANUP(struct shd_http_response, shd_http_response_free, response_freep)

/* ---- options ---- */

static void slist_free_wipe(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l != NULL; l = l->next) {
        shd_memzero(l->data, strlen(l->data));
    }
    curl_slist_free_all(list);
}

SHD_DEFINE_CLEANUP(struct curl_slist, slist_free_wipe, slist_freep)

void shd_http_client_free(struct shd_http_client *client)
{
    if (client == NULL) {
        return;
    }
    shd_free(client->ca_file);
    shd_free(client->unix_socket);
    shd_free(client->user_agent);
    curl_slist_free_all(client->connect_to);
    shd_free(client);
    curl_global_cleanup();
}

SHD_DEFINE_CLEANUP(struct shd_http_client, shd_http_client_free, client_freep)

static shd_result connect_to_build(const char *spec, struct curl_slist **ret_list)
{
    size_t count = 0;

    SHD_GUARD(shd_http_connect_to_validate(spec, &count));
    SHD_CLEANUP(slist_freep) struct curl_slist *list = NULL;
    for (const char *p = spec; count > 0; count--) {
        const char *comma = strchr(p, ',');
        size_t len = comma == NULL ? strlen(p) : (size_t)(comma - p);
        SHD_CLEANUP_FREE char *entry = shd_strndup(p, len);

        SHD_ENSURE(entry != NULL, SHD_ERR_NOMEM);
        struct curl_slist *next = curl_slist_append(list, entry);
        SHD_ENSURE(next != NULL, SHD_ERR_NOMEM);
        list = next;
        p = comma == NULL ? p + len : comma + 1;
    }
    *ret_list = SHD_TAKE_PTR(list);
    return SHD_OK;
}

static shd_result dup_opt(const char *s, char **ret)
{
    if (s == NULL || *s == '\0') {
        *ret = NULL;
        return SHD_OK;
    }
    *ret = shd_strdup(s);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result ca_file_check(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int e = errno;
        shd_result r = shd_error_set_errno(SHD_ERR_CONFIG, e, __FILE__, __LINE__);

        shd_error_wrap("CA bundle %s", path);
        return r;
    }
    (void)close(fd);
    return SHD_OK;
}

shd_result shd_http_client_create(const struct shd_http_client_options *opts,
                                  struct shd_http_client **ret_client)
{
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ret_client);
    const struct shd_http_retry_policy *rp = &opts->retry;
    SHD_ENSURE_MSG(rp->max_attempts <= SHD_HTTP_RETRY_MAX_ATTEMPTS, SHD_ERR_CONFIG,
                   "retry max_attempts %u over %u", rp->max_attempts, SHD_HTTP_RETRY_MAX_ATTEMPTS);
    SHD_ENSURE_MSG(rp->base_delay_ms <= rp->max_delay_ms, SHD_ERR_CONFIG,
                   "retry base delay %u ms over max delay %u ms", rp->base_delay_ms,
                   rp->max_delay_ms);
    if (opts->unix_socket_path != NULL) {
        struct sockaddr_un sa;

        SHD_ENSURE_MSG(strlen(opts->unix_socket_path) < sizeof(sa.sun_path), SHD_ERR_CONFIG,
                       "unix socket path too long");
    }
    SHD_ENSURE_MSG(opts->user_agent == NULL || shd_http_is_field_value(opts->user_agent),
                   SHD_ERR_CONFIG, "user agent has control characters");
    SHD_ENSURE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, SHD_ERR_INTERNAL);
    SHD_CLEANUP(client_freep) struct shd_http_client *c = shd_alloc(sizeof(*c));
    if (c == NULL) {
        curl_global_cleanup();
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    const char *ca = opts->ca_file;
    if (ca == NULL || *ca == '\0') {
        /* STYLE.md rule 33: secure_getenv, so a setuid context cannot be pointed elsewhere. */
        ca = secure_getenv("SSL_CERT_FILE");
    }
    if (ca != NULL && *ca != '\0') {
        SHD_GUARD(ca_file_check(ca));
        SHD_GUARD(dup_opt(ca, &c->ca_file));
    }
    SHD_GUARD(dup_opt(opts->unix_socket_path, &c->unix_socket));
    SHD_GUARD(dup_opt(opts->user_agent, &c->user_agent));
    SHD_GUARD(connect_to_build(opts->connect_to, &c->connect_to));
    c->connect_timeout_ms = opts->connect_timeout_ms != 0
                                ? opts->connect_timeout_ms
                                : SHD_HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : SHD_HTTP_CLIENT_DEFAULT_TIMEOUT_MS;
    c->max_response_bytes = opts->max_response_bytes != 0
                                ? opts->max_response_bytes
                                : SHD_HTTP_CLIENT_DEFAULT_MAX_RESPONSE_BYTES;
    c->retry = *rp;
    if (c->retry.max_attempts == 0) {
        c->retry.max_attempts = 1;
    }
    if (opts->hooks != NULL) {
        c->hooks = *opts->hooks;
    }
    *ret_client = SHD_TAKE_PTR(c);
    return SHD_OK;
}

/* ---- one attempt ---- */

/* The URL as it may appear in an error: no query, fragment or user info. */
static void url_for_errors(const char *url, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *clean = NULL;

    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK) {
        (void)snprintf(out, n, "%s", clean);
    } else {
        (void)snprintf(out, n, "<invalid url>");
    }
    curl_free(clean);
    curl_url_cleanup(u);
}

/* Maps a libcurl failure to our code; *ret_retryable says whether a transport retry may help. */
static int curl_code_map(CURLcode cc, bool *ret_retryable)
{
    *ret_retryable = false;
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        *ret_retryable = true;
        return SHD_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        *ret_retryable = true;
        return SHD_ERR_TIMEOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
        *ret_retryable = true;
        return SHD_ERR_IO;
    case CURLE_SSL_CONNECT_ERROR:
        /* A failed handshake (protocol mismatch, no shared cipher) is a configuration problem,
         * not a transient one. */
        return SHD_ERR_CONNECT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return SHD_ERR_BAD_CERT;
    case CURLE_FILESIZE_EXCEEDED:
        return SHD_ERR_TOO_LARGE;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return SHD_ERR_USAGE;
    case CURLE_OUT_OF_MEMORY:
        return SHD_ERR_NOMEM;
    default:
        return SHD_ERR_IO;
    }
}

static shd_result headers_build(const struct shd_http_request *req, struct curl_slist **ret)
{
    SHD_CLEANUP(slist_freep) struct curl_slist *list = NULL;
    bool has_content_type = false;

    for (size_t i = 0; i < req->nheaders; i++) {
        const struct shd_http_header *h = &req->headers[i];

        SHD_ENSURE_MSG(shd_http_is_token(h->name), SHD_ERR_USAGE, "request header %zu name", i);
        /* Never quote the value: it may be a bearer token. */
        SHD_ENSURE_MSG(shd_http_is_field_value(h->value), SHD_ERR_USAGE,
                       "request header %s has control characters", h->name);
        has_content_type = has_content_type || shd_http_ascii_ieq(h->name, "Content-Type");
        size_t nlen = strlen(h->name);
        size_t vlen = strlen(h->value);
        size_t len = 0;
        SHD_GUARD(shd_add_overflow(nlen, vlen, &len));
        SHD_GUARD(shd_add_overflow(len, 3, &len));
        char *line = shd_alloc(len);
        SHD_ENSURE(line != NULL, SHD_ERR_NOMEM);
        /* "Name: value", or "Name;" which is libcurl's spelling of an empty value. */
        shd_memcpy(line, h->name, nlen);
        if (vlen == 0) {
            line[nlen] = ';';
        } else {
            line[nlen] = ':';
            line[nlen + 1] = ' ';
            shd_memcpy(line + nlen + 2, h->value, vlen);
        }
        struct curl_slist *next = curl_slist_append(list, line);
        shd_free_wipe(line, len);
        SHD_ENSURE(next != NULL, SHD_ERR_NOMEM);
        list = next;
    }
    /* No "Expect: 100-continue" round trip, and no form Content-Type nobody asked for. */
    static const char *const removals[] = {"Expect:", "Content-Type:"};
    for (size_t i = 0; i < 2; i++) {
        if (i == 1 && has_content_type) {
            continue;
        }
        struct curl_slist *next = curl_slist_append(list, removals[i]);
        SHD_ENSURE(next != NULL, SHD_ERR_NOMEM);
        list = next;
    }
    *ret = SHD_TAKE_PTR(list);
    return SHD_OK;
}

static shd_result method_apply(const struct shd_http_request *req, CURL *h)
{
    static const uint8_t empty[1] = {0};
    const void *body = req->body != NULL ? (const void *)req->body : (const void *)empty;
    bool is_get = strcmp(req->method, "GET") == 0;
    bool is_head = strcmp(req->method, "HEAD") == 0;

    SHD_ENSURE_MSG(shd_http_is_token(req->method) && strlen(req->method) <= 16, SHD_ERR_USAGE,
                   "invalid method");
    SHD_ENSURE_MSG(!(is_get || is_head) || req->body_len == 0, SHD_ERR_USAGE,
                   "%s request with a body", req->method);
    if (is_get) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L), SHD_ERR_INTERNAL);
        return SHD_OK;
    }
    if (is_head) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_NOBODY, 1L), SHD_ERR_INTERNAL);
        return SHD_OK;
    }
    bool sends_body = req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
                      strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
    if (sends_body) {
        /* POSTFIELDS points at the caller's bytes (no copy of a possibly secret body). */
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len),
                       SHD_ERR_INTERNAL);
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_POSTFIELDS, body), SHD_ERR_INTERNAL);
    }
    if (strcmp(req->method, "POST") != 0) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method), SHD_ERR_INTERNAL);
    }
    return SHD_OK;
}

static shd_result handle_setup(const struct shd_http_client *c, const struct shd_http_request *req,
                               const struct curl_slist *headers, struct shd_http_xfer *x,
                               char *errbuf, CURL *h)
{
    /* Verification is on, always: these two lines have no switch around them on purpose. */
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2),
                   SHD_ERR_INTERNAL);
    if (c->ca_file != NULL) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file), SHD_ERR_INTERNAL);
        /* Without this, the system CA directory would still be trusted next to the bundle. */
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CAPATH, NULL), SHD_ERR_INTERNAL);
    }
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
                   SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L), SHD_ERR_INTERNAL);
    /* An empty proxy string disables the proxy environment variables. */
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_PROXY, ""), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms),
                   SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes),
        SHD_ERR_INTERNAL);
    if (c->connect_to != NULL) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to), SHD_ERR_INTERNAL);
    }
    if (c->unix_socket != NULL) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket),
                       SHD_ERR_INTERNAL);
    }
    if (c->user_agent != NULL) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent), SHD_ERR_INTERNAL);
    }
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_URL, req->url), SHD_ERR_USAGE);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, shd_http_response_on_body),
                   SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_WRITEDATA, x), SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, shd_http_response_on_header),
                   SHD_ERR_INTERNAL);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HEADERDATA, x), SHD_ERR_INTERNAL);
    SHD_GUARD(method_apply(req, h));
    return SHD_OK;
}

SHD_DEFINE_CLEANUP(CURL, curl_easy_cleanup, easy_freep)

/*
 * One attempt. SHD_OK with a response whatever its status; an error for transport failures,
 * with *ret_retryable telling whether the policy's on_transport applies.
 */
static shd_result attempt_once(const struct shd_http_client *c, const struct shd_http_request *req,
                               const struct curl_slist *headers, const char *url_shown,
                               struct shd_http_response **ret_resp, bool *ret_retryable)
{
    char errbuf[CURL_ERROR_SIZE] = {0};
    SHD_CLEANUP(response_freep) struct shd_http_response *resp = shd_http_response_new();
    SHD_CLEANUP(easy_freep) CURL *h = curl_easy_init();

    *ret_retryable = false;
    SHD_ENSURE(resp != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(h != NULL, SHD_ERR_NOMEM);
    struct shd_http_xfer x = {.resp = resp, .max_body = c->max_response_bytes};
    SHD_GUARD(handle_setup(c, req, headers, &x, errbuf, h));
    CURLcode cc = curl_easy_perform(h);
    if (x.nomem) {
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    if (x.body_too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        shd_error_setf(SHD_ERR_TOO_LARGE, __FILE__, __LINE__,
                       "%s %s: response body larger than %zu bytes", req->method, url_shown,
                       c->max_response_bytes);
        shd_error_set_foreign(SHD_FOREIGN_CURL, (unsigned long)cc);
        return (shd_result){.err = SHD_ERR_TOO_LARGE};
    }
    if (x.headers_too_large) {
        shd_error_setf(SHD_ERR_TOO_LARGE, __FILE__, __LINE__,
                       "%s %s: response headers over the limit", req->method, url_shown);
        shd_error_set_foreign(SHD_FOREIGN_CURL, (unsigned long)cc);
        return (shd_result){.err = SHD_ERR_TOO_LARGE};
    }
    if (cc != CURLE_OK) {
        int code = curl_code_map(cc, ret_retryable);

        shd_error_setf(code, __FILE__, __LINE__, "%s %s: %s", req->method, url_shown,
                       errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        shd_error_set_foreign(SHD_FOREIGN_CURL, (unsigned long)cc);
        return (shd_result){.err = code};
    }
    long status = 0;
    SHD_GUARD_CURL(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), SHD_ERR_INTERNAL);
    SHD_ENSURE_MSG(status >= 100 && status <= 599, SHD_ERR_INPUT, "%s %s: invalid http status %ld",
                   req->method, url_shown, status);
    resp->status = (int)status;
    *ret_resp = SHD_TAKE_PTR(resp);
    return SHD_OK;
}

/* ---- the retry loop ---- */

static void sleep_ms(const struct shd_http_client *c, uint32_t ms)
{
    if (c->hooks.sleep_ms != NULL) {
        c->hooks.sleep_ms(c->hooks.ctx, ms);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static uint32_t random_u32(const struct shd_http_client *c)
{
    uint32_t v = 0;

    if (c->hooks.random_u32 != NULL) {
        return c->hooks.random_u32(c->hooks.ctx);
    }
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
        return UINT32_MAX; /* no jitter rather than no delay */
    }
    return v;
}

static time_t now_s(const struct shd_http_client *c)
{
    return c->hooks.now != NULL ? c->hooks.now(c->hooks.ctx) : time(NULL);
}

static uint32_t retry_delay(const struct shd_http_client *c, const struct shd_http_response *resp,
                            unsigned retry)
{
    uint64_t after = 0;

    if (resp != NULL && (resp->status == 429 || resp->status == 503) &&
        shd_http_retry_after_parse(shd_http_response_header(resp, "Retry-After"), now_s(c),
                                   &after)) {
        return after > c->retry.max_delay_ms ? c->retry.max_delay_ms : (uint32_t)after;
    }
    return shd_http_retry_backoff_ms(&c->retry, retry, random_u32(c));
}

/*
 * Re-records the last transport error as SHD_ERR_RETRY_EXHAUSTED: the chain so far becomes the
 * root text (it names the transport failure), the curl code stays attached as foreign code.
 */
static shd_result exhausted_transport(unsigned attempts)
{
    char cause[SHD_ERROR_FRAME_LEN];
    unsigned long foreign = 0;
    enum shd_foreign_kind kind = shd_error_foreign(&foreign);

    (void)shd_error_render(cause, sizeof(cause));
    shd_result r = shd_error_setf(SHD_ERR_RETRY_EXHAUSTED, __FILE__, __LINE__, "%s", cause);
    shd_error_set_foreign(kind, foreign);
    shd_error_wrap("giving up after %u attempts", attempts);
    return r;
}

shd_result shd_http_client_do(const struct shd_http_client *client,
                              const struct shd_http_request *req,
                              struct shd_http_response **ret_resp,
                              struct shd_http_response **reterr_resp)
{
    char url_shown[512];

    SHD_ENSURE_REF(client);
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(req->method);
    SHD_ENSURE_REF(req->url);
    SHD_ENSURE_REF(ret_resp);
    SHD_ENSURE(req->body != NULL || req->body_len == 0, SHD_ERR_NULL);
    SHD_ENSURE(req->headers != NULL || req->nheaders == 0, SHD_ERR_NULL);
    url_for_errors(req->url, url_shown, sizeof(url_shown));
    SHD_CLEANUP(slist_freep) struct curl_slist *headers = NULL;
    SHD_GUARD(headers_build(req, &headers));

    /* With a single attempt nothing is retried: statuses are data, transport errors keep
     * their own code. */
    const unsigned max = client->retry.max_attempts;
    for (unsigned attempt = 1;; attempt++) {
        SHD_CLEANUP(response_freep) struct shd_http_response *resp = NULL;
        bool transport_retry = false;
        shd_result r = attempt_once(client, req, headers, url_shown, &resp, &transport_retry);

        if (shd_is_err(r)) {
            if (max <= 1 || !transport_retry || !client->retry.on_transport) {
                return r;
            }
            if (attempt >= max) {
                return exhausted_transport(attempt);
            }
        } else {
            resp->attempts = attempt;
            if (max <= 1 || !shd_http_retry_status(&client->retry, resp->status)) {
                *ret_resp = SHD_TAKE_PTR(resp);
                return SHD_OK;
            }
            if (attempt >= max) {
                shd_error_setf(SHD_ERR_RETRY_EXHAUSTED, __FILE__, __LINE__,
                               "%s %s: http response status %d %s", req->method, url_shown,
                               resp->status, shd_http_status_text(resp->status));
                shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)resp->status);
                shd_error_wrap("giving up after %u attempts", attempt);
                if (reterr_resp != NULL) {
                    *reterr_resp = SHD_TAKE_PTR(resp);
                }
                return (shd_result){.err = SHD_ERR_RETRY_EXHAUSTED};
            }
        }
        sleep_ms(client, retry_delay(client, resp, attempt));
    }
}
