/*
 * maa_token.c - MAA token claims, signature, JWKS and OpenID configuration (see maa_token.h).
 */
#include "maa_token.h"

#include <stdio.h>
#include <string.h>

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define TOKEN_URL_MAX 512u

/* Claims a token may carry, for the OpenID configuration's claims_supported. */
static const char *const token_claims_supported[] = {
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "x-ms-attestation-type",
    "x-ms-compliance-status",
    "x-ms-inittime",
    "x-ms-policy-hash",
    "x-ms-runtime",
    "x-ms-sevsnpvm-authorkeydigest",
    "x-ms-sevsnpvm-bootloader-svn",
    "x-ms-sevsnpvm-familyId",
    "x-ms-sevsnpvm-guestsvn",
    "x-ms-sevsnpvm-hostdata",
    "x-ms-sevsnpvm-idkeydigest",
    "x-ms-sevsnpvm-imageId",
    "x-ms-sevsnpvm-is-debuggable",
    "x-ms-sevsnpvm-launchmeasurement",
    "x-ms-sevsnpvm-microcode-svn",
    "x-ms-sevsnpvm-migration-allowed",
    "x-ms-sevsnpvm-reportdata",
    "x-ms-sevsnpvm-reportid",
    "x-ms-sevsnpvm-smt-allowed",
    "x-ms-sevsnpvm-snpfw-svn",
    "x-ms-sevsnpvm-tee-svn",
    "x-ms-sevsnpvm-uvm-endorsement",
    "x-ms-sevsnpvm-uvm-endorsement-headers",
    "x-ms-sevsnpvm-vmpl",
    "x-ms-ver",
};

static shd_result token_set(json_t *o, const char *key, json_t *v)
{
    /* json_object_set_new steals v even on failure. */
    SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
    SHD_ENSURE(json_object_set_new(o, key, v) == 0, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result token_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    SHD_GUARD(shd_hex_encode_into(p, n, hex, sizeof(hex)));
    return token_set(o, key, json_string(hex));
}

static shd_result token_set_int(json_t *o, const char *key, int64_t v)
{
    return token_set(o, key, json_integer((json_int_t)v));
}

static shd_result token_jti(json_t *o)
{
    uint8_t rnd[AEMU_MAA_JTI_LEN / 2];
    SHD_GUARD(shd_crypto_random(rnd, sizeof(rnd)));
    return token_set_hex(o, "jti", rnd, sizeof(rnd));
}

/* The x-ms-sevsnpvm-* claims taken from the report (§4.2 table). */
static shd_result token_report_claims(const struct aemu_maa_verified *v, json_t *o)
{
    const struct shd_snp_report *r = &v->report;
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-authorkeydigest", r->author_key_digest,
                            sizeof(r->author_key_digest)));
    SHD_GUARD(token_set_int(o, "x-ms-sevsnpvm-bootloader-svn", v->tcb.boot_loader));
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-familyId", r->family_id, sizeof(r->family_id)));
    SHD_GUARD(token_set_int(o, "x-ms-sevsnpvm-guestsvn", r->guest_svn));
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-hostdata", r->host_data, sizeof(r->host_data)));
    SHD_GUARD(
        token_set_hex(o, "x-ms-sevsnpvm-idkeydigest", r->id_key_digest, sizeof(r->id_key_digest)));
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-imageId", r->image_id, sizeof(r->image_id)));
    SHD_GUARD(token_set(o, "x-ms-sevsnpvm-is-debuggable",
                        json_boolean(shd_snp_policy_debug_allowed(r->policy))));
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-launchmeasurement", r->measurement,
                            sizeof(r->measurement)));
    SHD_GUARD(token_set_int(o, "x-ms-sevsnpvm-microcode-svn", v->tcb.microcode));
    SHD_GUARD(token_set(o, "x-ms-sevsnpvm-migration-allowed",
                        json_boolean(shd_snp_policy_migrate_ma_allowed(r->policy))));
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-reportdata", r->report_data, sizeof(r->report_data)));
    SHD_GUARD(token_set_hex(o, "x-ms-sevsnpvm-reportid", r->report_id, sizeof(r->report_id)));
    SHD_GUARD(token_set(o, "x-ms-sevsnpvm-smt-allowed",
                        json_boolean(shd_snp_policy_smt_allowed(r->policy))));
    SHD_GUARD(token_set_int(o, "x-ms-sevsnpvm-snpfw-svn", v->tcb.snp));
    SHD_GUARD(token_set_int(o, "x-ms-sevsnpvm-tee-svn", v->tcb.tee));
    if (v->uvm_payload != NULL) {
        SHD_GUARD(token_set(o, "x-ms-sevsnpvm-uvm-endorsement", json_deep_copy(v->uvm_payload)));
        SHD_GUARD(
            token_set(o, "x-ms-sevsnpvm-uvm-endorsement-headers", json_deep_copy(v->uvm_headers)));
    }
    return token_set_int(o, "x-ms-sevsnpvm-vmpl", r->vmpl);
}

