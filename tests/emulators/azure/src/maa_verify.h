/*
 * maa_verify.h - the MAA emulator's judgement of SEV-SNP evidence (azure-formats.md §4.1, §7):
 *
 *   1. the report parses (shd/snp_report.h) and names VCEK or VLEK as its signer;
 *   2. the certificate chain (VCEK|VLEK, ASK|ASVK, ARK as PEM) leads from the signing key to
 *      one of the trusted ARKs: AMD's real ARK-Milan/Genoa/Turin or the simulator's ARK
 *      (validity dates are not checked: hardware-rooted chains, crypto_x509.h);
 *   3. the report signature verifies with that key;
 *   4. the signing certificate was issued for this report: its SPL extensions equal
 *      REPORTED_TCB (KDS issues one VCEK per TCB, §3.3), a VCEK's hwID equals CHIP_ID (unless
 *      MASK_CHIP_KEY), its productName agrees with the report's CPUID (v3+);
 *   5. binding: SHA-256(runtimeData) == REPORT_DATA[0:32] and SHA-256(initTimeData) ==
 *      HOST_DATA, when those are given;
 *   6. the UVM endorsement, when given, verifies (maa_cose.h) and endorses MEASUREMENT.
 *
 * Each failure is SHD_ERR_INPUT/SHD_ERR_UNSUPPORTED (malformed) or SHD_ERR_BAD_CERT /
 * SHD_ERR_BAD_SIGNATURE / SHD_ERR_POLICY (forged or mismatched) with a root message that MAA
 * returns to the client in its 400 body.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "shd/result.h"
#include "shd/snp_report.h"

/* One built-in AMD root (maa_roots.c). */
struct aemu_maa_root {
    const char *name; /* file name under tests/emulators/azure/trust/ */
    const char *pem;
    size_t len;
};

/* The built-in AMD ARKs (static table; *ret_n gets the count). */
const struct aemu_maa_root *aemu_maa_amd_roots(size_t *ret_n);

/* Trust anchors (borrowed). */
struct aemu_maa_trust {
    STACK_OF(X509) * amd_roots; /* ARKs */
    X509 *uvm_root;             /* root of UVM endorsement signers; NULL: endorsements refused */
};

/* The evidence as decoded from the request (all borrowed; NULL/0 = absent). */
struct aemu_maa_evidence {
    const uint8_t *report;
    size_t report_len;
    const uint8_t *cert_chain; /* PEM text: signing cert, ASK/ASVK, ARK */
    size_t cert_chain_len;
    const uint8_t *runtime_data;
    size_t runtime_data_len;
    const uint8_t *inittime_data;
    size_t inittime_data_len;
    const uint8_t *uvm_endorsement; /* COSE_Sign1 bytes */
    size_t uvm_endorsement_len;
};

/* Flags of aemu_maa_evidence_verify. */
#define AEMU_MAA_SKIP_BINDING (1u << 0) /* tests with public reports: REPORT_DATA is arbitrary */

struct aemu_maa_verified {
    struct shd_snp_report report;
    enum shd_snp_product product; /* from the signing certificate's productName */
    struct shd_snp_tcb tcb;       /* REPORTED_TCB decoded for product */
    bool runtime_bound;           /* REPORT_DATA[0:32] was checked against runtime data */
    bool inittime_bound;          /* HOST_DATA was checked against init-time data */
    json_t *uvm_payload;          /* the endorsement's JSON payload (owned), NULL if none */
    json_t *uvm_headers;          /* {"feed":..,"iss":..} (owned), NULL if none */
};

/*
 * Runs checks 1-6. On success *ret is filled (release with aemu_maa_verified_clear); on failure
 * it is untouched.
 */
SHD_RESULT aemu_maa_evidence_verify(const struct aemu_maa_trust *trust,
                                    const struct aemu_maa_evidence *ev, unsigned flags,
                                    struct aemu_maa_verified *ret);

/* Releases what a verification result owns (a zeroed struct is fine). */
void aemu_maa_verified_clear(struct aemu_maa_verified *v);
