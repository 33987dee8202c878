/*
 * serve.c - `azure-emu serve --state DIR`: one loopback listener per service (MAA, Key Vault
 * and Managed HSM over HTTPS with the state's server certificate, IMDS over plain HTTP like the
 * real one), each behind the fault/access-log front (accesslog.c); DIR/endpoints.json once all
 * listen; serve until SIGTERM/SIGINT, then exit 0 (DESIGN.md "Emulator conventions").
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akv.h"
#include "emu.h"
#include "emu_files.h"
#include "faults.h"
#include "imds.h"
#include "maa.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define SERVE_HOST "127.0.0.1"
#define SERVE_MAX_BODY_MAA ((size_t)1024 * 1024)
#define SERVE_MAX_BODY ((size_t)256 * 1024)

enum serve_slot { SLOT_MAA = 0, SLOT_AKV, SLOT_MHSM, SLOT_IMDS, SLOT_COUNT };

struct serve_opts {
    struct aemu_state_options state;
    uint16_t port[SLOT_COUNT];
    const char *log_spec;
};

struct serve {
    struct aemu_state *st;
    struct aemu_service *svc[SLOT_COUNT];
    struct aemu_front front[SLOT_COUNT];
    struct shd_http_server *srv[SLOT_COUNT];
    char endpoints_path[PATH_MAX];
};

/* ------------------------------------------------------------------------------------------ */
/* Command line                                                                                */

static void serve_usage(FILE *out)
{
    fprintf(out,
            "Usage: azure-emu serve --state DIR [options]\n"
            "\n"
            "Serves MAA, Key Vault, Managed HSM (HTTPS) and IMDS/THIM (HTTP) on 127.0.0.1 and\n"
            "writes DIR/endpoints.json when every listener is ready. SIGTERM/SIGINT stop it.\n"
            "\n"
            "  --state DIR               state directory from 'azure-emu init' (required)\n"
            "  --maa-port N              MAA port (default: chosen by the kernel)\n"
            "  --akv-port N              Key Vault port\n"
            "  --mhsm-port N             Managed HSM port\n"
            "  --imds-port N             IMDS/THIM port (also /emu/faults)\n"
            "  --compliance-status S     x-ms-compliance-status for a verified UVM endorsement\n"
            "                            (default " AEMU_DEFAULT_COMPLIANCE_STATUS ")\n"
            "  --tenant-id GUID          tenant of the emulated AAD\n"
            "  --log SPEC                log levels, e.g. all+info,maa+debug (env AZURE_EMU_LOG)\n"
            "  -h, --help                this text\n");
}

static bool serve_parse_port(const char *s, uint16_t *ret)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    if (v > 65535) {
        return false;
    }
    *ret = (uint16_t)v;
    return true;
}

