/*
 * state.c - the state `gcp-emu serve` loads once from the state directory (files through the
 * common emu_state.h loaders), the HTTP client for the emulator's own calls, and the service
 * plug-in plumbing (see gemu.h).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "emu_files.h"
#include "emu_state.h"
#include "faults.h"
#include "gemu.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "tokens.h"

#define STATE_MAX_MSG (1024u * 1024u)
#define STATE_CLIENT_TIMEOUT_MS 5000u

/* ------------------------------------------------------------------------------------------ */
/* Loading                                                                                     */

/* The state directory as the common loaders see it; reads never follow symbolic links. */
static struct emu_state_dir state_dir(const struct gemu_state *st)
{
    return (struct emu_state_dir){
        .path = st->state_dir, .tool = "gcp-emu", .read_flags = EMU_FILE_NOFOLLOW};
}

/* kid = hex of the first 20 bytes of SHA-256(SPKI DER): 40 hex digits like Google's. */
static shd_result state_kid(EVP_PKEY *key, char out[static GEMU_KID_LEN + 1])
{
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;
    SHD_GUARD(shd_crypto_pubkey_export_spki_der(key, &der, &der_len));
    uint8_t h[SHD_CRYPTO_SHA256_LEN];
    SHD_GUARD(shd_crypto_sha256(der, der_len, h));
    SHD_GUARD(shd_hex_encode_into(h, GEMU_KID_LEN / 2, out, GEMU_KID_LEN + 1));
    return SHD_OK;
}

