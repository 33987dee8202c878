/*
 * serve.c - `gcp-emu serve`: the listeners with their fault and access-log layer (serve.h),
 * the optional vTPM, endpoints.json, and the run until SIGTERM/SIGINT.
 */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "accesslog.h"
#include "emu_files.h"
#include "faults.h"
#include "gemu_cmd.h"
#include "iam.h"
#include "kms.h"
#include "mds.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "sts.h"
#include "tokens_jwks.h"
#include "verifier.h"
#include "vtpm.h"

#define SERVE_PATH_MAX 4096u
#define SERVE_MAX_BODY (1024u * 1024u)

struct gemu_listener {
    struct gemu_state *st;
    const char *name;
    struct shd_http_server *server;
    struct gemu_service *svc;
    struct gemu_service *front;
};

/* ------------------------------------------------------------------------------------------ */
/* Faults                                                                                      */

static const char *serve_grpc_status(unsigned status)
{
    switch (status) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 409:
        return "ABORTED";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 501:
        return "UNIMPLEMENTED";
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return status >= 500 ? "INTERNAL" : "UNKNOWN";
    }
}

/* The service's own error shape for an injected status. */
static shd_result serve_fault_error(const struct gemu_listener *l, unsigned status,
                                    struct shd_http_resp *resp)
{
    if (strcmp(l->name, GEMU_SVC_STS) == 0) {
        static const char body[] = "{\"error\":\"temporarily_unavailable\",\"error_description\":"
                                   "\"Injected fault.\"}";
        return shd_http_resp_body(status, "application/json; charset=utf-8", body, sizeof(body) - 1,
                                  resp);
    }
    if (strcmp(l->name, GEMU_SVC_MDS) == 0) {
        SHD_GUARD(shd_http_resp_body(status, "text/html", "Injected fault.\n", 16, resp));
        return shd_http_resp_header("Metadata-Flavor", "Google", resp);
    }
    return gemu_resp_google_error(status, serve_grpc_status(status), "Injected fault.", resp);
}

/* Rewrites the body a handler produced: half of it (malformed) or nothing (empty). */
static shd_result serve_mangle(enum gemu_fault_body how, struct shd_http_resp *resp)
{
    unsigned status = shd_http_resp_get_status(resp);
    const char *ct = shd_http_resp_get_content_type(resp);
    size_t len = 0;
    const uint8_t *body = shd_http_resp_get_body(resp, &len);
    size_t keep = how == GEMU_FAULT_BODY_MALFORMED && body != NULL ? len / 2 : 0;
    uint8_t *copy = shd_alloc(keep + 1);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_memcpy(copy, body, keep);
    /* The handler's body may hold secrets: body_take wipes what it replaces and what it sends. */
    shd_http_resp_body_take(status, ct != NULL ? ct : "application/json", copy, keep, keep + 1,
                            resp);
    return SHD_OK;
}

