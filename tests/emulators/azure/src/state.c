/*
 * state.c - the state `azure-emu serve` loads once from the state directory, the HTTP client for
 * the emulator's own calls, Host checks, and the service route tables (see emu.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "emu.h"
#include "emu_files.h"
#include "emu_state.h"
#include "faults.h"
#include "maa_verify.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define STATE_MAX_STATUS 64u
#define STATE_CLIENT_TIMEOUT_MS 5000u

/* ------------------------------------------------------------------------------------------ */
/* Files                                                                                       */

/* The state directory as the common loaders see it (reads follow symbolic links). */
static struct emu_state_dir state_dir(const struct aemu_state *st)
{
    return (struct emu_state_dir){.path = st->state_dir, .tool = "azure-emu", .read_flags = 0};
}

/* tcbm: REPORTED_TCB as 16 hex digits of the u64 (azure-formats.md §3.4). */
static shd_result state_parse_tcbm(const char *hex, uint64_t *ret)
{
    SHD_ENSURE_MSG(strlen(hex) == 16, SHD_ERR_CONFIG, "tcbm '%s' is not 16 hex digits", hex);
    uint8_t be[8];
    size_t n = 0;
    SHD_GUARD_CTX(shd_hex_decode_into(hex, 16, be, sizeof(be), &n), "tcbm");
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(be); i++) {
        v = (v << 8) | be[i];
    }
    *ret = v;
    return SHD_OK;
}

static shd_result state_load_thim(struct aemu_state *st)
{
    uint8_t *text = NULL;
    size_t len = 0;
    struct emu_state_dir d = state_dir(st);
    SHD_GUARD(emu_state_read(&d, "snp/thim.json", &text, &len));
    st->thim_json = (char *)text;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD_CTX(shd_json_parse(st->thim_json, len, NULL, &doc), "snp/thim.json");
    const char *tcbm = NULL;
    SHD_GUARD_CTX(shd_json_get_string(doc, "tcbm", &tcbm), "snp/thim.json");
    return state_parse_tcbm(tcbm, &st->chip_tcbm);
}

