/*
 * runtime.c - the proxy's life cycle.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/errors.h"
#include "shd/harden.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "config.h"
#include "keystore.h"
#include "proxy.h"
#include "proxy_log.h"
#include "runtime.h"
#include "server.h"

struct proxy_runtime {
    struct proxy_ctx ctx;
    struct proxy_keystore *ks;
    struct proxy_server *server;
};

shd_result proxy_runtime_start(const struct proxy_config *cfg, bool (*wait)(void *, uint32_t),
                               void *wait_ctx, struct proxy_runtime **ret_rt, uint16_t *ret_port)
{
    SHD_ENSURE(cfg != NULL && ret_rt != NULL, SHD_ERR_NULL);
    /* Before any key exists and before the fork, so the key process inherits it too: no core
     * dumps, no same-uid ptrace (STYLE.md rule 26). */
    SHD_GUARD_CTX(shd_process_harden(0), "hardening the process");
    struct proxy_runtime *rt = shd_alloc(sizeof(*rt));
    SHD_ENSURE(rt != NULL, SHD_ERR_NOMEM);
    const struct proxy_keystore_options ko = {
        .source = cfg->key_source,
        .max_attempts = cfg->key_attempts,
        .retry_base_ms = cfg->key_retry_base_ms,
        .retry_max_ms = cfg->key_retry_max_ms,
        .secure_heap_bytes = cfg->secure_heap_bytes,
        .wait = wait,
        .wait_ctx = wait_ctx,
        .in_process = !cfg->key_process,
    };
    /* Forks the key process: before the listener and the server's threads exist. */
    shd_result r = proxy_keystore_create(&ko, &rt->ks);
    rt->ctx = (struct proxy_ctx){.cfg = cfg, .ks = rt->ks};
    const struct proxy_server_options so = {
        .host = cfg->listen_host,
        .port = cfg->port,
        .max_body = cfg->max_body,
        .max_header = cfg->max_header,
        .max_connections = cfg->max_connections,
        .idle_timeout_s = cfg->idle_timeout_s,
        .handler = proxy_handle,
        .ctx = &rt->ctx,
        .conn_free = proxy_conn_free,
    };
    uint16_t port = 0;
    if (shd_is_ok(r)) {
        r = proxy_server_create(&so, &rt->server, &port);
    }
    if (shd_is_ok(r)) {
        /* STYLE.md rule 3 step 3, the part that holds everywhere: before the first byte of
         * network input, execve can no longer gain privileges (set-id bits, file capabilities).
         * No seccomp filter yet: see docs/internals/PROXY_KEYPROC.md. */
        r = shd_process_harden(SHD_HARDEN_NO_NEW_PRIVS);
    }
    if (shd_is_ok(r)) {
        r = proxy_server_start(rt->server);
    }
    if (shd_is_err(r)) {
        proxy_runtime_free(rt);
        return r;
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, PROXY_LOG_MAIN, "listening",
               SHD_LOG_STR("host", cfg->listen_host), SHD_LOG_UINT("port", port),
               SHD_LOG_BOOL("input_encryption", cfg->input_encryption),
               SHD_LOG_BOOL("output_encryption", cfg->output_encryption),
               SHD_LOG_STR("key_source", cfg->key_source->name),
               SHD_LOG_BOOL("key_process", cfg->key_process));
    if (ret_port != NULL) {
        *ret_port = port;
    }
    *ret_rt = rt;
    return SHD_OK;
}

shd_result proxy_runtime_obtain_key(struct proxy_runtime *rt)
{
    SHD_ENSURE_REF(rt);
    return proxy_keystore_obtain(rt->ks);
}

pid_t proxy_runtime_key_pid(const struct proxy_runtime *rt)
{
    return rt != NULL ? proxy_keystore_key_pid(rt->ks) : 0;
}

shd_result proxy_runtime_stop(struct proxy_runtime *rt)
{
    SHD_ENSURE_REF(rt);
    proxy_server_stop(rt->server);
    return proxy_keystore_close(rt->ks);
}

void proxy_runtime_free(struct proxy_runtime *rt)
{
    if (rt == NULL) {
        return;
    }
    proxy_server_free(rt->server);
    proxy_keystore_free(rt->ks);
    shd_free(rt);
}
