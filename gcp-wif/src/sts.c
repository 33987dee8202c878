/*
 * sts.c - RFC 8693 token exchange at sts.googleapis.com (gcp-identity.md 4.1-4.3).
 */
#include "sts.h"

#include <string.h>

#include <jansson.h>

#include "gapi.h"
#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "wif.h"

/* expires_in above this is not believed (STS issues about one hour). */
#define STS_MAX_EXPIRES_IN 43200
#define STS_FORM_MAX ((size_t)128 * 1024)

void wif_access_token_clear(struct wif_access_token *t)
{
    if (t == NULL) {
        return;
    }
    if (t->token != NULL) {
        shd_free_wipe(t->token, t->len + 1);
    }
    shd_memzero(t, sizeof(*t));
}

static bool form_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
           c == '-' || c == '.' || c == '_';
}

static shd_result form_append(struct shd_buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if (shd_buf_len(b) > 0) {
        SHD_GUARD(shd_buf_append("&", 1, b));
    }
    SHD_GUARD(shd_buf_append_str(name, b));
    SHD_GUARD(shd_buf_append("=", 1, b));
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (form_plain(*p)) {
            SHD_GUARD(shd_buf_append(p, 1, b));
        } else if (*p == ' ') {
            SHD_GUARD(shd_buf_append("+", 1, b));
        } else {
            const char esc[3] = {'%', hex[*p >> 4], hex[*p & 0xFu]};
            SHD_GUARD(shd_buf_append(esc, 3, b));
        }
    }
    return SHD_OK;
}

shd_result wif_sts_form_build(const char *audience, const char *subject_token, char **ret,
                              size_t *ret_len)
{
    SHD_ENSURE_REF(audience);
    SHD_ENSURE_REF(subject_token);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    struct shd_buf b;
    shd_buf_init(STS_FORM_MAX, SHD_BUF_SECRET, &b);
    shd_result r = form_append(&b, "grant_type", WIF_STS_GRANT_TYPE);
    if (shd_is_ok(r)) {
        r = form_append(&b, "audience", audience);
    }
    if (shd_is_ok(r)) {
        r = form_append(&b, "scope", WIF_SCOPE_CLOUD_PLATFORM);
    }
    if (shd_is_ok(r)) {
        r = form_append(&b, "requested_token_type", WIF_STS_REQUESTED_TYPE);
    }
    if (shd_is_ok(r)) {
        r = form_append(&b, "subject_token", subject_token);
    }
    if (shd_is_ok(r)) {
        r = form_append(&b, "subject_token_type", WIF_STS_SUBJECT_TYPE);
    }
    uint8_t *out = NULL;
    size_t len = 0;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&b, &out, &len);
    }
    shd_buf_free(&b);
    SHD_GUARD(r);
    *ret = (char *)out;
    *ret_len = len;
    return SHD_OK;
}

/* Copies a token member into a fresh wiped-on-free string, checking it looks like a token. */
static shd_result token_take(const json_t *doc, const char *key, char **ret, size_t *ret_len)
{
    const char *tok = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_get_stringn(doc, key, &tok, &len));
    SHD_ENSURE_MSG(len > 0 && len <= WIF_ACCESS_TOKEN_MAX, SHD_ERR_INPUT,
                   "field '%s' is empty or too long", key);
    for (size_t i = 0; i < len; i++) {
        /* A bearer token is b64token (RFC 6750 2.1); anything else would corrupt a header. */
        SHD_ENSURE_MSG((unsigned char)tok[i] > 0x20 && (unsigned char)tok[i] < 0x7f, SHD_ERR_INPUT,
                       "field '%s' is not a bearer token", key);
    }
    char *copy = shd_strndup(tok, len);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    *ret_len = len;
    return SHD_OK;
}

static shd_result sts_parse(const json_t *doc, int64_t now, struct wif_access_token *ret)
{
    const char *type = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, "token_type", &type));
    SHD_ENSURE_MSG(type == NULL || strcmp(type, "Bearer") == 0, SHD_ERR_INPUT,
                   "token_type is not Bearer");
    int64_t expires_in = 0;
    SHD_GUARD(shd_json_get_int(doc, "expires_in", 1, STS_MAX_EXPIRES_IN, &expires_in));
    char *tok = NULL;
    size_t len = 0;
    SHD_GUARD(token_take(doc, "access_token", &tok, &len));
    ret->token = tok;
    ret->len = len;
    ret->expiry = now + expires_in;
    return SHD_OK;
}

shd_result wif_sts_exchange(const struct shd_http_client *http, const char *sts_url,
                            const char *audience, const char *subject_token, int64_t now,
                            struct wif_access_token *ret)
{
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(sts_url);
    SHD_ENSURE_REF(ret);
    char *form = NULL;
    size_t form_len = 0;
    SHD_GUARD(wif_sts_form_build(audience, subject_token, &form, &form_len));
    struct shd_buf url;
    shd_buf_init(8192, 0, &url);
    shd_result r = shd_buf_appendf(&url, "%s/v1/token", sts_url);
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        const struct shd_http_header headers[] = {
            {"Content-Type", "application/x-www-form-urlencoded"},
            {"Accept", "application/json"},
        };
        const struct shd_http_request req = {
            .method = "POST",
            .url = shd_buf_str(&url),
            .headers = headers,
            .nheaders = 2,
            .body = (const uint8_t *)form,
            .body_len = form_len,
        };
        r = wif_gapi_call(http, &req, &doc);
    }
    shd_free_wipe(form, form_len + 1);
    shd_buf_free(&url);
    struct wif_access_token t = {0};
    if (shd_is_ok(r)) {
        r = sts_parse(doc, now, &t);
    }
    json_decref(doc);
    if (shd_is_err(r)) {
        shd_error_wrap("STS token exchange");
        return r;
    }
    *ret = t;
    return SHD_OK;
}
