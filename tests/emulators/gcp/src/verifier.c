/*
 * verifier.c - the verification flow of verifyAttestation / verifyConfidentialSpace
 * (verifier.h): challenge, AK chain, quotes, event log replay, VM identity tokens, token.
 */
#include <string.h>

#include <openssl/x509.h>

#include "gemu.h"
#include "quote.h"
#include "verifier.h"
#include "verifier_int.h"

#include "shd/cleanup.h"
#include "shd/crypto_x509.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/jwt.h"
#include "shd/mem.h"
#include "shd/safety.h"

struct gemu_verifier {
    struct gemu_verifier_config cfg;
    struct gemu_challenge_store *challenges;
};

shd_result gemu_verifier_new(const struct gemu_verifier_config *cfg, struct gemu_verifier **ret)
{
    struct gemu_verifier *v;
    shd_result r;

    SHD_ENSURE_REF(cfg);
    SHD_ENSURE_REF(cfg->signing_key);
    SHD_ENSURE_REF(cfg->signing_kid);
    SHD_ENSURE_REF(cfg->google_key);
    SHD_ENSURE_REF(cfg->ak_root);
    SHD_ENSURE_REF(ret);
    v = shd_alloc(sizeof(*v));
    SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
    v->cfg = *cfg;
    r = gemu_challenge_store_new(cfg->clock, cfg->clock_arg, cfg->challenge_ttl_s, &v->challenges);
    if (shd_is_err(r)) {
        shd_free(v);
        return r;
    }
    *ret = v;
    return SHD_OK;
}

void gemu_verifier_free(struct gemu_verifier *v)
{
    if (v == NULL) {
        return;
    }
    gemu_challenge_store_free(v->challenges);
    shd_free(v);
}

shd_result gemu_verifier_challenge_new(const char *parent, struct gemu_verifier *v,
                                       struct gemu_challenge *ret)
{
    SHD_ENSURE_REF(v);
    return gemu_challenge_create(parent, v->challenges, ret);
}

/* AK certificate -> chain to the root -> production instance identity; returns the AK key. */
static shd_result check_ak(const struct gemu_vreq *req, const struct gemu_verifier *v,
                           struct gemu_instance_info *ret_info, EVP_PKEY **ret_ak)
{
    SHD_CLEANUP(X509_free_p) X509 *leaf = NULL;
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *untrusted = sk_X509_new_null();
    STACK_OF(X509) *roots = sk_X509_new_null();
    shd_result r;

    SHD_ENSURE(untrusted != NULL && roots != NULL, SHD_ERR_NOMEM);
    r = shd_crypto_x509_load(req->ak_cert, req->ak_cert_len, &leaf);
    for (size_t i = 0; shd_is_ok(r) && i < req->nchain; i++) {
        X509 *c = NULL;

        r = shd_crypto_x509_load(req->chain[i], req->chain_len[i], &c);
        if (shd_is_ok(r) && sk_X509_push(untrusted, c) <= 0) {
            X509_free(c);
            r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
        }
    }
    if (shd_is_ok(r) && sk_X509_push(roots, v->cfg.ak_root) <= 0) {
        r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    }
    if (shd_is_ok(r)) {
        r = shd_crypto_x509_verify(leaf, untrusted, roots, NULL);
    }
    sk_X509_free(roots); /* borrowed root: free the stack only */
    SHD_GUARD_CTX(r, "AK certificate");
    SHD_GUARD(gemu_akcert_instance_info(leaf, ret_info));
    SHD_ENSURE_MSG(ret_info->has_is_production && ret_info->is_production, SHD_ERR_POLICY,
                   "AK certificate is not a production GCE certificate");
    return shd_crypto_x509_pubkey(leaf, ret_ak);
}

/* The quoted value of PCR idx in the quote of bank alg, or NULL. */
static const struct gemu_vreq_quote *quote_of_bank(const struct gemu_vreq *req, uint16_t alg)
{
    for (size_t i = 0; i < req->nquotes; i++) {
        if (req->quotes[i].alg == alg) {
            return &req->quotes[i];
        }
    }
    return NULL;
}