static shd_result serve_apply_fault(const struct gemu_listener *l, const struct gemu_fault *f,
                                    struct shd_http_resp *resp, bool *ret_answered)
{
    *ret_answered = false;
    emu_fault_sleep(f);
    if (f->drop) {
        /* A dropped connection: closed without a byte of answer (clients see an empty reply). */
        shd_http_resp_abort(resp);
        *ret_answered = true;
        return SHD_OK;
    }
    if (f->status != 0) {
        if (f->body == GEMU_FAULT_BODY_ERROR) {
            SHD_GUARD(serve_fault_error(l, f->status, resp));
        } else if (f->body == GEMU_FAULT_BODY_MALFORMED) {
            static const char cut[] = "{\"error\":{\"code\":";
            SHD_GUARD(
                shd_http_resp_body(f->status, "application/json", cut, sizeof(cut) - 1, resp));
        } else {
            SHD_GUARD(shd_http_resp_body(f->status, "application/json", "", 0, resp));
        }
        SHD_GUARD(emu_fault_retry_after(f, resp));
        *ret_answered = true;
    }
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Listeners                                                                                   */

static shd_result serve_dispatch(void *vctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    struct gemu_listener *l = vctx;
    uint64_t t0 = gemu_accesslog_now_us();
    const char *method = shd_http_req_method(req);
    const char *path = shd_http_req_path(req);
    /* The control endpoints are never faulted, or a test could lock itself out. */
    bool control = strcmp(l->name, GEMU_SVC_MDS) == 0 && strncmp(path, "/emu/", 5) == 0;
    struct gemu_fault f;
    bool faulted = !control && gemu_faults_take(l->name, method, path, l->st->faults, &f);
    bool answered = false;
    shd_result r = SHD_OK;
    if (faulted) {
        r = serve_apply_fault(l, &f, resp, &answered);
    }
    if (shd_is_ok(r) && !answered) {
        const struct gemu_service *svc =
            l->front != NULL && gemu_wellknown_path(path) ? l->front : l->svc;
        r = svc != NULL ? gemu_service_dispatch(svc, req, resp)
                        : gemu_resp_google_error(503, "UNAVAILABLE", "Service not ready.", resp);
        if (shd_is_ok(r) && faulted && f.body != GEMU_FAULT_BODY_ERROR) {
            r = serve_mangle(f.body, resp);
        }
    }
    if (shd_is_err(r)) {
        (void)SHD_LOG_ERR("gemu-serve", r, "%s %s", l->name, path);
    }
    bool dropped = shd_http_resp_is_aborted(resp);
    unsigned status = dropped ? 0 : shd_is_ok(r) ? shd_http_resp_get_status(resp) : 500;
    gemu_accesslog_write(l->name, method, path, status, gemu_accesslog_now_us() - t0,
                         dropped ? "drop" : faulted ? "injected" : NULL);
    return r;
}

shd_result gemu_listener_bind(struct gemu_state *st, const char *name, bool tls, uint16_t port,
                              struct gemu_listener **ret, uint16_t *ret_port)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ret);
    struct gemu_listener *l = shd_alloc(sizeof(*l));
    SHD_ENSURE(l != NULL, SHD_ERR_NOMEM);
    l->st = st;
    l->name = name;
    const struct shd_http_route routes[] = {{NULL, "/", serve_dispatch, SHD_HTTP_ROUTE_PREFIX}};
    struct shd_http_server_options o = {
        .routes = routes,
        .nroutes = 1,
        .ctx = l,
        .max_body_bytes = SERVE_MAX_BODY,
    };
    shd_result r = shd_http_server_create(&o, &l->server);
    uint16_t bound = 0;
    if (shd_is_ok(r)) {
        r = tls ? shd_http_server_listen_tls("127.0.0.1", port, st->server_cert_pem,
                                             st->server_key_pem, l->server, &bound)
                : shd_http_server_listen_tcp("127.0.0.1", port, l->server, &bound);
    }
    if (shd_is_err(r)) {
        gemu_listener_free(l);
        shd_error_wrap("%s listener on 127.0.0.1:%u", name, (unsigned)port);
        return r;
    }
    *ret = l;
    if (ret_port != NULL) {
        *ret_port = bound;
    }
    return SHD_OK;
}

void gemu_listener_attach(struct gemu_service *svc, struct gemu_service *front,
                          struct gemu_listener *l)
{
    if (l != NULL) {
        l->svc = svc;
        l->front = front;
    }
}

shd_result gemu_listener_start(struct gemu_listener *l)
{
    SHD_ENSURE_REF(l);
    return shd_http_server_start(l->server);
}

shd_result gemu_listener_run_until_signal(struct gemu_listener *l, int *ret_signal)
{
    SHD_ENSURE_REF(l);
    return shd_http_server_run_until_signal(l->server, ret_signal);
}

void gemu_listener_free(struct gemu_listener *l)
{
    if (l == NULL) {
        return;
    }
    shd_http_server_free(l->server);
    shd_free(l);
}

/* ------------------------------------------------------------------------------------------ */
/* The command                                                                                 */

enum serve_svc { SV_VERIFIER, SV_STS, SV_IAM, SV_KMS, SV_MDS, SV_COUNT };

struct serve_opts {
    const char *state_dir;
    bool vtpm;
    uint16_t ports[SV_COUNT];
};

