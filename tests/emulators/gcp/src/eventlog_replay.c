/*
 * eventlog_replay.c - replaying a parsed TCG event log into PCR values, and the boot facts the
 * verifier derives from it (GCE firmware markers in PCR 0, Secure Boot state in PCR 7).
 */
#include <string.h>

#include "eventlog.h"
#include "eventlog_int.h"

#include "shd/mem.h"
#include "shd/safety.h"

static const struct gemu_eventlog_digest *event_digest(const struct gemu_eventlog_event *ev,
                                                       uint16_t alg)
{
    for (size_t i = 0; i < ev->ndigests; i++) {
        if (ev->digests[i].alg == alg) {
            return &ev->digests[i];
        }
    }
    return NULL;
}

shd_result gemu_eventlog_replay(const struct gemu_eventlog *el, uint16_t alg,
                                struct gemu_pcr_bank *ret)
{
    struct gemu_pcr_bank bank;
    size_t dlen = gemu_alg_digest_len(alg);

    SHD_ENSURE_REF(el);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(dlen != 0 && gemu_eventlog_has_alg(el, alg), SHD_ERR_UNSUPPORTED,
                   "event log has no bank 0x%04x", alg);
    shd_memzero(&bank, sizeof(bank));
    bank.alg = alg;
    bank.digest_len = dlen;
    for (size_t i = 0; i < gemu_eventlog_count(el); i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(el, i);
        const struct gemu_eventlog_digest *d = event_digest(ev, alg);
        uint8_t cat[2 * GEMU_DIGEST_MAX];
        size_t out_len = 0;

        /* PFP §10.4.1: EV_NO_ACTION events are informative and never extended. */
        if (ev->type == GEMU_EV_NO_ACTION) {
            continue;
        }
        SHD_ENSURE(d != NULL && d->len == dlen, SHD_ERR_INTERNAL);
        shd_memcpy(cat, bank.pcr[ev->pcr], dlen);
        shd_memcpy(cat + dlen, d->digest, dlen);
        SHD_GUARD(gemu_alg_hash(alg, cat, 2 * dlen, bank.pcr[ev->pcr], &out_len));
        bank.touched |= 1u << ev->pcr;
    }
    *ret = bank;
    return SHD_OK;
}

/* True when the event's digest in bank alg is the hash of its data. */
static shd_result digest_matches_data(const struct gemu_eventlog_event *ev, uint16_t alg)
{
    const struct gemu_eventlog_digest *d = event_digest(ev, alg);
    uint8_t h[GEMU_DIGEST_MAX];
    size_t hlen = 0;

    SHD_ENSURE(d != NULL, SHD_ERR_INTERNAL);
    SHD_GUARD(gemu_alg_hash(alg, ev->data, ev->data_len, h, &hlen));
    SHD_ENSURE_MSG(hlen == d->len && shd_ct_equal(h, d->digest, hlen), SHD_ERR_POLICY,
                   "event type 0x%08x in PCR %u: digest does not match its data", ev->type,
                   ev->pcr);
    return SHD_OK;
}

/*
 * "GCE Virtual Firmware v<N>" in UCS-2LE with an optional terminating NUL: the version N, or
 * false when the text has another form (the fact is then just absent).
 */
static bool crtm_version_parse(const uint8_t *data, size_t len, unsigned *ret_version)
{
    static const char prefix[] = "GCE Virtual Firmware v";
    size_t nchars = len / 2;
    size_t i = 0;
    unsigned v = 0;
    bool digits = false;

    if (len % 2 != 0) {
        return false;
    }
    if (nchars > 0 && data[2 * (nchars - 1)] == 0 && data[2 * (nchars - 1) + 1] == 0) {
        nchars--;
    }
    for (; i < sizeof(prefix) - 1; i++) {
        if (i >= nchars || data[2 * i + 1] != 0 || data[2 * i] != (uint8_t)prefix[i]) {
            return false;
        }
    }
    for (; i < nchars; i++) {
        uint8_t c = data[2 * i];

        if (data[2 * i + 1] != 0 || c < '0' || c > '9' || v > 100000u) {
            return false;
        }
        v = v * 10u + (unsigned)(c - '0');
        digits = true;
    }
    if (!digits) {
        return false;
    }
    *ret_version = v;
    return true;
}

