/*
 * snp.h - getting an SEV-SNP ATTESTATION_REPORT (skr-sidecar.md §3, azure-formats.md §2, D3).
 *
 * Backends form a table of {name, probe, get_report} (STYLE.md rules 4 and 7), one file per
 * family: snp_ioctl.c (/dev/sev 5.x ABI, /dev/sev-guest SNP_GET_REPORT), snp_tsm.c
 * (configfs-tsm), snp_sim.c (the signed software simulator), snp_fake.c (the original's unsigned
 * template). The first backend whose probe succeeds is used, like the original's existence
 * checks; a failure of that backend is an error (no silent fallback to a weaker source). The
 * device is opened per request and closed before returning.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shd/result.h"
#include "shd/snp_report.h"

/* Where the backends look; production values in SKR_SNP_ENV_DEFAULT, tests point elsewhere. */
struct skr_snp_env {
    const char *dev_sev;       /* "/dev/sev" */
    const char *dev_sev_guest; /* "/dev/sev-guest" */
    const char *tsm_dir;       /* "/sys/kernel/config/tsm/report" */
    const char *sim_dir;       /* SKR_SNP_SIMULATOR, NULL when unset */
    /* HOST_DATA written into the fake report: SHA-256 of the decoded security policy. */
    uint8_t fake_host_data[SHD_SNP_HOST_DATA_LEN];
};

#define SKR_SNP_DEV_SEV "/dev/sev"
#define SKR_SNP_DEV_SEV_GUEST "/dev/sev-guest"
#define SKR_SNP_TSM_DIR "/sys/kernel/config/tsm/report"

struct skr_snp_backend {
    const char *name;
    bool (*probe)(const struct skr_snp_env *env);
    SHD_RESULT (*get_report)(const struct skr_snp_env *env,
                             const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                             uint8_t out[static SHD_SNP_REPORT_LEN]);
};

/* The backends, defined in their files. */
extern const struct skr_snp_backend SKR_SNP_BACKEND_SEV5;
extern const struct skr_snp_backend SKR_SNP_BACKEND_SEV_GUEST;
extern const struct skr_snp_backend SKR_SNP_BACKEND_TSM;
extern const struct skr_snp_backend SKR_SNP_BACKEND_SIM;
extern const struct skr_snp_backend SKR_SNP_BACKEND_FAKE;

/*
 * Gets a report carrying report_data from the first available backend into out (written only
 * on success); *ret_backend (may be NULL) receives the backend used. Using the fake backend logs
 * a warning. Errors keep the original's texts ("error opening SNP device /dev/sev-guest: ...",
 * "ioctl failed:...", "fetching attestation report failed. status: N").
 */
SHD_RESULT skr_snp_get_report(const struct skr_snp_env *env,
                              const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                              uint8_t out[static SHD_SNP_REPORT_LEN],
                              const struct skr_snp_backend **ret_backend);

/* Fields the TCB logic needs, read straight from the wire (also from the fake v1 report that the
 * strict parser of shd/snp_report.h rejects). */
uint64_t skr_snp_reported_tcb(const uint8_t report[static SHD_SNP_REPORT_LEN]);
void skr_snp_chip_id(const uint8_t report[static SHD_SNP_REPORT_LEN],
                     uint8_t ret[static SHD_SNP_CHIP_ID_LEN]);

/* Go-style errno text ("no such file or directory"): strerror with a lower-case first letter. */
void skr_errno_text(int errnum, char *buf, size_t n);
