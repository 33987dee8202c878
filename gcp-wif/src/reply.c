/*
 * reply.c - JSON answers of gcp-wif's listeners.
 */
#include "reply.h"

#include <string.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "wif.h"

#define CHAIN_MAX ((size_t)SHD_ERROR_MAX_FRAMES * (SHD_ERROR_FRAME_LEN + 2) + 1)

shd_result wif_reply_fields(unsigned status, const struct shd_json_go_field *fields, size_t n,
                            bool secret, struct shd_http_resp *resp)
{
    char *json = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump_strings(fields, n, &json, &len));
    if (secret) {
        shd_http_resp_body_take(status, WIF_CT_JSON, (uint8_t *)json, len, len + 1, resp);
        return SHD_OK;
    }
    shd_result r = shd_http_resp_body(status, WIF_CT_JSON, json, len, resp);
    shd_free(json);
    return r;
}

static unsigned error_status(int code)
{
    switch (shd_error_type_of(code)) {
    case SHD_ERR_T_USAGE:
        return code == SHD_ERR_CONFIG ? 500u : 400u;
    case SHD_ERR_T_INTERNAL:
        return 500u;
    default:
        break;
    }
    if (code == SHD_ERR_PERMISSION || code == SHD_ERR_TOKEN) {
        return 403u;
    }
    return 502u;
}

shd_result wif_reply_error_status(unsigned status, const char *message, struct shd_http_resp *resp)
{
    const struct shd_json_go_field f = {"error", message, strlen(message)};
    return wif_reply_fields(status, &f, 1, false, resp);
}

shd_result wif_reply_error(unsigned status, const char *what, shd_result cause,
                           struct shd_http_resp *resp)
{
    if (cause.err == SHD_ERR_NOMEM) {
        return cause;
    }
    if (status == 0) {
        status = error_status(cause.err);
    }
    (void)SHD_LOG_RESULT(status >= 500 ? SHD_LOG_LEVEL_ERROR : SHD_LOG_LEVEL_WARNING, WIF_LOG_API,
                         cause, "%s failed (HTTP %u)", what, status);
    char chain[CHAIN_MAX];
    (void)shd_error_render(chain, sizeof(chain));
    struct shd_buf msg;
    shd_buf_init(sizeof(chain) + 256, 0, &msg);
    shd_result r = shd_buf_appendf(&msg, "%s: %s", what, chain);
    if (shd_is_ok(r)) {
        const struct shd_json_go_field f = {"error", shd_buf_str(&msg), shd_buf_len(&msg)};
        r = wif_reply_fields(status, &f, 1, false, resp);
    }
    shd_buf_free(&msg);
    shd_error_clear();
    return r;
}

shd_result wif_reply_token(const char *token, size_t len, int64_t expires_in,
                           struct shd_http_resp *resp)
{
    char *quoted = NULL;
    size_t qlen = 0;
    SHD_GUARD(shd_json_go_quote(token, len, &quoted, &qlen));
    struct shd_buf b;
    shd_buf_init(qlen + 128, SHD_BUF_SECRET, &b);
    shd_result r = shd_buf_append_str("{\"access_token\":", &b);
    if (shd_is_ok(r)) {
        r = shd_buf_append(quoted, qlen, &b);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_appendf(&b, ",\"expires_in\":%lld,\"token_type\":\"Bearer\"}",
                            (long long)(expires_in > 0 ? expires_in : 0));
    }
    shd_free_wipe(quoted, qlen + 1);
    uint8_t *body = NULL;
    size_t blen = 0;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&b, &body, &blen);
    }
    shd_buf_free(&b);
    SHD_GUARD(r);
    shd_http_resp_body_take(200, WIF_CT_JSON, body, blen, blen + 1, resp);
    return SHD_OK;
}
