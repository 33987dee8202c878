/*
 * runtime.h - start-up and shut-down of a whole proxy in this process: hardening, the keystore
 * (which forks the key process), the listener. main() drives it, and so do the in-process tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"

#include "config.h"

struct proxy_runtime;

/*
 * Makes the process non-dumpable (shd_process_harden), creates the keystore (source
 * configuration, then the fork of the key process unless cfg->key_process is off: call before
 * the process starts threads), binds the listener, sets no_new_privs, and starts serving: health
 * answers 503 until proxy_runtime_obtain_key succeeds. cfg must outlive the runtime. wait (may
 * be NULL) is the keystore's wait hook (proxy_keystore_options). *ret_port (may be NULL) gets
 * the bound port.
 */
SHD_RESULT proxy_runtime_start(const struct proxy_config *cfg, bool (*wait)(void *, uint32_t),
                               void *wait_ctx, struct proxy_runtime **ret_rt, uint16_t *ret_port);

/* Obtains the key with the configured retries; the proxy is ready afterwards. */
SHD_RESULT proxy_runtime_obtain_key(struct proxy_runtime *rt);

/* The key process's pid (0 with --key-process=off). */
pid_t proxy_runtime_key_pid(const struct proxy_runtime *rt);

/*
 * Stops the listener (drains requests in flight), then stops the key process.
 * SHD_ERR_INTERNAL when the key process did not exit with status 0 (main then exits non-zero).
 */
SHD_RESULT proxy_runtime_stop(struct proxy_runtime *rt);

/* Stops if needed (ignoring the key process's status), then frees. NULL is fine. */
void proxy_runtime_free(struct proxy_runtime *rt);
