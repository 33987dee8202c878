/*
 * snpsim.h - a software SEV-SNP "guest device" that emits correctly signed reports.
 *
 * Loads the simulated chip that `azure-emu init --state DIR` wrote (DIR/snp/chip.json, the VCEK
 * private key DIR/snp/vcek.key and its certificate DIR/snp/vcek.pem) and produces
 * ATTESTATION_REPORTs signed with the VCEK exactly as the AMD secure processor does:
 * ECDSA P-384 / SHA-384 over bytes 0x000..0x29F, r and s as 72-byte little-endian integers at
 * 0x2A0 and 0x2E8 (azure-formats.md §1.2, §7). Our skr uses it when SKR_SNP_SIMULATOR=DIR.
 *
 * chip.json (written by init, all keys required):
 *   {"product":"Milan"|"Genoa", "product_name":"Milan-B0", "chip_id":"<128 hex>",
 *    "reported_tcb":"<16 hex, the u64 as THIM prints it>", "measurement":"<96 hex>",
 *    "host_data":"<64 hex>", "report_id":"<64 hex>", "policy":<u64>, "vmpl":<0..3>,
 *    "debug":<bool, must agree with policy bit 19>, "guest_svn":<u32>, "platform_info":<u64>,
 *    "fw_major":<u8>, "fw_minor":<u8>, "fw_build":<u8>}
 * HOST_DATA is fixed at "launch" (init) as SHA-256 of the security policy, like ACI's.
 */
#pragma once

#include <stdint.h>

#include "shd/result.h"

#define SNPSIM_REPORT_LEN 1184
#define SNPSIM_REPORT_DATA_LEN 64

struct snpsim;

/*
 * Opens the simulated chip in state directory dir. Fails with SHD_ERR_NOT_FOUND/SHD_ERR_IO when
 * files are missing, SHD_ERR_PERMISSION when vcek.key is readable by group or others,
 * SHD_ERR_CONFIG for a malformed chip.json, SHD_ERR_BAD_KEY when the key is not P-384 or does
 * not match vcek.pem. On success *ret owns a new simulator (free with snpsim_free); the PEM
 * bytes of the key have been wiped.
 */
SHD_RESULT snpsim_open(const char *dir, struct snpsim **ret);

/*
 * Produces a report of the given VERSION (2 or 3) carrying report_data, signed with the VCEK,
 * into out (written only on success). SHD_ERR_UNSUPPORTED for another version.
 */
SHD_RESULT snpsim_get_report(struct snpsim *sim, const uint8_t report_data[static 64],
                             uint32_t version, uint8_t out[static SNPSIM_REPORT_LEN]);

/* Frees the simulator (the key through OpenSSL, which clears it) and sets *sim to NULL.
 * sim == NULL and *sim == NULL are fine. */
void snpsim_free(struct snpsim **sim);