struct serve_run {
    struct gemu_state *st;
    struct gemu_listener *listeners[SV_COUNT];
    struct gemu_service *services[SV_COUNT];
    struct gemu_service *wellknown;
    struct gemu_vtpm *vtpm;
};

static const char *const serve_names[SV_COUNT] = {GEMU_SVC_VERIFIER, GEMU_SVC_STS, GEMU_SVC_IAM,
                                                  GEMU_SVC_KMS, GEMU_SVC_MDS};

static void serve_run_clear(struct serve_run *run)
{
    /* Listeners first: no request may run on a freed service. */
    for (size_t i = 0; i < SV_COUNT; i++) {
        gemu_listener_free(run->listeners[i]);
    }
    for (size_t i = 0; i < SV_COUNT; i++) {
        gemu_service_free(run->services[i]);
    }
    gemu_service_free(run->wellknown);
    gemu_vtpm_free(run->vtpm);
    gemu_state_free(run->st);
}

/* Member `member` of the first element of arr whose match_key starts with match_val (NULL: any). */
static const char *serve_first(const json_t *arr, const char *member, const char *match_key,
                               const char *match_val)
{
    size_t i = 0;
    const json_t *v = NULL;
    json_array_foreach(arr, i, v)
    {
        const json_t *m = json_object_get(v, match_key);
        if (match_val == NULL || (json_is_string(m) && strncmp(json_string_value(m), match_val,
                                                               strlen(match_val)) == 0)) {
            const json_t *s = json_object_get(v, member);
            if (json_is_string(s)) {
                return json_string_value(s);
            }
        }
    }
    return NULL;
}

static shd_result serve_endpoints(const struct serve_run *run)
{
    const struct gemu_state *st = run->st;
    const struct gemu_ports *p = &st->ports;
    const json_t *cfg = st->config;
    const json_t *pools = json_object_get(cfg, "workloadIdentityPools");
    const char *provider =
        serve_first(json_object_get(json_array_get(pools, 0), "providers"), "name", "name", NULL);
    const char *sa = serve_first(json_object_get(cfg, "serviceAccounts"), "email", "email", NULL);
    const json_t *keys = json_object_get(
        json_array_get(json_object_get(json_object_get(cfg, "kms"), "keyRings"), 0), "cryptoKeys");
    const char *rsa = serve_first(keys, "name", "algorithm", "RSA_DECRYPT_OAEP_");
    const char *sym = serve_first(keys, "name", "algorithm", "GOOGLE_SYMMETRIC_ENCRYPTION");
    char url[5][64];
    for (size_t i = 0; i < SV_COUNT; i++) {
        (void)snprintf(url[i], sizeof(url[i]), "%s://%s:%u", i == SV_MDS ? "http" : "https",
                       i == SV_MDS ? "127.0.0.1" : "localhost",
                       (unsigned)(i == SV_VERIFIER ? p->verifier
                                  : i == SV_STS    ? p->sts
                                  : i == SV_IAM    ? p->iam
                                  : i == SV_KMS    ? p->kms
                                                   : p->mds));
    }
    char tcti[GEMU_VTPM_TCTI_MAX + 1] = "";
    if (run->vtpm != NULL) {
        (void)snprintf(tcti, sizeof(tcti), "%s", gemu_vtpm_tcti(run->vtpm));
    }
    char aud[1024] = "";
    if (provider != NULL) {
        (void)snprintf(aud, sizeof(aud), "//iam.googleapis.com/%s", provider);
    }
    char rsa_ver[1024] = "";
    if (rsa != NULL) {
        (void)snprintf(rsa_ver, sizeof(rsa_ver), "%s/cryptoKeyVersions/1", rsa);
    }
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s*,s:s,s:s,s:s,s:s,s:s,s:s*,s:s*,s:s*,s:s*}", "verifier",
                  url[SV_VERIFIER], "sts", url[SV_STS], "iam", url[SV_IAM], "kms", url[SV_KMS],
                  "mds", url[SV_MDS], "tcti", tcti[0] != '\0' ? tcti : NULL, "ca", st->ca_path,
                  "project", st->id.project_id, "project_number", st->id.project_number, "zone",
                  st->id.zone, "vm_service_account", st->id.vm_service_account, "audience",
                  aud[0] != '\0' ? aud : NULL, "service_account", sa, "kms_rsa_key_version",
                  rsa_ver[0] != '\0' ? rsa_ver : NULL, "kms_sym_key", sym);
    SHD_ENSURE_MSG(doc != NULL, SHD_ERR_NOMEM, "building endpoints.json");
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump(doc, 0, &text, &len));
    char path[SERVE_PATH_MAX];
    SHD_GUARD(emu_path_join(st->state_dir, "endpoints.json", path, sizeof(path)));
    return emu_file_write(path, text, len, 0644, EMU_FILE_ATOMIC);
}

