/*
 * mds_client.c - GCE metadata-server reads (mds_client.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "mds_client.h"

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define MDS_PREFIX "/computeMetadata/v1/"
#define MDS_URL_MAX 4096u

/* Maps a non-200 status to an error of the right category (5xx and 429 are worth a retry). */
static shd_result mds_status_error(int status, const char *path)
{
    shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
    if (status == 404) {
        SHD_BAIL_MSG(SHD_ERR_NOT_FOUND, "metadata server: %s: 404 not found", path);
    }
    if (status == 429 || status >= 500) {
        SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "metadata server: %s: status %d", path, status);
    }
    SHD_BAIL_MSG(SHD_ERR_HTTP_STATUS, "metadata server: %s: status %d", path, status);
}

static void mds_path_for_errors(const char *path, char *out, size_t cap)
{
    /* Queries carry the challenge name; keep messages short and free of them. */
    size_t n = strcspn(path, "?");

    if (n >= cap) {
        n = cap - 1;
    }
    shd_memcpy(out, path, n);
    out[n] = '\0';
}

SHD_RESULT wif_mds_get(const char *base, const char *path, size_t max,
                       const struct shd_http_client *http, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(base);
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(strncmp(path, MDS_PREFIX, strlen(MDS_PREFIX)) == 0, SHD_ERR_USAGE);

    char shown[128];
    mds_path_for_errors(path, shown, sizeof(shown));

    struct shd_buf url;
    shd_buf_init(MDS_URL_MAX, 0, &url);
    shd_result r = shd_buf_appendf(&url, "%s%s", base, path);
    if (shd_is_err(r)) {
        shd_buf_free(&url);
        return r;
    }
    const struct shd_http_header hdr[] = {{"Metadata-Flavor", "Google"}};
    const struct shd_http_request req = {
        .method = "GET", .url = shd_buf_str(&url), .headers = hdr, .nheaders = 1};
    struct shd_http_response *resp = NULL;
    r = shd_http_client_do(http, &req, &resp, NULL);
    shd_buf_free(&url);
    if (shd_is_err(r)) {
        shd_error_wrap("metadata server: %s", shown);
        return r;
    }
    int status = shd_http_response_status(resp);
    const char *flavor = shd_http_response_header(resp, "Metadata-Flavor");
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);

    if (status != 200) {
        shd_http_response_free(resp);
        return mds_status_error(status, shown);
    }
    if (flavor == NULL || strcmp(flavor, "Google") != 0) {
        shd_http_response_free(resp);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "metadata server: %s: answer without Metadata-Flavor: Google",
                     shown);
    }
    if (len > max) {
        shd_http_response_free(resp);
        SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "metadata server: %s: answer over %zu bytes", shown, max);
    }
    if (memchr(body, '\0', len) != NULL) {
        shd_http_response_free(resp);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "metadata server: %s: answer contains a NUL byte", shown);
    }
    char *out = shd_strndup((const char *)body, len);
    shd_http_response_free(resp);
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    *ret = out;
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return SHD_OK;
}

static bool mds_project_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
}

SHD_RESULT wif_mds_project_id(const char *base, const struct shd_http_client *http, char **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_FREE char *v = NULL;
    size_t len = 0;
    SHD_GUARD(
        wif_mds_get(base, MDS_PREFIX "project/project-id", WIF_MDS_VALUE_MAX, http, &v, &len));
    SHD_ENSURE_MSG(len >= 1 && len <= 128, SHD_ERR_INPUT, "metadata server: bad project id");
    for (size_t i = 0; i < len; i++) {
        SHD_ENSURE_MSG(mds_project_char_ok(v[i]), SHD_ERR_INPUT, "metadata server: bad project id");
    }
    *ret = SHD_TAKE_PTR(v);
    return SHD_OK;
}

static bool mds_zone_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

SHD_RESULT wif_mds_zone_to_region(const char *zone, char **ret)
{
    SHD_ENSURE_REF(zone);
    SHD_ENSURE_REF(ret);
    const char *slash = strrchr(zone, '/');
    const char *name = slash != NULL ? slash + 1 : zone;
    size_t n = strlen(name);

    SHD_ENSURE_MSG(n >= 3 && n <= 63, SHD_ERR_INPUT, "bad zone name");
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_MSG(mds_zone_char_ok(name[i]), SHD_ERR_INPUT, "bad zone name");
    }
    const char *dash = strrchr(name, '-');
    SHD_ENSURE_MSG(dash != NULL && dash != name && dash[1] != '\0', SHD_ERR_INPUT,
                   "zone name has no -x suffix");
    char *out = shd_strndup(name, (size_t)(dash - name));
    SHD_ENSURE(out != NULL, SHD_ERR_NOMEM);
    *ret = out;
    return SHD_OK;
}

