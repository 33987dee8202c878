/*
 * http_response.c - the HTTP client's response object and the libcurl callbacks that fill it
 * within the body and header caps. Body and headers are wiped when freed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shd/http_client.h"
#include "shd/mem.h"

#include "http_int.h"

/* ---- response object ---- */

static void headers_clear(struct shd_http_response *resp)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        /* Set-Cookie and friends can be credentials: wipe like the body. */
        shd_free_wipe(resp->headers[i].name, strlen(resp->headers[i].name));
        shd_free_wipe(resp->headers[i].value, strlen(resp->headers[i].value));
        resp->headers[i].name = NULL;
        resp->headers[i].value = NULL;
    }
    resp->nheaders = 0;
}

void shd_http_response_free(struct shd_http_response *resp)
{
    if (resp == NULL) {
        return;
    }
    headers_clear(resp);
    shd_free_wipe(resp->body, resp->body_cap);
    shd_free_wipe(resp, sizeof(*resp));
}

int shd_http_response_status(const struct shd_http_response *resp)
{
    return resp->status;
}

const uint8_t *shd_http_response_body(const struct shd_http_response *resp, size_t *ret_len)
{
    if (ret_len != NULL) {
        *ret_len = resp->body_len;
    }
    return resp->body;
}

const char *shd_http_response_header(const struct shd_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (shd_http_ascii_ieq(resp->headers[i].name, name)) {
            return resp->headers[i].value;
        }
    }
    return NULL;
}

unsigned shd_http_response_attempts(const struct shd_http_response *resp)
{
    return resp->attempts;
}

struct shd_http_response *shd_http_response_new(void)
{
    struct shd_http_response *resp = shd_alloc(sizeof(*resp));

    if (resp == NULL) {
        return NULL;
    }
    resp->body = shd_alloc(1);
    if (resp->body == NULL) {
        shd_free(resp);
        return NULL;
    }
    resp->body_cap = 1;
    return resp;
}

/* ---- libcurl callbacks ---- */

size_t shd_http_response_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct shd_http_xfer *x = userdata;
    struct shd_http_response *resp = x->resp;
    size_t n = size * nmemb; /* libcurl guarantees size == 1 */

    if (n > x->max_body - resp->body_len) {
        x->body_too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    size_t need = resp->body_len + n + 1;
    if (need > resp->body_cap) {
        size_t cap = resp->body_cap * 2 > need ? resp->body_cap * 2 : need;

        if (cap > x->max_body + 1) {
            cap = x->max_body + 1;
        }
        /* The body may be a secret: growing must not leave the old copy behind. */
        uint8_t *grown = shd_realloc_wipe(resp->body, resp->body_cap, cap);
        if (grown == NULL) {
            x->nomem = true;
            return 0;
        }
        resp->body = grown;
        resp->body_cap = cap;
    }
    shd_memcpy(resp->body + resp->body_len, data, n);
    resp->body_len += n;
    resp->body[resp->body_len] = '\0';
    return n;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t shd_http_response_on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct shd_http_xfer *x = userdata;
    struct shd_http_response *resp = x->resp;
    size_t n = size * nmemb;

    if (n >= 5 && shd_memcmp(data, "HTTP/", 5) == 0) {
        /* A new status line: an interim 1xx ended, keep only the final response's fields. */
        headers_clear(resp);
        resp->header_bytes = 0;
    }
    if (n > SHD_HTTP_CLIENT_MAX_HEADER_BYTES - resp->header_bytes) {
        x->headers_too_large = true;
        return 0;
    }
    resp->header_bytes += n;
    const char *colon = memchr(data, ':', n);
    if (colon == NULL || colon == data) {
        return n; /* status line, blank line, or garbage without a name: nothing to keep */
    }
    if (resp->nheaders >= SHD_HTTP_CLIENT_MAX_HEADERS) {
        x->headers_too_large = true;
        return 0;
    }
    size_t name_len = (size_t)(colon - data);
    size_t vs = name_len + 1;
    size_t ve = n;
    while (vs < ve && is_ows(data[vs])) {
        vs++;
    }
    while (ve > vs && is_ows(data[ve - 1])) {
        ve--;
    }
    char *name = shd_strndup(data, name_len);
    char *value = shd_strndup(data + vs, ve - vs);
    if (name == NULL || value == NULL) {
        shd_free(name);
        shd_free(value);
        x->nomem = true;
        return 0;
    }
    resp->headers[resp->nheaders].name = name;
    resp->headers[resp->nheaders].value = value;
    resp->nheaders++;
    return n;
}
