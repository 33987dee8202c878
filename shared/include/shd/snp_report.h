/*
 * snp_report.h - the AMD SEV-SNP ATTESTATION_REPORT (1184 bytes) and its TCB_VERSION and guest
 * POLICY encodings (specs/azure-formats.md §1.1-1.4, AMD SEV-SNP ABI "ATTESTATION_REPORT").
 *
 * shd_snp_report_parse() turns the wire bytes into a plain struct with every field; the parser
 * is strict about structure (exact size, known VERSION, SIGNATURE_ALGO 1, reserved bytes zero)
 * and leaves policy decisions (debug allowed? minimum TCB?) to the caller, who has the
 * accessors below. shd_snp_report_serialize() is the exact inverse: parse then serialize gives
 * back the input byte for byte. Signature verification is not done here: the report is signed
 * over bytes [0, SHD_SNP_REPORT_SIGNED_LEN) and r, s are kept exactly as on the wire
 * (72-byte little-endian) for the crypto layer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#define SHD_SNP_REPORT_LEN 1184u         /* 0x4A0 */
#define SHD_SNP_REPORT_SIGNED_LEN 0x2A0u /* signature covers bytes 0x000..0x29F */
#define SHD_SNP_SIG_COMPONENT_LEN 72u    /* r and s: 72-byte little-endian, top 24 bytes zero */
#define SHD_SNP_SIG_P384_LEN 48u         /* significant bytes of r and s for P-384 */
#define SHD_SNP_REPORT_DATA_LEN 64u
#define SHD_SNP_MEASUREMENT_LEN 48u
#define SHD_SNP_HOST_DATA_LEN 32u
#define SHD_SNP_CHIP_ID_LEN 64u

/* VERSION values understood. 4 is laid out like 3 (virtee treats them alike); 5 adds the
 * mitigation vectors at 0x1F8/0x200. 0 and 1 (pre-release firmware) are rejected. */
#define SHD_SNP_REPORT_VERSION_MIN 2u
#define SHD_SNP_REPORT_VERSION_MAX 5u

/* SIGNATURE_ALGO: the only algorithm defined, ECDSA P-384 with SHA-384. */
#define SHD_SNP_SIG_ALGO_ECDSA_P384_SHA384 1u

/* Signer info ("KEY_INFO", 0x048): b0 AUTHOR_KEY_EN, b1 MASK_CHIP_KEY, b4:2 SIGNING_KEY. */
#define SHD_SNP_SIGNER_AUTHOR_KEY_EN (1u << 0)
#define SHD_SNP_SIGNER_MASK_CHIP_KEY (1u << 1)
#define SHD_SNP_SIGNER_SIGNING_KEY_SHIFT 2u
#define SHD_SNP_SIGNER_SIGNING_KEY_MASK 0x7u

enum shd_snp_signing_key {
    SHD_SNP_SIGNING_KEY_VCEK = 0,
    SHD_SNP_SIGNING_KEY_VLEK = 1,
    SHD_SNP_SIGNING_KEY_NONE = 7, /* the report carries no signature */
};

/* PLATFORM_INFO (0x040) bits. */
#define SHD_SNP_PLATFORM_SMT_EN (1ull << 0)
#define SHD_SNP_PLATFORM_TSME_EN (1ull << 1)
#define SHD_SNP_PLATFORM_ECC_EN (1ull << 2)
#define SHD_SNP_PLATFORM_RAPL_DIS (1ull << 3)
#define SHD_SNP_PLATFORM_CIPHERTEXT_HIDING_EN (1ull << 4)
#define SHD_SNP_PLATFORM_ALIAS_CHECK_COMPLETE (1ull << 5)
#define SHD_SNP_PLATFORM_SEV_TIO_EN (1ull << 7)

/* Guest POLICY (0x008) bits, §1.4. ABI_MINOR is b7:0 and ABI_MAJOR b15:8. */
#define SHD_SNP_POLICY_SMT (1ull << 16)
#define SHD_SNP_POLICY_RESERVED_1 (1ull << 17) /* must be 1 */
#define SHD_SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SHD_SNP_POLICY_DEBUG (1ull << 19)
#define SHD_SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SHD_SNP_POLICY_CXL_ALLOW (1ull << 21)
#define SHD_SNP_POLICY_MEM_AES_256_XTS (1ull << 22)
#define SHD_SNP_POLICY_RAPL_DIS (1ull << 23)
#define SHD_SNP_POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define SHD_SNP_POLICY_PAGE_SWAP_DISABLE (1ull << 25)
#define SHD_SNP_POLICY_MBZ_MASK (~((1ull << 26) - 1ull)) /* b63:26 */

