/*
 * evidence.c - a report plus the certificates that belong to it (skr-sidecar.md §3.1, §4.1 with
 * the D5 fixes: the report sent is the one compared, the certificates sent are the ones it
 * matched, and a successful refresh is kept for later requests).
 */
#include <string.h>

#include "certs.h"
#include "config.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "skr.h"
#include "snp.h"
#include "util.h"

shd_result skr_report_data_build(const uint8_t *runtime, size_t len,
                                 uint8_t ret_report_data[static SHD_SNP_REPORT_DATA_LEN])
{
    SHD_ENSURE(runtime != NULL || len == 0, SHD_ERR_NULL);
    uint8_t digest[32];
    SHD_GUARD(shd_crypto_sha256(runtime != NULL ? runtime : (const uint8_t *)"", len, digest));
    shd_memzero(ret_report_data, SHD_SNP_REPORT_DATA_LEN);
    shd_memcpy(ret_report_data, digest, sizeof(digest));
    return SHD_OK;
}

void skr_evidence_clear(struct skr_evidence *ev)
{
    if (ev == NULL) {
        return;
    }
    shd_free(ev->cert_chain_pem);
    shd_free(ev->uvm_reference_info_b64);
    shd_free(ev->uvm_reference_info);
    shd_memzero(ev, sizeof(*ev));
}

shd_result skr_policy_decode(const struct skr_ctx *ctx, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(ctx);
    const char *p = ctx->uvm.security_policy_b64 != NULL ? ctx->uvm.security_policy_b64 : "";
    return skr_b64_go_std_decode(p, strlen(p), ret, ret_len);
}

shd_result skr_report_get(const struct skr_ctx *ctx,
                          const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                          uint8_t ret_report[static SHD_SNP_REPORT_LEN], bool *ret_fake)
{
    SHD_ENSURE_REF(ctx);
    struct skr_snp_env env = {
        .dev_sev = ctx->snp_dev_sev,
        .dev_sev_guest = ctx->snp_dev_sev_guest,
        .tsm_dir = ctx->snp_tsm_dir,
        .sim_dir = ctx->snp_simulator_dir,
    };
    /* HOST_DATA of the fake report = SHA-256(decoded policy), as the original; a policy that
     * does not decode leaves it zero (the handlers report the decode error first). */
    SHD_CLEANUP_FREE uint8_t *policy = NULL;
    size_t policy_len = 0;
    if (shd_is_ok(skr_policy_decode(ctx, &policy, &policy_len))) {
        SHD_GUARD(shd_crypto_sha256(policy, policy_len, env.fake_host_data));
    } else {
        shd_error_clear();
    }
    const struct skr_snp_backend *used = NULL;
    SHD_GUARD(skr_snp_get_report(&env, report_data, ret_report, &used));
    if (ret_fake != NULL) {
        *ret_fake = used == &SKR_SNP_BACKEND_FAKE;
    }
    return SHD_OK;
}

/* Refreshes for the report's TCB; stores the result when it matches (D5). */
static shd_result refresh_for(const struct skr_ctx *ctx, const uint8_t *report,
                              struct skr_certs *certs)
{
    uint64_t tcb = skr_snp_reported_tcb(report);
    uint8_t chip_id[SHD_SNP_CHIP_ID_LEN];
    skr_snp_chip_id(report, chip_id);
    SHD_LOG_INFO(SKR_LOG_CERTS, "reported TCB %016llx differs from certificate TCB %016llx: "
                                "refreshing the certificates",
                 (unsigned long long)tcb, (unsigned long long)certs->tcbm);
    struct skr_certs fresh = {0};
    shd_result r = skr_certs_refresh(ctx, tcb, chip_id, &fresh);
    if (shd_is_err(r)) {
        skr_certs_clear(&fresh);
        shd_error_wrap("Refreshing CertChain failed");
        return r;
    }
    skr_certs_clear(certs);
    *certs = fresh;
    if (certs->tcbm == tcb) {
        SHD_GUARD(skr_cert_state_update(certs, ctx->certs));
    }
    return SHD_OK;
}

static shd_result evidence_fill(const struct skr_ctx *ctx, const uint8_t *report, bool fake,
                                const struct skr_certs *certs, struct skr_evidence *ret)
{
    SHD_CLEANUP(skr_evidence_clear) struct skr_evidence ev = {.tcbm = certs->tcbm};
    shd_memcpy(ev.report, report, SHD_SNP_REPORT_LEN);
    ev.fake_report = fake;
    size_t vl = strlen(certs->vcek_pem);
    size_t cl = strlen(certs->chain_pem);
    ev.cert_chain_pem = shd_alloc(vl + cl + 1);
    SHD_ENSURE(ev.cert_chain_pem != NULL, SHD_ERR_NOMEM);
    shd_memcpy(ev.cert_chain_pem, certs->vcek_pem, vl);
    shd_memcpy(ev.cert_chain_pem + vl, certs->chain_pem, cl);
    ev.cert_chain_len = vl + cl;
    const char *ri = ctx->uvm.reference_info_b64 != NULL ? ctx->uvm.reference_info_b64 : "";
    ev.uvm_reference_info_b64 = shd_strdup(ri);
    SHD_ENSURE(ev.uvm_reference_info_b64 != NULL, SHD_ERR_NOMEM);
    if (ri[0] != '\0') {
        SHD_GUARD_CTX(skr_b64_go_std_decode(ri, strlen(ri), &ev.uvm_reference_info,
                                            &ev.uvm_reference_info_len),
                      "Decoding UVM encoded security policy from Base64 format failed");
    }
    *ret = ev;
    shd_memzero(&ev, sizeof(ev));
    return SHD_OK;
}

shd_result skr_evidence_collect(const struct skr_ctx *ctx,
                                const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                struct skr_evidence *ret_evidence)
{
    SHD_ENSURE_REF(ctx);
    SHD_ENSURE_REF(ret_evidence);
    SHD_CLEANUP(skr_certs_clear) struct skr_certs certs = {0};
    SHD_GUARD(skr_cert_state_current(ctx->certs, &certs));
    {
        SHD_CLEANUP_FREE uint8_t *policy = NULL;
        SHD_GUARD_CTX(skr_policy_decode(ctx, &policy, NULL),
                      "Decoding policy from Base64 format failed");
    }
    uint8_t report[SHD_SNP_REPORT_LEN];
    bool fake = false;
    SHD_GUARD_CTX(skr_report_get(ctx, report_data, report, &fake),
                  "Failed to retrieve attestation report");
    /* §4.1 with D5: at most two refreshes and one new report; what is sent always matches. */
    for (unsigned attempt = 0; attempt < 2; attempt++) {
        if (skr_snp_reported_tcb(report) == certs.tcbm) {
            return evidence_fill(ctx, report, fake, &certs, ret_evidence);
        }
        SHD_GUARD(refresh_for(ctx, report, &certs));
        if (skr_snp_reported_tcb(report) == certs.tcbm) {
            return evidence_fill(ctx, report, fake, &certs, ret_evidence);
        }
        if (attempt == 0) {
            SHD_GUARD_CTX(skr_report_get(ctx, report_data, report, &fake),
                          "Failed to retrieve attestation report");
        }
    }
    SHD_BAIL_MSG(SHD_ERR_POLICY, "SNP reported TCB value: %llu doesn't match Certificate TCB "
                                 "value: %llu",
                 (unsigned long long)skr_snp_reported_tcb(report),
                 (unsigned long long)certs.tcbm);
}
