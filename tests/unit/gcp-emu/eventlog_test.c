/*
 * eventlog_test.c - the synthetic GCE TCG log: build/parse round trip, replay known answers,
 * facts, and the parser's refusals (truncated at every length, forged, oversized, out of
 * order).
 */
#include <string.h>

#include "shd_test.h"

#include "eventlog.h"

#include "shd/crypto.h"
#include "shd/mem.h"

static const uint16_t two_banks[] = {GEMU_ALG_SHA1, GEMU_ALG_SHA256};
static const struct gemu_eventlog_spec sev_sb = {
    .firmware_version = 1, .technology = GEMU_GCE_TECH_AMD_SEV, .secure_boot = true};

static uint8_t *build(const struct gemu_eventlog_spec *spec, size_t *len)
{
    uint8_t *log = NULL;

    EXPECT_OK(gemu_eventlog_build(spec, two_banks, 2, &log, len));
    return log;
}

static void test_round_trip_and_facts(void **state)
{
    size_t len = 0;
    uint8_t *log = build(&sev_sb, &len);
    struct gemu_eventlog *el = NULL;
    struct gemu_eventlog_facts facts;
    const struct gemu_eventlog_event *ev;

    (void)state;
    EXPECT_OK(gemu_eventlog_parse(log, len, &el));
    /* PCR0: 3, PCR7: 5, BootOrder, 8 separators, PCR4: 2. */
    assert_int_equal(gemu_eventlog_count(el), 19);
    assert_true(gemu_eventlog_has_alg(el, GEMU_ALG_SHA1));
    assert_true(gemu_eventlog_has_alg(el, GEMU_ALG_SHA256));
    assert_false(gemu_eventlog_has_alg(el, GEMU_ALG_SHA384));
    ev = gemu_eventlog_event_at(el, 0);
    assert_int_equal(ev->pcr, 0);
    assert_int_equal(ev->type, GEMU_EV_S_CRTM_VERSION);
    assert_int_equal(ev->ndigests, 2);
    /* UCS-2LE "GCE Virtual Firmware v1" and a NUL. */
    assert_int_equal(ev->data_len, 48);
    assert_memory_equal(ev->data, "G\0C\0E\0 \0V\0", 10);
    ev = gemu_eventlog_event_at(el, 1);
    assert_int_equal(ev->type, GEMU_EV_NONHOST_INFO);
    assert_int_equal(ev->data_len, 32);
    assert_memory_equal(ev->data, "GCE NonHostInfo\0\x01", 17);
    EXPECT_OK(gemu_eventlog_facts(el, GEMU_ALG_SHA256, &facts));
    assert_true(facts.has_nonhost_info);
    assert_int_equal(facts.technology, GEMU_GCE_TECH_AMD_SEV);
    assert_true(facts.has_crtm_version);
    assert_int_equal(facts.firmware_version, 1);
    assert_true(facts.secure_boot);
    assert_int_equal(facts.separators, 0xff);
    gemu_eventlog_free(el);
    shd_free(log);
}

static void test_other_machine(void **state)
{
    const struct gemu_eventlog_spec spec = {
        .firmware_version = 42, .technology = GEMU_GCE_TECH_INTEL_TDX, .secure_boot = false};
    size_t len = 0;
    uint8_t *log = build(&spec, &len);
    struct gemu_eventlog *el = NULL;
    struct gemu_eventlog_facts facts;

    (void)state;
    EXPECT_OK(gemu_eventlog_parse(log, len, &el));
    EXPECT_OK(gemu_eventlog_facts(el, GEMU_ALG_SHA1, &facts));
    assert_int_equal(facts.technology, GEMU_GCE_TECH_INTEL_TDX);
    assert_int_equal(facts.firmware_version, 42);
    assert_false(facts.secure_boot);
    EXPECT_ERR(gemu_eventlog_facts(el, GEMU_ALG_SHA384, &facts), SHD_ERR_UNSUPPORTED);
    gemu_eventlog_free(el);
    shd_free(log);
}

