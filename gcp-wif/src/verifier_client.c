/*
 * verifier_client.c - calls to Google Cloud Attestation and its discovery/JWKS documents
 * (verifier_client.h). The request body is built in verifier_client_req.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "mds_client.h"
#include "verifier_client.h"

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define VERIFIER_ALT "?%24alt=json%3Benum-encoding%3Dint"
#define VERIFIER_URL_MAX 4096u
#define VERIFIER_MSG_MAX 200
#define LOG_MODULE "attest"

/* Characters allowed in one segment of a resource name we put into a URL. */
static bool verifier_seg_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':')) {
            return false;
        }
    }
    return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

/* Checks "k1/v1/k2/v2..." against the literal keys (NULL-terminated list). */
static bool verifier_name_ok(const char *name, const char *const *keys)
{
    const char *p = name;

    for (size_t k = 0; keys[k] != NULL; k++) {
        size_t kl = strlen(keys[k]);
        if (strncmp(p, keys[k], kl) != 0 || p[kl] != '/') {
            return false;
        }
        p += kl + 1;
        size_t vl = strcspn(p, "/");
        if (!verifier_seg_ok(p, vl)) {
            return false;
        }
        p += vl;
        if (keys[k + 1] != NULL) {
            if (*p != '/') {
                return false;
            }
            p++;
        }
    }
    return *p == '\0' && strlen(name) < WIF_VERIFIER_NAME_MAX;
}

/* Turns a non-2xx answer into an error quoting the Google envelope (bounded). */
static shd_result verifier_status_error(int status, const uint8_t *body, size_t len,
                                        const char *what)
{
    const char *gstatus = "";
    const char *msg = "";
    json_t *doc = NULL;
    json_t *err = NULL;

    if (shd_is_ok(shd_json_parse((const char *)body, len, NULL, &doc)) &&
        shd_is_ok(shd_json_get_object(doc, "error", &err))) {
        /* Both are optional: a missing one leaves "" and does not hide the status. */
        if (shd_is_err(shd_json_get_string(err, "status", &gstatus))) {
            gstatus = "";
        }
        if (shd_is_err(shd_json_get_string(err, "message", &msg))) {
            msg = "";
        }
    }
    shd_error_clear();
    int code = SHD_ERR_HTTP_STATUS;
    if (status == 429 || status >= 500) {
        code = SHD_ERR_UNAVAILABLE;
    } else if (status == 401 || status == 403) {
        code = SHD_ERR_PERMISSION;
    } else if (status == 404) {
        code = SHD_ERR_NOT_FOUND;
    }
    shd_result r = shd_error_setf(code, __FILE__, __LINE__, "%s: status %d %s: %.*s", what, status,
                                  gstatus, VERIFIER_MSG_MAX, msg);
    shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
    json_decref(doc);
    return r;
}

/* One call; *ret gets the parsed 2xx JSON body. what names the call in errors. */
static shd_result verifier_call(const char *method, const char *url, const char *bearer,
                                const char *params, const char *body, size_t body_len,
                                const struct shd_http_client *http, const char *what, json_t **ret)
{
    struct shd_buf auth;
    shd_buf_init(WIF_MDS_TOKEN_MAX + 16, SHD_BUF_SECRET, &auth);
    shd_result r = bearer != NULL ? shd_buf_appendf(&auth, "Bearer %s", bearer) : SHD_OK;
    struct shd_http_header hdr[3] = {{"Content-Type", "application/json"}};
    size_t nh = 1;
    if (bearer != NULL) {
        hdr[nh++] = (struct shd_http_header){"Authorization", shd_buf_str(&auth)};
    }
    if (params != NULL) {
        hdr[nh++] = (struct shd_http_header){"x-goog-request-params", params};
    }
    const struct shd_http_request req = {.method = method,
                                         .url = url,
                                         .headers = hdr,
                                         .nheaders = nh,
                                         .body = (const uint8_t *)body,
                                         .body_len = body_len};
    struct shd_http_response *resp = NULL;
    if (shd_is_ok(r)) {
        r = shd_http_client_do(http, &req, &resp, NULL);
    }
    shd_buf_free(&auth);
    SHD_GUARD_CTX(r, "%s", what);

    int status = shd_http_response_status(resp);
    size_t len = 0;
    const uint8_t *data = shd_http_response_body(resp, &len);
    if (status < 200 || status > 299) {
        r = verifier_status_error(status, data, len, what);
        shd_http_response_free(resp);
        return r;
    }
    struct shd_json_limits lim = {.max_bytes = WIF_VERIFIER_RESPONSE_MAX};
    r = shd_json_parse((const char *)data, len, &lim, ret);
    shd_http_response_free(resp);
    SHD_GUARD_CTX(r, "%s: response", what);
    return SHD_OK;
}