/* Event log replay against every quoted bank, then the boot facts. */
static shd_result check_event_log(const struct gemu_vreq *req, struct gemu_eventlog_facts *ret)
{
    struct gemu_eventlog *el = NULL;
    shd_result r;
    uint16_t facts_alg = 0;

    SHD_GUARD_CTX(gemu_eventlog_parse(req->event_log, req->event_log_len, &el), "tcgEventLog");
    r = SHD_OK;
    for (size_t i = 0; i < req->nquotes && shd_is_ok(r); i++) {
        const struct gemu_vreq_quote *q = &req->quotes[i];
        struct gemu_pcr_bank bank;

        if (!gemu_eventlog_has_alg(el, q->alg)) {
            continue;
        }
        r = gemu_eventlog_replay(el, q->alg, &bank);
        for (uint32_t p = 0; shd_is_ok(r) && p < GEMU_PCR_COUNT; p++) {
            if ((bank.touched & (1u << p)) == 0) {
                continue;
            }
            if ((q->mask & (1u << p)) == 0 || q->pcr_len[p] != bank.digest_len ||
                !shd_ct_equal(q->pcr[p], bank.pcr[p], bank.digest_len)) {
                r = shd_error_setf(SHD_ERR_POLICY, __FILE__, __LINE__,
                                   "event log replay does not match PCR %u (bank 0x%04x)", p,
                                   q->alg);
            }
        }
        if (facts_alg == 0 || q->alg == GEMU_ALG_SHA256) {
            facts_alg = q->alg;
        }
    }
    if (shd_is_ok(r) && facts_alg == 0) {
        r = shd_error_setf(SHD_ERR_POLICY, __FILE__, __LINE__,
                           "no quoted PCR bank is covered by the event log");
    }
    if (shd_is_ok(r)) {
        r = gemu_eventlog_facts(el, facts_alg, ret);
    }
    gemu_eventlog_free(el);
    return r;
}

/* One VM identity token (gcp-identity.md §3.5); appends its verified e-mail to sas. */
static shd_result check_id_token(const char *tok, const char *aud, const struct gemu_verifier *v,
                                 json_t *sas)
{
    struct shd_jws *jws = NULL;
    struct shd_jwt_rules rules;
    const json_t *claims = NULL;
    const char *iss = NULL, *kid;
    shd_result r;

    SHD_GUARD(shd_jws_parse(tok, strlen(tok), 0, &jws));
    kid = shd_jws_kid(jws);
    if (v->cfg.google_kid != NULL && (kid == NULL || strcmp(kid, v->cfg.google_kid) != 0)) {
        shd_jws_free(&jws);
        SHD_BAIL_MSG(SHD_ERR_TOKEN, "unknown key id");
    }
    r = shd_jws_verify_key(v->cfg.google_key, SHD_JWS_RS256, jws);
    shd_jwt_rules_init(&rules);
    rules.aud = aud;
    rules.now = gemu_challenge_store_now(v->challenges) / 1000000000LL;
    rules.skew = 0;
    if (shd_is_ok(r)) {
        r = shd_jwt_check(&rules, jws, &claims);
    }
    if (shd_is_ok(r)) {
        r = shd_json_get_string(claims, "iss", &iss);
    }
    if (shd_is_ok(r) && strcmp(iss, "accounts.google.com") != 0 &&
        strcmp(iss, "https://accounts.google.com") != 0) {
        r = shd_error_setf(SHD_ERR_TOKEN, __FILE__, __LINE__, "issuer %s not accepted", iss);
    }
    if (shd_is_ok(r) && json_is_true(json_object_get(claims, "email_verified"))) {
        json_t *email = json_object_get(claims, "email");

        /* A token without a verified e-mail is valid but names no service account. */
        if (json_is_string(email) &&
            json_array_append_new(sas, json_string(json_string_value(email))) != 0) {
            r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
        }
    }
    shd_jws_free(&jws);
    if (shd_is_err(r)) {
        shd_error_wrap("VM identity token");
        if (shd_error_type_of(r.err) != SHD_ERR_T_INTERNAL) {
            r.err = SHD_ERR_TOKEN;
        }
    }
    return r;
}

