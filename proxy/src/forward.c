/*
 * forward.c - the workload exchange on a libcurl easy handle.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "forward.h"
#include "headers.h"
#include "proxy_log.h"

#define CONNECT_TIMEOUT_MS 10000L
#define RESPONSE_HEADER_BYTES ((size_t)64 * 1024)

struct exchange {
    struct proxy_upstream_response *resp;
    bool head; /* a HEAD answer announces a length but has no body */
    bool too_large;
    bool bad_header;
};

void proxy_upstream_response_init(const struct proxy_config *cfg,
                                  struct proxy_upstream_response *resp)
{
    *resp = (struct proxy_upstream_response){0};
    proxy_headers_init(PROXY_HEADERS_MAX_COUNT, RESPONSE_HEADER_BYTES, &resp->headers);
    shd_buf_init(cfg->max_response > 0 ? cfg->max_response : 1, SHD_BUF_SECRET, &resp->body);
}

void proxy_upstream_response_clear(struct proxy_upstream_response *resp)
{
    if (resp == NULL) {
        return;
    }
    proxy_headers_clear(&resp->headers);
    shd_buf_free(&resp->body);
    resp->status = 0;
}

void proxy_forward_slot_free(void *slot)
{
    if (slot != NULL) {
        curl_easy_cleanup((CURL *)slot);
    }
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct exchange *ex = userdata;
    size_t n = size * nmemb;

    if (shd_is_err(shd_buf_append(data, n, &ex->resp->body))) {
        shd_error_clear();
        ex->too_large = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    return n;
}

/* "HTTP/1.1 200 OK": a new status line starts a new header block (after 1xx responses). */
static bool status_line(const char *p, size_t n, unsigned *ret_status)
{
    if (n < 12 || strncmp(p, "HTTP/", 5) != 0) {
        return false;
    }
    const char *sp = memchr(p, ' ', n);
    if (sp == NULL || (size_t)(sp - p) + 4 > n) {
        return false;
    }
    unsigned v = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9') {
            return false;
        }
        v = v * 10u + (unsigned)(sp[i] - '0');
    }
    *ret_status = v;
    return true;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct exchange *ex = userdata;
    size_t n = size * nmemb;
    size_t len = n;
    unsigned status = 0;

    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n')) {
        len--;
    }
    if (status_line(data, len, &status)) {
        proxy_headers_clear(&ex->resp->headers);
        ex->resp->status = status;
        return n;
    }
    if (len == 0) {
        return n;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL) {
        return n; /* obsolete line folding or junk: ignored */
    }
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t v_len = len - name_len - 1;
    while (v_len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        v_len--;
    }
    while (v_len > 0 && (v[v_len - 1] == ' ' || v[v_len - 1] == '\t')) {
        v_len--;
    }
    if (shd_is_err(proxy_headers_add(data, name_len, v, v_len, &ex->resp->headers))) {
        shd_error_clear();
        ex->bad_header = true;
        return 0;
    }
    /* Pre-size the body buffer: one allocation, no regrowth copies. */
    if (!ex->head && name_len == 14 && strncasecmp(data, "content-length", 14) == 0 &&
        v_len > 0 && v_len < 12) {
        size_t cl = 0;
        for (size_t i = 0; i < v_len && v[i] >= '0' && v[i] <= '9'; i++) {
            cl = cl * 10u + (size_t)(v[i] - '0');
        }
        if (cl > shd_buf_max(&ex->resp->body)) {
            ex->too_large = true;
            return 0;
        }
        if (shd_is_err(shd_buf_reserve(cl, &ex->resp->body))) {
            shd_error_clear();
        }
    }
    return n;
}

/* Wipes header lines (they carry decrypted values) and frees the list. */
static void slist_free_wipe(struct curl_slist *list)
{
    for (struct curl_slist *p = list; p != NULL; p = p->next) {
        shd_memzero(p->data, strlen(p->data));
    }
    curl_slist_free_all(list);
}

static shd_result slist_add(struct curl_slist **list, const char *name, const char *value)
{
    struct shd_buf line;
    shd_buf_init(RESPONSE_HEADER_BYTES, SHD_BUF_SECRET, &line);
    /* curl: "Name:" removes a default header, "Name;" sends an empty one. */
    shd_result r = value == NULL ? shd_buf_appendf(&line, "%s:", name)
                   : value[0] == '\0' ? shd_buf_appendf(&line, "%s;", name)
                                      : shd_buf_appendf(&line, "%s: %s", name, value);
    if (shd_is_ok(r)) {
        struct curl_slist *next = curl_slist_append(*list, shd_buf_str(&line));
        if (next == NULL) {
            r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
        } else {
            *list = next;
        }
    }
    shd_buf_free(&line);
    return r;
}

static shd_result headers_build(const struct proxy_config *cfg,
                                const struct proxy_upstream_request *req,
                                struct curl_slist **ret)
{
    struct curl_slist *list = NULL;
    shd_result r = slist_add(&list, "Host", cfg->workload_host);

    for (size_t i = 0; shd_is_ok(r) && i < req->headers->n; i++) {
        r = slist_add(&list, req->headers->v[i].name, req->headers->v[i].value);
    }
    /* Remove what libcurl would add on its own: the client decides these. */
    static const char *const DEFAULTS[] = {"Accept", "Content-Type", "Expect"};
    for (size_t i = 0; shd_is_ok(r) && i < sizeof(DEFAULTS) / sizeof(DEFAULTS[0]); i++) {
        if (proxy_headers_get(req->headers, DEFAULTS[i]) == NULL) {
            r = slist_add(&list, DEFAULTS[i], NULL);
        }
    }
    if (shd_is_err(r)) {
        slist_free_wipe(list);
        return r;
    }
    *ret = list;
    return SHD_OK;
}