SHD_RESULT wif_mds_region(const char *base, const struct shd_http_client *http, char **ret)
{
    SHD_CLEANUP_FREE char *zone = NULL;
    SHD_GUARD(wif_mds_get(base, MDS_PREFIX "instance/zone", WIF_MDS_VALUE_MAX, http, &zone, NULL));
    SHD_GUARD_CTX(wif_mds_zone_to_region(zone, ret), "metadata server: instance/zone");
    return SHD_OK;
}

SHD_RESULT wif_mds_access_token(const char *base, const struct shd_http_client *http, char **ret,
                                size_t *ret_len)
{
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    char *body = NULL;
    size_t body_len = 0;
    SHD_GUARD(wif_mds_get(base, MDS_PREFIX "instance/service-accounts/default/token",
                          WIF_MDS_TOKEN_MAX, http, &body, &body_len));
    json_t *doc = NULL;
    shd_result r = shd_json_parse(body, body_len, NULL, &doc);
    shd_free_wipe(body, body_len + 1);
    SHD_GUARD_CTX(r, "metadata server: service account token");

    const char *tok = NULL;
    const char *type = NULL;
    r = shd_json_get_string(doc, "access_token", &tok);
    if (shd_is_ok(r)) {
        r = shd_json_get_string(doc, "token_type", &type);
    }
    if (shd_is_ok(r) && (strcmp(type, "Bearer") != 0 || tok[0] == '\0')) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "not a Bearer token");
    }
    char *out = NULL;
    size_t n = 0;
    if (shd_is_ok(r)) {
        n = strlen(tok);
        out = shd_strndup(tok, n);
        if (out == NULL) {
            r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
        }
    }
    json_decref(doc);
    SHD_GUARD_CTX(r, "metadata server: service account token");
    *ret = out;
    *ret_len = n;
    return SHD_OK;
}

SHD_RESULT wif_mds_url_escape(const char *s, char **ret)
{
    static const char hex[] = "0123456789ABCDEF";
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret);
    struct shd_buf b;
    shd_buf_init(3 * WIF_MDS_VALUE_MAX + 1, 0, &b);
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        shd_result r = plain ? shd_buf_append(p, 1, &b) : shd_buf_append(enc, 3, &b);
        if (shd_is_err(r)) {
            shd_buf_free(&b);
            return r;
        }
    }
    uint8_t *out = NULL;
    size_t n = 0;
    shd_result r = shd_buf_take(&b, &out, &n);
    shd_buf_free(&b);
    SHD_GUARD(r);
    *ret = (char *)out;
    return SHD_OK;
}

/* A compact JWS: three non-empty base64url segments (the full check is the verifier's). */
static bool mds_looks_like_jwt(const char *t, size_t n)
{
    size_t dots = 0;
    size_t seg = 0;

    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '.') {
            if (seg == 0) {
                return false;
            }
            dots++;
            seg = 0;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
        seg++;
    }
    return dots == 2 && seg > 0;
}

SHD_RESULT wif_mds_identity_token(const char *base, const char *audience,
                                  const struct shd_http_client *http, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(audience);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    SHD_CLEANUP_FREE char *aud = NULL;
    SHD_GUARD(wif_mds_url_escape(audience, &aud));

    struct shd_buf path;
    shd_buf_init(MDS_URL_MAX, 0, &path);
    shd_result r = shd_buf_appendf(
        &path, MDS_PREFIX "instance/service-accounts/default/identity?audience=%s&format=full",
        aud);
    char *tok = NULL;
    size_t n = 0;
    if (shd_is_ok(r)) {
        r = wif_mds_get(base, shd_buf_str(&path), WIF_MDS_TOKEN_MAX, http, &tok, &n);
    }
    shd_buf_free(&path);
    SHD_GUARD(r);
    /* The body is the raw JWT; tolerate one trailing newline, nothing else. */
    if (n > 0 && tok[n - 1] == '\n') {
        tok[--n] = '\0';
    }
    if (!mds_looks_like_jwt(tok, n)) {
        shd_free_wipe(tok, n + 1);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "metadata server: identity token is not a compact JWT");
    }
    *ret = tok;
    *ret_len = n;
    return SHD_OK;
}
