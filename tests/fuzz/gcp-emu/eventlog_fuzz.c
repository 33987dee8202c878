/*
 * eventlog_fuzz.c - fuzz target for the TCG PC Client crypto-agile event log of the GCP
 * emulator (tests/emulators/gcp/src/eventlog.c, eventlog_replay.c): strict parser, PCR replay
 * and the boot facts the verifier derives from a log.
 *
 * Target Functions: gemu_eventlog_parse, gemu_eventlog_count, gemu_eventlog_event_at,
 *                   gemu_eventlog_has_alg, gemu_eventlog_replay, gemu_eventlog_facts,
 *                   gemu_eventlog_build, gemu_alg_digest_len, gemu_eventlog_free
 *
 * Input: an event log. Inputs of at most 3 bytes instead pick a synthetic log (firmware
 * version, technology, Secure Boot, banks) for the builder.
 * Properties checked:
 *   - parse fails only with SHD_ERR_TRUNCATED, SHD_ERR_TOO_LARGE or SHD_ERR_INPUT;
 *   - a parsed log obeys its documented shape: at most GEMU_EVENTLOG_MAX_EVENTS records, PCR
 *     indexes below 24, every record carrying exactly the Spec ID banks with their digest
 *     sizes, digests and event data pointing inside the input;
 *   - replay succeeds exactly for the banks the log has (SHD_ERR_UNSUPPORTED otherwise) and
 *     agrees with an independent replay (OpenSSL EVP, EV_NO_ACTION skipped), touched mask
 *     included;
 *   - facts succeed or fail with SHD_ERR_POLICY, report only separators that the log has, and
 *     a technology only when there is an EV_NONHOST_INFO record;
 *   - build -> parse -> replay -> facts gives back the synthetic spec.
 */
#include <string.h>

#include <openssl/evp.h>

#include "../shared/fuzz_common.h"
#include "eventlog.h"
#include "shd/mem.h"

static const uint16_t BANKS[] = {GEMU_ALG_SHA1, GEMU_ALG_SHA256, GEMU_ALG_SHA384,
                                 GEMU_ALG_SHA512};

static const EVP_MD *md_of(uint16_t alg)
{
    switch (alg) {
    case GEMU_ALG_SHA1:
        return EVP_sha1();
    case GEMU_ALG_SHA256:
        return EVP_sha256();
    case GEMU_ALG_SHA384:
        return EVP_sha384();
    default:
        return EVP_sha512();
    }
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *log, size_t len)
{
    return n == 0 || (p >= log && p <= log + len && n <= (size_t)(log + len - p));
}

static void shape(const struct gemu_eventlog *el, const uint8_t *log, size_t len)
{
    size_t n = gemu_eventlog_count(el);
    size_t nalgs = 0;
    FUZZ_ASSERT(n <= GEMU_EVENTLOG_MAX_EVENTS);
    for (size_t b = 0; b < sizeof(BANKS) / sizeof(BANKS[0]); b++) {
        nalgs += gemu_eventlog_has_alg(el, BANKS[b]) ? 1u : 0u;
    }
    FUZZ_ASSERT(nalgs >= 1 && nalgs <= GEMU_EVENTLOG_MAX_ALGS);
    FUZZ_ASSERT(!gemu_eventlog_has_alg(el, 0x0010u) && !gemu_eventlog_has_alg(el, 0));
    for (size_t i = 0; i < n; i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(el, i);
        FUZZ_ASSERT(ev != NULL && ev->pcr < GEMU_PCR_COUNT && ev->ndigests == nalgs);
        FUZZ_ASSERT(ev->data_len <= GEMU_EVENTLOG_MAX_EVENT_DATA);
        FUZZ_ASSERT(inside(ev->data, ev->data_len, log, len));
        for (size_t d = 0; d < ev->ndigests; d++) {
            const struct gemu_eventlog_digest *dg = &ev->digests[d];
            FUZZ_ASSERT(gemu_eventlog_has_alg(el, dg->alg));
            FUZZ_ASSERT(dg->len == gemu_alg_digest_len(dg->alg) && dg->len > 0);
            FUZZ_ASSERT(inside(dg->digest, dg->len, log, len));
            for (size_t e = 0; e < d; e++) {
                FUZZ_ASSERT(ev->digests[e].alg != dg->alg);
            }
        }
    }
}

