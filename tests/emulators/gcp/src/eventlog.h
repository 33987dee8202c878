/*
 * eventlog.h - the TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile
 * 2.0, §10.2): a synthetic GCE-style log for the vTPM, a strict parser, replay into PCR values
 * and the few facts the attestation verifier derives from a replayed log (gcp-identity.md §2.3).
 *
 * Layout (all integers little-endian):
 *   first record: TCG_PCClientPCREvent (SHA-1 format) { pcrIndex u32 = 0, eventType u32 =
 *     EV_NO_ACTION, digest[20] = 0, eventSize u32, event = TCG_EfiSpecIDEvent {"Spec ID
 *     Event03\0", platformClass u32, minor u8, major u8 = 2, errata u8, uintnSize u8,
 *     numberOfAlgorithms u32, {algorithmId u16, digestSize u16}[n], vendorInfoSize u8, ...} }
 *   then TCG_PCR_EVENT2 { pcrIndex u32, eventType u32, digests TPML_DIGEST_VALUES {count u32,
 *     {hashAlg u16, digest[size from the Spec ID event]}[count]}, eventSize u32, event[] }.
 *
 * The parser only borrows the log bytes: the log must outlive the parsed object.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

/* PCRs of a PC Client TPM, and the largest digest we handle (SHA-512). */
#define GEMU_PCR_COUNT 24u
#define GEMU_DIGEST_MAX 64u

/* Bounds of what the parser accepts (STYLE.md rule 23). */
#define GEMU_EVENTLOG_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define GEMU_EVENTLOG_MAX_EVENTS 4096u
#define GEMU_EVENTLOG_MAX_ALGS 4u
#define GEMU_EVENTLOG_MAX_EVENT_DATA ((size_t)1024 * 1024)

/* TPM_ALG_ID values of the banks (TPM 2.0 Part 2, §6.3). */
#define GEMU_ALG_SHA1 0x0004u
#define GEMU_ALG_SHA256 0x000Bu
#define GEMU_ALG_SHA384 0x000Cu
#define GEMU_ALG_SHA512 0x000Du

/* Event types used here (PFP §10.4.1). */
#define GEMU_EV_NO_ACTION 0x00000003u
#define GEMU_EV_SEPARATOR 0x00000004u
#define GEMU_EV_S_CRTM_VERSION 0x00000008u
#define GEMU_EV_NONHOST_INFO 0x00000011u
#define GEMU_EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define GEMU_EV_EFI_VARIABLE_BOOT 0x80000002u
#define GEMU_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define GEMU_EV_EFI_ACTION 0x80000007u
#define GEMU_EV_EFI_PLATFORM_FIRMWARE_BLOB 0x80000008u

/* The confidential-computing technology byte of GCE's EV_NONHOST_INFO (gcp-identity.md §2.3). */
enum gemu_gce_tech {
    GEMU_GCE_TECH_NONE = 0,
    GEMU_GCE_TECH_AMD_SEV = 1,
    GEMU_GCE_TECH_AMD_SEV_ES = 2,
    GEMU_GCE_TECH_INTEL_TDX = 3,
    GEMU_GCE_TECH_AMD_SEV_SNP = 4,
};

/* What the synthetic log says about the machine. */
struct gemu_eventlog_spec {
    unsigned firmware_version;     /* EV_S_CRTM_VERSION "GCE Virtual Firmware v<N>" */
    enum gemu_gce_tech technology; /* EV_NONHOST_INFO technology byte */
    bool secure_boot;              /* UEFI SecureBoot variable (PCR 7) = 1 */
};

/* Digest length of a TPM_ALG_ID bank, 0 for an unsupported one. */
size_t gemu_alg_digest_len(uint16_t alg);

/*
 * Builds the synthetic GCE log with digests for each of the nalgs banks in algs (SHA-1,
 * SHA-256, SHA-384, SHA-512; 1..GEMU_EVENTLOG_MAX_ALGS, no duplicates, else SHD_ERR_USAGE).
 * Records: PCR 0 EV_S_CRTM_VERSION, EV_NONHOST_INFO, EV_EFI_PLATFORM_FIRMWARE_BLOB; PCR 7 the
 * SecureBoot/PK/KEK/db/dbx EV_EFI_VARIABLE_DRIVER_CONFIG events; PCR 1 EV_EFI_VARIABLE_BOOT
 * BootOrder; PCR 4 EV_EFI_ACTION and EV_EFI_BOOT_SERVICES_APPLICATION; EV_SEPARATOR in PCRs
 * 0-7. *ret_log: shd_free.
 */