static shd_result serve_vtpm(struct serve_run *run)
{
    struct gemu_state *st = run->st;
    char dir[SERVE_PATH_MAX];
    char log[SERVE_PATH_MAX];
    SHD_GUARD(emu_path_join(st->state_dir, "vtpm", dir, sizeof(dir)));
    SHD_GUARD(emu_path_join(st->state_dir, GEMU_EVENTLOG_FILE, log, sizeof(log)));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    SHD_GUARD_CTX(gemu_vtpm_start(dir, &run->vtpm), "starting swtpm");
    struct gemu_instance_info info;
    SHD_GUARD(gemu_instance_info_from_text(st->id.zone, st->id.project_id, st->id.project_number,
                                           st->id.instance_id, st->id.instance_name, &info));
    struct gemu_vtpm_provision_opts o = {
        .instance = &info,
        .ca_cert = st->ak_ca_cert,
        .ca_key = st->ak_ca_key,
        .aia_url = GEMU_AK_INTERMEDIATE_AIA_URL,
        .log = {.firmware_version = 1, .technology = GEMU_GCE_TECH_AMD_SEV, .secure_boot = true},
        .eventlog_path = log,
    };
    SHD_GUARD_CTX(gemu_vtpm_provision(&o, run->vtpm, NULL), "provisioning the vTPM");
    st->ports.tpm = gemu_vtpm_port(run->vtpm);
    st->ports.tpm_ctrl = gemu_vtpm_ctrl_port(run->vtpm);
    return SHD_OK;
}

static shd_result serve_setup(const struct serve_opts *o, struct serve_run *run)
{
    struct gemu_state_options so = {.state_dir = o->state_dir};
    SHD_GUARD(gemu_state_load(&so, &run->st));
    struct gemu_state *st = run->st;
    if (o->vtpm) {
        SHD_GUARD(serve_vtpm(run));
    }
    uint16_t *ports[SV_COUNT] = {&st->ports.verifier, &st->ports.sts, &st->ports.iam,
                                 &st->ports.kms, &st->ports.mds};
    for (size_t i = 0; i < SV_COUNT; i++) {
        SHD_GUARD(gemu_listener_bind(st, serve_names[i], i != SV_MDS, o->ports[i],
                                     &run->listeners[i], ports[i]));
    }
    SHD_GUARD_CTX(gemu_verifier_service_new(st, &run->services[SV_VERIFIER]), "verifier");
    SHD_GUARD_CTX(gemu_wellknown_service_new(st, &run->wellknown), "well-known documents");
    SHD_GUARD_CTX(gemu_sts_service_new(st, &run->services[SV_STS]), "sts");
    SHD_GUARD_CTX(gemu_iam_service_new(st, &run->services[SV_IAM]), "iam");
    SHD_GUARD_CTX(gemu_kms_service_new(st, &run->services[SV_KMS]), "kms");
    SHD_GUARD_CTX(gemu_mds_service_new(st, &run->services[SV_MDS]), "mds");
    for (size_t i = 0; i < SV_COUNT; i++) {
        gemu_listener_attach(run->services[i], i == SV_VERIFIER ? run->wellknown : NULL,
                             run->listeners[i]);
        SHD_GUARD(gemu_listener_start(run->listeners[i]));
    }
    return serve_endpoints(run);
}

