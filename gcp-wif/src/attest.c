/*
 * attest.c - the attestation source's API (attest.h): configuration, the mutex, dispatch by
 * mode, and the check every token passes before it is handed out.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "attest.h"
#include "attest_int.h"
#include "tpm.h"
#include "verifier_client.h"

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/jwt.h"
#include "shd/mem.h"
#include "shd/safety.h"

static time_t attest_monotonic(void)
{
    struct timespec ts = {0};
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Copies an optional string, falling back to def; bounded. */
static shd_result attest_strdup(const char *s, const char *def, const char *what, char **ret)
{
    const char *v = s != NULL ? s : def;

    *ret = NULL;
    if (v == NULL) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(strlen(v) < WIF_ATTEST_STRING_MAX, SHD_ERR_CONFIG, "%s is too long", what);
    *ret = shd_strdup(v);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

/* https://host[:port] with nothing after it: the URL is also the issuer we compare with. */
static bool attest_base_url_ok(const char *url, const char *scheme)
{
    size_t sl = strlen(scheme);

    if (strncmp(url, scheme, sl) != 0 || url[sl] == '\0') {
        return false;
    }
    for (const char *p = url + sl; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':' || c == '[' || c == ']')) {
            return false;
        }
    }
    return true;
}

static shd_result attest_config_copy(const struct wif_attest_config *cfg, struct wif_attest *a)
{
    a->mode = cfg->mode;
    a->ak_ecc = cfg->ak_ecc;
    a->http = cfg->http;
    a->http_mds = cfg->http_mds;
    SHD_GUARD(attest_strdup(cfg->tcti, WIF_ATTEST_DEFAULT_TCTI, "tcti", &a->tcti));
    SHD_GUARD(attest_strdup(cfg->event_log_path, WIF_ATTEST_DEFAULT_EVENT_LOG, "event log path",
                            &a->event_log_path));
    SHD_GUARD(attest_strdup(cfg->verifier_url, WIF_ATTEST_DEFAULT_VERIFIER_URL, "verifier URL",
                            &a->verifier_url));
    SHD_GUARD(attest_strdup(cfg->verifier_issuer, WIF_ATTEST_DEFAULT_VERIFIER_URL,
                            "verifier issuer", &a->verifier_issuer));
    SHD_GUARD(attest_strdup(cfg->mds_url, WIF_ATTEST_DEFAULT_MDS_URL, "metadata URL", &a->mds_url));
    SHD_GUARD(attest_strdup(cfg->project_id, NULL, "project id", &a->project_id));
    SHD_GUARD(attest_strdup(cfg->location, NULL, "location", &a->location));
    SHD_GUARD(attest_strdup(cfg->launcher_token_path, WIF_ATTEST_DEFAULT_LAUNCHER_TOKEN,
                            "launcher token path", &a->launcher_token_path));
    SHD_GUARD(attest_strdup(cfg->launcher_socket, WIF_ATTEST_DEFAULT_LAUNCHER_SOCKET,
                            "launcher socket", &a->launcher_socket));
    SHD_ENSURE_MSG(attest_base_url_ok(a->verifier_url, "https://"), SHD_ERR_CONFIG,
                   "verifier URL must be https://host[:port] without a path");
    SHD_ENSURE_MSG(a->http != NULL, SHD_ERR_CONFIG, "attestation needs an HTTPS client");
    if (a->mode == WIF_ATTEST_MODE_TPM) {
        SHD_ENSURE_MSG(a->http_mds != NULL, SHD_ERR_CONFIG,
                       "TPM attestation needs a metadata-server client");
        SHD_ENSURE_MSG(attest_base_url_ok(a->mds_url, "http://") ||
                           attest_base_url_ok(a->mds_url, "https://"),
                       SHD_ERR_CONFIG, "metadata URL must be http://host[:port] without a path");
        SHD_ENSURE_MSG(a->tcti[0] != '\0', SHD_ERR_CONFIG, "empty TCTI");
        return SHD_OK;
    }
    SHD_ENSURE_MSG(a->mode == WIF_ATTEST_MODE_LAUNCHER, SHD_ERR_CONFIG,
                   "unknown attestation mode %d", (int)a->mode);
    return wif_launcher_client_new(a);
}