static shd_result verifier_url(struct shd_buf *b, const char *base, const char *path,
                               const char *suffix)
{
    shd_buf_init(VERIFIER_URL_MAX, 0, b);
    return shd_buf_appendf(b, "%s/v1/%s%s%s", base, path, suffix, VERIFIER_ALT);
}

/* "<key>=<urlencoded value>" for x-goog-request-params. */
static shd_result verifier_params(const char *key, const char *value, struct shd_buf *b)
{
    SHD_CLEANUP_FREE char *esc = NULL;
    shd_buf_init(VERIFIER_URL_MAX, 0, b);
    SHD_GUARD(wif_mds_url_escape(value, &esc));
    return shd_buf_appendf(b, "%s=%s", key, esc);
}

SHD_RESULT wif_verifier_location(const char *base, const char *project, const char *region,
                                 const char *bearer, const struct shd_http_client *http, char **ret)
{
    SHD_ENSURE_REF(base);
    SHD_ENSURE_REF(project);
    SHD_ENSURE_REF(region);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(verifier_seg_ok(project, strlen(project)) &&
                       verifier_seg_ok(region, strlen(region)),
                   SHD_ERR_CONFIG, "bad project id or location");
    char name[WIF_VERIFIER_NAME_MAX];
    (void)snprintf(name, sizeof(name), "projects/%s/locations/%s", project, region);

    struct shd_buf url;
    struct shd_buf params;
    shd_buf_init(1, 0, &params);
    shd_result r = verifier_url(&url, base, name, "");
    if (shd_is_ok(r)) {
        r = verifier_params("name", name, &params);
    }
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        r = verifier_call("GET", shd_buf_str(&url), bearer, shd_buf_str(&params), NULL, 0, http,
                          "verifier GetLocation", &doc);
    }
    shd_buf_free(&url);
    shd_buf_free(&params);
    SHD_GUARD(r);

    static const char *const keys[] = {"projects", "locations", NULL};
    const char *got = NULL;
    r = shd_json_get_string(doc, "name", &got);
    if (shd_is_ok(r) && !verifier_name_ok(got, keys)) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "bad location name");
    }
    char *out = shd_is_ok(r) ? shd_strdup(got) : NULL;
    if (shd_is_ok(r) && out == NULL) {
        r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    json_decref(doc);
    SHD_GUARD_CTX(r, "verifier GetLocation");
    *ret = out;
    return SHD_OK;
}

static shd_result verifier_challenge_parse(const json_t *doc, const char *parent,
                                           struct wif_challenge *c)
{
    static const char *const keys[] = {"projects", "locations", "challenges", NULL};
    const char *name = NULL;
    const char *nonce = NULL;
    SHD_GUARD(shd_json_get_string(doc, "name", &name));
    size_t pl = strlen(parent);
    SHD_ENSURE_MSG(verifier_name_ok(name, keys) && strncmp(name, parent, pl) == 0 &&
                       strncmp(name + pl, "/challenges/", 12) == 0,
                   SHD_ERR_INPUT, "challenge name is not under %s", parent);
    SHD_GUARD(shd_json_get_string(doc, "tpmNonce", &nonce));
    /* Standard alphabet with padding (go-tpm-tools convertChallengeFromREST). */
    SHD_GUARD_CTX(shd_b64_decode_into(nonce, strlen(nonce), SHD_B64_STD_PAD, c->nonce,
                                      sizeof(c->nonce), &c->nonce_len),
                  "tpmNonce");
    SHD_ENSURE_MSG(c->nonce_len > 0, SHD_ERR_INPUT, "empty tpmNonce");
    (void)snprintf(c->name, sizeof(c->name), "%s", name);
    return SHD_OK;
}

SHD_RESULT wif_verifier_challenge(const char *base, const char *parent, const char *bearer,
                                  const struct shd_http_client *http, struct wif_challenge *ret)
{
    SHD_ENSURE_REF(base);
    SHD_ENSURE_REF(parent);
    SHD_ENSURE_REF(ret);
    struct shd_buf url;
    struct shd_buf params;
    shd_buf_init(1, 0, &params);
    shd_result r = verifier_url(&url, base, parent, "/challenges");
    if (shd_is_ok(r)) {
        r = verifier_params("parent", parent, &params);
    }
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        r = verifier_call("POST", shd_buf_str(&url), bearer, shd_buf_str(&params), "{}", 2, http,
                          "verifier CreateChallenge", &doc);
    }
    shd_buf_free(&url);
    shd_buf_free(&params);
    SHD_GUARD(r);
    struct wif_challenge c = {0};
    r = verifier_challenge_parse(doc, parent, &c);
    json_decref(doc);
    SHD_GUARD_CTX(r, "verifier CreateChallenge");
    *ret = c;
    return SHD_OK;
}