static shd_result serve_port(const char *arg, uint16_t *ret)
{
    size_t n = strlen(arg);
    SHD_ENSURE_MSG(n >= 1 && n <= 5, SHD_ERR_CONFIG, "bad port '%s'", arg);
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_MSG(arg[i] >= '0' && arg[i] <= '9', SHD_ERR_CONFIG, "bad port '%s'", arg);
        v = v * 10u + (unsigned)(arg[i] - '0');
    }
    SHD_ENSURE_MSG(v <= 65535u, SHD_ERR_CONFIG, "bad port '%s'", arg);
    *ret = (uint16_t)v;
    return SHD_OK;
}

static void serve_usage(FILE *out)
{
    fprintf(out,
            "Usage: gcp-emu serve --state DIR [--vtpm] [--port-SERVICE N]... [--log SPEC]\n\n"
            "  --state DIR         state directory written by 'gcp-emu init' (required)\n"
            "  --vtpm              start swtpm and provision it as a GCE vTPM\n"
            "  --port-verifier N   (likewise --port-sts, --port-iam, --port-kms, --port-mds);\n"
            "                      0 or absent: chosen by the kernel\n"
            "  --log SPEC          log levels, e.g. all+info,gemu-access+warning\n\n"
            "Writes DIR/endpoints.json once every listener is ready; SIGTERM/SIGINT stop it.\n");
}

/* Parses argv; returns 0 to go on, else the exit status (help printed: -1 means exit 0). */
static int serve_parse(int argc, char **argv, struct serve_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            serve_usage(stdout);
            return -1;
        }
        if (strcmp(a, "--vtpm") == 0) {
            o->vtpm = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gcp-emu serve: unknown option or missing value: %s\n", a);
            return 2;
        }
        const char *v = argv[++i];
        shd_result r = SHD_OK;
        bool known = true;
        if (strcmp(a, "--state") == 0) {
            o->state_dir = v;
        } else if (strcmp(a, "--log") == 0) {
            r = shd_log_levels_set(v);
        } else if (strncmp(a, "--port-", 7) == 0) {
            known = false;
            for (size_t k = 0; k < SV_COUNT; k++) {
                if (strcmp(a + 7, serve_names[k]) == 0) {
                    known = true;
                    r = serve_port(v, &o->ports[k]);
                }
            }
        } else {
            known = false;
        }
        if (!known || shd_is_err(r)) {
            shd_error_clear();
            fprintf(stderr, "gcp-emu serve: bad option %s %s\n", a, v);
            serve_usage(stderr);
            return 2;
        }
    }
    if (o->state_dir == NULL) {
        fprintf(stderr, "gcp-emu serve: --state DIR is required\n");
        return 2;
    }
    return 0;
}

int gemu_cmd_serve(int argc, char **argv)
{
    struct serve_opts o;
    shd_memzero(&o, sizeof(o));
    int rc = serve_parse(argc, argv, &o);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    shd_json_allocator_install();
    /* Before any thread exists, so that SIGTERM/SIGINT reach sigwait in this thread only. */
    shd_result r = shd_http_signals_block();
    struct serve_run run;
    shd_memzero(&run, sizeof(run));
    if (shd_is_ok(r)) {
        r = serve_setup(&o, &run);
    }
    if (shd_is_err(r)) {
        (void)SHD_LOG_ERR("gemu-serve", r, "gcp-emu serve failed to start");
        serve_run_clear(&run);
        return 1;
    }
    const struct gemu_ports *p = &run.st->ports;
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "gemu-serve", "ready", SHD_LOG_UINT("verifier", p->verifier),
               SHD_LOG_UINT("sts", p->sts), SHD_LOG_UINT("iam", p->iam),
               SHD_LOG_UINT("kms", p->kms), SHD_LOG_UINT("mds", p->mds),
               SHD_LOG_UINT("tpm", p->tpm));
    int sig = 0;
    r = gemu_listener_run_until_signal(run.listeners[SV_MDS], &sig);
    if (shd_is_err(r)) {
        (void)SHD_LOG_ERR("gemu-serve", r, "serving failed");
    } else {
        SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "gemu-serve", "stopping", SHD_LOG_INT("signal", sig));
    }
    serve_run_clear(&run);
    return shd_is_ok(r) ? 0 : 1;
}
