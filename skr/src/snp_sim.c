/*
 * snp_sim.c - the signed software SEV-SNP device of the Azure emulator (SKR_SNP_SIMULATOR=DIR,
 * DESIGN.md). The chip is opened per request and freed afterwards, like a device fd (D3).
 */
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/safety.h"
#include "snp.h"
#include "snpsim.h"

_Static_assert(SNPSIM_REPORT_LEN == SHD_SNP_REPORT_LEN, "simulator report size");
_Static_assert(SNPSIM_REPORT_DATA_LEN == SHD_SNP_REPORT_DATA_LEN, "simulator report data size");

/* VERSION of the simulated reports: 2, the layout of the ACI (Milan) reports. */
#define SKR_SIM_REPORT_VERSION 2u

static bool sim_probe(const struct skr_snp_env *env)
{
    return env->sim_dir != NULL && env->sim_dir[0] != '\0';
}

static void sim_free_p(struct snpsim **s)
{
    snpsim_free(s);
}

static shd_result sim_get_report(const struct skr_snp_env *env,
                                 const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                 uint8_t out[static SHD_SNP_REPORT_LEN])
{
    SHD_CLEANUP(sim_free_p) struct snpsim *sim = NULL;
    SHD_GUARD_CTX(snpsim_open(env->sim_dir, &sim), "error opening SNP simulator %s",
                  env->sim_dir);
    SHD_GUARD(snpsim_get_report(sim, report_data, SKR_SIM_REPORT_VERSION, out));
    return SHD_OK;
}

const struct skr_snp_backend SKR_SNP_BACKEND_SIM = {
    .name = "simulator", .probe = sim_probe, .get_report = sim_get_report};