SHD_RESULT wif_attest_new(const struct wif_attest_config *cfg, struct wif_attest **ret)
{
    SHD_ENSURE_REF(cfg);
    SHD_ENSURE_REF(ret);
    struct wif_attest *a = shd_alloc(sizeof(*a));
    SHD_ENSURE(a != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        shd_free(a);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    shd_result r = attest_config_copy(cfg, a);
    if (shd_is_err(r)) {
        wif_attest_free(&a);
        return r;
    }
    *ret = a;
    return SHD_OK;
}

void wif_attest_free(struct wif_attest **a)
{
    if (a == NULL || *a == NULL) {
        return;
    }
    struct wif_attest *p = *a;
    wif_launcher_cache_clear(&p->launcher);
    shd_http_client_free(p->http_tee);
    json_decref(p->jwks);
    shd_free(p->tcti);
    shd_free(p->event_log_path);
    shd_free(p->verifier_url);
    shd_free(p->verifier_issuer);
    shd_free(p->mds_url);
    shd_free(p->project_id);
    shd_free(p->location);
    shd_free(p->launcher_token_path);
    shd_free(p->launcher_socket);
    (void)pthread_mutex_destroy(&p->lock);
    shd_free(p);
    *a = NULL;
}

static shd_result attest_probe_tpm(struct wif_attest *a)
{
    struct wif_tpm *t = NULL;
    SHD_GUARD(wif_tpm_open(a->tcti, &t));
    size_t n = 0;
    shd_result r =
        wif_tpm_nv_size(a->ak_ecc ? WIF_TPM_NV_AK_TEMPLATE_ECC : WIF_TPM_NV_AK_TEMPLATE_RSA, t, &n);
    if (shd_is_ok(r)) {
        r = wif_tpm_nv_size(a->ak_ecc ? WIF_TPM_NV_AK_CERT_ECC : WIF_TPM_NV_AK_CERT_RSA, t, &n);
    }
    wif_tpm_close(&t);
    SHD_GUARD_CTX(r, "the vTPM has no GCE attestation key");
    return SHD_OK;
}

static shd_result attest_probe_locked(struct wif_attest *a)
{
    if (a->mode == WIF_ATTEST_MODE_TPM) {
        return attest_probe_tpm(a);
    }
    struct stat st;
    if (stat(a->launcher_token_path, &st) != 0) {
        SHD_BAIL_MSG(SHD_ERR_NOT_FOUND, "launcher token file %s is missing",
                     a->launcher_token_path);
    }
    SHD_ENSURE_MSG(S_ISREG(st.st_mode), SHD_ERR_IO, "%s is not a regular file",
                   a->launcher_token_path);
    return SHD_OK;
}

SHD_RESULT wif_attest_probe(struct wif_attest *a)
{
    SHD_ENSURE_REF(a);
    /* The TPM serves one client at a time (no resource manager on swtpm): take the lock. */
    if (pthread_mutex_lock(&a->lock) != 0) {
        shd_misuse("wif_attest mutex");
    }
    shd_result r = attest_probe_locked(a);
    (void)pthread_mutex_unlock(&a->lock);
    return r;
}

/* The verifier's key set, fetched when missing, stale, or (rate-limited) when forced. */
static shd_result attest_jwks(bool force, struct wif_attest *a, bool *ret_fetched)
{
    time_t now = attest_monotonic();
    time_t age = now - a->jwks_fetched;

    *ret_fetched = false;
    if (a->jwks != NULL && age < WIF_ATTEST_JWKS_MAX_AGE_S &&
        (!force || age < WIF_ATTEST_JWKS_MIN_REFETCH_S)) {
        return SHD_OK;
    }
    json_t *jwks = NULL;
    SHD_GUARD(wif_verifier_jwks(a->verifier_url, a->verifier_issuer, a->http, &jwks));
    json_decref(a->jwks);
    a->jwks = jwks;
    a->jwks_fetched = now;
    *ret_fetched = true;
    return SHD_OK;
}

static shd_result attest_verify_sig(struct shd_jws *jws, struct wif_attest *a)
{
    bool fetched = false;
    SHD_GUARD_CTX(attest_jwks(false, a, &fetched), "attestation token keys");
    shd_result r = shd_jws_verify_jwks(a->jwks, SHD_JWS_RS256, jws);
    if (r.err != SHD_ERR_NOT_FOUND || fetched) {
        return r;
    }
    /* Unknown kid: the verifier may have rotated its key since we fetched the set. */
    SHD_GUARD_CTX(attest_jwks(true, a, &fetched), "attestation token keys");
    return fetched ? shd_jws_verify_jwks(a->jwks, SHD_JWS_RS256, jws) : r;
}

SHD_RESULT wif_attest_check_token(const char *token, size_t len, const char *audience,
                                  struct wif_attest *a, int64_t *ret_exp)
{
    SHD_ENSURE_REF(token);
    SHD_ENSURE_REF(audience);
    SHD_ENSURE_REF(ret_exp);
    struct shd_jws *jws = NULL;
    SHD_GUARD_CTX(shd_jws_parse(token, len, WIF_ATTEST_TOKEN_MAX, &jws), "attestation token");

    shd_result r = attest_verify_sig(jws, a);
    struct shd_jwt_rules rules;
    shd_jwt_rules_init(&rules);
    rules.iss = a->verifier_issuer;
    rules.aud = audience;
    rules.skew = WIF_ATTEST_SKEW_S;
    rules.require_exp = true;
    const json_t *claims = NULL;
    if (shd_is_ok(r)) {
        r = shd_jwt_check(&rules, jws, &claims);
    }
    int64_t exp = 0;
    if (shd_is_ok(r)) {
        r = shd_json_get_int(claims, "exp", 1, INT64_MAX, &exp);
    }
    shd_jws_free(&jws);
    SHD_GUARD_CTX(r, "attestation token");
    *ret_exp = exp;
    return SHD_OK;
}

static shd_result attest_audience_check(const char *aud)
{
    size_t n = strlen(aud);

    SHD_ENSURE_MSG(n <= WIF_ATTEST_AUDIENCE_MAX, SHD_ERR_USAGE, "audience over %u bytes",
                   WIF_ATTEST_AUDIENCE_MAX);
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_MSG(aud[i] > 0x20 && aud[i] < 0x7f, SHD_ERR_USAGE,
                       "audience must be printable ASCII without spaces");
    }
    return SHD_OK;
}