/* PCRs 5 and 6 see only EV_SEPARATOR(00000000): SHA-256(0^32 || SHA-256(0^4)). */
static void test_replay_known_answer(void **state)
{
    size_t len = 0;
    uint8_t *log = build(&sev_sb, &len);
    struct gemu_eventlog *el = NULL;
    struct gemu_pcr_bank bank;
    uint8_t zero4[4] = {0}, cat[64] = {0}, want[32];
    static const uint8_t zero[64];

    (void)state;
    EXPECT_OK(shd_crypto_sha256(zero4, sizeof(zero4), cat + 32));
    EXPECT_OK(shd_crypto_sha256(cat, sizeof(cat), want));
    EXPECT_OK(gemu_eventlog_parse(log, len, &el));
    EXPECT_OK(gemu_eventlog_replay(el, GEMU_ALG_SHA256, &bank));
    assert_int_equal(bank.digest_len, 32);
    assert_int_equal(bank.touched, 0xff);
    assert_memory_equal(bank.pcr[5], want, 32);
    assert_memory_equal(bank.pcr[6], want, 32);
    assert_memory_not_equal(bank.pcr[0], want, 32);
    assert_memory_equal(bank.pcr[8], zero, 32);
    EXPECT_ERR(gemu_eventlog_replay(el, GEMU_ALG_SHA512, &bank), SHD_ERR_UNSUPPORTED);
    gemu_eventlog_free(el);
    shd_free(log);
}

static void test_build_usage(void **state)
{
    const uint16_t dup[] = {GEMU_ALG_SHA256, GEMU_ALG_SHA256};
    const uint16_t bad[] = {0x0012};
    uint8_t *log = NULL;
    size_t len = 0;

    (void)state;
    EXPECT_ERR(gemu_eventlog_build(&sev_sb, dup, 2, &log, &len), SHD_ERR_USAGE);
    EXPECT_ERR(gemu_eventlog_build(&sev_sb, bad, 1, &log, &len), SHD_ERR_USAGE);
    EXPECT_ERR(gemu_eventlog_build(&sev_sb, two_banks, 0, &log, &len), SHD_ERR_USAGE);
    assert_null(log);
}

/* Every prefix either ends on a record boundary (fewer records) or is refused as truncated. */
static void test_truncated_everywhere(void **state)
{
    size_t len = 0;
    uint8_t *log = build(&sev_sb, &len);
    struct gemu_eventlog *full = NULL;
    bool boundary[8192] = {false};

    (void)state;
    assert_true(len < sizeof(boundary));
    EXPECT_OK(gemu_eventlog_parse(log, len, &full));
    /* The end of the Spec ID record: a log without events is still a log. */
    boundary[32 + ((size_t)log[28] | (size_t)log[29] << 8)] = true;
    for (size_t i = 0; i < gemu_eventlog_count(full); i++) {
        const struct gemu_eventlog_event *ev = gemu_eventlog_event_at(full, i);

        boundary[(size_t)(ev->data - log) + ev->data_len] = true;
    }
    for (size_t n = 0; n < len; n++) {
        struct gemu_eventlog *el = NULL;
        shd_result r = gemu_eventlog_parse(log, n, &el);

        if (boundary[n]) {
            EXPECT_OK(r);
            assert_true(gemu_eventlog_count(el) < gemu_eventlog_count(full));
        } else {
            assert_int_equal(r.err, SHD_ERR_TRUNCATED);
            assert_null(el);
        }
        gemu_eventlog_free(el);
    }
    gemu_eventlog_free(full);
    shd_free(log);
}

