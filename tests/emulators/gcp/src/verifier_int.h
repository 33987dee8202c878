/*
 * verifier_int.h - internals of the verifier: the parsed request (verifier_req.c), the verified
 * evidence the claims are built from (verifier.c -> verifier_claims.c), and the CEL reader
 * (verifier_cel.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "eventlog.h"
#include "tpm_akcert.h"
#include "verifier.h"

#include "shd/result.h"

#define GEMU_VREQ_MAX_QUOTES 4u
#define GEMU_VREQ_MAX_CHAIN 8u
#define GEMU_VREQ_MAX_ID_TOKENS 8u
#define GEMU_VREQ_MAX_NONCES 6u
#define GEMU_VREQ_NONCE_MIN 8u
#define GEMU_VREQ_NONCE_MAX 88u
#define GEMU_VREQ_AUDIENCE_MAX 512u

struct gemu_vreq_quote {
    uint16_t alg;
    uint32_t mask;
    uint8_t *pcr[GEMU_PCR_COUNT];
    size_t pcr_len[GEMU_PCR_COUNT];
    uint8_t *raw_quote;
    size_t raw_quote_len;
    uint8_t *raw_sig;
    size_t raw_sig_len;
};

/* A parsed verifyAttestation / verifyConfidentialSpace body; strings borrow from doc. */
struct gemu_vreq {
    json_t *doc;
    const char *challenge; /* optional "challenge" member */
    size_t nquotes;
    struct gemu_vreq_quote quotes[GEMU_VREQ_MAX_QUOTES];
    uint8_t *event_log;
    size_t event_log_len;
    uint8_t *cel; /* canonicalEventLog, NULL when absent */
    size_t cel_len;
    uint8_t *ak_cert;
    size_t ak_cert_len;
    size_t nchain;
    uint8_t *chain[GEMU_VREQ_MAX_CHAIN];
    size_t chain_len[GEMU_VREQ_MAX_CHAIN];
    size_t nid_tokens;
    const char *id_tokens[GEMU_VREQ_MAX_ID_TOKENS];
    const char *audience; /* NULL or "" when not given */
    size_t nnonces;
    const char *nonces[GEMU_VREQ_MAX_NONCES];
};

/* Parses and checks the shape of a request body (limits above). *ret: gemu_vreq_clear. */
shd_result gemu_vreq_parse(enum gemu_verify_method method, const uint8_t *body, size_t len,
                           struct gemu_vreq *ret);

/* Frees what gemu_vreq_parse allocated; safe on a zeroed struct. */
void gemu_vreq_clear(struct gemu_vreq *r);

/* Container facts from a Confidential Space CEL (gcp-identity.md §2.4). */
struct gemu_cel_container {
    json_t *container; /* submods.container object (new reference), NULL when no CEL */
};

/*
 * Reads a COS canonical event log: TLV records (recnum, PCR index 13, digests, content type
 * 80), checks that the digests of bank alg replay to pcr13 (digest_len bytes), and builds the
 * submods.container claims. SHD_ERR_INPUT for malformed logs, SHD_ERR_POLICY for a replay
 * mismatch. *ret_container: json_decref.
 */
shd_result gemu_cel_container_claims(const uint8_t *cel, size_t len, uint16_t alg,
                                     const uint8_t *pcr13, size_t digest_len,
                                     json_t **ret_container);

/* What the verification established, for the claims. */
struct gemu_evidence {
    struct gemu_instance_info instance;
    struct gemu_eventlog_facts facts;
    json_t *service_accounts; /* array of e-mails (new reference) */
    json_t *container;        /* CS only: submods.container or NULL */
};

/*
 * Builds the token claims (an object in the member order of the real tokens, §3.6).
 * *ret: json_decref.
 */
shd_result gemu_claims_build(enum gemu_verify_method method, const struct gemu_vreq *req,
                             const struct gemu_evidence *ev, int64_t now_s, json_t **ret);
