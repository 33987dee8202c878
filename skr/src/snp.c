/*
 * snp.c - backend selection for SEV-SNP reports (D3 order) and wire-field helpers.
 */
#include "snp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "skr.h"

/* D3: /dev/sev first (as the original), then /dev/sev-guest, configfs-tsm, the simulator if
 * configured, and the unsigned template as the last resort. */
static const struct skr_snp_backend *const BACKENDS[] = {
    &SKR_SNP_BACKEND_SEV5, &SKR_SNP_BACKEND_SEV_GUEST, &SKR_SNP_BACKEND_TSM,
    &SKR_SNP_BACKEND_SIM,  &SKR_SNP_BACKEND_FAKE,
};

shd_result skr_snp_get_report(const struct skr_snp_env *env,
                              const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                              uint8_t out[static SHD_SNP_REPORT_LEN],
                              const struct skr_snp_backend **ret_backend)
{
    SHD_ENSURE_REF(env);
    for (size_t i = 0; i < sizeof(BACKENDS) / sizeof(BACKENDS[0]); i++) {
        const struct skr_snp_backend *b = BACKENDS[i];
        if (!b->probe(env)) {
            continue;
        }
        if (b == &SKR_SNP_BACKEND_FAKE) {
            SHD_LOG_RATELIMITED(SHD_LOG_LEVEL_WARNING, SKR_LOG_SNP, 60000, 1,
                                "no SEV-SNP device found: using the UNSIGNED fake report "
                                "(not secure; no verifier accepts it)");
        }
        SHD_LOG_DEBUG(SKR_LOG_SNP, "getting an SEV-SNP report from %s", b->name);
        SHD_GUARD(b->get_report(env, report_data, out));
        if (ret_backend != NULL) {
            *ret_backend = b;
        }
        return SHD_OK;
    }
    SHD_BAIL_MSG(SHD_ERR_NOT_FOUND, "SEV device is not found");
}

uint64_t skr_snp_reported_tcb(const uint8_t report[static SHD_SNP_REPORT_LEN])
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)report[0x180 + i] << (8 * i);
    }
    return v;
}

void skr_snp_chip_id(const uint8_t report[static SHD_SNP_REPORT_LEN],
                     uint8_t ret[static SHD_SNP_CHIP_ID_LEN])
{
    shd_memcpy(ret, report + 0x1A0, SHD_SNP_CHIP_ID_LEN);
}

void skr_errno_text(int errnum, char *buf, size_t n)
{
    if (n == 0) {
        return;
    }
    char tmp[128];
    const char *s = strerror_r(errnum, tmp, sizeof(tmp));
    (void)snprintf(buf, n, "%s", s);
    buf[0] = (char)tolower((unsigned char)buf[0]);
}
