/*
 * chip.h - creation of the simulated SEV-SNP chip for `azure-emu init`
 * (azure-formats.md §3.1, §3.2, §7 item 1-2).
 *
 * Writes under DIR/snp/:
 *   ark.pem        ARK-<product>, RSA-4096, self-signed, RSASSA-PSS SHA-384 salt 48
 *   ask.pem        SEV-<product>, RSA-4096, signed by the ARK (PSS)
 *   ask.key        the ASK private key (0600), so a test can mint VCEKs for other TCBs
 *   cert_chain.pem ASK then ARK, the KDS /cert_chain form
 *   vcek.pem       SEV-VCEK, EC P-384, signed by the ASK (PSS), AMD extensions §3.2
 *   vcek.key       the VCEK private key (0600), used by snpsim to sign reports
 *   chip.json      the chip and guest launch parameters (layout in snpsim.h)
 * The ARK private key is not kept: nothing after init needs it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "shd/result.h"
#include "shd/snp_report.h"

#define AEMU_CHIP_DEFAULT_POLICY 0x3001Full /* ABI 0.31, SMT, reserved bit 17 (§1.4) */

struct aemu_chip_opts {
    enum shd_snp_product product; /* MILAN or GENOA */
    bool has_tcb;
    uint64_t reported_tcb; /* default per product when !has_tcb */
    bool has_measurement;
    uint8_t measurement[SHD_SNP_MEASUREMENT_LEN]; /* random when !has_measurement */
    bool debug;                                   /* sets policy bit 19 */
    uint32_t vmpl;                                /* 0..3 */
    uint8_t host_data[SHD_SNP_HOST_DATA_LEN];     /* SHA-256 of the security policy */
    unsigned root_rsa_bits;                       /* ARK/ASK size; 0 means 4096 as AMD */
};

/* What the chip creation hands to the security-context writer. */
struct aemu_chip {
    X509 *ark;
    X509 *ask;
    X509 *vcek;
    uint64_t reported_tcb;
    uint8_t measurement[SHD_SNP_MEASUREMENT_LEN];
    uint32_t guest_svn;
};

/* Default reported TCB of a product: Milan 0x7308000000000003, Genoa 0x541700000000000a. */
uint64_t aemu_chip_default_tcb(enum shd_snp_product product);

/* KDS productName extension value: "Milan-B0" or "Genoa". NULL for other products. */
const char *aemu_chip_product_name(enum shd_snp_product product);

/*
 * Creates the chip files in dir/snp (which must exist). On success *ret holds the three
 * certificates (release with aemu_chip_clear).
 */
SHD_RESULT aemu_chip_create(const char *dir, const struct aemu_chip_opts *opts,
                            struct aemu_chip *ret);

/* Frees the certificates of a chip; safe on a zeroed or already cleared struct. */
void aemu_chip_clear(struct aemu_chip *chip);
