/*
 * snp_fake.c - the original's unsigned fake report (skr-sidecar.md §3.3): a fixed 1184-byte
 * template (TestSNPReportBytes of the Go sidecar: VERSION 1, POLICY 0x3001f, REPORTED_TCB
 * 0x3100000000000000, a signature that does not cover the new data) with REPORT_DATA and
 * HOST_DATA replaced. Kept as the last fallback so that /attest/raw answers 200 off-hardware, as
 * the original does (D3); snp.c logs a warning whenever it is used. No verifier accepts it.
 *
 * The template is stored as its non-zero fields (offset, hex); every other byte is zero.
 */
#include <string.h>

#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "snp.h"

#define FAKE_REPORT_DATA_OFF 0x50u
#define FAKE_HOST_DATA_OFF 0xC0u

struct fake_segment {
    uint16_t off;
    const char *hex;
};

static const struct fake_segment FAKE_TEMPLATE[] = {
    /* VERSION */
    {0x000,
     "01000000"},
    /* GUEST_SVN */
    {0x004,
     "01000000"},
    /* POLICY */
    {0x008,
     "1f00030000000000"},
    /* FAMILY_ID */
    {0x010,
     "01"},
    /* IMAGE_ID */
    {0x020,
     "02"},
    /* SIGNATURE_ALGO */
    {0x034,
     "01000000"},
    /* CURRENT_TCB */
    {0x038,
     "0000000000000031"},
    /* PLATFORM_INFO */
    {0x040,
     "0100000000000000"},
    /* REPORT_DATA (replaced) */
    {0x050,
     "7ab000a323b3c873f5b81bbe584e7c1a26bcf40dc27e00f8e0d144b1ed2d14f1"},
    /* MEASUREMENT */
    {0x090,
     "b579c7d6b89f3914659abe09a004a58a1e77846b65bbdac9e29bd8f2f31b31af"
     "445a5dd40f76f71ecdd73117f1d592a3"},
    /* HOST_DATA (replaced) */
    {0x0c0,
     "8c19f1b6eee8658fbf8ff1b37f603c38929896b1cc813583bbfb21015b7aa66d"},
    /* ID_KEY_DIGEST */
    {0x0e0,
     "d188ac79386022aec7aa4e72a7e87b0a8e0e8009183334bb0fe4f97ed89436f3"
     "60b3644cd8382c7a14531a87b81a8f36"},
    /* REPORT_ID */
    {0x140,
     "2e880add9a31077e5e8f3568b4c4451f0fea4372f66e3df3c0ca3ba26f447db2"},
    /* REPORT_ID_MA */
    {0x160,
     "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
    /* REPORTED_TCB */
    {0x180,
     "0000000000000031"},
    /* CHIP_ID */
    {0x1a0,
     "e6c86796cd44b0bc6b7c0d4fdab33e2807e14b5fc4538b3750921169d97bcf44"
     "47c7d3ab2a7c25f74c1641e2885c1011d025cc536f5c9a2504713136c7877f48"},
    /* SIGNATURE R */
    {0x2a0,
     "247c7525e84623db9868fccf00faab22229d60aaa380213108f8875011a8f456"
     "231c5371277cc706733f4a483338fb59"},
    /* SIGNATURE S */
    {0x2e8,
     "ed8c62254022f64630ebf97d66254dee04f708ecbe22387baf8018752fadc2b7"
     "63f64bded65c94a325b6b9f22ebbb0d8"},
};

static bool fake_probe(const struct skr_snp_env *env)
{
    (void)env;
    return true;
}

static shd_result fake_get_report(const struct skr_snp_env *env,
                                  const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                  uint8_t out[static SHD_SNP_REPORT_LEN])
{
    uint8_t report[SHD_SNP_REPORT_LEN] = {0};
    for (size_t i = 0; i < sizeof(FAKE_TEMPLATE) / sizeof(FAKE_TEMPLATE[0]); i++) {
        const struct fake_segment *s = &FAKE_TEMPLATE[i];
        size_t n = strlen(s->hex);
        SHD_ENSURE(s->off + n / 2 <= SHD_SNP_REPORT_LEN, SHD_ERR_INTERNAL);
        size_t got = 0;
        SHD_GUARD(shd_hex_decode_into(s->hex, n, report + s->off, SHD_SNP_REPORT_LEN - s->off,
                                      &got));
    }
    shd_memcpy(report + FAKE_REPORT_DATA_OFF, report_data, SHD_SNP_REPORT_DATA_LEN);
    shd_memcpy(report + FAKE_HOST_DATA_OFF, env->fake_host_data, SHD_SNP_HOST_DATA_LEN);
    shd_memcpy(out, report, SHD_SNP_REPORT_LEN);
    return SHD_OK;
}

const struct skr_snp_backend SKR_SNP_BACKEND_FAKE = {
    .name = "fake (unsigned)", .probe = fake_probe, .get_report = fake_get_report};
