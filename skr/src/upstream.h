/*
 * upstream.h - one HTTP exchange with an upstream service (MAA, Key Vault / mHSM, IMDS, AAD)
 * whose failures read like the original sidecar's (skr-sidecar.md §2.6; pkg/common/http.go).
 *
 * The retry policy, timeouts, TLS trust and connect-to mapping are those of the shd_http_client
 * passed in (D6: every upstream call is bounded); this module only shapes the error texts:
 *   transport:  HTTP GET failed: Post "https://host/path?query": <transport error>
 *   status:     <body>: http response status equal to 403 Forbidden
 * ("HTTP GET failed" is the original's wording for every method.)
 */
#pragma once

#include "shd/http_client.h"
#include "shd/result.h"

/*
 * Performs req on client. SHD_OK with *ret_resp for any final response, whatever its status,
 * including the last response of an exhausted retry on a retryable status (so the caller can
 * quote the upstream body as the original does). On a transport failure the client's error code
 * is kept (SHD_ERR_CONNECT, SHD_ERR_TIMEOUT, SHD_ERR_BAD_CERT, SHD_ERR_RETRY_EXHAUSTED, ...) and
 * the chain becomes `HTTP GET failed: <Method> "<url>": <cause>` with Go's method spelling
 * ("Get", "Post"). *ret_resp (free with shd_http_response_free) is written only on success.
 */
SHD_RESULT skr_upstream_do(const struct shd_http_client *client, const struct shd_http_request *req,
                           struct shd_http_response **ret_resp);

/*
 * The original's status rule (HTTPResponseBody): 200..207 is SHD_OK; anything else is
 * SHD_ERR_HTTP_STATUS (the status attached as foreign code) with the chain
 * "<body>: http response status equal to <code> <reason>". The body is quoted up to the error
 * frame size; a body with a NUL byte is quoted up to it.
 */
SHD_RESULT skr_upstream_status_check(const struct shd_http_response *resp);

/* Longest endpoint accepted (a DNS name of 253 bytes plus ":65535"). */
#define SKR_UPSTREAM_ENDPOINT_MAX 259u

/*
 * Checks that a caller-supplied endpoint is a bare host with an optional port, as the original
 * formats it into "https://%s/...": DNS labels of [A-Za-z0-9_-] (1..63 bytes, dot-separated, at
 * most 253 bytes; IPv4 literals pass as such), then optionally ':' and a port 1..65535. Anything
 * else - a scheme, a path, a query, user info, white space - would change the request's target,
 * so it is SHD_ERR_INPUT "invalid endpoint \"<e>\": expected a host name with an optional port".
 * On success *ret_host_len (optional) gets the length of the host part (without the port).
 */
SHD_RESULT skr_upstream_endpoint_check(const char *endpoint, size_t *ret_host_len);

/*
 * Reads the one string member Go's json.Unmarshal would put into a struct { Field string }:
 * the member whose name equals name exactly, else the first whose name matches it ignoring ASCII
 * case; absent or null gives "". body must be a JSON document (SHD_ERR_JSON otherwise; trailing
 * bytes are refused, unlike Go); a non-object document or a non-string value is SHD_ERR_JSON
 * "json: cannot unmarshal <kind> into Go struct field .<Name> of type string".
 * *ret_value is a fresh NUL-terminated copy (shd_alloc); when it may be a credential (tokens),
 * free it with shd_free_wipe(v, strlen(v) + 1).
 */
SHD_RESULT skr_upstream_json_string(const uint8_t *body, size_t len, const char *name,
                                    char **ret_value);