static shd_result verify_evidence(enum gemu_verify_method method, const struct gemu_vreq *req,
                                  const struct gemu_challenge *ch, struct gemu_verifier *v,
                                  struct gemu_evidence *ev)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ak = NULL;

    SHD_GUARD(check_ak(req, v, &ev->instance, &ak));
    for (size_t i = 0; i < req->nquotes; i++) {
        const struct gemu_vreq_quote *rq = &req->quotes[i];
        struct gemu_quote q = {
            .hash_alg = rq->alg,
            .pcr_mask = rq->mask,
            .raw_quote = rq->raw_quote,
            .raw_quote_len = rq->raw_quote_len,
            .raw_sig = rq->raw_sig,
            .raw_sig_len = rq->raw_sig_len,
        };

        for (size_t j = 0; j < GEMU_PCR_COUNT; j++) {
            q.pcr[j] = rq->pcr[j];
            q.pcr_len[j] = rq->pcr_len[j];
        }
        SHD_GUARD_CTX(gemu_quote_verify(&q, ak, ch->nonce, sizeof(ch->nonce)), "quote %zu", i);
    }
    SHD_GUARD(check_event_log(req, &ev->facts));
    ev->service_accounts = json_array();
    SHD_ENSURE(ev->service_accounts != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < req->nid_tokens; i++) {
        SHD_GUARD(check_id_token(req->id_tokens[i], ch->name, v, ev->service_accounts));
    }
    if (method == GEMU_VERIFY_CONFIDENTIAL_SPACE && req->cel != NULL) {
        const struct gemu_vreq_quote *q = quote_of_bank(req, GEMU_ALG_SHA256);

        SHD_ENSURE_MSG(q != NULL && (q->mask & (1u << 13)) != 0, SHD_ERR_POLICY,
                       "canonicalEventLog needs a SHA-256 quote over PCR 13");
        SHD_GUARD_CTX(gemu_cel_container_claims(req->cel, req->cel_len, GEMU_ALG_SHA256, q->pcr[13],
                                                q->pcr_len[13], &ev->container),
                      "canonicalEventLog");
    }
    return SHD_OK;
}

shd_result gemu_verifier_verify(enum gemu_verify_method method, const char *challenge,
                                const uint8_t *body, size_t len, struct gemu_verifier *v,
                                char **ret_token)
{
    struct gemu_vreq req;
    struct gemu_challenge ch;
    struct gemu_evidence ev;
    SHD_CLEANUP_JSON json_t *claims = NULL;
    shd_result r;

    SHD_ENSURE_REF(challenge);
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(ret_token);
    SHD_ENSURE(method == GEMU_VERIFY_ATTESTATION || method == GEMU_VERIFY_CONFIDENTIAL_SPACE,
               SHD_ERR_USAGE);
    shd_memzero(&ev, sizeof(ev));
    SHD_GUARD(gemu_vreq_parse(method, body, len, &req));
    r = SHD_OK;
    if (req.challenge != NULL && req.challenge[0] != '\0' &&
        strcmp(req.challenge, challenge) != 0) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__,
                           "challenge in the body does not match the URL");
    }
    if (shd_is_ok(r)) {
        r = gemu_challenge_consume(challenge, v->challenges, &ch);
    }
    if (shd_is_ok(r)) {
        r = verify_evidence(method, &req, &ch, v, &ev);
    }
    if (shd_is_ok(r)) {
        r = gemu_claims_build(method, &req, &ev,
                              gemu_challenge_store_now(v->challenges) / 1000000000LL, &claims);
    }
    if (shd_is_ok(r)) {
        r = gemu_jwt_sign(v->cfg.signing_key, v->cfg.signing_kid, claims, ret_token);
    }
    json_decref(ev.service_accounts);
    json_decref(ev.container);
    gemu_vreq_clear(&req);
    shd_memzero(&ch, sizeof(ch));
    return r;
}
