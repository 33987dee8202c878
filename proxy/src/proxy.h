/*
 * proxy.h - the proxy's request handler: system endpoints (polaris-protocol.md §1.2 step 4),
 * CORS, and the encrypting pass to the workload (§1.3-§1.5, with the differences of §6).
 */
#pragma once

#include "shd/result.h"

#include "config.h"
#include "keystore.h"
#include "server.h"

/* The one context of the proxy (STYLE.md rule 31); immutable while the server runs. */
struct proxy_ctx {
    const struct proxy_config *cfg;
    struct proxy_keystore *ks;
};

/* The server handler (proxy_handler_fn); ctx is a struct proxy_ctx. Thread-safe. */
SHD_RESULT proxy_handle(void *ctx, struct proxy_request *req, struct proxy_response *resp);

/* The server's per-connection destructor (frees the kept workload connection). */
void proxy_conn_free(void *conn_ctx);

/* Prefix of every error the proxy itself generates (Express's 4-argument handler, §1.5). */
#define PROXY_ERROR_PREFIX "Error processing request: "
/* Header of the 504 sent when the workload resets the connection (§1.5). */
#define PROXY_TIMEOUT_HEADER "X-Timeout-Reason"
#define PROXY_TIMEOUT_VALUE "express-http-proxy reset the request."
