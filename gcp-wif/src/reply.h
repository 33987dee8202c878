/*
 * reply.h - JSON answers shared by the socket API and the metadata look-alike: Go-escaped
 * bodies, secret bodies handed to the server without extra copies, and error answers that
 * carry the cause chain.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/json.h"
#include "shd/result.h"

struct shd_http_resp;

#define WIF_CT_JSON "application/json"

/* {"k1":"v1",...} as shd_json_go_dump_strings writes it. secret: the body is wiped after it was
 * sent and no other copy is made. */
SHD_RESULT wif_reply_fields(unsigned status, const struct shd_json_go_field *fields, size_t n,
                            bool secret, struct shd_http_resp *resp);

/*
 * {"error":"<what>: <current error chain>"} with the given status, or (status 0) one derived
 * from the error code: 403 for SHD_ERR_PERMISSION and SHD_ERR_TOKEN, 500 for internal and
 * configuration errors, 400 for other usage errors, 502 for everything else (upstream). Logs
 * the error once at warning (5xx: error) and clears the error state. Returns
 * SHD_OK when the answer is in resp; NOMEM is passed through (the server answers 500).
 */
SHD_RESULT wif_reply_error(unsigned status, const char *what, shd_result cause,
                           struct shd_http_resp *resp);

/* {"error":"<message>"} with the given status, no logging. */
SHD_RESULT wif_reply_error_status(unsigned status, const char *message, struct shd_http_resp *resp);

/* {"access_token":"..","expires_in":N,"token_type":"Bearer"}, a secret body. */
SHD_RESULT wif_reply_token(const char *token, size_t len, int64_t expires_in,
                           struct shd_http_resp *resp);