/* Processor generations; they differ in the TCB_VERSION layout (§1.3) and the CHIP_ID size. */
enum shd_snp_product {
    SHD_SNP_PRODUCT_UNKNOWN = 0, /* v2 report of Milan or Genoa: TCB layout is the legacy one */
    SHD_SNP_PRODUCT_MILAN,
    SHD_SNP_PRODUCT_GENOA,
    SHD_SNP_PRODUCT_TURIN,
};

/*
 * A decoded TCB_VERSION. Milan/Genoa ("legacy") bytes: 0 BOOT_LOADER, 1 TEE, 6 SNP,
 * 7 MICROCODE, the rest reserved. Turin: 0 FMC, 1 BOOT_LOADER, 2 TEE, 3 SNP, 7 MICROCODE.
 * fmc is always 0 for the legacy layout.
 */
struct shd_snp_tcb {
    uint8_t fmc;
    uint8_t boot_loader;
    uint8_t tee;
    uint8_t snp;
    uint8_t microcode;
};

/*
 * Every field of the report, host byte order for integers. TCB_VERSION fields are kept as the
 * 64-bit little-endian value (the form THIM's "tcbm" prints, e.g. 0x7308000000000003); decode
 * them with shd_snp_tcb_decode(). Fields absent from a version are zero.
 */
struct shd_snp_report {
    uint32_t version;
    uint32_t guest_svn;
    uint64_t policy;
    uint8_t family_id[16];
    uint8_t image_id[16];
    uint32_t vmpl;
    uint32_t signature_algo;
    uint64_t current_tcb;
    uint64_t platform_info;
    uint32_t signer_info; /* see SHD_SNP_SIGNER_* and the accessors below */
    uint8_t report_data[SHD_SNP_REPORT_DATA_LEN];
    uint8_t measurement[SHD_SNP_MEASUREMENT_LEN];
    uint8_t host_data[SHD_SNP_HOST_DATA_LEN];
    uint8_t id_key_digest[48];
    uint8_t author_key_digest[48];
    uint8_t report_id[32];
    uint8_t report_id_ma[32];
    uint64_t reported_tcb;
    uint8_t cpuid_fam_id; /* v3+ only */
    uint8_t cpuid_mod_id; /* v3+ only */
    uint8_t cpuid_step;   /* v3+ only */
    uint8_t chip_id[SHD_SNP_CHIP_ID_LEN];
    uint64_t committed_tcb;
    uint8_t current_build;
    uint8_t current_minor;
    uint8_t current_major;
    uint8_t committed_build;
    uint8_t committed_minor;
    uint8_t committed_major;
    uint64_t launch_tcb;
    uint64_t launch_mit_vector;                     /* v5 only */
    uint64_t current_mit_vector;                    /* v5 only */
    uint8_t signature_r[SHD_SNP_SIG_COMPONENT_LEN]; /* little-endian, as on the wire */
    uint8_t signature_s[SHD_SNP_SIG_COMPONENT_LEN]; /* little-endian, as on the wire */
};

/*
 * Parses exactly SHD_SNP_REPORT_LEN bytes into *ret (written only on success).
 * Errors: SHD_ERR_NULL; SHD_ERR_TRUNCATED / SHD_ERR_TOO_LARGE for a wrong length;
 * SHD_ERR_UNSUPPORTED for a VERSION outside [2, 5] or SIGNATURE_ALGO != 1; SHD_ERR_INPUT for a
 * non-zero reserved (MBZ) field, a reserved SIGNING_KEY value (2..6) or r/s wider than 48 bytes.
 * The guest POLICY is not judged here (see shd_snp_policy_is_valid).
 */
SHD_RESULT shd_snp_report_parse(const uint8_t *in, size_t len, struct shd_snp_report *ret);

