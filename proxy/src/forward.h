/*
 * forward.h - one HTTP exchange with the workload over libcurl (plain HTTP on TCP or a Unix
 * socket, never TLS, no proxy, no redirects).
 *
 * libcurl directly rather than shd_http_client: the proxy must send a request-target verbatim
 * (CURLOPT_REQUEST_TARGET; curl would drop a #fragment from a URL), pass back every response
 * header (the shd client only looks headers up by name), tell a refused connection (400, as
 * Polaris) from a reset (504) and reuse one connection per client connection.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/buf.h"
#include "shd/result.h"

#include "config.h"
#include "headers.h"

struct proxy_upstream_request {
    const char *method;
    const char *target; /* validated request-target */
    const struct proxy_headers *headers; /* already filtered: no hop-by-hop, no Host */
    const uint8_t *body; /* NULL: no body */
    size_t body_len;
};

struct proxy_upstream_response {
    unsigned status;
    struct proxy_headers headers;
    struct shd_buf body; /* SHD_BUF_SECRET, max = cfg->max_response */
};

/*
 * How an exchange failed; the error code says it too (SHD_ERR_CONNECT, SHD_ERR_IO for a reset or
 * an empty reply, SHD_ERR_TIMEOUT, SHD_ERR_TOO_LARGE for a response over the cap). The root
 * message of SHD_ERR_CONNECT reads like Node's ("connect ECONNREFUSED 127.0.0.1:8000").
 */

/* Initialises an empty response with the configured caps. */
void proxy_upstream_response_init(const struct proxy_config *cfg,
                                  struct proxy_upstream_response *resp);

/* Wipes and frees a response (NULL is fine). */
void proxy_upstream_response_clear(struct proxy_upstream_response *resp);

/*
 * Performs the exchange. conn_slot (may be NULL) keeps a curl handle between requests of one
 * client connection so that the workload connection is reused; free it with
 * proxy_forward_slot_free. On success resp holds status, headers and body.
 */
SHD_RESULT proxy_forward(const struct proxy_config *cfg, const struct proxy_upstream_request *req,
                         void **conn_slot, struct proxy_upstream_response *resp);

/* Frees a curl handle kept in a connection slot. */
void proxy_forward_slot_free(void *slot);
