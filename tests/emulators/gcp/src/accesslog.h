/*
 * accesslog.h - one structured line per request of `gcp-emu serve` (logfmt through shd/log.h,
 * module "gemu-access"): service, method, path (never the query string, which can carry
 * audiences and scopes; never headers or bodies, which carry tokens and key material), status,
 * duration and the fault rule applied, if any.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Writes the access line (info level). fault may be NULL. */
void gemu_accesslog_write(const char *service, const char *method, const char *path,
                          unsigned status, uint64_t duration_us, const char *fault);

/* Microseconds of CLOCK_MONOTONIC, for durations. */
uint64_t gemu_accesslog_now_us(void);
