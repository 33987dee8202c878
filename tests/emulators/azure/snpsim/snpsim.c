/*
 * snpsim.c - SEV-SNP report simulator (work in progress: API fixed, signing added next).
 */
#include "snpsim.h"

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

struct snpsim {
    int unused;
};

shd_result snpsim_open(const char *dir, struct snpsim **ret)
{
    SHD_ENSURE_REF(dir);
    SHD_ENSURE_REF(ret);
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "snp simulator not implemented yet");
}

shd_result snpsim_get_report(struct snpsim *sim, const uint8_t report_data[static 64],
                             uint32_t version, uint8_t out[static SNPSIM_REPORT_LEN])
{
    (void)report_data;
    (void)version;
    (void)out;
    SHD_ENSURE_REF(sim);
    SHD_BAIL(SHD_ERR_UNSUPPORTED);
}

void snpsim_free(struct snpsim **sim)
{
    if (sim == NULL || *sim == NULL) {
        return;
    }
    shd_free(*sim);
    *sim = NULL;
}
