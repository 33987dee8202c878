/*
 * eventlog.c - the synthetic GCE TCG event log (builder) and the strict parser. Replay and the
 * derived facts live in eventlog_replay.c.
 */
#include <stdio.h>
#include <string.h>

#include "eventlog.h"
#include "eventlog_int.h"

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* "Spec ID Event03\0" (PFP §10.4.5.1). */
static const uint8_t spec_id_signature[16] = {'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ',
                                              'E', 'v', 'e', 'n', 't', '0', '3', 0};

/* EFI_GLOBAL_VARIABLE 8BE4DF61-93CA-11D2-AA0D-00E098032B8C and EFI_IMAGE_SECURITY_DATABASE_GUID
 * D719B2CB-3D3A-4596-A3BC-DAD00E67656F, in their in-memory (mixed-endian) layout. */
const uint8_t gemu_efi_global_guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                          0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
static const uint8_t efi_image_db_guid[16] = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                              0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

size_t gemu_alg_digest_len(uint16_t alg)
{
    switch (alg) {
    case GEMU_ALG_SHA1:
        return SHD_CRYPTO_SHA1_LEN;
    case GEMU_ALG_SHA256:
        return SHD_CRYPTO_SHA256_LEN;
    case GEMU_ALG_SHA384:
        return SHD_CRYPTO_SHA384_LEN;
    case GEMU_ALG_SHA512:
        return SHD_CRYPTO_SHA512_LEN;
    default:
        return 0;
    }
}

shd_result gemu_alg_hash(uint16_t alg, const uint8_t *in, size_t n,
                         uint8_t out[static GEMU_DIGEST_MAX], size_t *ret_len)
{
    enum shd_crypto_hash h;

    switch (alg) {
    case GEMU_ALG_SHA1:
        h = SHD_CRYPTO_HASH_SHA1;
        break;
    case GEMU_ALG_SHA256:
        h = SHD_CRYPTO_HASH_SHA256;
        break;
    case GEMU_ALG_SHA384:
        h = SHD_CRYPTO_HASH_SHA384;
        break;
    case GEMU_ALG_SHA512:
        h = SHD_CRYPTO_HASH_SHA512;
        break;
    default:
        SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "hash algorithm 0x%04x not supported", alg);
    }
    return shd_crypto_digest(h, in, n, out, GEMU_DIGEST_MAX, ret_len);
}

/* ---- builder ---------------------------------------------------------------------------- */

static shd_result put_u8(uint8_t v, struct shd_buf *b)
{
    return shd_buf_append(&v, 1, b);
}

static shd_result put_u16(uint16_t v, struct shd_buf *b)
{
    uint8_t le[2] = {(uint8_t)(v & 0xffu), (uint8_t)(v >> 8)};

    return shd_buf_append(le, sizeof(le), b);
}

static shd_result put_u32(uint32_t v, struct shd_buf *b)
{
    uint8_t le[4];

    for (size_t i = 0; i < sizeof(le); i++) {
        le[i] = (uint8_t)(v >> (8 * i));
    }
    return shd_buf_append(le, sizeof(le), b);
}

static shd_result put_u64(uint64_t v, struct shd_buf *b)
{
    uint8_t le[8];

    for (size_t i = 0; i < sizeof(le); i++) {
        le[i] = (uint8_t)(v >> (8 * i));
    }
    return shd_buf_append(le, sizeof(le), b);
}

/* ASCII text as UCS-2LE code units (no terminator). */
static shd_result put_ucs2(const char *s, struct shd_buf *b)
{
    for (; *s != '\0'; s++) {
        SHD_GUARD(put_u16((uint16_t)(unsigned char)*s, b));
    }
    return SHD_OK;
}

struct builder {
    const uint16_t *algs;
    size_t nalgs;
    struct shd_buf out;
};

/*
 * Appends one TCG_PCR_EVENT2. The digest of each bank is the hash of `measured` (which is the
 * event data itself for data-measured events, or the synthetic measured object otherwise).
 */
static shd_result add_event(uint32_t pcr, uint32_t type, const uint8_t *data, size_t len,
                            const uint8_t *measured, size_t measured_len, struct builder *bld)
{
    SHD_ENSURE(len <= UINT32_MAX, SHD_ERR_TOO_LARGE);
    SHD_GUARD(put_u32(pcr, &bld->out));
    SHD_GUARD(put_u32(type, &bld->out));
    SHD_GUARD(put_u32((uint32_t)bld->nalgs, &bld->out));
    for (size_t i = 0; i < bld->nalgs; i++) {
        uint8_t d[GEMU_DIGEST_MAX];
        size_t dlen = 0;

        SHD_GUARD(gemu_alg_hash(bld->algs[i], measured, measured_len, d, &dlen));
        SHD_GUARD(put_u16(bld->algs[i], &bld->out));
        SHD_GUARD(shd_buf_append(d, dlen, &bld->out));
    }
    SHD_GUARD(put_u32((uint32_t)len, &bld->out));
    return shd_buf_append(data, len, &bld->out);
}