static shd_result state_dup_field(const json_t *obj, const char *key, char **ret)
{
    const char *v = NULL;
    SHD_GUARD_CTX(shd_json_get_string(obj, key, &v), "config.json");
    SHD_ENSURE_MSG(v[0] != '\0', SHD_ERR_CONFIG, "config.json: empty '%s'", key);
    *ret = shd_strdup(v);
    SHD_ENSURE(*ret != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result state_load_config(struct gemu_state *st)
{
    SHD_CLEANUP_FREE uint8_t *text = NULL;
    size_t len = 0;
    struct emu_state_dir d = state_dir(st);
    SHD_GUARD(emu_state_read(&d, "config.json", &text, &len));
    SHD_GUARD_CTX(shd_json_parse((const char *)text, len, NULL, &st->config), "config.json");
    json_t *project = NULL;
    json_t *inst = NULL;
    SHD_GUARD_CTX(shd_json_get_object(st->config, "project", &project), "config.json");
    SHD_GUARD_CTX(shd_json_get_object(st->config, "instance", &inst), "config.json");
    struct gemu_identity *id = &st->id;
    SHD_GUARD(state_dup_field(project, "id", &id->project_id));
    SHD_GUARD(state_dup_field(project, "number", &id->project_number));
    SHD_GUARD(state_dup_field(inst, "zone", &id->zone));
    SHD_GUARD(state_dup_field(inst, "id", &id->instance_id));
    SHD_GUARD(state_dup_field(inst, "name", &id->instance_name));
    SHD_GUARD(state_dup_field(inst, "service_account", &id->vm_service_account));
    SHD_GUARD(state_dup_field(inst, "service_account_id", &id->vm_service_account_id));
    SHD_GUARD_CTX(shd_json_get_int(inst, "creation_timestamp", 0, INT64_C(1) << 40,
                                   &id->instance_creation_timestamp),
                  "config.json");
    return SHD_OK;
}

static shd_result state_load_all(const struct gemu_state_options *o, struct gemu_state *st)
{
    st->state_dir = shd_strdup(o->state_dir);
    SHD_ENSURE(st->state_dir != NULL, SHD_ERR_NOMEM);
    struct emu_state_dir d = state_dir(st);
    char path[EMU_PATH_MAX];
    SHD_GUARD(emu_path_join(st->state_dir, "ca.pem", path, sizeof(path)));
    st->ca_path = shd_strdup(path);
    SHD_ENSURE(st->ca_path != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(emu_state_load_cert(&d, "ca.pem", &st->ca_cert));

    uint8_t *pem = NULL;
    size_t len = 0;
    SHD_GUARD(emu_state_read(&d, "server.pem", &pem, &len));
    st->server_cert_pem = (char *)pem;
    SHD_GUARD(emu_state_check_private(&d, "server.key"));
    SHD_GUARD(emu_state_read(&d, "server.key", &pem, &len));
    st->server_key_pem = (char *)pem;
    st->server_key_pem_len = len;

    SHD_GUARD(emu_state_load_key(&d, "verifier.key", &st->verifier_key));
    SHD_GUARD(state_kid(st->verifier_key, st->verifier_kid));
    SHD_GUARD(emu_state_load_key(&d, "google.key", &st->google_key));
    SHD_GUARD(state_kid(st->google_key, st->google_kid));

    SHD_GUARD(emu_state_load_cert(&d, "ak/root.pem", &st->ak_root_cert));
    SHD_GUARD(emu_state_load_cert(&d, "ak/intermediate.pem", &st->ak_ca_cert));
    SHD_GUARD(emu_state_load_key(&d, "ak/intermediate.key", &st->ak_ca_key));
    SHD_GUARD(emu_state_check_pair(st->ak_ca_cert, st->ak_ca_key, "ak/intermediate.pem",
                                   "ak/intermediate.key"));

    SHD_GUARD(state_load_config(st));
    SHD_GUARD(gemu_faults_new(&st->faults));
    SHD_GUARD(gemu_tokens_new(&st->tokens));
    return SHD_OK;
}

shd_result gemu_state_load(const struct gemu_state_options *opts, struct gemu_state **ret)
{
    SHD_ENSURE_REF(opts);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(opts->state_dir != NULL && opts->state_dir[0] != '\0', SHD_ERR_CONFIG,
                   "--state DIR is required");
    struct gemu_state *st = shd_alloc(sizeof(*st));
    SHD_ENSURE(st != NULL, SHD_ERR_NOMEM);
    shd_result r = state_load_all(opts, st);
    if (shd_is_err(r)) {
        gemu_state_free(st);
        return r;
    }
    *ret = st;
    return SHD_OK;
}

void gemu_state_free(struct gemu_state *st)
{
    if (st == NULL) {
        return;
    }
    shd_free(st->state_dir);
    shd_free(st->ca_path);
    X509_free(st->ca_cert);
    shd_free(st->server_cert_pem);
    if (st->server_key_pem != NULL) {
        shd_free_wipe(st->server_key_pem, st->server_key_pem_len + 1);
    }
    EVP_PKEY_free(st->verifier_key);
    EVP_PKEY_free(st->google_key);
    X509_free(st->ak_root_cert);
    X509_free(st->ak_ca_cert);
    EVP_PKEY_free(st->ak_ca_key);
    shd_free(st->id.project_id);
    shd_free(st->id.project_number);
    shd_free(st->id.zone);
    shd_free(st->id.instance_id);
    shd_free(st->id.instance_name);
    shd_free(st->id.vm_service_account);
    shd_free(st->id.vm_service_account_id);
    if (st->config != NULL) {
        json_decref(st->config);
    }
    gemu_faults_free(st->faults);
    gemu_tokens_free(st->tokens);
    shd_free_wipe(st, sizeof(*st));
}

/* ------------------------------------------------------------------------------------------ */
/* Outgoing HTTP                                                                               */

/* Appends "HOST:PORT:127.0.0.1:TO" (CURLOPT_CONNECT_TO) unless the listener is not bound. */
static shd_result state_map_add(const char *host, unsigned port, uint16_t to, char *out, size_t cap,
                                size_t *pos)
{
    if (to == 0) {
        return SHD_OK;
    }
    int n = snprintf(out + *pos, cap - *pos, "%s%s:%u:127.0.0.1:%u", *pos > 0 ? "," : "", host,
                     port, (unsigned)to);
    SHD_ENSURE(n > 0 && (size_t)n < cap - *pos, SHD_ERR_INTERNAL);
    *pos += (size_t)n;
    return SHD_OK;
}

shd_result gemu_http_client_new(const struct gemu_state *st, struct shd_http_client **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    char map[1024];
    size_t pos = 0;
    map[0] = '\0';
    const struct gemu_ports *p = &st->ports;
    SHD_GUARD(state_map_add(GEMU_HOST_VERIFIER, 443, p->verifier, map, sizeof(map), &pos));
    SHD_GUARD(state_map_add(GEMU_HOST_WWW, 443, p->verifier, map, sizeof(map), &pos));
    SHD_GUARD(state_map_add(GEMU_HOST_STS, 443, p->sts, map, sizeof(map), &pos));
    SHD_GUARD(state_map_add(GEMU_HOST_IAM, 443, p->iam, map, sizeof(map), &pos));
    SHD_GUARD(state_map_add(GEMU_HOST_KMS, 443, p->kms, map, sizeof(map), &pos));
    SHD_GUARD(state_map_add(GEMU_HOST_MDS, 80, p->mds, map, sizeof(map), &pos));
    SHD_GUARD(state_map_add(GEMU_HOST_AK_AIA, 80, p->mds, map, sizeof(map), &pos));
    struct shd_http_client_options o = {
        .ca_file = st->ca_path,
        .connect_to = map,
        .connect_timeout_ms = STATE_CLIENT_TIMEOUT_MS,
        .timeout_ms = STATE_CLIENT_TIMEOUT_MS,
        .user_agent = "gcp-emu",
        .retry = SHD_HTTP_RETRY_NONE,
    };
    return shd_http_client_create(&o, ret);
}

/* ------------------------------------------------------------------------------------------ */
/* Services                                                                                    */

shd_result gemu_service_new(const struct gemu_service *tmpl, struct gemu_service **ret)
{
    SHD_ENSURE_REF(tmpl);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(tmpl->name != NULL && (tmpl->routes != NULL || tmpl->nroutes == 0), SHD_ERR_USAGE);
    struct gemu_service *svc = shd_alloc(sizeof(*svc));
    SHD_ENSURE(svc != NULL, SHD_ERR_NOMEM);
    *svc = *tmpl;
    *ret = svc;
    return SHD_OK;
}

void gemu_service_free(struct gemu_service *svc)
{
    if (svc == NULL) {
        return;
    }
    if (svc->ctx_free != NULL) {
        svc->ctx_free(svc->ctx);
    }
    shd_free(svc);
}

bool gemu_path_match(const char *tmpl, const char *path, struct gemu_path_captures *ret)
{
    if (tmpl == NULL || path == NULL) {
        return false;
    }
    struct gemu_path_captures caps;
    caps.n = 0;
    const char *t = tmpl;
    const char *p = path;
    while (*t != '\0') {
        if (*t != '*') {
            if (*p != *t) {
                return false;
            }
            t++;
            p++;
            continue;
        }
        size_t n = strcspn(p, "/:");
        if (n == 0 || n > GEMU_PATH_CAPTURE_MAX || caps.n >= GEMU_PATH_MAX_CAPTURES) {
            return false;
        }
        shd_memcpy(caps.v[caps.n], p, n);
        caps.v[caps.n][n] = '\0';
        caps.n++;
        p += n;
        t++;
    }
    if (*p != '\0') {
        return false;
    }
    if (ret != NULL) {
        *ret = caps;
    }
    return true;
}

static bool state_route_path_ok(const struct gemu_route *r, const char *path)
{
    if ((r->flags & GEMU_ROUTE_PATTERN) != 0) {
        return gemu_path_match(r->path, path, NULL);
    }
    if ((r->flags & GEMU_ROUTE_PREFIX) != 0) {
        return strncmp(path, r->path, strlen(r->path)) == 0;
    }
    return strcmp(path, r->path) == 0;
}

shd_result gemu_service_dispatch(const struct gemu_service *svc, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(svc);
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(resp);
    const char *method = shd_http_req_method(req);
    const char *path = shd_http_req_path(req);
    bool path_seen = false;
    for (size_t i = 0; i < svc->nroutes; i++) {
        const struct gemu_route *r = &svc->routes[i];
        if (!state_route_path_ok(r, path)) {
            continue;
        }
        path_seen = true;
        if (r->method == NULL || strcmp(r->method, method) == 0) {
            return r->handler(svc->ctx, req, resp);
        }
    }
    if (path_seen) {
        return gemu_resp_google_error(405, "UNIMPLEMENTED", "Method not allowed.", resp);
    }
    if (svc->not_found != NULL) {
        return svc->not_found(svc->ctx, req, resp);
    }
    return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
}

shd_result gemu_resp_google_error(unsigned status, const char *grpc_status, const char *message,
                                  struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(grpc_status);
    SHD_ENSURE_REF(message);
    SHD_ENSURE_REF(resp);
    /* Built by hand: messages quote resource names from the request path, which may hold
     * invalid UTF-8 that jansson would refuse; shd_http_json_escape maps it to U+FFFD. */
    SHD_CLEANUP_FREE char *msg = NULL;
    SHD_CLEANUP_FREE char *code = NULL;
    SHD_GUARD(shd_http_json_escape(message, &msg));
    SHD_GUARD(shd_http_json_escape(grpc_status, &code));
    struct shd_buf b;
    shd_buf_init(STATE_MAX_MSG, 0, &b);
    shd_result r = shd_buf_appendf(
        &b, "{\"error\":{\"code\":%u,\"message\":\"%s\",\"status\":\"%s\"}}", status, msg, code);
    if (shd_is_ok(r)) {
        r = shd_http_resp_json(status, shd_buf_str(&b), resp);
    }
    shd_buf_free(&b);
    return r;
}

shd_result gemu_resp_unauthenticated(struct shd_http_resp *resp)
{
    SHD_GUARD(gemu_resp_google_error(401, "UNAUTHENTICATED", GEMU_MSG_UNAUTHENTICATED, resp));
    return shd_http_resp_header("WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\"",
                                resp);
}

shd_result gemu_resp_permission_denied(const char *permission, const char *resource,
                                       const char *domain, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(permission);
    SHD_ENSURE_REF(domain);
    SHD_ENSURE_REF(resp);
    struct shd_buf msg;
    shd_buf_init(STATE_MAX_MSG, 0, &msg);
    shd_result r = resource != NULL
                       ? shd_buf_appendf(&msg,
                                         "Permission '%s' denied on resource '%s' (or it may "
                                         "not exist).",
                                         permission, resource)
                       : shd_buf_appendf(&msg,
                                         "Permission '%s' denied on resource (or it may not "
                                         "exist).",
                                         permission);
    json_t *doc = NULL;
    if (shd_is_ok(r)) {
        /* shd_http_json_escape in gemu_resp_google_error would not cover details; resource
         * names reaching here were matched against our registry, so they are valid UTF-8. */
        doc = json_pack("{s:{s:i,s:s,s:s,s:[{s:s,s:s,s:s,s:{s:s}}]}}", "error", "code", 403,
                        "message", shd_buf_str(&msg), "status", "PERMISSION_DENIED", "details",
                        "@type", "type.googleapis.com/google.rpc.ErrorInfo", "reason",
                        "IAM_PERMISSION_DENIED", "domain", domain, "metadata", "permission",
                        permission);
        if (doc == NULL) {
            r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
        }
    }
    shd_buf_free(&msg);
    SHD_GUARD(r);
    SHD_CLEANUP_JSON json_t *owned = doc;
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(owned, 0, &text, &len));
    return shd_http_resp_json(403, text, resp);
}

static int state_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

shd_result gemu_pct_decode(const char *in, char *out, size_t cap)
{
    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(out);
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0'; i++) {
        char c = in[i];
        if (c == '%') {
            SHD_ENSURE_MSG(in[i + 1] != '\0' && in[i + 2] != '\0', SHD_ERR_INPUT,
                           "bad percent escape");
            int hi = state_hex(in[i + 1]);
            int lo = state_hex(in[i + 2]);
            SHD_ENSURE_MSG(hi >= 0 && lo >= 0 && (hi | lo) != 0, SHD_ERR_INPUT,
                           "bad percent escape");
            c = (char)((hi << 4) | lo);
            i += 2;
        }
        SHD_ENSURE(o + 1 < cap, SHD_ERR_TOO_LARGE);
        out[o++] = c;
    }
    SHD_ENSURE(cap > 0, SHD_ERR_TOO_LARGE);
    out[o] = '\0';
    return SHD_OK;
}

shd_result gemu_json_body(const struct shd_http_req *req, json_t **ret)
{
    SHD_ENSURE_REF(req);
    SHD_ENSURE_REF(ret);
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    json_t *doc = NULL;
    SHD_GUARD(shd_json_parse((const char *)body, len, NULL, &doc));
    if (!json_is_object(doc)) {
        json_decref(doc);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "request body is not a JSON object");
    }
    *ret = doc;
    return SHD_OK;
}