static bool method_has_body_semantics(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static shd_result handle_setup(const struct proxy_config *cfg,
                               const struct proxy_upstream_request *req, struct curl_slist *hdrs,
                               struct exchange *ex, CURL *h)
{
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_URL, cfg->workload_base), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_REQUEST_TARGET, req->target), SHD_ERR_USAGE);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http"), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_PROXY, ""), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_NOPROXY, "*"), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS),
                   SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->upstream_timeout_ms),
                   SHD_ERR_CONFIG);
    if (cfg->workload_unix != NULL) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cfg->workload_unix),
                       SHD_ERR_CONFIG);
    }
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HEADERDATA, ex), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body), SHD_ERR_CONFIG);
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_WRITEDATA, ex), SHD_ERR_CONFIG);
    if (strcmp(req->method, "HEAD") == 0) {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_NOBODY, 1L), SHD_ERR_CONFIG);
    } else if (req->body != NULL || method_has_body_semantics(req->method)) {
        /* Sent from our buffer without a copy; Content-Length from the size. */
        const char *body = req->body != NULL ? (const char *)req->body : "";
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_POSTFIELDS, body), SHD_ERR_CONFIG);
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                        (curl_off_t)(req->body != NULL ? req->body_len : 0)),
                       SHD_ERR_CONFIG);
    } else {
        SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L), SHD_ERR_CONFIG);
    }
    SHD_GUARD_CURL(curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method), SHD_ERR_CONFIG);
    return SHD_OK;
}

/* Node-style text of a failed connect: "connect ECONNREFUSED 127.0.0.1:8000". */
static shd_result connect_error(const struct proxy_config *cfg, CURL *h, CURLcode cc)
{
    long os_errno = 0;
    char *ip = NULL;
    long port = 0;

    (void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    (void)curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    (void)curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    const char *name = os_errno == ECONNREFUSED ? "ECONNREFUSED"
                       : os_errno == ENOENT     ? "ENOENT"
                       : os_errno == EACCES     ? "EACCES"
                       : os_errno == ETIMEDOUT  ? "ETIMEDOUT"
                                                : "ECONNREFUSED";
    shd_result r;
    if (cfg->workload_unix != NULL) {
        r = shd_error_setf(SHD_ERR_CONNECT, __FILE__, __LINE__, "connect %s %s", name,
                           cfg->workload_unix);
    } else if (ip != NULL && ip[0] != '\0') {
        r = shd_error_setf(SHD_ERR_CONNECT, __FILE__, __LINE__, "connect %s %s:%ld", name, ip,
                           port);
    } else {
        r = shd_error_setf(SHD_ERR_CONNECT, __FILE__, __LINE__, "connect %s %s", name,
                           cfg->workload_host);
    }
    shd_error_set_foreign(SHD_FOREIGN_CURL, (unsigned long)cc);
    return r;
}

static shd_result outcome(const struct proxy_config *cfg, CURL *h, CURLcode cc,
                          const struct exchange *ex)
{
    if (cc == CURLE_OK) {
        return SHD_OK;
    }
    if (ex->too_large) {
        SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "workload response over %zu bytes",
                     shd_buf_max(&ex->resp->body));
    }
    if (ex->bad_header) {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "workload sent a malformed or oversized header");
    }
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        return connect_error(cfg, h, cc);
    case CURLE_COULDNT_RESOLVE_HOST:
        return shd_error_setf(SHD_ERR_CONNECT, __FILE__, __LINE__, "getaddrinfo ENOTFOUND %s",
                              cfg->workload_host);
    case CURLE_OPERATION_TIMEDOUT:
        return shd_error_set_curl(SHD_ERR_TIMEOUT, (int)cc, __FILE__, __LINE__);
    default:
        /* Resets, empty replies, partial bodies: the ECONNRESET case of Polaris. */
        return shd_error_set_curl(SHD_ERR_IO, (int)cc, __FILE__, __LINE__);
    }
}

shd_result proxy_forward(const struct proxy_config *cfg, const struct proxy_upstream_request *req,
                         void **conn_slot, struct proxy_upstream_response *resp)
{
    SHD_ENSURE(cfg != NULL && req != NULL && resp != NULL, SHD_ERR_NULL);
    CURL *h = conn_slot != NULL ? *conn_slot : NULL;
    if (h != NULL) {
        /* Keeps the live connection and caches, drops every option. */
        curl_easy_reset(h);
    } else {
        h = curl_easy_init();
        SHD_ENSURE(h != NULL, SHD_ERR_NOMEM);
    }
    struct curl_slist *hdrs = NULL;
    struct exchange ex = {.resp = resp, .head = strcmp(req->method, "HEAD") == 0};
    shd_result r = headers_build(cfg, req, &hdrs);
    if (shd_is_ok(r)) {
        r = handle_setup(cfg, req, hdrs, &ex, h);
    }
    if (shd_is_ok(r)) {
        CURLcode cc = curl_easy_perform(h);
        r = outcome(cfg, h, cc, &ex);
    }
    /* Drop our pointers into the request before the handle outlives it. */
    (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    slist_free_wipe(hdrs);
    if (conn_slot != NULL && shd_is_ok(r)) {
        *conn_slot = h;
    } else {
        if (conn_slot != NULL) {
            *conn_slot = NULL;
        }
        curl_easy_cleanup(h);
    }
    return r;
}