static shd_result token_claims(const struct aemu_maa_claims_in *in, json_t *o)
{
    const struct aemu_maa_request *rq = in->request;
    SHD_GUARD(token_set_int(o, "exp", in->now + AEMU_MAA_TOKEN_LIFETIME_S));
    SHD_GUARD(token_set_int(o, "iat", in->now));
    SHD_GUARD(token_set(o, "iss", json_string(in->issuer)));
    SHD_GUARD(token_jti(o));
    SHD_GUARD(token_set_int(o, "nbf", in->now));
    if (rq->nonce != NULL) {
        SHD_GUARD(token_set(o, "nonce", json_string(rq->nonce)));
    }
    SHD_GUARD(token_set(o, "x-ms-attestation-type", json_string("sevsnpvm")));
    if (in->verified->uvm_payload != NULL) {
        SHD_GUARD(token_set(o, "x-ms-compliance-status", json_string(in->compliance_status)));
    }
    if (rq->inittime_json != NULL) {
        SHD_GUARD(token_set(o, "x-ms-inittime", json_deep_copy(rq->inittime_json)));
    }
    SHD_GUARD(token_set(o, "x-ms-policy-hash", json_string(AEMU_MAA_POLICY_HASH)));
    if (rq->runtime_json != NULL) {
        SHD_GUARD(token_set(o, "x-ms-runtime", json_deep_copy(rq->runtime_json)));
    }
    SHD_GUARD(token_report_claims(in->verified, o));
    return token_set(o, "x-ms-ver", json_string("1.0"));
}

shd_result aemu_maa_claims_build(const struct aemu_maa_claims_in *in, json_t **ret)
{
    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(in->issuer);
    SHD_ENSURE_REF(in->compliance_status);
    SHD_ENSURE_REF(in->verified);
    SHD_ENSURE_REF(in->request);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_JSON json_t *o = json_object();
    SHD_ENSURE(o != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(token_claims(in, o));
    *ret = SHD_TAKE_PTR(o);
    return SHD_OK;
}

shd_result aemu_maa_token_sign(const json_t *claims, const char *issuer, const char *kid,
                               EVP_PKEY *key, char **ret_token)
{
    SHD_ENSURE_REF(claims);
    SHD_ENSURE_REF(issuer);
    SHD_ENSURE_REF(kid);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_token);
    char jku[TOKEN_URL_MAX];
    int n = snprintf(jku, sizeof(jku), "%s/certs", issuer);
    SHD_ENSURE_MSG(n > 0 && (size_t)n < sizeof(jku), SHD_ERR_INPUT, "issuer too long");
    SHD_CLEANUP_FREE char *payload = NULL;
    size_t payload_len = 0;
    SHD_GUARD(aemu_json_dump(claims, JSON_COMPACT | JSON_PRESERVE_ORDER, &payload, &payload_len));
    struct shd_jws_sign_header hdr = {.kid = kid, .jku = jku, .typ = "JWT"};
    return shd_jws_sign(&hdr, (const uint8_t *)payload, payload_len, key, SHD_JWS_RS256, ret_token,
                        NULL);
}

shd_result aemu_maa_jwks(X509 *cert, const char *kid, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(cert);
    SHD_ENSURE_REF(kid);
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;
    SHD_GUARD(shd_crypto_x509_export_der(cert, &der, &der_len));
    SHD_CLEANUP_FREE char *b64 = NULL;
    SHD_GUARD(shd_b64_encode(der, der_len, SHD_B64_STD_PAD, &b64, NULL));
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:[{s:s, s:s, s:[s]}]}", "keys", "kid", kid, "kty", "RSA", "x5c", b64);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    return aemu_json_dump(doc, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_len);
}

shd_result aemu_maa_openid_config(const char *issuer, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(issuer);
    char jwks[TOKEN_URL_MAX];
    char revoke[TOKEN_URL_MAX];
    int n1 = snprintf(jwks, sizeof(jwks), "%s/certs", issuer);
    int n2 = snprintf(revoke, sizeof(revoke), "%s/revoke", issuer);
    SHD_ENSURE_MSG(n1 > 0 && (size_t)n1 < sizeof(jwks) && n2 > 0 && (size_t)n2 < sizeof(revoke),
                   SHD_ERR_INPUT, "issuer too long");
    SHD_CLEANUP_JSON json_t *claims = json_array();
    SHD_ENSURE(claims != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < sizeof(token_claims_supported) / sizeof(token_claims_supported[0]);
         i++) {
        SHD_ENSURE(json_array_append_new(claims, json_string(token_claims_supported[i])) == 0,
                   SHD_ERR_NOMEM);
    }
    SHD_CLEANUP_JSON json_t *doc = json_pack(
        "{s:s, s:s, s:[s,s], s:[s], s:s, s:O}", "issuer", issuer, "jwks_uri", jwks,
        "response_types_supported", "token", "none", "id_token_signing_alg_values_supported",
        "RS256", "revocation_endpoint", revoke, "claims_supported", claims);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    return aemu_json_dump(doc, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_len);
}
