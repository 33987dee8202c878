/*
 * runtime.h - start-up and shut-down of a whole proxy in this process: hardening, the keystore,
 * the listener. main() drives it, and so do the in-process tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shd/result.h"

#include "config.h"

struct proxy_runtime;

/*
 * Makes the process non-dumpable (shd_process_harden), creates the keystore (secure heap and
 * source configuration), binds and starts the listener. The proxy then serves: health answers
 * 503 until proxy_runtime_obtain_key succeeds. cfg must outlive the runtime. wait (may be NULL)
 * is the keystore's wait hook between key attempts. *ret_port (may be NULL) gets the bound port.
 */
SHD_RESULT proxy_runtime_start(const struct proxy_config *cfg, bool (*wait)(void *, uint32_t),
                               void *wait_ctx, struct proxy_runtime **ret_rt, uint16_t *ret_port);

/* Obtains the key with the configured retries; the proxy is ready afterwards. */
SHD_RESULT proxy_runtime_obtain_key(struct proxy_runtime *rt);

/* Stops the listener (drains requests in flight), then frees the key. NULL is fine. */
void proxy_runtime_free(struct proxy_runtime *rt);