static void expect_parse_err(const uint8_t *log, size_t len, int code)
{
    struct gemu_eventlog *el = NULL;

    EXPECT_ERR(gemu_eventlog_parse(log, len, &el), code);
    assert_null(el);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (size_t i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void test_forged_headers(void **state)
{
    size_t len = 0;
    uint8_t *log = build(&sev_sb, &len);
    uint8_t *m = shd_alloc(len);
    /* Spec ID record: 32-byte header, event: signature(16) class(4) ver(4) nalgs(4) algs... */
    const size_t spec_ev = 32, first = 32 + 16 + 4 + 4 + 4 + 8 + 1;

    (void)state;
    assert_non_null(m);
#define MUTATE(off, val, code)                                                                     \
    do {                                                                                           \
        shd_memcpy(m, log, len);                                                                   \
        m[(off)] = (uint8_t)(val);                                                                 \
        expect_parse_err(m, len, (code));                                                          \
    } while (0)
    MUTATE(0, 1, SHD_ERR_INPUT);                /* Spec ID event not in PCR 0 */
    MUTATE(4, 1, SHD_ERR_INPUT);                /* not EV_NO_ACTION */
    MUTATE(spec_ev + 3, 'X', SHD_ERR_INPUT);    /* "Spec ID Event03" signature */
    MUTATE(spec_ev + 21, 1, SHD_ERR_INPUT);     /* specVersionMajor 1 */
    MUTATE(spec_ev + 24, 0, SHD_ERR_INPUT);     /* no algorithms */
    MUTATE(spec_ev + 24, 9, SHD_ERR_INPUT);     /* too many algorithms */
    MUTATE(spec_ev + 28, 0x12, SHD_ERR_INPUT);  /* unknown algorithm */
    MUTATE(spec_ev + 30, 32, SHD_ERR_INPUT);    /* SHA-1 with 32-byte digests */
    MUTATE(spec_ev + 32, 0x04, SHD_ERR_INPUT);  /* SHA-1 listed twice */
    MUTATE(first, 24, SHD_ERR_INPUT);           /* PCR 24 */
    MUTATE(first + 8, 1, SHD_ERR_INPUT);        /* digest count 1 of 2 */
    MUTATE(first + 12, 0x0B, SHD_ERR_INPUT);    /* digests out of order */
    MUTATE(spec_ev + 36, 1, SHD_ERR_TRUNCATED); /* vendor info runs past the event */
#undef MUTATE
    /* An event claiming more data than the limit. */
    shd_memcpy(m, log, len);
    put_u32le(m + first + 12 + 22 + 34, 0x7fffffff);
    expect_parse_err(m, len, SHD_ERR_TOO_LARGE);
    expect_parse_err(log, GEMU_EVENTLOG_MAX_BYTES + 1, SHD_ERR_TOO_LARGE);
    shd_free(m);
    shd_free(log);
}

/* Facts from data whose digests lie, and a second NonHostInfo, are refused. */
static void test_forged_facts(void **state)
{
    size_t len = 0;
    uint8_t *log = build(&sev_sb, &len);
    struct gemu_eventlog *el = NULL;
    struct gemu_eventlog_facts facts;
    const struct gemu_eventlog_event *nh;
    size_t start, end;
    uint8_t *twice;

    (void)state;
    EXPECT_OK(gemu_eventlog_parse(log, len, &el));
    nh = gemu_eventlog_event_at(el, 1);
    end = (size_t)(nh->data - log) + nh->data_len;
    start = (size_t)(gemu_eventlog_event_at(el, 0)->data - log) +
            gemu_eventlog_event_at(el, 0)->data_len;
    /* The technology byte changed: SEV-ES claimed, SEV measured. */
    log[(size_t)(nh->data - log) + 16] = GEMU_GCE_TECH_AMD_SEV_ES;
    EXPECT_ERR(gemu_eventlog_facts(el, GEMU_ALG_SHA256, &facts), SHD_ERR_POLICY);
    log[(size_t)(nh->data - log) + 16] = GEMU_GCE_TECH_AMD_SEV;
    gemu_eventlog_free(el);

    twice = shd_alloc(len + (end - start));
    assert_non_null(twice);
    shd_memcpy(twice, log, len);
    shd_memcpy(twice + len, log + start, end - start);
    EXPECT_OK(gemu_eventlog_parse(twice, len + (end - start), &el));
    EXPECT_ERR(gemu_eventlog_facts(el, GEMU_ALG_SHA256, &facts), SHD_ERR_POLICY);
    gemu_eventlog_free(el);
    shd_free(twice);
    shd_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_facts), cmocka_unit_test(test_other_machine),
        cmocka_unit_test(test_replay_known_answer),  cmocka_unit_test(test_build_usage),
        cmocka_unit_test(test_truncated_everywhere), cmocka_unit_test(test_forged_headers),
        cmocka_unit_test(test_forged_facts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