SHD_RESULT gemu_eventlog_build(const struct gemu_eventlog_spec *spec, const uint16_t *algs,
                               size_t nalgs, uint8_t **ret_log, size_t *ret_len);

struct gemu_eventlog;

/* One digest of an event (pointer into the log). */
struct gemu_eventlog_digest {
    uint16_t alg;
    const uint8_t *digest;
    size_t len;
};

/* One TCG_PCR_EVENT2 record (pointers into the log). */
struct gemu_eventlog_event {
    uint32_t pcr;
    uint32_t type;
    size_t ndigests;
    struct gemu_eventlog_digest digests[GEMU_EVENTLOG_MAX_ALGS];
    const uint8_t *data;
    size_t data_len;
};

/*
 * Parses a log strictly: the Spec ID event first (signature, major version 2, 1..4 known
 * algorithms with their correct sizes, no duplicates), then records whose PCR index is below
 * GEMU_PCR_COUNT and whose digest list names exactly the Spec ID algorithms in that order.
 * Errors: SHD_ERR_TRUNCATED (a record runs past the end), SHD_ERR_TOO_LARGE (limits above),
 * SHD_ERR_INPUT (anything else malformed). *ret: gemu_eventlog_free. The log bytes are
 * borrowed and must outlive *ret.
 */
SHD_RESULT gemu_eventlog_parse(const uint8_t *log, size_t len, struct gemu_eventlog **ret);

/* Frees a parsed log (NULL is fine). */
void gemu_eventlog_free(struct gemu_eventlog *el);

/* Number of records after the Spec ID event. */
size_t gemu_eventlog_count(const struct gemu_eventlog *el);

/* Record i (< gemu_eventlog_count), borrowed from el. */
const struct gemu_eventlog_event *gemu_eventlog_event_at(const struct gemu_eventlog *el, size_t i);

/* True when the Spec ID event lists alg. */
bool gemu_eventlog_has_alg(const struct gemu_eventlog *el, uint16_t alg);

/* Replayed PCR values of one bank. */
struct gemu_pcr_bank {
    uint16_t alg;
    size_t digest_len;
    uint32_t touched; /* bit i set: PCR i was extended by at least one record */
    uint8_t pcr[GEMU_PCR_COUNT][GEMU_DIGEST_MAX];
};

/*
 * Replays every record (except EV_NO_ACTION, which is not extended, PFP §10.4.1) of bank alg
 * from all-zero PCRs: PCR = H(PCR || digest). SHD_ERR_UNSUPPORTED when the log has no such
 * bank.
 */
SHD_RESULT gemu_eventlog_replay(const struct gemu_eventlog *el, uint16_t alg,
                                struct gemu_pcr_bank *ret);

/* Facts about the boot, from records whose digest in bank alg equals the hash of their data. */
struct gemu_eventlog_facts {
    bool has_nonhost_info;
    enum gemu_gce_tech technology; /* valid when has_nonhost_info */
    bool has_crtm_version;
    unsigned firmware_version; /* when has_crtm_version and the text has the GCE form */
    bool secure_boot;          /* the last SecureBoot variable in PCR 7 was 1 */
    uint32_t separators;       /* bit i: an EV_SEPARATOR was seen in PCR i */
};

/*
 * Derives the facts from a log (which the caller has already replayed against quoted PCRs).
 * An EV_S_CRTM_VERSION, EV_NONHOST_INFO or SecureBoot record whose digest in bank alg is not
 * the hash of its data is forged: SHD_ERR_POLICY. A second EV_NONHOST_INFO, or one outside
 * PCR 0, is SHD_ERR_POLICY too.
 */
SHD_RESULT gemu_eventlog_facts(const struct gemu_eventlog *el, uint16_t alg,
                               struct gemu_eventlog_facts *ret);