/* 0 ok, 1 help shown, 2 usage error. */
static int serve_parse_args(int argc, char **argv, struct serve_opts *o)
{
    enum { O_MAA = 256, O_AKV, O_MHSM, O_IMDS, O_STATUS, O_TENANT, O_LOG };
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"maa-port", required_argument, NULL, O_MAA},
        {"akv-port", required_argument, NULL, O_AKV},
        {"mhsm-port", required_argument, NULL, O_MHSM},
        {"imds-port", required_argument, NULL, O_IMDS},
        {"compliance-status", required_argument, NULL, O_STATUS},
        {"tenant-id", required_argument, NULL, O_TENANT},
        {"log", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 's':
            o->state.state_dir = optarg;
            break;
        case O_MAA:
        case O_AKV:
        case O_MHSM:
        case O_IMDS:
            ok = serve_parse_port(optarg, &o->port[c - O_MAA]);
            break;
        case O_STATUS:
            o->state.compliance_status = optarg;
            break;
        case O_TENANT:
            o->state.tenant_id = optarg;
            break;
        case O_LOG:
            o->log_spec = optarg;
            break;
        case 'h':
            serve_usage(stdout);
            return 1;
        default:
            ok = false;
            break;
        }
        if (!ok) {
            fprintf(stderr, "azure-emu serve: invalid option value '%s'\n",
                    optarg != NULL ? optarg : "");
            serve_usage(stderr);
            return 2;
        }
    }
    if (optind != argc || o->state.state_dir == NULL) {
        serve_usage(stderr);
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Listeners                                                                                   */

static const char *const serve_names[SLOT_COUNT] = {AEMU_SVC_MAA, AEMU_SVC_AKV, AEMU_SVC_MHSM,
                                                    AEMU_SVC_IMDS};

static shd_result serve_listen(const struct serve_opts *o, struct serve *s)
{
    uint16_t *ports[SLOT_COUNT] = {&s->st->ports.maa, &s->st->ports.akv, &s->st->ports.mhsm,
                                   &s->st->ports.imds};
    for (size_t i = 0; i < SLOT_COUNT; i++) {
        const struct shd_http_route catch_all = {NULL, "/", aemu_front_handle,
                                                 SHD_HTTP_ROUTE_PREFIX};
        struct shd_http_server_options so = {
            .routes = &catch_all,
            .nroutes = 1,
            .ctx = &s->front[i],
            .max_body_bytes = i == SLOT_MAA ? SERVE_MAX_BODY_MAA : SERVE_MAX_BODY,
        };
        SHD_GUARD(shd_http_server_create(&so, &s->srv[i]));
        s->front[i].faults = s->st->faults;
        if (i == SLOT_IMDS) {
            SHD_GUARD_CTX(shd_http_server_listen_tcp(SERVE_HOST, o->port[i], s->srv[i], ports[i]),
                          "%s listener", serve_names[i]);
        } else {
            SHD_GUARD_CTX(shd_http_server_listen_tls(SERVE_HOST, o->port[i], s->st->server_cert_pem,
                                                     s->st->server_key_pem, s->srv[i], ports[i]),
                          "%s listener", serve_names[i]);
        }
    }
    return SHD_OK;
}

/* Services need the bound ports (Key Vault's client reaches MAA through them). */
static shd_result serve_services(struct serve *s)
{
    SHD_GUARD_CTX(aemu_maa_service_new(s->st, &s->svc[SLOT_MAA]), "maa service");
    SHD_GUARD_CTX(aemu_akv_service_new(s->st, false, &s->svc[SLOT_AKV]), "key vault service");
    SHD_GUARD_CTX(aemu_akv_service_new(s->st, true, &s->svc[SLOT_MHSM]), "managed hsm service");
    SHD_GUARD_CTX(aemu_imds_service_new(s->st, &s->svc[SLOT_IMDS]), "imds service");
    for (size_t i = 0; i < SLOT_COUNT; i++) {
        s->front[i].svc = s->svc[i];
    }
    for (size_t i = 0; i < SLOT_COUNT; i++) {
        SHD_GUARD_CTX(shd_http_server_start(s->srv[i]), "starting %s", serve_names[i]);
    }
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* endpoints.json                                                                              */

/* Written to a temporary file in the same directory, then renamed: readers never see half. */
static shd_result serve_write_endpoints(struct serve *s)
{
    char ca[PATH_MAX];
    SHD_ENSURE_MSG(realpath(s->st->ca_path, ca) != NULL, SHD_ERR_IO, "realpath %s", s->st->ca_path);
    char maa[32];
    char akv[32];
    char mhsm[32];
    char imds[40];
    (void)snprintf(maa, sizeof(maa), "localhost:%u", (unsigned)s->st->ports.maa);
    (void)snprintf(akv, sizeof(akv), "localhost:%u", (unsigned)s->st->ports.akv);
    (void)snprintf(mhsm, sizeof(mhsm), "localhost:%u", (unsigned)s->st->ports.mhsm);
    (void)snprintf(imds, sizeof(imds), "http://127.0.0.1:%u", (unsigned)s->st->ports.imds);
    SHD_CLEANUP_JSON json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "maa", maa, "akv", akv,
                                             "mhsm", mhsm, "imds", imds, "ca", ca);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_json_dump(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &text, &len));
    /* The file ends with a newline: it takes the place of the dump's NUL terminator. */
    text[len] = '\n';
    SHD_GUARD_CTX(emu_file_write(s->endpoints_path, text, len + 1, 0644, EMU_FILE_ATOMIC),
                  "writing %s", s->endpoints_path);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */

static void serve_teardown(struct serve *s)
{
    if (s->endpoints_path[0] != '\0') {
        (void)unlink(s->endpoints_path);
    }
    for (size_t i = 0; i < SLOT_COUNT; i++) {
        shd_http_server_stop(s->srv[i]);
    }
    for (size_t i = 0; i < SLOT_COUNT; i++) {
        shd_http_server_free(s->srv[i]);
        aemu_service_free(s->svc[i]);
    }
    aemu_state_free(s->st);
}

static shd_result serve_run(const struct serve_opts *o, struct serve *s)
{
    SHD_GUARD(aemu_state_load(&o->state, &s->st));
    SHD_GUARD(emu_path_join(s->st->state_dir, "endpoints.json", s->endpoints_path,
                            sizeof(s->endpoints_path)));
    /* A stale file from an earlier run must not send clients to dead ports. */
    if (unlink(s->endpoints_path) != 0 && errno != ENOENT) {
        SHD_BAIL_MSG(SHD_ERR_IO, "cannot remove stale %s", s->endpoints_path);
    }
    SHD_GUARD(serve_listen(o, s));
    SHD_GUARD(serve_services(s));
    SHD_GUARD(serve_write_endpoints(s));
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "serve", "listening", SHD_LOG_UINT("maa", s->st->ports.maa),
               SHD_LOG_UINT("akv", s->st->ports.akv), SHD_LOG_UINT("mhsm", s->st->ports.mhsm),
               SHD_LOG_UINT("imds", s->st->ports.imds),
               SHD_LOG_STR("endpoints", s->endpoints_path));
    int sig = 0;
    SHD_GUARD(shd_http_server_run_until_signal(s->srv[SLOT_IMDS], &sig));
    SHD_LOG_INFO("serve", "signal %d: stopping", sig);
    return SHD_OK;
}

int aemu_cmd_serve(int argc, char **argv)
{
    struct serve_opts o = {0};
    int rc = serve_parse_args(argc, argv, &o);
    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    const char *spec = o.log_spec != NULL ? o.log_spec : secure_getenv("AZURE_EMU_LOG");
    if (spec != NULL && shd_is_err(shd_log_levels_set(spec))) {
        fprintf(stderr, "azure-emu serve: invalid log spec '%s'\n", spec);
        return 2;
    }
    /* Before any thread exists, so that SIGTERM/SIGINT reach sigwait (http_server.h). */
    if (shd_is_err(shd_http_signals_block())) {
        fprintf(stderr, "azure-emu serve: cannot block signals\n");
        return 1;
    }
    shd_json_allocator_install();
    struct serve s = {0};
    shd_result r = serve_run(&o, &s);
    if (shd_is_err(r)) {
        (void)SHD_LOG_ERR("serve", r, "azure-emu serve failed");
    }
    serve_teardown(&s);
    return shd_is_ok(r) ? 0 : 1;
}
