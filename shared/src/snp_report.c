/*
 * snp_report.c - parser and serializer of the SEV-SNP ATTESTATION_REPORT (azure-formats.md §1).
 *
 * The parser reads the report front to back through a small bounds-checked reader so that the
 * code follows the table of §1.1 line by line; the serializer mirrors it with a writer. The
 * length is checked once up front (exactly 1184 bytes), after which every read is in range by
 * construction; the reader still checks and treats an overrun as a programmer error.
 */
#include "shd/snp_report.h"

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* Offsets where layouts diverge between versions (§1.1). */
#define SNP_OFF_CPUID 0x188u
#define SNP_OFF_CHIP_ID 0x1A0u
#define SNP_OFF_MIT_VECTORS 0x1F8u
#define SNP_OFF_SIGNATURE 0x2A0u
#define SNP_SIG_AREA_LEN 512u

/* ---------------------------------------------------------------------------------------- */
/* Reader                                                                                    */

struct snp_reader {
    const uint8_t *p;
    size_t off;
};

static const uint8_t *snp_reader_take(struct snp_reader *r, size_t n)
{
    if (n > SHD_SNP_REPORT_LEN || r->off > SHD_SNP_REPORT_LEN - n) {
        shd_misuse("snp report reader overrun");
    }
    const uint8_t *at = r->p + r->off;
    r->off += n;
    return at;
}

static uint8_t snp_read_u8(struct snp_reader *r)
{
    return *snp_reader_take(r, 1);
}

