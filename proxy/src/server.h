/*
 * server.h - the proxy's HTTP/1.1 front end on libmicrohttpd (thread per connection).
 *
 * Why not shd_http_server: a reverse proxy must see the raw request-target (path and query as
 * received) and every request header, and must send every workload response header back; the
 * shd server deliberately exposes neither header enumeration nor the raw target and caps extra
 * response headers at 16. This file is the small part of it the proxy needs, with the same
 * rules: hard caps on header and body bytes, bodies in memory wiped when freed, one thread per
 * connection (so a slow workload or a 4096-bit RSA decryption never stalls another client, and
 * both cores decrypt in parallel), and a bounded drain at stop.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#include "headers.h"

struct proxy_server;

/* The request as a handler sees it; valid during the handler call only. */
struct proxy_request {
    const char *method;
    const char *target; /* raw request-target as received: path and query, not decoded */
    const char *path;   /* decoded path without the query (libmicrohttpd's url) */
    struct proxy_headers headers;
    const uint8_t *body; /* never NULL; NUL-terminated; secret (wiped after the response) */
    size_t body_len;
    void **conn_slot; /* per-connection pointer, freed with the server's conn_free at close */
};

/* What a handler fills. Headers may include Content-Type; Content-Length is computed. */
struct proxy_response {
    unsigned status; /* 100..599 */
    struct proxy_headers headers;
    uint8_t *body; /* shd_alloc'd, alloc_len bytes; wiped and freed after sending */
    size_t len;
    size_t alloc_len;
};

/* A handler returns SHD_OK with resp filled, or an error: the client then gets a bare 500. */
typedef shd_result (*proxy_handler_fn)(void *ctx, struct proxy_request *req,
                                       struct proxy_response *resp);

struct proxy_server_options {
    const char *host; /* IPv4 or IPv6 literal */
    uint16_t port;    /* 0: the kernel chooses */
    size_t max_body;
    size_t max_header;
    unsigned max_connections;
    unsigned idle_timeout_s;
    unsigned drain_ms; /* 0: 10000 */
    proxy_handler_fn handler;
    void *ctx;
    void (*conn_free)(void *conn_ctx); /* may be NULL */
};

/* Binds the listener (not serving yet). *ret_port (may be NULL) gets the bound port. */
SHD_RESULT proxy_server_create(const struct proxy_server_options *opts,
                               struct proxy_server **ret_server, uint16_t *ret_port);

/* Starts serving; the threads inherit the caller's signal mask. */
SHD_RESULT proxy_server_start(struct proxy_server *server);

/* Stops accepting, waits up to drain_ms for requests in flight, stops. Idempotent. */
void proxy_server_stop(struct proxy_server *server);

/* Stops if needed and frees. NULL is fine. */
void proxy_server_free(struct proxy_server *server);

/* ---- response helpers ---- */

/* Sets status, Content-Type (may be NULL: none) and a copy of body. */
SHD_RESULT proxy_response_set(unsigned status, const char *content_type, const void *body,
                              size_t len, struct proxy_response *resp);

/* Sets status and takes ownership of body (shd_alloc, alloc_len bytes). Infallible. */
void proxy_response_take(unsigned status, uint8_t *body, size_t len, size_t alloc_len,
                         struct proxy_response *resp);

/* Adds one header (copied; validated like proxy_headers_add). */
SHD_RESULT proxy_response_header(const char *name, const char *value,
                                 struct proxy_response *resp);

/* Wipes and frees what the response owns; leaves it empty and reusable. */
void proxy_response_clear(struct proxy_response *resp);

/* Initialises an empty response (for tests of handlers). */
void proxy_response_init(struct proxy_response *resp);
