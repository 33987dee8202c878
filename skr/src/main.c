/*
 * main.c - skr: a native drop-in for Microsoft's SKR sidecar (skr-sidecar.md §1.5).
 *
 * Exit status: 0 after --help, --version or a clean SIGTERM/SIGINT drain; 2 for a bad command
 * line (Go's flag package); 1 for a fatal start-up error (logrus Fatal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ctx.h"
#include "flags.h"
#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/harden.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/parse.h"
#include "shd/safety.h"
#include "shd/secret.h"
#include "skr.h"

#define FATAL_RENDER_MAX 4200
/* OpenSSL secure heap: a pool of 16 RSA-2048 wrapping keys plus in-flight released keys fit
 * comfortably; the size must be a power of two. */
#define SKR_SECURE_HEAP_BYTES ((size_t)1 << 20)
#define SKR_SECURE_HEAP_MIN ((size_t)32)

/* Logs "[<what>: ]<error chain>\n<ERROR_STRING>" at fatal level, like logrus Fatalf, and returns 1. */
static int fatal_result(const char *what)
{
    char chain[FATAL_RENDER_MAX];
    (void)shd_error_render(chain, sizeof(chain));
    if (what == NULL) {
        SHD_LOG_FATAL(SKR_LOG_MAIN, "%s\n%s", chain, SKR_ERROR_STRING);
    } else {
        SHD_LOG_FATAL(SKR_LOG_MAIN, "%s: %s\n%s", what, chain, SKR_ERROR_STRING);
    }
    return 1;
}

/* -loglevel for every module, then SKR_LOG items on top (STYLE.md rule 35). */
static int logging_setup(const struct skr_options *opts)
{
    enum shd_log_level level = SHD_LOG_LEVEL_WARNING;
    if (shd_is_err(shd_log_level_parse(opts->loglevel, &level))) {
        SHD_LOG_FATAL(SKR_LOG_MAIN, "Failed to parse logLevel: not a valid logrus Level: \"%s\"\n%s",
                      opts->loglevel, SKR_ERROR_STRING);
        return 1;
    }
    shd_log_level_set_all(level);
    const char *spec = secure_getenv("SKR_LOG");
    if (spec != NULL && spec[0] != '\0') {
        struct shd_buf b;
        shd_buf_init(4096, 0, &b);
        shd_result r = shd_buf_appendf(&b, "all+%s,%s", shd_log_level_name(level), spec);
        if (shd_is_ok(r)) {
            r = shd_log_levels_set(shd_buf_str(&b));
        }
        shd_buf_free(&b);
        if (shd_is_err(r)) {
            return fatal_result("invalid SKR_LOG");
        }
    }
    if (opts->logfile != NULL && opts->logfile[0] != '\0') {
        if (shd_is_err(shd_log_sink_file(opts->logfile))) {
            return fatal_result("Failed to open log file");
        }
    }
    return 0;
}