static void verifier_log_partial(const json_t *doc)
{
    const json_t *pe = json_object_get(doc, "partialErrors");
    size_t i = 0;
    const json_t *e = NULL;

    json_array_foreach(pe, i, e)
    {
        const char *msg = json_string_value(json_object_get(e, "message"));
        SHD_LOG_KV(SHD_LOG_LEVEL_WARNING, LOG_MODULE, "verifier reported a partial error",
                   SHD_LOG_INT("code", json_integer_value(json_object_get(e, "code"))),
                   SHD_LOG_STR("message", msg != NULL ? msg : ""));
        if (i >= 8) {
            break;
        }
    }
}

SHD_RESULT wif_verifier_verify(const char *base, const struct wif_verify_request *req,
                               const char *bearer, const struct shd_http_client *http,
                               char **ret_token, size_t *ret_len)
{
    SHD_ENSURE_REF(base);
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(req->challenge);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE_REF(ret_len);
    char *body = NULL;
    size_t body_len = 0;
    SHD_GUARD(wif_verifier_request_build(req, &body, &body_len));

    struct shd_buf url;
    struct shd_buf params;
    shd_buf_init(1, 0, &params);
    shd_result r = verifier_url(&url, base, req->challenge, ":verifyAttestation");
    if (shd_is_ok(r)) {
        r = verifier_params("challenge", req->challenge, &params);
    }
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        r = verifier_call("POST", shd_buf_str(&url), bearer, shd_buf_str(&params), body, body_len,
                          http, "verifier VerifyAttestation", &doc);
    }
    shd_free_wipe(body, body_len + 1);
    shd_buf_free(&url);
    shd_buf_free(&params);
    SHD_GUARD(r);

    verifier_log_partial(doc);
    const char *tok = NULL;
    size_t n = 0;
    r = shd_json_get_stringn(doc, "oidcClaimsToken", &tok, &n);
    char *out = NULL;
    if (shd_is_ok(r) && (n == 0 || n > SHD_JWS_MAX_DEFAULT || memchr(tok, '\0', n) != NULL)) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "bad oidcClaimsToken");
    }
    if (shd_is_ok(r)) {
        out = shd_strndup(tok, n);
        r = out != NULL ? SHD_OK : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    json_decref(doc);
    SHD_GUARD_CTX(r, "verifier VerifyAttestation");
    *ret_token = out;
    *ret_len = n;
    return SHD_OK;
}

/* GET url, expect 200 JSON object. */
static shd_result verifier_get_json(const char *url, const struct shd_http_client *http,
                                    const char *what, json_t **ret)
{
    json_t *doc = NULL;
    SHD_GUARD(verifier_call("GET", url, NULL, NULL, NULL, 0, http, what, &doc));
    if (!json_is_object(doc)) {
        json_decref(doc);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "%s: not a JSON object", what);
    }
    *ret = doc;
    return SHD_OK;
}

SHD_RESULT wif_verifier_jwks(const char *base, const char *issuer,
                             const struct shd_http_client *http,
                             json_t **ret_jwks)
{
    SHD_ENSURE_REF(base);
    SHD_ENSURE_REF(ret_jwks);
    struct shd_buf url;
    shd_buf_init(VERIFIER_URL_MAX, 0, &url);
    shd_result r = shd_buf_appendf(&url, "%s/.well-known/openid-configuration", base);
    SHD_CLEANUP_JSON json_t *disc = NULL;
    if (shd_is_ok(r)) {
        r = verifier_get_json(shd_buf_str(&url), http, "verifier discovery", &disc);
    }
    shd_buf_free(&url);
    SHD_GUARD(r);

    const char *iss = NULL;
    const char *jwks_uri = NULL;
    SHD_GUARD_CTX(shd_json_get_string(disc, "issuer", &iss), "verifier discovery");
    SHD_GUARD_CTX(shd_json_get_string(disc, "jwks_uri", &jwks_uri), "verifier discovery");
    SHD_ENSURE_MSG(strcmp(iss, issuer) == 0, SHD_ERR_TOKEN,
                   "verifier discovery names issuer '%.200s', want '%.200s'", iss, issuer);
    SHD_ENSURE_MSG(strncmp(jwks_uri, "https://", 8) == 0 && strlen(jwks_uri) < VERIFIER_URL_MAX,
                   SHD_ERR_INPUT, "verifier discovery: jwks_uri is not https");
    json_t *jwks = NULL;
    SHD_GUARD(verifier_get_json(jwks_uri, http, "verifier JWKS", &jwks));
    json_t *keys = NULL;
    r = shd_json_get_array(jwks, "keys", &keys);
    if (shd_is_err(r)) {
        json_decref(jwks);
        SHD_GUARD_CTX(r, "verifier JWKS");
    }
    *ret_jwks = jwks;
    return SHD_OK;
}