static shd_result state_load_roots(struct aemu_state *st)
{
    st->amd_roots = sk_X509_new_null();
    SHD_ENSURE(st->amd_roots != NULL, SHD_ERR_NOMEM);
    size_t n = 0;
    const struct aemu_maa_root *roots = aemu_maa_amd_roots(&n);
    for (size_t i = 0; i < n; i++) {
        X509 *c = NULL;
        SHD_GUARD_CTX(shd_crypto_x509_load((const uint8_t *)roots[i].pem, roots[i].len, &c),
                      "built-in %s", roots[i].name);
        if (sk_X509_push(st->amd_roots, c) <= 0) {
            X509_free(c);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
    }
    SHD_ENSURE(X509_up_ref(st->chip_ark) == 1, SHD_ERR_INTERNAL);
    if (sk_X509_push(st->amd_roots, st->chip_ark) <= 0) {
        X509_free(st->chip_ark);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */

/* 8-4-4-4-12 hex digits. */
static bool state_is_guid(const char *s)
{
    static const size_t groups[] = {8, 4, 4, 4, 12};
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (size_t i = 0; i < groups[g]; i++, s++) {
            bool hex =
                (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F');
            if (!hex) {
                return false;
            }
        }
        if (g + 1 < sizeof(groups) / sizeof(groups[0])) {
            if (*s != '-') {
                return false;
            }
            s++;
        }
    }
    return *s == '\0';
}

static bool state_is_status(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > STATE_MAX_STATUS) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

static shd_result state_options(const struct aemu_state_options *o, struct aemu_state *st)
{
    const char *status =
        o->compliance_status != NULL ? o->compliance_status : AEMU_DEFAULT_COMPLIANCE_STATUS;
    SHD_ENSURE_MSG(state_is_status(status), SHD_ERR_CONFIG,
                   "compliance status must be 1..%u of [a-z0-9_-]", STATE_MAX_STATUS);
    const char *tenant = o->tenant_id != NULL ? o->tenant_id : AEMU_DEFAULT_TENANT_ID;
    SHD_ENSURE_MSG(state_is_guid(tenant), SHD_ERR_CONFIG, "tenant id '%s' is not a GUID", tenant);
    st->compliance_status = shd_strdup(status);
    st->tenant_id = shd_strdup(tenant);
    st->state_dir = shd_strdup(o->state_dir);
    SHD_ENSURE(st->compliance_status != NULL && st->tenant_id != NULL && st->state_dir != NULL,
               SHD_ERR_NOMEM);
    char iss[128];
    int n = snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", tenant);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(iss), SHD_ERR_INTERNAL);
    st->aad_issuer = shd_strdup(iss);
    SHD_ENSURE(st->aad_issuer != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */

static shd_result state_load_all(const struct aemu_state_options *o, struct aemu_state *st)
{
    SHD_GUARD(state_options(o, st));
    struct emu_state_dir d = state_dir(st);
    char path[EMU_PATH_MAX];
    SHD_GUARD_CTX(emu_path_join(st->state_dir, "ca.pem", path, sizeof(path)), "state file ca.pem");
    st->ca_path = shd_strdup(path);
    SHD_ENSURE(st->ca_path != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(emu_state_load_cert(&d, "ca.pem", &st->ca_cert));
    SHD_GUARD(emu_state_load_key(&d, "ca.key", &st->ca_key));

    uint8_t *pem = NULL;
    size_t len = 0;
    SHD_GUARD(emu_state_read(&d, "server.pem", &pem, &len));
    st->server_cert_pem = (char *)pem;
    SHD_GUARD(emu_state_check_private(&d, "server.key"));
    SHD_GUARD(emu_state_read(&d, "server.key", &pem, &len));
    st->server_key_pem = (char *)pem;
    st->server_key_pem_len = len;

    SHD_GUARD(emu_state_load_key(&d, "maa-signing.key", &st->maa_key));
    SHD_GUARD(emu_state_load_cert(&d, "maa-signing.pem", &st->maa_cert));
    SHD_GUARD(
        emu_state_check_pair(st->maa_cert, st->maa_key, "maa-signing.pem", "maa-signing.key"));
    SHD_GUARD(shd_jwk_thumbprint(st->maa_key, st->maa_kid));

    SHD_GUARD(emu_state_load_key(&d, "aad-issuer.key", &st->aad_key));
    SHD_GUARD(shd_jwk_thumbprint(st->aad_key, st->aad_kid));

    SHD_GUARD(emu_state_load_cert(&d, "snp/ark.pem", &st->chip_ark));
    SHD_GUARD(emu_state_load_cert(&d, "snp/ask.pem", &st->chip_ask));
    SHD_GUARD(emu_state_load_cert(&d, "snp/vcek.pem", &st->chip_vcek));
    SHD_GUARD(state_load_thim(st));
    SHD_GUARD(state_load_roots(st));
    return aemu_faults_new(&st->faults);
}

shd_result aemu_state_load(const struct aemu_state_options *opts, struct aemu_state **ret)
{
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(opts->state_dir != NULL && opts->state_dir[0] != '\0', SHD_ERR_CONFIG,
                   "--state DIR is required");
    struct aemu_state *st = shd_alloc(sizeof(*st));
    SHD_ENSURE(st != NULL, SHD_ERR_NOMEM);
    shd_result r = state_load_all(opts, st);
    if (shd_is_err(r)) {
        aemu_state_free(st);
        return r;
    }
    *ret = st;
    return SHD_OK;
}

void aemu_state_free(struct aemu_state *st)
{
    if (st == NULL) {
        return;
    }
    shd_free(st->state_dir);
    shd_free(st->ca_path);
    X509_free(st->ca_cert);
    EVP_PKEY_free(st->ca_key);
    shd_free(st->server_cert_pem);
    if (st->server_key_pem != NULL) {
        shd_free_wipe(st->server_key_pem, st->server_key_pem_len + 1);
    }
    EVP_PKEY_free(st->maa_key);
    X509_free(st->maa_cert);
    EVP_PKEY_free(st->aad_key);
    shd_free(st->tenant_id);
    shd_free(st->aad_issuer);
    X509_free(st->chip_ark);
    X509_free(st->chip_ask);
    X509_free(st->chip_vcek);
    shd_free(st->thim_json);
    shd_crypto_x509_chain_free(st->amd_roots);
    shd_free(st->compliance_status);
    aemu_faults_free(st->faults);
    shd_free_wipe(st, sizeof(*st));
}

shd_result aemu_http_client_new(const struct aemu_state *st, struct shd_http_client **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(st->ports.maa != 0, SHD_ERR_USAGE, "MAA listener not bound yet");
    char map[64];
    int n = snprintf(map, sizeof(map), ":443:127.0.0.1:%u", (unsigned)st->ports.maa);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(map), SHD_ERR_INTERNAL);
    struct shd_http_client_options o = {
        .ca_file = st->ca_path,
        .connect_to = map,
        .connect_timeout_ms = STATE_CLIENT_TIMEOUT_MS,
        .timeout_ms = STATE_CLIENT_TIMEOUT_MS,
        .user_agent = "azure-emu",
        .retry = SHD_HTTP_RETRY_NONE,
    };
    return shd_http_client_create(&o, ret);
}

/* ------------------------------------------------------------------------------------------ */
/* Host names                                                                                  */

static bool state_port_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10u + (unsigned)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static bool state_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok || (c == '.' && s[i + 1] == '.')) {
            return false;
        }
    }
    return true;
}

bool aemu_host_is_served(const char *host, const char *suffix)
{
    if (host == NULL) {
        return false;
    }
    if (strncmp(host, "[::1]", 5) == 0) {
        return host[5] == '\0' || (host[5] == ':' && state_port_ok(host + 6));
    }
    const char *colon = strchr(host, ':');
    size_t n = colon != NULL ? (size_t)(colon - host) : strlen(host);
    if (colon != NULL && !state_port_ok(colon + 1)) {
        return false;
    }
    if (!state_name_ok(host, n)) {
        return false;
    }
    if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
        (n == 9 && strncmp(host, "127.0.0.1", 9) == 0)) {
        return true;
    }
    size_t sl = suffix != NULL ? strlen(suffix) : 0;
    return sl > 0 && n > sl && strncasecmp(host + n - sl, suffix, sl) == 0 &&
           host[n - sl - 1] != '.';
}

/* ------------------------------------------------------------------------------------------ */
/* Services                                                                                    */

shd_result aemu_service_new(const struct aemu_service *tmpl, struct aemu_service **ret)
{
    SHD_ENSURE_REF(tmpl);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(tmpl->name != NULL && (tmpl->routes != NULL || tmpl->nroutes == 0), SHD_ERR_NULL);
    for (size_t i = 0; i < tmpl->nroutes; i++) {
        SHD_ENSURE_MSG(tmpl->routes[i].path != NULL && tmpl->routes[i].path[0] == '/' &&
                           tmpl->routes[i].handler != NULL,
                       SHD_ERR_CONFIG, "%s route %zu needs a path and a handler", tmpl->name, i);
    }
    struct aemu_service *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    *s = *tmpl;
    *ret = s;
    return SHD_OK;
}

void aemu_service_free(struct aemu_service *svc)
{
    if (svc == NULL) {
        return;
    }
    if (svc->ctx_free != NULL) {
        svc->ctx_free(svc->ctx);
    }
    shd_free(svc);
}

static bool state_route_matches(const struct aemu_route *r, const char *path)
{
    size_t rl = strlen(r->path);
    size_t pl = strlen(path);
    if ((r->flags & AEMU_ROUTE_SLASH_OPT) != 0 && pl > 1 && path[pl - 1] == '/') {
        pl--;
    }
    bool nocase = (r->flags & AEMU_ROUTE_NOCASE) != 0;
    if ((r->flags & AEMU_ROUTE_PREFIX) != 0) {
        if (pl < rl) {
            return false;
        }
    } else if (pl != rl) {
        return false;
    }
    return nocase ? strncasecmp(path, r->path, rl) == 0 : strncmp(path, r->path, rl) == 0;
}

shd_result aemu_service_dispatch(const struct aemu_service *svc, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(svc);
    const char *path = shd_http_req_path(req);
    const char *method = shd_http_req_method(req);
    bool path_known = false;
    for (size_t i = 0; i < svc->nroutes; i++) {
        const struct aemu_route *r = &svc->routes[i];
        if (!state_route_matches(r, path)) {
            continue;
        }
        path_known = true;
        if (r->method == NULL || strcmp(r->method, method) == 0) {
            return r->handler(svc->ctx, req, resp);
        }
    }
    if (path_known) {
        return shd_http_resp_json_error(405, "method not allowed", resp);
    }
    if (svc->not_found != NULL) {
        return svc->not_found(svc->ctx, req, resp);
    }
    return shd_http_resp_json_error(404, "not found", resp);
}
