/*
 * accesslog.c - the access log of `gcp-emu serve` (accesslog.h).
 */
#include "accesslog.h"

#include <time.h>

#include "shd/log.h"

void gemu_accesslog_write(const char *service, const char *method, const char *path,
                          unsigned status, uint64_t duration_us, const char *fault)
{
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "gemu-access", "request", SHD_LOG_STR("service", service),
               SHD_LOG_STR("method", method), SHD_LOG_STR("path", path),
               SHD_LOG_UINT("status", status), SHD_LOG_UINT("us", duration_us),
               SHD_LOG_STR("fault", fault != NULL ? fault : "none"));
}

uint64_t gemu_accesslog_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
