/*
 * main.c - gcp-wif: the attested workload-identity token broker for GCP confidential VMs.
 *
 *   gcp-wif [serve] [options]     serve the API on a Unix socket (the default subcommand)
 *   gcp-wif wrap-key [options]    wrap a key with Cloud KMS for POST /key/release
 *
 * Exit status: 0 after --help, --version or a clean SIGTERM/SIGINT drain; 2 for a bad command
 * line; 1 for a fatal error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "attest.h"
#include "config.h"
#include "creds.h"
#include "ctx.h"
#include "mds_lookalike.h"
#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/harden.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/safety.h"
#include "shd/secret.h"
#include "wif.h"
#include "wrapkey.h"

#define RENDER_MAX ((size_t)SHD_ERROR_MAX_FRAMES * (SHD_ERROR_FRAME_LEN + 2) + 1)
/* OpenSSL secure heap for released private keys (EVP_PKEYs made from KMS plaintexts). */
#define WIF_SECURE_HEAP_BYTES ((size_t)1 << 20)
#define WIF_SECURE_HEAP_MIN ((size_t)32)

static int fatal(const char *what)
{
    char chain[RENDER_MAX];
    (void)shd_error_render(chain, sizeof(chain));
    SHD_LOG_FATAL(WIF_LOG_MAIN, "%s: %s", what, chain);
    return 1;
}

/* --log-level for every module, then WIF_LOG items on top (STYLE.md rule 35). */
static int logging_setup(const struct wif_config *cfg)
{
    enum shd_log_level level = SHD_LOG_LEVEL_INFO;
    if (shd_is_err(shd_log_level_parse(cfg->log_level, &level))) {
        return fatal("invalid --log-level");
    }
    shd_log_level_set_all(level);
    const char *spec = secure_getenv("WIF_LOG");
    if (spec != NULL && spec[0] != '\0') {
        struct shd_buf b;
        shd_buf_init(4096, 0, &b);
        shd_result r = shd_buf_appendf(&b, "all+%s,%s", shd_log_level_name(level), spec);
        if (shd_is_ok(r)) {
            r = shd_log_levels_set(shd_buf_str(&b));
        }
        shd_buf_free(&b);
        if (shd_is_err(r)) {
            return fatal("invalid WIF_LOG");
        }
    }
    return 0;
}

/* Creates the socket's directory (0750) when it is missing; an existing one is left alone. */
static void socket_dir_make(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path) {
        return;
    }
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (n > 0 && (size_t)n < sizeof(dir) && mkdir(dir, 0750) != 0 && errno != EEXIST) {
        SHD_LOG_WARNING(WIF_LOG_MAIN, "cannot create %s: %s", dir, strerror(errno));
    }
}

static int serve_run(struct wif_ctx *ctx)
{
    const struct wif_config *cfg = ctx->cfg;
    struct shd_http_server_options so;
    wif_api_server_options(ctx, &so);
    struct shd_http_server *api = NULL;
    struct shd_http_server *mds = NULL;
    int rc = 0;
    if (shd_is_err(shd_http_server_create(&so, &api))) {
        return fatal("API server");
    }
    socket_dir_make(cfg->socket_path);
    const struct shd_http_peer_allow allow = {
        .uids = cfg->allow_uids,
        .nuids = cfg->nallow_uids,
        .gids = cfg->allow_gids,
        .ngids = cfg->nallow_gids,
    };
    if (shd_is_err(shd_http_server_listen_unix(cfg->socket_path, cfg->socket_mode, &allow, api))) {
        rc = fatal("API socket");
        goto out;
    }
    uint16_t mds_port = 0;
    if (cfg->metadata_port != 0) {
        wif_mds_lookalike_server_options(ctx, &so);
        if (shd_is_err(shd_http_server_create(&so, &mds)) ||
            shd_is_err(
                shd_http_server_listen_tcp("127.0.0.1", cfg->metadata_port, mds, &mds_port)) ||
            shd_is_err(shd_http_server_start(mds))) {
            rc = fatal("metadata look-alike");
            goto out;
        }
    }
    if (shd_is_err(wif_creds_start(ctx->creds))) {
        rc = fatal("attestation refresher");
        goto out;
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, WIF_LOG_MAIN, "serving", SHD_LOG_STR("socket", cfg->socket_path),
               SHD_LOG_UINT("metadata_port", mds_port),
               SHD_LOG_STR("token_file", cfg->token_file != NULL ? cfg->token_file : ""));
    int sig = 0;
    if (shd_is_err(shd_http_server_run_until_signal(api, &sig))) {
        rc = fatal("API server");
        goto out;
    }
    SHD_LOG_INFO(WIF_LOG_MAIN, "signal %d: drained, exiting", sig);
out:
    shd_http_server_free(mds);
    shd_http_server_free(api);
    wif_creds_stop(ctx->creds);
    return rc;
}

