/*
 * gapi.c - Google API calls and their error envelopes.
 */
#include "gapi.h"

#include <stdbool.h>
#include <string.h>

#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "wif.h"

static int status_code(int status)
{
    if (status == 401 || status == 403) {
        return SHD_ERR_PERMISSION;
    }
    if (status == 404) {
        return SHD_ERR_NOT_FOUND;
    }
    if (status == 429) {
        return SHD_ERR_RATE_LIMITED;
    }
    if (status >= 500) {
        return SHD_ERR_UNAVAILABLE;
    }
    return SHD_ERR_HTTP_STATUS;
}

/* A string member of an error body, or NULL. */
static const char *str_member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static shd_result status_error(int status, const uint8_t *body, size_t len)
{
    json_t *doc = NULL;
    int code = status_code(status);
    shd_result r;
    if (shd_is_ok(shd_json_parse((const char *)body, len, NULL, &doc)) && json_is_object(doc)) {
        const json_t *err = json_object_get(doc, "error");
        if (json_is_object(err)) {
            const char *st = str_member(err, "status");
            const char *msg = str_member(err, "message");
            r = shd_error_setf(code, __FILE__, __LINE__, "HTTP %d %s: %.*s", status,
                               st != NULL ? st : "", WIF_GAPI_MESSAGE_MAX, msg != NULL ? msg : "");
        } else if (json_is_string(err)) {
            const char *e = json_string_value(err);
            const char *desc = str_member(doc, "error_description");
            if (strcmp(e, "invalid_grant") == 0) {
                code = SHD_ERR_TOKEN;
            } else if (strcmp(e, "unauthorized_client") == 0) {
                code = SHD_ERR_PERMISSION; /* the attribute condition said no (4.3) */
            }
            r = shd_error_setf(code, __FILE__, __LINE__, "HTTP %d %.64s: %.*s", status, e,
                               WIF_GAPI_MESSAGE_MAX, desc != NULL ? desc : "");
        } else {
            r = shd_error_setf(code, __FILE__, __LINE__, "HTTP %d", status);
        }
    } else {
        shd_error_clear();
        r = shd_error_setf(code, __FILE__, __LINE__, "HTTP %d", status);
    }
    json_decref(doc);
    shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
    return r;
}

shd_result wif_gapi_call(const struct shd_http_client *http, const struct shd_http_request *req,
                         json_t **ret_doc)
{
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(ret_doc);
    struct shd_http_response *resp = NULL;
    struct shd_http_response *last = NULL;
    shd_result r = shd_http_client_do(http, req, &resp, &last);
    if (shd_is_err(r)) {
        if (last != NULL) {
            /* Every attempt got a retryable status: say what Google said the last time. */
            size_t len = 0;
            const uint8_t *body = shd_http_response_body(last, &len);
            r = status_error(shd_http_response_status(last), body, len);
            shd_error_wrap("giving up after %u attempts", shd_http_response_attempts(last));
            shd_http_response_free(last);
        }
        return r;
    }
    int status = shd_http_response_status(resp);
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);
    if (status < 200 || status > 299) {
        r = status_error(status, body, len);
        shd_http_response_free(resp);
        return r;
    }
    json_t *doc = NULL;
    r = shd_json_parse((const char *)body, len, NULL, &doc);
    shd_http_response_free(resp);
    if (shd_is_err(r)) {
        shd_error_wrap("HTTP %d answer", status);
        return r;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "HTTP %d answer is not a JSON object", status);
    }
    *ret_doc = doc;
    return SHD_OK;
}

shd_result wif_gapi_bearer(const char *token, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(token);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    size_t tlen = strlen(token);
    SHD_ENSURE(tlen <= WIF_ACCESS_TOKEN_MAX, SHD_ERR_TOO_LARGE);
    size_t len = 7 + tlen;
    char *s = shd_alloc(len + 1);
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    shd_memcpy(s, "Bearer ", 7);
    shd_memcpy(s + 7, token, tlen);
    *ret = s;
    *ret_len = len;
    return SHD_OK;
}

static bool seg_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '@' || c == ':';
}

shd_result wif_gapi_kms_name_check(const char *name, bool want_version)
{
    SHD_ENSURE_REF(name);
    static const char *const labels[] = {"projects", "locations", "keyRings", "cryptoKeys",
                                         "cryptoKeyVersions"};
    size_t want = want_version ? 5 : 4;
    const char *p = name;
    for (size_t i = 0; i < want; i++) {
        size_t ll = strlen(labels[i]);
        SHD_ENSURE_MSG(strncmp(p, labels[i], ll) == 0 && p[ll] == '/', SHD_ERR_INPUT,
                       "KMS name must read projects/P/locations/L/keyRings/R/cryptoKeys/K%s",
                       want_version ? "/cryptoKeyVersions/V" : "");
        p += ll + 1;
        size_t n = 0;
        while (p[n] != '\0' && p[n] != '/') {
            SHD_ENSURE_MSG(seg_char_ok(p[n]), SHD_ERR_INPUT, "KMS name has a bad character");
            n++;
        }
        SHD_ENSURE_MSG(n >= 1 && n <= 100 && !(n == 1 && p[0] == '.') &&
                           !(n == 2 && p[0] == '.' && p[1] == '.'),
                       SHD_ERR_INPUT, "KMS name has a bad %s segment", labels[i]);
        p += n;
        if (i + 1 < want) {
            SHD_ENSURE_MSG(*p == '/', SHD_ERR_INPUT,
                           "KMS name must read projects/P/locations/L/keyRings/R/cryptoKeys/K%s",
                           want_version ? "/cryptoKeyVersions/V" : "");
            p++;
        }
    }
    SHD_ENSURE_MSG(*p == '\0', SHD_ERR_INPUT, "KMS name %s",
                   want_version ? "has trailing segments" : "must name a key, not a version");
    return SHD_OK;
}