/* An event whose digest is the hash of its own data. */
static shd_result add_data_event(uint32_t pcr, uint32_t type, const uint8_t *data, size_t len,
                                 struct builder *bld)
{
    return add_event(pcr, type, data, len, data, len, bld);
}

static shd_result add_spec_id(struct builder *bld)
{
    struct shd_buf ev;
    shd_result r;

    shd_buf_init(256, 0, &ev);
    r = shd_buf_append(spec_id_signature, sizeof(spec_id_signature), &ev);
    if (shd_is_ok(r)) {
        r = put_u32(0, &ev); /* platformClass: client */
    }
    if (shd_is_ok(r)) {
        r = put_u8(0, &ev); /* specVersionMinor */
    }
    if (shd_is_ok(r)) {
        r = put_u8(2, &ev); /* specVersionMajor */
    }
    if (shd_is_ok(r)) {
        r = put_u8(0, &ev); /* specErrata */
    }
    if (shd_is_ok(r)) {
        r = put_u8(2, &ev); /* uintnSize: UINT64 */
    }
    if (shd_is_ok(r)) {
        r = put_u32((uint32_t)bld->nalgs, &ev);
    }
    for (size_t i = 0; i < bld->nalgs && shd_is_ok(r); i++) {
        r = put_u16(bld->algs[i], &ev);
        if (shd_is_ok(r)) {
            r = put_u16((uint16_t)gemu_alg_digest_len(bld->algs[i]), &ev);
        }
    }
    if (shd_is_ok(r)) {
        r = put_u8(0, &ev); /* vendorInfoSize */
    }
    if (shd_is_ok(r)) {
        static const uint8_t zero[SHD_CRYPTO_SHA1_LEN];

        r = put_u32(0, &bld->out);
        if (shd_is_ok(r)) {
            r = put_u32(GEMU_EV_NO_ACTION, &bld->out);
        }
        if (shd_is_ok(r)) {
            r = shd_buf_append(zero, sizeof(zero), &bld->out);
        }
        if (shd_is_ok(r)) {
            r = put_u32((uint32_t)shd_buf_len(&ev), &bld->out);
        }
        if (shd_is_ok(r)) {
            r = shd_buf_append(shd_buf_ptr(&ev), shd_buf_len(&ev), &bld->out);
        }
    }
    shd_buf_free(&ev);
    return r;
}

/* UEFI_VARIABLE_DATA (PFP §10.4.7.2): GUID, name length, data length, UCS-2 name, data. */
static shd_result add_variable_event(uint32_t pcr, uint32_t type, const uint8_t guid[16],
                                     const char *name, const uint8_t *data, size_t len,
                                     struct builder *bld)
{
    struct shd_buf v;
    shd_result r;

    shd_buf_init(4096, 0, &v);
    r = shd_buf_append(guid, 16, &v);
    if (shd_is_ok(r)) {
        r = put_u64(strlen(name), &v);
    }
    if (shd_is_ok(r)) {
        r = put_u64(len, &v);
    }
    if (shd_is_ok(r)) {
        r = put_ucs2(name, &v);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_append(data, len, &v);
    }
    if (shd_is_ok(r)) {
        r = add_data_event(pcr, type, shd_buf_ptr(&v), shd_buf_len(&v), bld);
    }
    shd_buf_free(&v);
    return r;
}

static shd_result add_crtm_version(unsigned version, struct builder *bld)
{
    char text[64];
    struct shd_buf v;
    shd_result r;
    int n = snprintf(text, sizeof(text), "GCE Virtual Firmware v%u", version);

    SHD_ENSURE(n > 0 && (size_t)n < sizeof(text), SHD_ERR_INTERNAL);
    shd_buf_init(sizeof(text) * 2 + 2, 0, &v);
    r = put_ucs2(text, &v);
    if (shd_is_ok(r)) {
        r = put_u16(0, &v);
    }
    if (shd_is_ok(r)) {
        r = add_data_event(0, GEMU_EV_S_CRTM_VERSION, shd_buf_ptr(&v), shd_buf_len(&v), bld);
    }
    shd_buf_free(&v);
    return r;
}

