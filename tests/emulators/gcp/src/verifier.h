/*
 * verifier.h - the Confidential Computing API v1 emulator (gcp-identity.md §3): locations,
 * challenges, verifyAttestation and verifyConfidentialSpace, issuing RS256 attestation tokens.
 *
 * verifyAttestation checks, in order:
 *   1. the challenge exists, is unused and unexpired (it is consumed by the attempt);
 *   2. the AK certificate (tpmAttestation.akCert) chains to the AK root, intermediates taken
 *      from certChain (at most 8); it carries a production GCE instance-identity extension;
 *   3. every quote: signature by the AK certificate's key, extraData == the challenge nonce,
 *      PCR selection == the PCR values given, PCR digest (quote.h);
 *   4. the TCG event log (tcgEventLog, required) replays, for each quoted bank, to the quoted
 *      value of every PCR it extends; hwmodel and secboot come from the replayed log;
 *   5. each VM identity token of gcpCredentials.serviceAccountIdTokens: RS256 with the fake
 *      accounts.google.com key, iss accounts.google.com or https://accounts.google.com,
 *      aud == the challenge name, unexpired; the e-mail of tokens with email_verified true
 *      becomes google_service_accounts.
 * The token: iss https://confidentialcomputing.googleapis.com, aud tokenOptions.audience or
 * https://sts.googleapis.com, sub = the instance URI, iat = nbf = now, exp = now + 1 h,
 * eat_nonce (string for one nonce, array for several), secboot, oemid 11129, hwmodel,
 * swname "GCE", dbgstat "enabled", submods.gce {zone, project_id, project_number, instance_name,
 * instance_id}, google_service_accounts. Only OIDC tokens (tokenType 0/1) are issued.
 *
 * verifyConfidentialSpace is the TPM path of the launcher (tpmAttestation, options,
 * signedEntities are accepted; tdCcel is refused): the same checks, swname
 * "CONFIDENTIAL_SPACE", swversion ["240500"], dbgstat "disabled-since-boot",
 * submods.confidential_space.support_attributes ["EXPERIMENTAL"], and submods.container from a
 * canonicalEventLog whose COS events replay to the quoted PCR 13 (when given).
 *
 * Field names are accepted in lowerCamelCase and snake_case, enums as numbers or names;
 * bytes as standard or URL-safe base64, padded or not (proto3 JSON).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "challenge.h"

#include "shd/result.h"

struct gemu_tokens;
struct gemu_state;
struct gemu_service;

#define GEMU_VERIFIER_TOKEN_LIFETIME_S 3600
#define GEMU_VERIFIER_MAX_BODY ((size_t)1024 * 1024)

/* What the verifier needs; keys and certificates are borrowed and must outlive it. */
struct gemu_verifier_config {
    EVP_PKEY *signing_key; /* RS256 attestation-token key */
    const char *signing_kid;
    EVP_PKEY *google_key;       /* fake accounts.google.com (VM identity tokens) */
    const char *google_kid;     /* NULL: any kid */
    X509 *ak_root;              /* "EK/AK CA Root" */
    const char *project_id;     /* accepted in resource names besides project_number; */
    const char *project_number; /* both NULL: any project */
    gemu_clock_fn clock;        /* NULL: real time */
    void *clock_arg;
    int64_t challenge_ttl_s; /* 0: GEMU_CHALLENGE_TTL_S */
};

struct gemu_verifier;

/* *ret: gemu_verifier_free. */
SHD_RESULT gemu_verifier_new(const struct gemu_verifier_config *cfg, struct gemu_verifier **ret);

/* NULL is fine. */
void gemu_verifier_free(struct gemu_verifier *v);

/* Creates a challenge under "projects/<p>/locations/<l>" (challenge.h). */
SHD_RESULT gemu_verifier_challenge_new(const char *parent, struct gemu_verifier *v,
                                       struct gemu_challenge *ret);

enum gemu_verify_method {
    GEMU_VERIFY_ATTESTATION = 1,
    GEMU_VERIFY_CONFIDENTIAL_SPACE,
};

/*
 * Runs a verification for the challenge called `challenge` with the JSON request body and
 * returns the signed token (*ret_token: shd_free). Error codes: SHD_ERR_NOT_FOUND (unknown
 * challenge), SHD_ERR_POLICY (challenge used or expired; nonce, PCR or event log mismatch),
 * SHD_ERR_BAD_CERT (AK chain), SHD_ERR_BAD_SIGNATURE (quote), SHD_ERR_TOKEN (VM identity
 * token), SHD_ERR_JSON/SHD_ERR_INPUT/SHD_ERR_ENCODING/SHD_ERR_UNSUPPORTED (request), each with
 * a root message fit for the API's error text.
 */
SHD_RESULT gemu_verifier_verify(enum gemu_verify_method method, const char *challenge,
                                const uint8_t *body, size_t len, struct gemu_verifier *v,
                                char **ret_token);

/*
 * The HTTP service (gemu.h plug-in shape) on the state's keys: GET /v1/projects/P/locations,
 * GET /v1/projects/P/locations/L, POST .../challenges, POST .../challenges/ID:verifyAttestation
 * and :verifyConfidentialSpace. Requests need a Bearer token known to st->tokens (401
 * otherwise); `$alt` must be absent, "json" or "json;enum-encoding=int". (verifier_http.c)
 */
SHD_RESULT gemu_verifier_service_new(struct gemu_state *st, struct gemu_service **ret);
