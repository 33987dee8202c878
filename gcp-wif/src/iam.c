/*
 * iam.c - IAM Credentials generateAccessToken (gcp-identity.md 5).
 */
#include "iam.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "gapi.h"
#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"
#include "wif.h"

#define IAM_EMAIL_MAX 254u

static bool email_char(char c, bool domain)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || (!domain && c == '_');
}

static shd_result email_check(const char *email)
{
    size_t len = strlen(email);
    const char *at = strchr(email, '@');
    SHD_ENSURE_MSG(len <= IAM_EMAIL_MAX && at != NULL && at != email && at[1] != '\0',
                   SHD_ERR_CONFIG, "service account is not an e-mail address");
    for (const char *p = email; *p != '\0'; p++) {
        SHD_ENSURE_MSG(p == at || email_char(*p, p > at), SHD_ERR_CONFIG,
                       "service account is not an e-mail address");
    }
    return SHD_OK;
}

static shd_result iam_parse(const json_t *doc, int64_t now, struct wif_access_token *ret)
{
    const char *tok = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_get_stringn(doc, "accessToken", &tok, &len));
    SHD_ENSURE_MSG(len > 0 && len <= WIF_ACCESS_TOKEN_MAX && strlen(tok) == len, SHD_ERR_INPUT,
                   "accessToken is empty, too long or has a NUL");
    for (size_t i = 0; i < len; i++) {
        SHD_ENSURE_MSG((unsigned char)tok[i] > 0x20 && (unsigned char)tok[i] < 0x7f, SHD_ERR_INPUT,
                       "accessToken is not a bearer token");
    }
    const char *exp_s = NULL;
    SHD_GUARD(shd_json_get_string(doc, "expireTime", &exp_s));
    int64_t exp = 0;
    SHD_GUARD_CTX(wif_rfc3339_parse(exp_s, &exp), "expireTime");
    SHD_ENSURE_MSG(exp > now, SHD_ERR_INPUT, "expireTime is in the past");
    char *copy = shd_strndup(tok, len);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    ret->token = copy;
    ret->len = len;
    ret->expiry = exp;
    return SHD_OK;
}

shd_result wif_iam_generate_access_token(const struct shd_http_client *http, const char *iam_url,
                                         const char *email, uint32_t lifetime_s,
                                         const char *federated_token, int64_t now,
                                         struct wif_access_token *ret)
{
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(iam_url);
    SHD_ENSURE_REF(email);
    SHD_ENSURE_REF(federated_token);
    SHD_ENSURE_REF(ret);
    SHD_GUARD_CTX(email_check(email), "IAM");
    char *bearer = NULL;
    size_t bearer_len = 0;
    SHD_GUARD(wif_gapi_bearer(federated_token, &bearer, &bearer_len));
    struct shd_buf url;
    shd_buf_init(8192, 0, &url);
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"scope\":[\"%s\"],\"lifetime\":\"%lus\"}",
                     WIF_SCOPE_CLOUD_PLATFORM, (unsigned long)lifetime_s);
    shd_result r = n > 0 && (size_t)n < sizeof(body)
                       ? SHD_OK
                       : shd_error_set(SHD_ERR_INTERNAL, __FILE__, __LINE__);
    if (shd_is_ok(r)) {
        r = shd_buf_appendf(&url, "%s/v1/projects/-/serviceAccounts/%s:generateAccessToken",
                            iam_url, email);
    }
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        const struct shd_http_header headers[] = {
            {"Authorization", bearer},
            {"Content-Type", "application/json"},
        };
        const struct shd_http_request req = {
            .method = "POST",
            .url = shd_buf_str(&url),
            .headers = headers,
            .nheaders = 2,
            .body = (const uint8_t *)body,
            .body_len = (size_t)n,
        };
        r = wif_gapi_call(http, &req, &doc);
    }
    shd_free_wipe(bearer, bearer_len + 1);
    shd_buf_free(&url);
    struct wif_access_token t = {0};
    if (shd_is_ok(r)) {
        r = iam_parse(doc, now, &t);
    }
    json_decref(doc);
    if (shd_is_err(r)) {
        shd_error_wrap("IAM generateAccessToken for %s", email);
        return r;
    }
    *ret = t;
    return SHD_OK;
}