/*
 * Writes the wire form of *report into out (all reserved bytes zero). Rejects, like the parser,
 * an unknown VERSION or SIGNATURE_ALGO, a reserved SIGNING_KEY or non-zero signer-info MBZ bits,
 * CPUID fields in a v2 report and mitigation vectors before v5 (SHD_ERR_INPUT/UNSUPPORTED).
 * out is only written on success.
 */
SHD_RESULT shd_snp_report_serialize(const struct shd_snp_report *report,
                                    uint8_t out[static SHD_SNP_REPORT_LEN]);

/*
 * Generation of the chip that produced the report (azure-formats.md §1.2): v3+ from CPUID
 * family/model (0x19 0x00-0x0F Milan, 0x10-0x1F and 0xA0-0xAF Genoa; 0x1A 0x00-0x11 Turin);
 * v2 reports say TURIN when CHIP_ID bytes 8..63 are zero and the first 8 are not, else UNKNOWN
 * (Milan or Genoa, which share the TCB layout).
 */
enum shd_snp_product shd_snp_report_product(const struct shd_snp_report *report);

/*
 * Decodes a 64-bit TCB_VERSION for a product (UNKNOWN, MILAN, GENOA use the legacy layout).
 * Fails with SHD_ERR_INPUT when a reserved byte of the layout is non-zero.
 */
SHD_RESULT shd_snp_tcb_decode(uint64_t tcb, enum shd_snp_product product, struct shd_snp_tcb *ret);

/*
 * Encodes a TCB_VERSION as the 64-bit value (the inverse of shd_snp_tcb_decode). Fails with
 * SHD_ERR_INPUT when fmc is non-zero for a legacy-layout product.
 */
SHD_RESULT shd_snp_tcb_encode(const struct shd_snp_tcb *tcb, enum shd_snp_product product,
                              uint64_t *ret);

/* Static product name as AMD KDS spells it ("Milan", "Genoa", "Turin"); NULL for UNKNOWN. */
const char *shd_snp_product_name(enum shd_snp_product product);

/* Signer-info accessors. */
static inline bool shd_snp_report_author_key_en(const struct shd_snp_report *r)
{
    return (r->signer_info & SHD_SNP_SIGNER_AUTHOR_KEY_EN) != 0;
}

static inline bool shd_snp_report_mask_chip_key(const struct shd_snp_report *r)
{
    return (r->signer_info & SHD_SNP_SIGNER_MASK_CHIP_KEY) != 0;
}

/* SIGNING_KEY (b4:2); a parsed report only holds VCEK, VLEK or NONE. */
static inline enum shd_snp_signing_key shd_snp_report_signing_key(const struct shd_snp_report *r)
{
    return (enum shd_snp_signing_key)((r->signer_info >> SHD_SNP_SIGNER_SIGNING_KEY_SHIFT) &
                                      SHD_SNP_SIGNER_SIGNING_KEY_MASK);
}

/* Guest policy accessors (§1.4). */
static inline uint8_t shd_snp_policy_abi_minor(uint64_t policy)
{
    return (uint8_t)(policy & 0xffu);
}

static inline uint8_t shd_snp_policy_abi_major(uint64_t policy)
{
    return (uint8_t)((policy >> 8) & 0xffu);
}

static inline bool shd_snp_policy_debug_allowed(uint64_t policy)
{
    return (policy & SHD_SNP_POLICY_DEBUG) != 0;
}

static inline bool shd_snp_policy_migrate_ma_allowed(uint64_t policy)
{
    return (policy & SHD_SNP_POLICY_MIGRATE_MA) != 0;
}

static inline bool shd_snp_policy_smt_allowed(uint64_t policy)
{
    return (policy & SHD_SNP_POLICY_SMT) != 0;
}

static inline bool shd_snp_policy_single_socket(uint64_t policy)
{
    return (policy & SHD_SNP_POLICY_SINGLE_SOCKET) != 0;
}

/* True when the reserved bit 17 is set and bits 63:26 are clear, as firmware requires. */
static inline bool shd_snp_policy_is_valid(uint64_t policy)
{
    return (policy & SHD_SNP_POLICY_RESERVED_1) != 0 && (policy & SHD_SNP_POLICY_MBZ_MASK) == 0;
}