static uint32_t snp_read_u32(struct snp_reader *r)
{
    const uint8_t *b = snp_reader_take(r, 4);
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static uint64_t snp_read_u64(struct snp_reader *r)
{
    const uint8_t *b = snp_reader_take(r, 8);
    uint64_t v = 0;
    for (size_t i = 8; i > 0; i--) {
        v = (v << 8) | b[i - 1];
    }
    return v;
}

static void snp_read_bytes(struct snp_reader *r, uint8_t *dst, size_t n)
{
    shd_memcpy(dst, snp_reader_take(r, n), n);
}

static bool snp_all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/* Consumes n reserved bytes that must be zero. */
static shd_result snp_read_mbz(struct snp_reader *r, size_t n)
{
    size_t at = r->off;
    const uint8_t *b = snp_reader_take(r, n);
    SHD_ENSURE_MSG(snp_all_zero(b, n), SHD_ERR_INPUT,
                   "snp report: reserved bytes at 0x%zx..0x%zx are not zero", at, at + n - 1);
    return SHD_OK;
}

/*
 * r and s are 72-byte little-endian fields holding P-384 values: the upper 24 bytes of each
 * are zero in every genuine report (§1.2), so anything else is forged or corrupt.
 */
static shd_result snp_read_sig_component(struct snp_reader *r, uint8_t dst[static 72])
{
    snp_read_bytes(r, dst, SHD_SNP_SIG_COMPONENT_LEN);
    SHD_ENSURE_MSG(
        snp_all_zero(dst + SHD_SNP_SIG_P384_LEN, SHD_SNP_SIG_COMPONENT_LEN - SHD_SNP_SIG_P384_LEN),
        SHD_ERR_INPUT, "snp report: signature component wider than 384 bits");
    return SHD_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Checks shared by parser and serializer                                                    */

static shd_result snp_check_version(uint32_t version)
{
    SHD_ENSURE_MSG(version >= SHD_SNP_REPORT_VERSION_MIN && version <= SHD_SNP_REPORT_VERSION_MAX,
                   SHD_ERR_UNSUPPORTED, "snp report: unsupported version %u", version);
    return SHD_OK;
}

static shd_result snp_check_signature_algo(uint32_t algo)
{
    SHD_ENSURE_MSG(algo == SHD_SNP_SIG_ALGO_ECDSA_P384_SHA384, SHD_ERR_UNSUPPORTED,
                   "snp report: unsupported signature algorithm %u", algo);
    return SHD_OK;
}

/* b31:5 MBZ; SIGNING_KEY 2..6 are reserved encodings (§1.1). */
static shd_result snp_check_signer_info(uint32_t info)
{
    SHD_ENSURE_MSG((info >> 5) == 0, SHD_ERR_INPUT,
                   "snp report: signer info 0x%x has reserved bits set", info);
    uint32_t key = (info >> SHD_SNP_SIGNER_SIGNING_KEY_SHIFT) & SHD_SNP_SIGNER_SIGNING_KEY_MASK;
    SHD_ENSURE_MSG(key == SHD_SNP_SIGNING_KEY_VCEK || key == SHD_SNP_SIGNING_KEY_VLEK ||
                       key == SHD_SNP_SIGNING_KEY_NONE,
                   SHD_ERR_INPUT, "snp report: reserved signing key %u", key);
    return SHD_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Parser                                                                                    */

static shd_result snp_parse_head(struct snp_reader *r, struct shd_snp_report *out)
{
    out->version = snp_read_u32(r);
    SHD_GUARD(snp_check_version(out->version));
    out->guest_svn = snp_read_u32(r);
    out->policy = snp_read_u64(r);
    snp_read_bytes(r, out->family_id, sizeof(out->family_id));
    snp_read_bytes(r, out->image_id, sizeof(out->image_id));
    out->vmpl = snp_read_u32(r);
    out->signature_algo = snp_read_u32(r);
    SHD_GUARD(snp_check_signature_algo(out->signature_algo));
    out->current_tcb = snp_read_u64(r);
    out->platform_info = snp_read_u64(r);
    out->signer_info = snp_read_u32(r);
    SHD_GUARD(snp_check_signer_info(out->signer_info));
    SHD_GUARD(snp_read_mbz(r, 4)); /* 0x04C */
    snp_read_bytes(r, out->report_data, sizeof(out->report_data));
    snp_read_bytes(r, out->measurement, sizeof(out->measurement));
    snp_read_bytes(r, out->host_data, sizeof(out->host_data));
    snp_read_bytes(r, out->id_key_digest, sizeof(out->id_key_digest));
    snp_read_bytes(r, out->author_key_digest, sizeof(out->author_key_digest));
    snp_read_bytes(r, out->report_id, sizeof(out->report_id));
    snp_read_bytes(r, out->report_id_ma, sizeof(out->report_id_ma));
    out->reported_tcb = snp_read_u64(r);
    return SHD_OK;
}

static shd_result snp_parse_tail(struct snp_reader *r, struct shd_snp_report *out)
{
    /* 0x188: CPUID identification exists from v3 on; in v2 the whole range is reserved. */
    if (out->version >= 3) {
        out->cpuid_fam_id = snp_read_u8(r);
        out->cpuid_mod_id = snp_read_u8(r);
        out->cpuid_step = snp_read_u8(r);
    }
    SHD_GUARD(snp_read_mbz(r, SNP_OFF_CHIP_ID - r->off));
    snp_read_bytes(r, out->chip_id, sizeof(out->chip_id));
    out->committed_tcb = snp_read_u64(r);
    out->current_build = snp_read_u8(r);
    out->current_minor = snp_read_u8(r);
    out->current_major = snp_read_u8(r);
    SHD_GUARD(snp_read_mbz(r, 1)); /* 0x1EB */
    out->committed_build = snp_read_u8(r);
    out->committed_minor = snp_read_u8(r);
    out->committed_major = snp_read_u8(r);
    SHD_GUARD(snp_read_mbz(r, 1)); /* 0x1EF */
    out->launch_tcb = snp_read_u64(r);
    /* 0x1F8: mitigation vectors exist from v5 on; reserved before. */
    if (out->version >= 5) {
        out->launch_mit_vector = snp_read_u64(r);
        out->current_mit_vector = snp_read_u64(r);
    }
    SHD_GUARD(snp_read_mbz(r, SNP_OFF_SIGNATURE - r->off));
    SHD_GUARD(snp_read_sig_component(r, out->signature_r));
    SHD_GUARD(snp_read_sig_component(r, out->signature_s));
    SHD_GUARD(snp_read_mbz(r, SHD_SNP_REPORT_LEN - r->off)); /* 0x330..0x49F */
    return SHD_OK;
}

shd_result shd_snp_report_parse(const uint8_t *in, size_t len, struct shd_snp_report *ret)
{
    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(len >= SHD_SNP_REPORT_LEN, SHD_ERR_TRUNCATED,
                   "snp report: %zu bytes, expected %u", len, SHD_SNP_REPORT_LEN);
    SHD_ENSURE_MSG(len == SHD_SNP_REPORT_LEN, SHD_ERR_TOO_LARGE,
                   "snp report: %zu bytes, expected %u", len, SHD_SNP_REPORT_LEN);

    struct shd_snp_report rep = {0};
    struct snp_reader r = {.p = in, .off = 0};
    SHD_GUARD(snp_parse_head(&r, &rep));
    SHD_GUARD(snp_parse_tail(&r, &rep));
    if (r.off != SHD_SNP_REPORT_LEN) {
        shd_misuse("snp report parser did not consume the whole report");
    }
    *ret = rep;
    return SHD_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Serializer                                                                                */

struct snp_writer {
    uint8_t *p;
    size_t off;
};

static uint8_t *snp_writer_take(struct snp_writer *w, size_t n)
{
    if (n > SHD_SNP_REPORT_LEN || w->off > SHD_SNP_REPORT_LEN - n) {
        shd_misuse("snp report writer overrun");
    }
    uint8_t *at = w->p + w->off;
    w->off += n;
    return at;
}

static void snp_write_u8(struct snp_writer *w, uint8_t v)
{
    *snp_writer_take(w, 1) = v;
}

static void snp_write_u32(struct snp_writer *w, uint32_t v)
{
    uint8_t *b = snp_writer_take(w, 4);
    for (size_t i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

static void snp_write_u64(struct snp_writer *w, uint64_t v)
{
    uint8_t *b = snp_writer_take(w, 8);
    for (size_t i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

static void snp_write_bytes(struct snp_writer *w, const uint8_t *src, size_t n)
{
    shd_memcpy(snp_writer_take(w, n), src, n);
}

/* Advances over reserved bytes; the buffer was zeroed up front. */
static void snp_write_zero_to(struct snp_writer *w, size_t off)
{
    (void)snp_writer_take(w, off - w->off);
}

static shd_result snp_check_serializable(const struct shd_snp_report *rep)
{
    SHD_GUARD(snp_check_version(rep->version));
    SHD_GUARD(snp_check_signature_algo(rep->signature_algo));
    SHD_GUARD(snp_check_signer_info(rep->signer_info));
    SHD_ENSURE_MSG(rep->version >= 3 ||
                       (rep->cpuid_fam_id | rep->cpuid_mod_id | rep->cpuid_step) == 0,
                   SHD_ERR_INPUT, "snp report: cpuid fields need version 3 or later");
    SHD_ENSURE_MSG(rep->version >= 5 || (rep->launch_mit_vector | rep->current_mit_vector) == 0,
                   SHD_ERR_INPUT, "snp report: mitigation vectors need version 5 or later");
    SHD_ENSURE_MSG(snp_all_zero(rep->signature_r + SHD_SNP_SIG_P384_LEN, 24) &&
                       snp_all_zero(rep->signature_s + SHD_SNP_SIG_P384_LEN, 24),
                   SHD_ERR_INPUT, "snp report: signature component wider than 384 bits");
    return SHD_OK;
}

static void snp_write_report(const struct shd_snp_report *rep, struct snp_writer *w)
{
    snp_write_u32(w, rep->version);
    snp_write_u32(w, rep->guest_svn);
    snp_write_u64(w, rep->policy);
    snp_write_bytes(w, rep->family_id, sizeof(rep->family_id));
    snp_write_bytes(w, rep->image_id, sizeof(rep->image_id));
    snp_write_u32(w, rep->vmpl);
    snp_write_u32(w, rep->signature_algo);
    snp_write_u64(w, rep->current_tcb);
    snp_write_u64(w, rep->platform_info);
    snp_write_u32(w, rep->signer_info);
    snp_write_u32(w, 0); /* 0x04C reserved */
    snp_write_bytes(w, rep->report_data, sizeof(rep->report_data));
    snp_write_bytes(w, rep->measurement, sizeof(rep->measurement));
    snp_write_bytes(w, rep->host_data, sizeof(rep->host_data));
    snp_write_bytes(w, rep->id_key_digest, sizeof(rep->id_key_digest));
    snp_write_bytes(w, rep->author_key_digest, sizeof(rep->author_key_digest));
    snp_write_bytes(w, rep->report_id, sizeof(rep->report_id));
    snp_write_bytes(w, rep->report_id_ma, sizeof(rep->report_id_ma));
    snp_write_u64(w, rep->reported_tcb);
    if (rep->version >= 3) {
        snp_write_u8(w, rep->cpuid_fam_id);
        snp_write_u8(w, rep->cpuid_mod_id);
        snp_write_u8(w, rep->cpuid_step);
    }
    snp_write_zero_to(w, SNP_OFF_CHIP_ID);
    snp_write_bytes(w, rep->chip_id, sizeof(rep->chip_id));
    snp_write_u64(w, rep->committed_tcb);
    snp_write_u8(w, rep->current_build);
    snp_write_u8(w, rep->current_minor);
    snp_write_u8(w, rep->current_major);
    snp_write_u8(w, 0); /* 0x1EB reserved */
    snp_write_u8(w, rep->committed_build);
    snp_write_u8(w, rep->committed_minor);
    snp_write_u8(w, rep->committed_major);
    snp_write_u8(w, 0); /* 0x1EF reserved */
    snp_write_u64(w, rep->launch_tcb);
    if (rep->version >= 5) {
        snp_write_u64(w, rep->launch_mit_vector);
        snp_write_u64(w, rep->current_mit_vector);
    }
    snp_write_zero_to(w, SNP_OFF_SIGNATURE);
    snp_write_bytes(w, rep->signature_r, sizeof(rep->signature_r));
    snp_write_bytes(w, rep->signature_s, sizeof(rep->signature_s));
    snp_write_zero_to(w, SHD_SNP_REPORT_LEN);
}

shd_result shd_snp_report_serialize(const struct shd_snp_report *report,
                                    uint8_t out[static SHD_SNP_REPORT_LEN])
{
    SHD_ENSURE_REF(report);
    SHD_ENSURE_REF(out);
    SHD_GUARD(snp_check_serializable(report));

    uint8_t buf[SHD_SNP_REPORT_LEN] = {0};
    struct snp_writer w = {.p = buf, .off = 0};
    snp_write_report(report, &w);
    if (w.off != SHD_SNP_REPORT_LEN) {
        shd_misuse("snp report serializer did not fill the whole report");
    }
    shd_memcpy(out, buf, SHD_SNP_REPORT_LEN);
    return SHD_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Product and TCB                                                                           */

enum shd_snp_product shd_snp_report_product(const struct shd_snp_report *report)
{
    if (report == NULL) {
        return SHD_SNP_PRODUCT_UNKNOWN;
    }
    if (report->version >= 3) {
        uint8_t fam = report->cpuid_fam_id;
        uint8_t mod = report->cpuid_mod_id;
        if (fam == 0x19 && mod <= 0x0F) {
            return SHD_SNP_PRODUCT_MILAN;
        }
        if (fam == 0x19 && ((mod >= 0x10 && mod <= 0x1F) || (mod >= 0xA0 && mod <= 0xAF))) {
            return SHD_SNP_PRODUCT_GENOA;
        }
        if (fam == 0x1A && mod <= 0x11) {
            return SHD_SNP_PRODUCT_TURIN;
        }
        return SHD_SNP_PRODUCT_UNKNOWN;
    }
    /* v2 heuristic of §1.2: Turin's CHIP_ID is 8 bytes long. */
    if (snp_all_zero(report->chip_id + 8, SHD_SNP_CHIP_ID_LEN - 8) &&
        !snp_all_zero(report->chip_id, 8)) {
        return SHD_SNP_PRODUCT_TURIN;
    }
    return SHD_SNP_PRODUCT_UNKNOWN;
}

const char *shd_snp_product_name(enum shd_snp_product product)
{
    switch (product) {
    case SHD_SNP_PRODUCT_MILAN:
        return "Milan";
    case SHD_SNP_PRODUCT_GENOA:
        return "Genoa";
    case SHD_SNP_PRODUCT_TURIN:
        return "Turin";
    case SHD_SNP_PRODUCT_UNKNOWN:
    default:
        return NULL;
    }
}

static uint8_t snp_tcb_byte(uint64_t tcb, unsigned i)
{
    return (uint8_t)(tcb >> (8u * i));
}

shd_result shd_snp_tcb_decode(uint64_t tcb, enum shd_snp_product product, struct shd_snp_tcb *ret)
{
    SHD_ENSURE_REF(ret);
    struct shd_snp_tcb t = {0};
    if (product == SHD_SNP_PRODUCT_TURIN) {
        /* bytes 4..6 reserved */
        SHD_ENSURE_MSG((tcb & 0x00ffffff00000000ull) == 0, SHD_ERR_INPUT,
                       "snp tcb 0x%016llx: reserved bytes set", (unsigned long long)tcb);
        t.fmc = snp_tcb_byte(tcb, 0);
        t.boot_loader = snp_tcb_byte(tcb, 1);
        t.tee = snp_tcb_byte(tcb, 2);
        t.snp = snp_tcb_byte(tcb, 3);
    } else {
        /* bytes 2..5 reserved */
        SHD_ENSURE_MSG((tcb & 0x0000ffffffff0000ull) == 0, SHD_ERR_INPUT,
                       "snp tcb 0x%016llx: reserved bytes set", (unsigned long long)tcb);
        t.boot_loader = snp_tcb_byte(tcb, 0);
        t.tee = snp_tcb_byte(tcb, 1);
        t.snp = snp_tcb_byte(tcb, 6);
    }
    t.microcode = snp_tcb_byte(tcb, 7);
    *ret = t;
    return SHD_OK;
}

shd_result shd_snp_tcb_encode(const struct shd_snp_tcb *tcb, enum shd_snp_product product,
                              uint64_t *ret)
{
    SHD_ENSURE_REF(tcb);
    SHD_ENSURE_REF(ret);
    uint64_t v = (uint64_t)tcb->microcode << 56;
    if (product == SHD_SNP_PRODUCT_TURIN) {
        v |= (uint64_t)tcb->fmc | ((uint64_t)tcb->boot_loader << 8) | ((uint64_t)tcb->tee << 16) |
             ((uint64_t)tcb->snp << 24);
    } else {
        SHD_ENSURE_MSG(tcb->fmc == 0, SHD_ERR_INPUT, "snp tcb: no FMC SPL before Turin");
        v |= (uint64_t)tcb->boot_loader | ((uint64_t)tcb->tee << 8) | ((uint64_t)tcb->snp << 48);
    }
    *ret = v;
    return SHD_OK;
}
