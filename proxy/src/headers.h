/*
 * headers.h - a bounded list of HTTP header fields (name, value) used for the client's request
 * headers, the decrypted header set, and the workload's response headers. Values may be secret
 * (decrypted headers): the list wipes them when cleared.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shd/result.h"

struct proxy_header {
    char *name;  /* as received (case kept) */
    char *value; /* no CR, LF or NUL */
};

struct proxy_headers {
    struct proxy_header *v; /* private */
    size_t n;               /* number of fields */
    size_t cap;             /* private */
    size_t max_count;       /* private */
    size_t bytes;           /* private: names + values */
    size_t max_bytes;       /* private */
};

/* Hard bound of the number of fields in any list. */
#define PROXY_HEADERS_MAX_COUNT 256u

/* Prepares an empty list bounded to max_count fields and max_bytes of names plus values. */
void proxy_headers_init(size_t max_count, size_t max_bytes, struct proxy_headers *h);

/*
 * Appends a copy of one field. The name must be an RFC 9110 token and the value must not hold
 * CR, LF or NUL (header injection): SHD_ERR_INPUT otherwise, with a message that quotes neither
 * (they may be secret). SHD_ERR_TOO_LARGE past the bounds.
 */
SHD_RESULT proxy_headers_add(const char *name, size_t name_len, const char *value,
                             size_t value_len, struct proxy_headers *h);

/* The value of the first field called name (case-insensitive), or NULL. */
const char *proxy_headers_get(const struct proxy_headers *h, const char *name);

/* Wipes and frees every field; the list stays usable with the same bounds. NULL is fine. */
void proxy_headers_clear(struct proxy_headers *h);

/* True for an RFC 9110 token (tchar+). */
bool proxy_header_is_token(const char *s, size_t n);

/*
 * True for the hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1: Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate,
 * Proxy-Authorization) and for the fields the proxy itself sets (Host, Content-Length, Expect).
 * connection (may be NULL) is the message's Connection value: the names it lists are hop-by-hop
 * too.
 */
bool proxy_header_is_hop(const char *name, const char *connection);