static shd_result attest_token_tpm(const char *aud, struct wif_attest *a, char **ret_token,
                                   size_t *ret_len, int64_t *ret_exp)
{
    char *tok = NULL;
    size_t n = 0;
    /* The default audience is asked for by sending none (gcp-identity.md section 3.6). */
    bool dflt = strcmp(aud, WIF_ATTEST_DEFAULT_AUDIENCE) == 0;
    SHD_GUARD(wif_attest_tpm_fetch(dflt ? NULL : aud, a, &tok, &n));
    int64_t exp = 0;
    shd_result r = wif_attest_check_token(tok, n, aud, a, &exp);
    if (shd_is_err(r)) {
        shd_free_wipe(tok, n + 1);
        return r;
    }
    *ret_token = tok;
    *ret_len = n;
    *ret_exp = exp;
    return SHD_OK;
}

SHD_RESULT wif_attest_token(const char *audience, struct wif_attest *a, char **ret_token,
                            size_t *ret_len, int64_t *ret_exp)
{
    SHD_ENSURE_REF(a);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_REF(ret_exp);
    const char *aud =
        audience != NULL && audience[0] != '\0' ? audience : WIF_ATTEST_DEFAULT_AUDIENCE;
    SHD_GUARD(attest_audience_check(aud));

    if (pthread_mutex_lock(&a->lock) != 0) {
        shd_misuse("wif_attest mutex");
    }
    shd_result r = a->mode == WIF_ATTEST_MODE_TPM
                       ? attest_token_tpm(aud, a, ret_token, ret_len, ret_exp)
                       : wif_launcher_token(aud, a, ret_token, ret_len, ret_exp);
    (void)pthread_mutex_unlock(&a->lock);
    return r;
}