static int serve(struct skr_ctx *ctx)
{
    uint64_t port = 0;
    if (ctx->opts.tcp && shd_is_err(shd_parse_uint(ctx->opts.port_str, 10, 65535, &port))) {
        SHD_LOG_FATAL(SKR_LOG_MAIN, "Failed to start HTTP server: listen tcp: invalid port \"%s\"\n%s",
                      ctx->opts.port_str, SKR_ERROR_STRING);
        return 1;
    }
    struct shd_http_server_options so;
    skr_api_server_options(ctx, &so);
    struct shd_http_server *server = NULL;
    if (shd_is_err(shd_http_server_create(&so, &server))) {
        return fatal_result("Failed to start HTTP server");
    }
    int rc = 0;
    uint16_t bound = 0;
    /* Loopback only, like the original's "localhost:<port>" (D10); none with -tcp=false, so
     * that a workload in the same network namespace cannot ask for a release (ACI). */
    if (ctx->opts.tcp &&
        shd_is_err(shd_http_server_listen_tcp("127.0.0.1", (uint16_t)port, server, &bound))) {
        rc = fatal_result("Failed to start HTTP server");
        goto out;
    }
    if (ctx->opts.socket_path != NULL) {
        const struct shd_http_peer_allow allow = {
            .uids = ctx->opts.allow_uids,
            .nuids = ctx->opts.nallow_uids,
            .gids = ctx->opts.allow_gids,
            .ngids = ctx->opts.nallow_gids,
        };
        if (shd_is_err(shd_http_server_listen_unix(ctx->opts.socket_path, ctx->opts.socket_mode,
                                                   &allow, server))) {
            rc = fatal_result("Failed to start HTTP server on the Unix socket");
            goto out;
        }
    }
    if (shd_is_err(skr_ctx_start(ctx))) {
        rc = fatal_result("Failed to start the certificate fetch");
        goto out;
    }
    if (shd_is_err(shd_http_server_start(server))) {
        rc = fatal_result("Failed to start HTTP server");
        goto out;
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, SKR_LOG_MAIN, "listening",
               SHD_LOG_STR("host", ctx->opts.tcp ? "127.0.0.1" : "none"),
               SHD_LOG_UINT("port", bound),
               SHD_LOG_STR("socket", ctx->opts.socket_path != NULL ? ctx->opts.socket_path : ""));
    int sig = 0;
    if (shd_is_err(shd_http_server_run_until_signal(server, &sig))) {
        rc = fatal_result("HTTP server failed");
        goto out;
    }
    SHD_LOG_INFO(SKR_LOG_MAIN, "signal %d: drained, exiting", sig);
out:
    shd_http_server_free(server);
    return rc;
}

int main(int argc, char *argv[])
{
    /* Before any thread exists, so SIGTERM/SIGINT reach sigwaitinfo in this thread. */
    if (shd_is_err(shd_http_signals_block())) {
        (void)fprintf(stderr, "skr: cannot block signals\n");
        return 1;
    }
    const char *argv0 = argc > 0 && argv[0] != NULL ? argv[0] : "skr";
    struct skr_options opts = {0};
    shd_result r = skr_flags_parse(argc, (const char *const *)argv, &opts);
    if (shd_is_err(r)) {
        char msg[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(msg, sizeof(msg));
        (void)fprintf(stderr, "%s\n", msg);
        skr_flags_usage(argv0, stderr);
        return r.err == SHD_ERR_UNSUPPORTED ? 1 : 2;
    }
    if (opts.help) {
        skr_flags_usage(argv0, stdout);
        skr_options_clear(&opts);
        return 0;
    }
    if (opts.version) {
        (void)printf("skr %s\n", SKR_VERSION);
        skr_options_clear(&opts);
        return 0;
    }
    int rc = logging_setup(&opts);
    if (rc != 0) {
        skr_options_clear(&opts);
        return rc;
    }
    if (shd_is_err(shd_process_harden(0))) {
        rc = fatal_result("Failed to harden the process");
        skr_options_clear(&opts);
        return rc;
    }
    shd_json_allocator_install();
    /* Private keys (wrapping keys, released RSA/EC keys) live on OpenSSL's locked heap. */
    if (shd_is_err(shd_secure_heap_init(SKR_SECURE_HEAP_BYTES, SKR_SECURE_HEAP_MIN))) {
        rc = fatal_result("Failed to set up the secure heap for private keys");
        skr_options_clear(&opts);
        return rc;
    }
    SHD_LOG_INFO(SKR_LOG_MAIN, "Starting %s...", argv0);
    if (opts.server == SKR_SERVER_GRPC) {
        SHD_LOG_FATAL(SKR_LOG_MAIN, "the gRPC server type (-server_type grpc) is not supported "
                                    "yet: use the HTTP server\n%s",
                      SKR_ERROR_STRING);
        skr_options_clear(&opts);
        return 1;
    }
    struct skr_ctx ctx;
    if (shd_is_err(skr_ctx_init(NULL, &opts, &ctx))) {
        rc = fatal_result(NULL);
        skr_options_clear(&opts);
        return rc;
    }
    rc = serve(&ctx);
    skr_ctx_clear(&ctx);
    return rc;
}
