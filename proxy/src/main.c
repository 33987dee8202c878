/*
 * main.c - skr-proxy: a Polaris-compatible encrypting reverse proxy (polaris-protocol.md).
 *
 * Exit status: 0 after --help, --version or a clean SIGTERM/SIGINT; 2 for a bad command line or
 * configuration; 1 when start-up fails (listener, key), when the key process dies (SIGCHLD: the
 * supervisor then restarts the whole proxy), or when it did not exit cleanly at the end.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <curl/curl.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/log.h"

#include "config.h"
#include "proxy_log.h"
#include "runtime.h"

static void term_set(sigset_t *set)
{
    (void)sigemptyset(set);
    (void)sigaddset(set, SIGTERM);
    (void)sigaddset(set, SIGINT);
}

/* What the main loop waits for: SIGTERM/SIGINT, and SIGCHLD (the key process, our only child,
 * died). Blocked in every thread, so the signals stay pending for sigwaitinfo. */
static void main_set(sigset_t *set)
{
    term_set(set);
    (void)sigaddset(set, SIGCHLD);
}

/* The keystore's wait between key attempts: returns true when SIGTERM/SIGINT arrived. */
static bool wait_or_signal(void *ctx, uint32_t ms)
{
    sigset_t set;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    (void)ctx;
    term_set(&set);
    return sigtimedwait(&set, NULL, &ts) > 0;
}

static int fail(const char *what)
{
    char chain[SHD_ERROR_FRAME_LEN * 2];
    (void)shd_error_render(chain, sizeof(chain));
    SHD_LOG_FATAL(PROXY_LOG_MAIN, "%s: %s", what, chain);
    return 1;
}

static int logging_setup(const struct proxy_config *cfg)
{
    shd_log_level_set_all(cfg->log_level);
    if (cfg->log_spec != NULL) {
        struct shd_buf b;
        shd_buf_init(4096, 0, &b);
        shd_result r = shd_buf_appendf(&b, "all+%s,%s", shd_log_level_name(cfg->log_level),
                                       cfg->log_spec);
        if (shd_is_ok(r)) {
            r = shd_log_levels_set(shd_buf_str(&b));
        }
        shd_buf_free(&b);
        if (shd_is_err(r)) {
            return fail("invalid log spec");
        }
    }
    if (cfg->log_file != NULL && shd_is_err(shd_log_sink_file(cfg->log_file))) {
        return fail("cannot open the log file");
    }
    return 0;
}

static int serve(const struct proxy_config *cfg)
{
    struct proxy_runtime *rt = NULL;
    if (shd_is_err(proxy_runtime_start(cfg, wait_or_signal, NULL, &rt, NULL))) {
        return fail("start-up failed");
    }
    int rc = 0;
    if (shd_is_err(proxy_runtime_obtain_key(rt))) {
        rc = fail("no key");
    } else {
        sigset_t set;
        int sig = 0;
        main_set(&set);
        while ((sig = sigwaitinfo(&set, NULL)) < 0) {
        }
        if (sig == SIGCHLD) {
            SHD_LOG_FATAL(PROXY_LOG_MAIN, "the key process exited: draining, then exit 1");
            rc = 1;
        } else {
            SHD_LOG_INFO(PROXY_LOG_MAIN, "signal %d: draining", sig);
        }
    }
    if (shd_is_err(proxy_runtime_stop(rt)) && rc == 0) {
        rc = fail("key process");
    }
    proxy_runtime_free(rt);
    return rc;
}

int main(int argc, char *argv[])
{
    /* Before any thread exists, so that the signals reach sigwaitinfo in this thread only. */
    sigset_t set;
    main_set(&set);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        (void)fprintf(stderr, "skr-proxy: cannot block signals\n");
        return 1;
    }
    const char *argv0 = argc > 0 && argv[0] != NULL ? argv[0] : "skr-proxy";
    struct proxy_config cfg;
    if (shd_is_err(proxy_config_parse(argc, (const char *const *)argv, NULL, &cfg))) {
        char msg[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(msg, sizeof(msg));
        (void)fprintf(stderr, "skr-proxy: %s\n(see %s --help)\n", msg, argv0);
        return 2;
    }
    if (cfg.help || cfg.version) {
        if (cfg.help) {
            proxy_config_usage(argv0, stdout);
        } else {
            (void)printf("skr-proxy %s\n", PROXY_VERSION);
        }
        proxy_config_clear(&cfg);
        return 0;
    }
    int rc = logging_setup(&cfg);
    if (rc == 0) {
        shd_json_allocator_install();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rc = fail("libcurl initialisation failed");
        } else {
            rc = serve(&cfg);
            curl_global_cleanup();
        }
    }
    proxy_config_clear(&cfg);
    return rc;
}