/* Independent replay of bank alg; compares with the parser's. */
static void replay_check(const struct gemu_eventlog *el, uint16_t alg,
                         const struct gemu_pcr_bank *got)
{
    uint8_t pcr[GEMU_PCR_COUNT][GEMU_DIGEST_MAX];
    size_t dlen = gemu_alg_digest_len(alg);
    uint32_t touched = 0;
    shd_memzero(pcr, sizeof(pcr));
    for (size_t i = 0; i < gemu_eventlog_count(el); i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(el, i);
        if (ev->type == GEMU_EV_NO_ACTION) {
            continue;
        }
        const uint8_t *digest = NULL;
        for (size_t d = 0; d < ev->ndigests; d++) {
            if (ev->digests[d].alg == alg) {
                digest = ev->digests[d].digest;
            }
        }
        FUZZ_ASSERT(digest != NULL);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned out = 0;
        FUZZ_ASSERT(ctx != NULL && EVP_DigestInit_ex(ctx, md_of(alg), NULL) == 1);
        FUZZ_ASSERT(EVP_DigestUpdate(ctx, pcr[ev->pcr], dlen) == 1);
        FUZZ_ASSERT(EVP_DigestUpdate(ctx, digest, dlen) == 1);
        FUZZ_ASSERT(EVP_DigestFinal_ex(ctx, pcr[ev->pcr], &out) == 1 && out == dlen);
        EVP_MD_CTX_free(ctx);
        touched |= 1u << ev->pcr;
    }
    FUZZ_ASSERT(got->alg == alg && got->digest_len == dlen && got->touched == touched);
    for (size_t p = 0; p < GEMU_PCR_COUNT; p++) {
        FUZZ_ASSERT(shd_memcmp(got->pcr[p], pcr[p], dlen) == 0);
    }
}

static void check_log(const struct gemu_eventlog *el)
{
    uint32_t sep_pcrs = 0;
    bool nonhost = false;
    for (size_t i = 0; i < gemu_eventlog_count(el); i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(el, i);
        sep_pcrs |= ev->type == GEMU_EV_SEPARATOR ? 1u << ev->pcr : 0u;
        nonhost = nonhost || ev->type == GEMU_EV_NONHOST_INFO;
    }
    for (size_t b = 0; b < sizeof(BANKS) / sizeof(BANKS[0]); b++) {
        struct gemu_pcr_bank bank;
        shd_result r = gemu_eventlog_replay(el, BANKS[b], &bank);
        FUZZ_ASSERT(gemu_eventlog_has_alg(el, BANKS[b]) ? shd_is_ok(r)
                                                       : r.err == SHD_ERR_UNSUPPORTED);
        if (shd_is_ok(r)) {
            replay_check(el, BANKS[b], &bank);
        }
        shd_error_clear();

        struct gemu_eventlog_facts f;
        r = gemu_eventlog_facts(el, BANKS[b], &f);
        if (!gemu_eventlog_has_alg(el, BANKS[b])) {
            FUZZ_ASSERT(r.err == SHD_ERR_UNSUPPORTED);
        } else {
            FUZZ_OK_OR(r, SHD_ERR_POLICY);
        }
        if (shd_is_ok(r)) {
            FUZZ_ASSERT((f.separators & ~sep_pcrs) == 0);
            FUZZ_ASSERT(!f.has_nonhost_info || nonhost);
        }
        fuzz_error_reset();
    }
}

/* Synthetic log from up to 3 bytes: build, parse, replay, facts must give the spec back. */
static void build_roundtrip(const uint8_t *data, size_t size)
{
    uint8_t b[3] = {0, 0, 0};
    shd_memcpy(b, data, size);
    struct gemu_eventlog_spec spec = {
        .firmware_version = b[0],
        .technology = (enum gemu_gce_tech)(b[1] % 5u),
        .secure_boot = (b[2] & 1u) != 0,
    };
    uint16_t algs[GEMU_EVENTLOG_MAX_ALGS];
    size_t nalgs = 0;
    for (size_t i = 0; i < 4; i++) {
        if (((unsigned)b[2] >> (1u + i)) & 1u) {
            algs[nalgs++] = BANKS[i];
        }
    }
    if (nalgs == 0) {
        algs[nalgs++] = GEMU_ALG_SHA256;
    }
    uint8_t *log = NULL;
    size_t len = 0;
    FUZZ_ASSERT(shd_is_ok(gemu_eventlog_build(&spec, algs, nalgs, &log, &len)));
    struct gemu_eventlog *el = NULL;
    FUZZ_ASSERT(shd_is_ok(gemu_eventlog_parse(log, len, &el)));
    shape(el, log, len);
    for (size_t i = 0; i < nalgs; i++) {
        struct gemu_pcr_bank bank;
        FUZZ_ASSERT(shd_is_ok(gemu_eventlog_replay(el, algs[i], &bank)));
        replay_check(el, algs[i], &bank);
        struct gemu_eventlog_facts f;
        FUZZ_ASSERT(shd_is_ok(gemu_eventlog_facts(el, algs[i], &f)));
        FUZZ_ASSERT(f.has_crtm_version && f.firmware_version == spec.firmware_version);
        FUZZ_ASSERT(f.has_nonhost_info && f.technology == spec.technology);
        FUZZ_ASSERT(f.secure_boot == spec.secure_boot);
        FUZZ_ASSERT(f.separators == 0xffu);
    }
    gemu_eventlog_free(el);
    shd_free(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    if (size <= 3) {
        build_roundtrip(data, size);
        fuzz_error_reset();
        return 0;
    }
    struct gemu_eventlog *el = NULL;
    shd_result r = gemu_eventlog_parse(data, size, &el);
    FUZZ_OK_OR(r, SHD_ERR_TRUNCATED, SHD_ERR_TOO_LARGE, SHD_ERR_INPUT);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(el == NULL);
        fuzz_error_reset();
        return 0;
    }
    shape(el, data, size);
    check_log(el);
    gemu_eventlog_free(el);
    gemu_eventlog_free(NULL);
    fuzz_error_reset();
    return 0;
}
