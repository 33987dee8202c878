/*
 * api.h - the HTTP API of the Microsoft SKR sidecar (skr-sidecar.md §2, with D1/D2): a route
 * table of {method, path, handler} plus gin's fallbacks (trailing-slash redirect, 404 page not
 * found for unknown paths and wrong methods).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"
#include "skr.h"

struct shd_http_resp;
struct shd_http_server_options;

/* Request bodies above this get 413 from the server before any handler runs. */
#define SKR_API_MAX_BODY ((size_t)1024 * 1024)

/*
 * Answers one request: routes (method, path) through the table, binds body like gin and fills
 * resp. Returns SHD_OK whenever resp holds the answer (error answers included); an error result
 * only for internal failures (out of memory), which the server turns into a 500.
 * path is the decoded path without the query string.
 */
SHD_RESULT skr_api_handle(const struct skr_ctx *ctx, const char *method, const char *path,
                          const uint8_t *body, size_t len, struct shd_http_resp *resp);

/*
 * Fills server options that send every request to skr_api_handle (ctx is passed through as the
 * handler context and must outlive the server), with the 1 MiB body cap.
 */
void skr_api_server_options(struct skr_ctx *ctx, struct shd_http_server_options *ret);