static shd_result add_pcr0(const struct gemu_eventlog_spec *spec, struct builder *bld)
{
    uint8_t nonhost[GEMU_NONHOST_INFO_LEN] = {0};
    /* UEFI_PLATFORM_FIRMWARE_BLOB {base u64, length u64}: the digest is that of the firmware
     * volume in memory, which we stand in for with a fixed text. */
    static const uint8_t blob[16] = {0x00, 0x00, 0x82, 0xff, 0, 0, 0, 0,
                                     0x00, 0x00, 0x7e, 0x00, 0, 0, 0, 0};
    static const char fv[] = "gcp-emu virtual firmware volume";

    SHD_GUARD(add_crtm_version(spec->firmware_version, bld));
    shd_memcpy(nonhost, GEMU_NONHOST_INFO_SIGNATURE, sizeof(GEMU_NONHOST_INFO_SIGNATURE));
    nonhost[GEMU_NONHOST_INFO_TECH_OFFSET] = (uint8_t)spec->technology;
    SHD_GUARD(add_data_event(0, GEMU_EV_NONHOST_INFO, nonhost, sizeof(nonhost), bld));
    return add_event(0, GEMU_EV_EFI_PLATFORM_FIRMWARE_BLOB, blob, sizeof(blob), (const uint8_t *)fv,
                     sizeof(fv) - 1, bld);
}

static shd_result add_pcr7(const struct gemu_eventlog_spec *spec, struct builder *bld)
{
    const uint8_t sb = spec->secure_boot ? 1 : 0;
    /* Stand-ins for EFI_SIGNATURE_LISTs: the verifier only reads SecureBoot. */
    static const uint8_t pk[] = "gcp-emu PK";
    static const uint8_t kek[] = "gcp-emu KEK";
    static const uint8_t db[] = "gcp-emu db";
    static const uint8_t dbx[] = "gcp-emu dbx";
    const uint32_t t = GEMU_EV_EFI_VARIABLE_DRIVER_CONFIG;

    SHD_GUARD(add_variable_event(7, t, gemu_efi_global_guid, "SecureBoot", &sb, 1, bld));
    SHD_GUARD(add_variable_event(7, t, gemu_efi_global_guid, "PK", pk, sizeof(pk) - 1, bld));
    SHD_GUARD(add_variable_event(7, t, gemu_efi_global_guid, "KEK", kek, sizeof(kek) - 1, bld));
    SHD_GUARD(add_variable_event(7, t, efi_image_db_guid, "db", db, sizeof(db) - 1, bld));
    return add_variable_event(7, t, efi_image_db_guid, "dbx", dbx, sizeof(dbx) - 1, bld);
}

static shd_result add_boot(struct builder *bld)
{
    static const uint8_t boot_order[] = {0x01, 0x00, 0x00, 0x00};
    static const char action[] = "Calling EFI Application from Boot Option";
    /* UEFI_IMAGE_LOAD_EVENT stand-in (location, length, link address, path length 0); the
     * digest is the Authenticode hash of the image, here a fixed text's hash. */
    static const uint8_t image_load[32] = {0};
    static const char image[] = "gcp-emu EFI\\BOOT\\BOOTX64.EFI";
    static const uint8_t separator[4] = {0, 0, 0, 0};

    SHD_GUARD(add_variable_event(1, GEMU_EV_EFI_VARIABLE_BOOT, gemu_efi_global_guid, "BootOrder",
                                 boot_order, sizeof(boot_order), bld));
    for (uint32_t pcr = 0; pcr <= 7; pcr++) {
        SHD_GUARD(add_data_event(pcr, GEMU_EV_SEPARATOR, separator, sizeof(separator), bld));
    }
    SHD_GUARD(
        add_data_event(4, GEMU_EV_EFI_ACTION, (const uint8_t *)action, sizeof(action) - 1, bld));
    return add_event(4, GEMU_EV_EFI_BOOT_SERVICES_APPLICATION, image_load, sizeof(image_load),
                     (const uint8_t *)image, sizeof(image) - 1, bld);
}

