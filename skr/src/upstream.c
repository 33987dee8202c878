/*
 * upstream.c - upstream HTTP calls with the original sidecar's error texts (upstream.h).
 */
#include "upstream.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* Go's http.NewRequest method names as url.Error prints them ("Post", "Get"). */
static const char *go_method_name(const char *method)
{
    static const struct {
        const char *http;
        const char *go;
    } names[] = {
        {"GET", "Get"},       {"POST", "Post"},   {"PUT", "Put"},
        {"DELETE", "Delete"}, {"PATCH", "Patch"}, {"HEAD", "Head"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(method, names[i].http) == 0) {
            return names[i].go;
        }
    }
    return method;
}

/*
 * Re-records the current transport error as `HTTP GET failed: <Method> "<url>": <cause>`. The
 * client names the request as "<METHOD> <url without query>: " inside its chain; that part is cut
 * out so the URL appears once, in Go's url.Error form, with its (non-secret) query.
 */
static shd_result transport_error(shd_result r, const struct shd_http_request *req)
{
    char chain[SHD_ERROR_FRAME_LEN];
    char needle[SHD_ERROR_FRAME_LEN];
    unsigned long foreign = 0;
    enum shd_foreign_kind kind = shd_error_foreign(&foreign);

    (void)shd_error_render(chain, sizeof(chain));
    size_t url_len = strcspn(req->url, "?#");
    int w = snprintf(needle, sizeof(needle), "%s %.*s: ", req->method, (int)url_len, req->url);
    if (w > 0 && (size_t)w < sizeof(needle)) {
        char *at = strstr(chain, needle);
        if (at != NULL) {
            size_t nlen = (size_t)w;
            shd_memmove(at, at + nlen, strlen(at + nlen) + 1);
        }
    }
    (void)shd_error_setf(r.err, __FILE__, __LINE__, "%s", chain);
    shd_error_set_foreign(kind, foreign);
    shd_error_wrap("%s \"%s\"", go_method_name(req->method), req->url);
    shd_error_wrap("HTTP GET failed");
    return r;
}

shd_result skr_upstream_do(const struct shd_http_client *client, const struct shd_http_request *req,
                           struct shd_http_response **ret_resp)
{
    struct shd_http_response *resp = NULL;
    struct shd_http_response *last = NULL;

    SHD_ENSURE_REF(client);
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(req->method);
    SHD_ENSURE_REF(req->url);
    SHD_ENSURE_REF(ret_resp);
    shd_result r = shd_http_client_do(client, req, &resp, &last);
    if (shd_is_ok(r)) {
        *ret_resp = resp;
        return SHD_OK;
    }
    if (last != NULL) {
        /* Retries ran out on a retryable status: the last answer is what the caller quotes. */
        shd_error_clear();
        *ret_resp = last;
        return SHD_OK;
    }
    return transport_error(r, req);
}

shd_result skr_upstream_status_check(const struct shd_http_response *resp)
{
    SHD_ENSURE_REF(resp);
    int status = shd_http_response_status(resp);
    if (status >= 200 && status <= 207) {
        return SHD_OK;
    }
    const char *body = (const char *)shd_http_response_body(resp, NULL);
    shd_result r =
        shd_error_setf(SHD_ERR_HTTP_STATUS, __FILE__, __LINE__,
                       "http response status equal to %d %s", status, shd_http_status_text(status));
    shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
    shd_error_wrap("%s", body);
    return r;
}

/* One DNS label: 1..63 bytes of [A-Za-z0-9_-]. */
static bool label_ok(const char *p, size_t n)
{
    if (n == 0 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool host_ok(const char *p, size_t n)
{
    if (n == 0 || n > 253) {
        return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '.') {
            if (!label_ok(p + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

static bool port_ok(const char *p, size_t n)
{
    unsigned v = 0;

    if (n == 0 || n > 5 || p[0] == '0') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10u + (unsigned)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

shd_result skr_upstream_endpoint_check(const char *endpoint, size_t *ret_host_len)
{
    SHD_ENSURE_REF(endpoint);
    size_t n = strnlen(endpoint, SKR_UPSTREAM_ENDPOINT_MAX + 1);
    const char *colon = memchr(endpoint, ':', n);
    size_t host_len = colon != NULL ? (size_t)(colon - endpoint) : n;
    bool ok = n <= SKR_UPSTREAM_ENDPOINT_MAX && host_ok(endpoint, host_len) &&
              (colon == NULL || port_ok(colon + 1, n - host_len - 1));
    SHD_ENSURE_MSG(ok, SHD_ERR_INPUT,
                   "invalid endpoint \"%.64s\": expected a host name with an optional port",
                   endpoint);
    if (ret_host_len != NULL) {
        *ret_host_len = host_len;
    }
    return SHD_OK;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
    default:
        return "null";
    }
}

/* Go's field matching: exact name first, else the first ASCII-case-insensitive match. */
static json_t *go_field(json_t *obj, const char *name)
{
    json_t *exact = json_object_get(obj, name);
    if (exact != NULL) {
        return exact;
    }
    const char *key = NULL;
    json_t *v = NULL;
    json_object_foreach(obj, key, v)
    {
        if (strcasecmp(key, name) == 0) {
            return v;
        }
    }
    return NULL;
}

shd_result skr_upstream_json_string(const uint8_t *body, size_t len, const char *name,
                                    char **ret_value)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    const struct shd_json_limits lim = {.allow_any_root = true};

    SHD_ENSURE_REF(body);
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ret_value);
    SHD_GUARD(shd_json_parse((const char *)body, len, &lim, &doc));
    SHD_ENSURE_MSG(json_is_object(doc) || json_is_null(doc), SHD_ERR_JSON,
                   "json: cannot unmarshal %s into Go value of type struct", json_kind(doc));
    json_t *v = json_is_object(doc) ? go_field(doc, name) : NULL;
    const char *s = "";
    if (v != NULL && !json_is_null(v)) {
        SHD_ENSURE_MSG(json_is_string(v), SHD_ERR_JSON,
                       "json: cannot unmarshal %s into Go struct field .%s of type string",
                       json_kind(v), name);
        s = json_string_value(v);
    }
    char *copy = shd_strdup(s);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret_value = copy;
    return SHD_OK;
}
