/*
 * headers.c - bounded header lists with injection checks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "headers.h"

void proxy_headers_init(size_t max_count, size_t max_bytes, struct proxy_headers *h)
{
    if (h == NULL || max_count == 0 || max_count > PROXY_HEADERS_MAX_COUNT) {
        shd_misuse("proxy_headers_init: bad bounds");
    }
    *h = (struct proxy_headers){.max_count = max_count, .max_bytes = max_bytes};
}

bool proxy_header_is_token(const char *s, size_t n)
{
    static const char EXTRA[] = "!#$%&'*+-.^_`|~";

    if (s == NULL || n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr(EXTRA, c) != NULL);
        if (!ok) {
            return false;
        }
    }
    return true;
}

shd_result proxy_headers_add(const char *name, size_t name_len, const char *value,
                             size_t value_len, struct proxy_headers *h)
{
    SHD_ENSURE(h != NULL && name != NULL && (value != NULL || value_len == 0), SHD_ERR_NULL);
    SHD_ENSURE_MSG(proxy_header_is_token(name, name_len), SHD_ERR_INPUT,
                   "a header name is not a token");
    for (size_t i = 0; i < value_len; i++) {
        SHD_ENSURE_MSG(value[i] != '\r' && value[i] != '\n' && value[i] != '\0', SHD_ERR_INPUT,
                       "a header value contains CR, LF or NUL");
    }
    SHD_ENSURE_MSG(h->n < h->max_count, SHD_ERR_TOO_LARGE, "more than %zu header fields",
                   h->max_count);
    size_t add = 0;
    SHD_GUARD(shd_add_overflow(name_len, value_len, &add));
    SHD_ENSURE_MSG(add <= h->max_bytes && h->bytes <= h->max_bytes - add, SHD_ERR_TOO_LARGE,
                   "header fields over %zu bytes", h->max_bytes);
    if (h->n == h->cap) {
        size_t cap = h->cap == 0 ? 16u : h->cap * 2u;
        if (cap > h->max_count) {
            cap = h->max_count;
        }
        struct proxy_header *v = shd_alloc_array(cap, sizeof(*v));
        SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
        shd_memcpy(v, h->v, h->n * sizeof(*v));
        shd_free(h->v);
        h->v = v;
        h->cap = cap;
    }
    char *n = shd_strndup(name, name_len);
    char *val = shd_strndup(value != NULL ? value : "", value_len);
    if (n == NULL || val == NULL) {
        shd_free(n);
        shd_free_wipe(val, val != NULL ? value_len + 1 : 0);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    h->v[h->n++] = (struct proxy_header){.name = n, .value = val};
    h->bytes += add;
    return SHD_OK;
}

const char *proxy_headers_get(const struct proxy_headers *h, const char *name)
{
    if (h == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            return h->v[i].value;
        }
    }
    return NULL;
}

void proxy_headers_clear(struct proxy_headers *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        shd_free_wipe(h->v[i].name, strlen(h->v[i].name) + 1);
        shd_free_wipe(h->v[i].value, strlen(h->v[i].value) + 1);
    }
    shd_free_wipe(h->v, h->cap * sizeof(*h->v));
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
    h->bytes = 0;
}

/* True when the comma-separated list names (case-insensitive) contains name. */
static bool list_contains(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ", \t");
        if (len == n && strncasecmp(p, name, n) == 0) {
            return true;
        }
        p += len;
    }
    return false;
}

bool proxy_header_is_hop(const char *name, const char *connection)
{
    static const char *const HOP[] = {
        "connection", "keep-alive",          "proxy-connection",    "te",   "trailer",
        "transfer-encoding", "upgrade",      "proxy-authenticate", "proxy-authorization",
        "host",       "content-length",      "expect",
    };
    for (size_t i = 0; i < sizeof(HOP) / sizeof(HOP[0]); i++) {
        if (strcasecmp(name, HOP[i]) == 0) {
            return true;
        }
    }
    return connection != NULL && list_contains(connection, name);
}
