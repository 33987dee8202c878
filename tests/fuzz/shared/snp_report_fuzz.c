/*
 * snp_report_fuzz.c - fuzz target for the SEV-SNP ATTESTATION_REPORT codec
 * (shared/src/snp_report.c).
 *
 * Target Functions: shd_snp_report_parse, shd_snp_report_serialize, shd_snp_report_product,
 *                   shd_snp_tcb_decode, shd_snp_tcb_encode, shd_snp_product_name
 *
 * Input: report bytes (1184 for a well-formed report; other sizes must be refused).
 * Properties checked:
 *   - parse fails only with the documented codes, and only accepts exactly 1184 bytes;
 *   - on success, serialize gives back the input byte for byte (the codec is an exact inverse);
 *   - the parsed fields obey the documented invariants (version range, algorithm, signing key,
 *     fields absent from a version are zero, r and s at most 48 significant bytes);
 *   - every TCB_VERSION that decodes re-encodes to the same 64-bit value.
 */
#include <string.h>

#include "fuzz_common.h"
#include "shd/mem.h"
#include "shd/snp_report.h"

static void tcb_roundtrip(uint64_t tcb, enum shd_snp_product product)
{
    struct shd_snp_tcb t;
    shd_result r = shd_snp_tcb_decode(tcb, product, &t);
    FUZZ_OK_OR(r, SHD_ERR_INPUT);
    if (shd_is_ok(r)) {
        uint64_t back = 0;
        FUZZ_ASSERT(shd_is_ok(shd_snp_tcb_encode(&t, product, &back)));
        FUZZ_ASSERT(back == tcb);
    }
    shd_error_clear();
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static void invariants(const struct shd_snp_report *rep)
{
    FUZZ_ASSERT(rep->version >= SHD_SNP_REPORT_VERSION_MIN &&
                rep->version <= SHD_SNP_REPORT_VERSION_MAX);
    FUZZ_ASSERT(rep->signature_algo == SHD_SNP_SIG_ALGO_ECDSA_P384_SHA384);
    enum shd_snp_signing_key sk = shd_snp_report_signing_key(rep);
    FUZZ_ASSERT(sk == SHD_SNP_SIGNING_KEY_VCEK || sk == SHD_SNP_SIGNING_KEY_VLEK ||
                sk == SHD_SNP_SIGNING_KEY_NONE);
    if (rep->version == 2) {
        FUZZ_ASSERT(rep->cpuid_fam_id == 0 && rep->cpuid_mod_id == 0 && rep->cpuid_step == 0);
    }
    if (rep->version < 5) {
        FUZZ_ASSERT(rep->launch_mit_vector == 0 && rep->current_mit_vector == 0);
    }
    FUZZ_ASSERT(all_zero(rep->signature_r + SHD_SNP_SIG_P384_LEN,
                         SHD_SNP_SIG_COMPONENT_LEN - SHD_SNP_SIG_P384_LEN));
    FUZZ_ASSERT(all_zero(rep->signature_s + SHD_SNP_SIG_P384_LEN,
                         SHD_SNP_SIG_COMPONENT_LEN - SHD_SNP_SIG_P384_LEN));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    struct shd_snp_report rep;
    shd_memzero(&rep, sizeof(rep));
    shd_result r = shd_snp_report_parse(data, size, &rep);
    FUZZ_OK_OR(r, SHD_ERR_TRUNCATED, SHD_ERR_TOO_LARGE, SHD_ERR_UNSUPPORTED, SHD_ERR_INPUT);
    if (size < SHD_SNP_REPORT_LEN) {
        FUZZ_ASSERT(r.err == SHD_ERR_TRUNCATED);
    } else if (size > SHD_SNP_REPORT_LEN) {
        FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
    }
    if (shd_is_err(r)) {
        fuzz_error_reset();
        return 0;
    }

    invariants(&rep);
    uint8_t out[SHD_SNP_REPORT_LEN];
    r = shd_snp_report_serialize(&rep, out);
    FUZZ_ASSERT(shd_is_ok(r));
    FUZZ_ASSERT(shd_memcmp(out, data, SHD_SNP_REPORT_LEN) == 0);

    enum shd_snp_product product = shd_snp_report_product(&rep);
    FUZZ_ASSERT(product == SHD_SNP_PRODUCT_UNKNOWN || shd_snp_product_name(product) != NULL);
    const uint64_t tcbs[] = {rep.current_tcb, rep.reported_tcb, rep.committed_tcb, rep.launch_tcb};
    for (size_t i = 0; i < sizeof(tcbs) / sizeof(tcbs[0]); i++) {
        tcb_roundtrip(tcbs[i], product);
        tcb_roundtrip(tcbs[i], SHD_SNP_PRODUCT_TURIN);
    }
    /* The policy accessors are pure functions of the parsed value. */
    (void)shd_snp_policy_is_valid(rep.policy);
    (void)shd_snp_policy_debug_allowed(rep.policy);
    (void)shd_snp_policy_abi_major(rep.policy);
    fuzz_error_reset();
    return 0;
}
