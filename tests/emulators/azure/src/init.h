/*
 * init.h - `azure-emu init --state DIR`: everything persistent the emulators and the SNP
 * simulator need (DESIGN.md "Emulator conventions"):
 *
 *   DIR/ca.pem, DIR/ca.key (0600)           test CA, EC P-256
 *   DIR/server.pem, DIR/server.key (0600)   TLS server certificate for localhost, 127.0.0.1,
 *                                           ::1, *.vault.azure.net, *.managedhsm.azure.net,
 *                                           *.attest.azure.net, *.acccache.azure.net,
 *                                           kdsintf.amd.com
 *   DIR/maa-signing.pem, .key (0600)        MAA token signing, RSA-2048, self-signed
 *   DIR/aad-issuer.key (0600)               AAD/managed-identity token issuer, RSA-2048
 *   DIR/snp/...                             the simulated chip (chip.h)
 *   DIR/security-context/...                ACI security context (secctx.h)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shd/result.h"
#include "shd/snp_report.h"

struct aemu_init_opts {
    const char *state_dir;
    enum shd_snp_product product; /* MILAN (default) or GENOA */
    bool has_tcb;
    uint64_t reported_tcb;
    bool has_measurement;
    uint8_t measurement[SHD_SNP_MEASUREMENT_LEN];
    bool debug;
    uint32_t vmpl;
    const char *security_policy_path; /* NULL: the built-in default policy */
    bool force;                       /* allow a non-empty existing state directory */
    unsigned root_rsa_bits;           /* ARK/ASK size, 0 = 4096 (not on the command line) */
};

/*
 * Creates the state directory. An existing directory must be empty unless force is set
 * (SHD_ERR_CONFIG otherwise). Private keys are written 0600, directories 0700.
 */
SHD_RESULT aemu_init_run(const struct aemu_init_opts *opts);