static int cmd_serve(const struct wif_config *cfg, char *const *extra)
{
    (void)extra;
    if (shd_is_err(wif_config_check_serve(cfg))) {
        return fatal("configuration");
    }
    struct wif_ctx ctx;
    if (shd_is_err(wif_ctx_init(cfg, &ctx))) {
        return fatal("start-up");
    }
    int rc = 0;
    if (shd_is_err(wif_attest_probe(ctx.attest))) {
        rc = fatal(cfg->mode == WIF_MODE_LAUNCHER ? "launcher token source" : "TPM");
    } else {
        rc = serve_run(&ctx);
    }
    wif_ctx_clear(&ctx);
    return rc;
}

static int cmd_wrap_key(const struct wif_config *cfg, char *const *extra)
{
    if (shd_is_err(wif_wrapkey_run(cfg, extra))) {
        char chain[RENDER_MAX];
        (void)shd_error_render(chain, sizeof(chain));
        (void)fprintf(stderr, "gcp-wif: %s\n", chain);
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    int (*run)(const struct wif_config *cfg, char *const *extra);
    const struct wif_config_extra *options;
} COMMANDS[] = {
    {"serve", cmd_serve, NULL},
    {"wrap-key", cmd_wrap_key, WIF_WRAPKEY_OPTIONS},
};

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: gcp-wif [serve] [options]\n"
                       "       gcp-wif wrap-key [options]\n\nsubcommands:\n"
                       "  serve   serve the API on a Unix socket (default)\n");
    wif_wrapkey_usage(out);
    (void)fprintf(out, "\noptions (flag > environment > --config file > --endpoints file):\n");
    wif_config_usage(out);
    (void)fprintf(out, "\nenvironment: WIF_LOG (per-module levels, e.g. all+info,sts+debug), "
                       "SSL_CERT_FILE (trust anchors when --ca-file is unset)\n");
}

int main(int argc, char *argv[])
{
    /* Before any thread exists, so SIGTERM/SIGINT reach sigwaitinfo in this thread. */
    if (shd_is_err(shd_http_signals_block())) {
        (void)fprintf(stderr, "gcp-wif: cannot block signals\n");
        return 1;
    }
    size_t cmd = 0;
    int first = 1;
    if (argc > 1 && argv[1] != NULL && argv[1][0] != '-') {
        size_t i = 0;
        while (i < sizeof(COMMANDS) / sizeof(COMMANDS[0]) &&
               strcmp(COMMANDS[i].name, argv[1]) != 0) {
            i++;
        }
        if (i == sizeof(COMMANDS) / sizeof(COMMANDS[0])) {
            (void)fprintf(stderr, "gcp-wif: unknown subcommand \"%s\"\n", argv[1]);
            usage(stderr);
            return 2;
        }
        cmd = i;
        first = 2;
    }
    struct wif_config cfg;
    char **extra = NULL;
    shd_result r = wif_config_load(argc, (const char *const *)argv, first, NULL, NULL,
                                   COMMANDS[cmd].options, &cfg, &extra);
    if (shd_is_err(r)) {
        char msg[RENDER_MAX];
        (void)shd_error_render(msg, sizeof(msg));
        (void)fprintf(stderr, "gcp-wif: %s\n", msg);
        return r.err == SHD_ERR_USAGE ? 2 : 1;
    }
    int rc = 0;
    if (cfg.help) {
        usage(stdout);
    } else if (cfg.version) {
        (void)printf("gcp-wif %s\n", WIF_VERSION);
    } else {
        rc = logging_setup(&cfg);
        if (rc == 0 && shd_is_err(shd_process_harden(0))) {
            rc = fatal("hardening the process");
        }
        if (rc == 0) {
            /* tpm2-tss logs at ERROR when we probe NV indices that may be absent; its own
             * logging stays off unless the operator asks for it (it may dump key material at
             * trace, STYLE.md rule 36). */
            (void)setenv("TSS2_LOG", "all+none", 0);
            shd_json_allocator_install();
            if (shd_is_err(shd_secure_heap_init(WIF_SECURE_HEAP_BYTES, WIF_SECURE_HEAP_MIN))) {
                rc = fatal("secure heap for private keys");
            }
        }
        if (rc == 0) {
            rc = COMMANDS[cmd].run(&cfg, extra);
        }
    }
    wif_config_extra_free(extra);
    wif_config_clear(&cfg);
    return rc;
}
