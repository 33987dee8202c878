/*
 * snpsim.h - a signed SEV-SNP report simulator (SKR_SNP_SIMULATOR=DIR).
 *
 * Loads a simulated chip written by `azure-emu init` and produces ATTESTATION_REPORTs signed with
 * the chip's VCEK exactly as the AMD secure processor would. Test-only: never linked into a
 * production path unless the operator sets SKR_SNP_SIMULATOR.
 */
#pragma once

#include <stdint.h>

#include "shd/result.h"

#define SNPSIM_REPORT_LEN 1184
#define SNPSIM_REPORT_DATA_LEN 64

struct snpsim;

/*
 * Opens the simulated chip in state directory dir (the one `azure-emu init --state DIR` wrote).
 * On success *ret owns a new simulator, freed with snpsim_free.
 */
SHD_RESULT snpsim_open(const char *dir, struct snpsim **ret);

/*
 * Produces a signed report of the given version (2 or 3) carrying report_data into out.
 * out is written only on success.
 */
SHD_RESULT snpsim_get_report(struct snpsim *sim, const uint8_t report_data[static 64],
                             uint32_t version, uint8_t out[static SNPSIM_REPORT_LEN]);

/* Wipes the private key, frees the simulator and sets *sim to NULL. NULL and *sim == NULL ok. */
void snpsim_free(struct snpsim **sim);