shd_result gemu_eventlog_build(const struct gemu_eventlog_spec *spec, const uint16_t *algs,
                               size_t nalgs, uint8_t **ret_log, size_t *ret_len)
{
    struct builder bld = {.algs = algs, .nalgs = nalgs};
    shd_result r;

    SHD_ENSURE_REF(spec);
    SHD_ENSURE_REF(algs);
    SHD_ENSURE_REF(ret_log);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE_MSG(nalgs >= 1 && nalgs <= GEMU_EVENTLOG_MAX_ALGS, SHD_ERR_USAGE,
                   "1..%u banks expected", GEMU_EVENTLOG_MAX_ALGS);
    for (size_t i = 0; i < nalgs; i++) {
        SHD_ENSURE_MSG(gemu_alg_digest_len(algs[i]) != 0, SHD_ERR_USAGE,
                       "bank 0x%04x not supported", algs[i]);
        for (size_t j = 0; j < i; j++) {
            SHD_ENSURE_MSG(algs[j] != algs[i], SHD_ERR_USAGE, "bank 0x%04x twice", algs[i]);
        }
    }
    shd_buf_init(GEMU_EVENTLOG_MAX_BYTES, 0, &bld.out);
    /* PFP §3.3.4: S-CRTM version, non-host info and firmware first, then the Secure Boot
     * policy (PCR 7), then the boot variables, separators and the boot application. */
    r = add_spec_id(&bld);
    if (shd_is_ok(r)) {
        r = add_pcr0(spec, &bld);
    }
    if (shd_is_ok(r)) {
        r = add_pcr7(spec, &bld);
    }
    if (shd_is_ok(r)) {
        r = add_boot(&bld);
    }
    if (shd_is_ok(r)) {
        r = shd_buf_take(&bld.out, ret_log, ret_len);
    }
    shd_buf_free(&bld.out);
    return r;
}

/* ---- parser ----------------------------------------------------------------------------- */

struct gemu_eventlog {
    size_t nalgs;
    uint16_t algs[GEMU_EVENTLOG_MAX_ALGS];
    size_t nevents;
    struct gemu_eventlog_event *events;
};

static shd_result parse_spec_id(struct shd_cursor *cur, struct gemu_eventlog *el)
{
    uint32_t pcr = 0, type = 0, size = 0, nalgs = 0;
    const uint8_t *digest = NULL, *sig = NULL, *ev = NULL;
    uint8_t minor = 0, major = 0, errata = 0, uintn = 0, vendor = 0;
    uint32_t platform = 0;
    struct shd_cursor e;

    SHD_GUARD(shd_cursor_read_u32le(cur, &pcr));
    SHD_GUARD(shd_cursor_read_u32le(cur, &type));
    SHD_GUARD(shd_cursor_take(SHD_CRYPTO_SHA1_LEN, cur, &digest));
    SHD_GUARD(shd_cursor_read_u32le(cur, &size));
    SHD_GUARD(shd_cursor_take(size, cur, &ev));
    SHD_ENSURE_MSG(pcr == 0 && type == GEMU_EV_NO_ACTION, SHD_ERR_INPUT,
                   "event log does not start with the Spec ID event");
    shd_cursor_init(ev, size, &e);
    SHD_GUARD_CTX(shd_cursor_take(sizeof(spec_id_signature), &e, &sig), "spec id event");
    SHD_ENSURE_MSG(shd_memcmp(sig, spec_id_signature, sizeof(spec_id_signature)) == 0,
                   SHD_ERR_INPUT, "not a crypto-agile event log (Spec ID signature)");
    SHD_GUARD(shd_cursor_read_u32le(&e, &platform));
    SHD_GUARD(shd_cursor_read_u8(&e, &minor));
    SHD_GUARD(shd_cursor_read_u8(&e, &major));
    SHD_GUARD(shd_cursor_read_u8(&e, &errata));
    SHD_GUARD(shd_cursor_read_u8(&e, &uintn));
    SHD_GUARD(shd_cursor_read_u32le(&e, &nalgs));
    SHD_ENSURE_MSG(major == 2, SHD_ERR_INPUT, "Spec ID event version %u not supported", major);
    SHD_ENSURE_MSG(nalgs >= 1 && nalgs <= GEMU_EVENTLOG_MAX_ALGS, SHD_ERR_INPUT,
                   "Spec ID event lists %u algorithms", nalgs);
    for (uint32_t i = 0; i < nalgs; i++) {
        uint16_t alg = 0, dsize = 0;

        SHD_GUARD(shd_cursor_read_u16le(&e, &alg));
        SHD_GUARD(shd_cursor_read_u16le(&e, &dsize));
        SHD_ENSURE_MSG(gemu_alg_digest_len(alg) != 0 && gemu_alg_digest_len(alg) == dsize,
                       SHD_ERR_INPUT, "Spec ID algorithm 0x%04x size %u not supported", alg, dsize);
        for (uint32_t j = 0; j < i; j++) {
            SHD_ENSURE_MSG(el->algs[j] != alg, SHD_ERR_INPUT, "algorithm 0x%04x listed twice", alg);
        }
        el->algs[i] = alg;
    }
    SHD_GUARD(shd_cursor_read_u8(&e, &vendor));
    SHD_GUARD(shd_cursor_skip(vendor, &e));
    SHD_ENSURE_MSG(shd_cursor_at_end(&e), SHD_ERR_INPUT, "trailing bytes in the Spec ID event");
    el->nalgs = nalgs;
    (void)platform;
    (void)minor;
    (void)errata;
    (void)uintn;
    return SHD_OK;
}

