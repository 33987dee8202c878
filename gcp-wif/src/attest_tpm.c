/*
 * attest_tpm.c - mode B, one round trip (gcp-identity.md section 8 steps 1-6):
 *
 *   MDS: project id, region, SA access token     (the Bearer for the verifier)
 *   verifier: GetLocation -> parent, CreateChallenge -> name + tpmNonce
 *   MDS: identity token with audience = challenge name
 *   vTPM: GCE AK, AK certificate, one quote per bank with qualifyingData = nonce
 *   event log (securityfs), AK chain (AIA)
 *   verifier: VerifyAttestation -> oidcClaimsToken
 *
 * The TPM is opened for the duration of the quote only and closed (flushing the AK) before the
 * slow network calls that follow.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest_int.h"
#include "eventlog.h"
#include "mds_client.h"
#include "tpm.h"
#include "tpm_certchain.h"
#include "verifier_client.h"

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define LOG_MODULE "attest"

/* Everything one round trip holds; secrets are wiped by tpm_run_clear. */
struct tpm_run {
    char *project;
    char *region;
    char *parent;
    char *bearer; /* SECRET */
    size_t bearer_len;
    char *id_token; /* SECRET */
    size_t id_token_len;
    struct wif_challenge ch;
    struct wif_tpm_evidence ev;
    struct wif_certchain chain;
    uint8_t *event_log;
    size_t event_log_len;
};

static void tpm_run_clear(struct tpm_run *run)
{
    shd_free(run->project);
    shd_free(run->region);
    shd_free(run->parent);
    if (run->bearer != NULL) {
        shd_free_wipe(run->bearer, run->bearer_len + 1);
    }
    if (run->id_token != NULL) {
        shd_free_wipe(run->id_token, run->id_token_len + 1);
    }
    wif_tpm_evidence_clear(&run->ev);
    wif_certchain_clear(&run->chain);
    shd_free(run->event_log);
    shd_memzero(run, sizeof(*run));
}

static shd_result tpm_where(const struct wif_attest *a, struct tpm_run *run)
{
    if (a->project_id != NULL) {
        run->project = shd_strdup(a->project_id);
        SHD_ENSURE(run->project != NULL, SHD_ERR_NOMEM);
    } else {
        SHD_GUARD(wif_mds_project_id(a->mds_url, a->http_mds, &run->project));
    }
    if (a->location != NULL) {
        run->region = shd_strdup(a->location);
        SHD_ENSURE(run->region != NULL, SHD_ERR_NOMEM);
    } else {
        SHD_GUARD(wif_mds_region(a->mds_url, a->http_mds, &run->region));
    }
    return SHD_OK;
}

/* A local replay that disagrees with the quoted PCRs is reported here, where it can be
 * diagnosed; the verifier has the last word, so the evidence is sent anyway. */
static void tpm_log_replay(const struct tpm_run *run)
{
    for (size_t b = 0; b < run->ev.nquotes; b++) {
        const struct wif_tpm_quote *q = &run->ev.quotes[b];
        uint8_t pcrs[WIF_EVENTLOG_PCRS][WIF_EVENTLOG_DIGEST_MAX];
        uint32_t touched = 0;
        if (shd_is_err(wif_eventlog_replay(run->event_log, run->event_log_len, q->hash_alg, pcrs,
                                           &touched))) {
            shd_error_clear();
            continue;
        }
        for (size_t i = 0; i < WIF_EVENTLOG_PCRS; i++) {
            if ((touched & (1u << i)) != 0 && shd_memcmp(pcrs[i], q->pcrs[i], q->digest_len) != 0) {
                SHD_LOG_KV(SHD_LOG_LEVEL_WARNING, LOG_MODULE,
                           "event log replay differs from the quoted PCR",
                           SHD_LOG_UINT("bank", q->hash_alg), SHD_LOG_UINT("pcr", i));
            }
        }
    }
}

static shd_result tpm_evidence(const struct wif_attest *a, struct tpm_run *run)
{
    struct wif_tpm *t = NULL;
    SHD_GUARD(wif_tpm_open(a->tcti, &t));
    shd_result r = wif_tpm_attest(run->ch.nonce, run->ch.nonce_len, a->ak_ecc, t, &run->ev);
    wif_tpm_close(&t);
    SHD_GUARD(r);

    if (a->event_log_path[0] != '\0') {
        SHD_GUARD(wif_eventlog_read(a->event_log_path, &run->event_log, &run->event_log_len));
        tpm_log_replay(run);
    }
    SHD_GUARD_CTX(
        wif_certchain_fetch(run->ev.ak_cert, run->ev.ak_cert_len, a->http_mds, &run->chain),
        "AK certificate chain");
    return SHD_OK;
}

static shd_result tpm_round_trip(const char *audience, const struct wif_attest *a,
                                 struct tpm_run *run, char **ret_token, size_t *ret_len)
{
    SHD_GUARD(tpm_where(a, run));
    SHD_GUARD(wif_mds_access_token(a->mds_url, a->http_mds, &run->bearer, &run->bearer_len));
    SHD_GUARD(wif_verifier_location(a->verifier_url, run->project, run->region, run->bearer,
                                    a->http, &run->parent));
    SHD_GUARD(wif_verifier_challenge(a->verifier_url, run->parent, run->bearer, a->http, &run->ch));
    SHD_GUARD(wif_mds_identity_token(a->mds_url, run->ch.name, a->http_mds, &run->id_token,
                                     &run->id_token_len));
    SHD_GUARD(tpm_evidence(a, run));

    const struct wif_verify_request req = {.challenge = run->ch.name,
                                           .id_token = run->id_token,
                                           .ev = &run->ev,
                                           .chain = &run->chain,
                                           .event_log = run->event_log,
                                           .event_log_len = run->event_log_len,
                                           .audience = audience};
    return wif_verifier_verify(a->verifier_url, &req, run->bearer, a->http, ret_token, ret_len);
}

SHD_RESULT wif_attest_tpm_fetch(const char *audience, struct wif_attest *a, char **ret_token,
                                size_t *ret_len)
{
    SHD_ENSURE_REF(a);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE_REF(ret_len);
    struct tpm_run run = {0};
    shd_result r = tpm_round_trip(audience, a, &run, ret_token, ret_len);
    tpm_run_clear(&run);
    SHD_GUARD_CTX(r, "TPM attestation");
    return SHD_OK;
}