/*
 * If ev is the UEFI_VARIABLE_DATA of EFI_GLOBAL_VARIABLE "SecureBoot", sets *ret_is_sb and
 * *ret_value (a one-byte variable; anything else counts as "not enabled").
 */
static void secure_boot_variable(const struct gemu_eventlog_event *ev, bool *ret_is_sb,
                                 bool *ret_value)
{
    static const char name[] = "SecureBoot";
    const size_t name_len = sizeof(name) - 1;
    const uint8_t *p = ev->data;
    uint64_t nlen = 0, dlen = 0;

    *ret_is_sb = false;
    *ret_value = false;
    if (ev->data_len < 32 || shd_memcmp(p, gemu_efi_global_guid, 16) != 0) {
        return;
    }
    for (size_t i = 0; i < 8; i++) {
        nlen |= (uint64_t)p[16 + i] << (8 * i);
        dlen |= (uint64_t)p[24 + i] << (8 * i);
    }
    if (nlen != name_len || dlen > ev->data_len || ev->data_len - 32 < 2 * name_len ||
        ev->data_len - 32 - 2 * name_len != dlen) {
        return;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (p[32 + 2 * i] != (uint8_t)name[i] || p[32 + 2 * i + 1] != 0) {
            return;
        }
    }
    *ret_is_sb = true;
    *ret_value = dlen == 1 && p[32 + 2 * name_len] == 1;
}

shd_result gemu_eventlog_facts(const struct gemu_eventlog *el, uint16_t alg,
                               struct gemu_eventlog_facts *ret)
{
    struct gemu_eventlog_facts f;

    SHD_ENSURE_REF(el);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(gemu_eventlog_has_alg(el, alg), SHD_ERR_UNSUPPORTED,
                   "event log has no bank 0x%04x", alg);
    shd_memzero(&f, sizeof(f));
    for (size_t i = 0; i < gemu_eventlog_count(el); i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(el, i);

        switch (ev->type) {
        case GEMU_EV_SEPARATOR:
            f.separators |= 1u << ev->pcr;
            break;
        case GEMU_EV_S_CRTM_VERSION:
            if (ev->pcr == 0) {
                SHD_GUARD(digest_matches_data(ev, alg));
                f.has_crtm_version =
                    crtm_version_parse(ev->data, ev->data_len, &f.firmware_version);
            }
            break;
        case GEMU_EV_NONHOST_INFO:
            SHD_ENSURE_MSG(ev->pcr == 0 && !f.has_nonhost_info, SHD_ERR_POLICY,
                           "unexpected EV_NONHOST_INFO in PCR %u", ev->pcr);
            SHD_GUARD(digest_matches_data(ev, alg));
            SHD_ENSURE_MSG(ev->data_len == GEMU_NONHOST_INFO_LEN &&
                               shd_memcmp(ev->data, GEMU_NONHOST_INFO_SIGNATURE,
                                          sizeof(GEMU_NONHOST_INFO_SIGNATURE)) == 0,
                           SHD_ERR_POLICY, "malformed GCE EV_NONHOST_INFO");
            SHD_ENSURE_MSG(ev->data[GEMU_NONHOST_INFO_TECH_OFFSET] <= GEMU_GCE_TECH_AMD_SEV_SNP,
                           SHD_ERR_POLICY, "unknown GCE confidential technology %u",
                           ev->data[GEMU_NONHOST_INFO_TECH_OFFSET]);
            f.has_nonhost_info = true;
            f.technology = (enum gemu_gce_tech)ev->data[GEMU_NONHOST_INFO_TECH_OFFSET];
            break;
        case GEMU_EV_EFI_VARIABLE_DRIVER_CONFIG:
            if (ev->pcr == 7) {
                bool is_sb = false, value = false;

                secure_boot_variable(ev, &is_sb, &value);
                if (is_sb) {
                    SHD_GUARD(digest_matches_data(ev, alg));
                    f.secure_boot = value;
                }
            }
            break;
        default:
            break;
        }
    }
    *ret = f;
    return SHD_OK;
}