static shd_result parse_event(struct shd_cursor *cur, const struct gemu_eventlog *el,
                              struct gemu_eventlog_event *ev)
{
    uint32_t count = 0, size = 0;

    SHD_GUARD(shd_cursor_read_u32le(cur, &ev->pcr));
    SHD_GUARD(shd_cursor_read_u32le(cur, &ev->type));
    SHD_ENSURE_MSG(ev->pcr < GEMU_PCR_COUNT, SHD_ERR_INPUT, "event for PCR %u", ev->pcr);
    SHD_GUARD(shd_cursor_read_u32le(cur, &count));
    SHD_ENSURE_MSG(count == el->nalgs, SHD_ERR_INPUT, "event has %u digests, the Spec ID event %zu",
                   count, el->nalgs);
    for (size_t i = 0; i < count; i++) {
        uint16_t alg = 0;

        SHD_GUARD(shd_cursor_read_u16le(cur, &alg));
        SHD_ENSURE_MSG(alg == el->algs[i], SHD_ERR_INPUT, "event digest 0x%04x out of order", alg);
        ev->digests[i].alg = alg;
        ev->digests[i].len = gemu_alg_digest_len(alg);
        SHD_GUARD(shd_cursor_take(ev->digests[i].len, cur, &ev->digests[i].digest));
    }
    ev->ndigests = count;
    SHD_GUARD(shd_cursor_read_u32le(cur, &size));
    SHD_ENSURE(size <= GEMU_EVENTLOG_MAX_EVENT_DATA, SHD_ERR_TOO_LARGE);
    SHD_GUARD(shd_cursor_take(size, cur, &ev->data));
    ev->data_len = size;
    return SHD_OK;
}

shd_result gemu_eventlog_parse(const uint8_t *log, size_t len, struct gemu_eventlog **ret)
{
    struct shd_cursor cur;
    struct gemu_eventlog *el = NULL;
    size_t cap = 0;
    shd_result r;

    SHD_ENSURE_REF(log);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(len <= GEMU_EVENTLOG_MAX_BYTES, SHD_ERR_TOO_LARGE, "event log too large");
    el = shd_alloc(sizeof(*el));
    SHD_ENSURE(el != NULL, SHD_ERR_NOMEM);
    shd_cursor_init(log, len, &cur);
    r = parse_spec_id(&cur, el);
    while (shd_is_ok(r) && !shd_cursor_at_end(&cur)) {
        if (el->nevents == GEMU_EVENTLOG_MAX_EVENTS) {
            r = shd_error_setf(SHD_ERR_TOO_LARGE, __FILE__, __LINE__, "more than %u events",
                               GEMU_EVENTLOG_MAX_EVENTS);
            break;
        }
        if (el->nevents == cap) {
            size_t ncap = cap == 0 ? 32 : cap * 2;
            struct gemu_eventlog_event *n =
                shd_realloc(el->events, ncap * sizeof(struct gemu_eventlog_event));

            if (n == NULL) {
                r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
                break;
            }
            el->events = n;
            cap = ncap;
        }
        shd_memzero(&el->events[el->nevents], sizeof(el->events[0]));
        r = parse_event(&cur, el, &el->events[el->nevents]);
        if (shd_is_err(r)) {
            shd_error_wrap("event %zu", el->nevents);
            break;
        }
        el->nevents++;
    }
    if (shd_is_err(r)) {
        gemu_eventlog_free(el);
        return r;
    }
    *ret = el;
    return SHD_OK;
}

void gemu_eventlog_free(struct gemu_eventlog *el)
{
    if (el == NULL) {
        return;
    }
    shd_free(el->events);
    shd_free(el);
}

size_t gemu_eventlog_count(const struct gemu_eventlog *el)
{
    return el == NULL ? 0 : el->nevents;
}

const struct gemu_eventlog_event *gemu_eventlog_event_at(const struct gemu_eventlog *el, size_t i)
{
    if (el == NULL || i >= el->nevents) {
        shd_misuse("event index out of range");
    }
    return &el->events[i];
}

bool gemu_eventlog_has_alg(const struct gemu_eventlog *el, uint16_t alg)
{
    for (size_t i = 0; el != NULL && i < el->nalgs; i++) {
        if (el->algs[i] == alg) {
            return true;
        }
    }
    return false;
}
