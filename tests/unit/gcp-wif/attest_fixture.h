/*
 * attest_fixture.h - test peers for the attestation tests (attest_test.c, launcher_test.c,
 * tpm_test.c), header-only so that each test executable stays one file:
 *
 *   - a fake Google Cloud Attestation verifier on TLS (test CA from tests/testlib/tls_server.h)
 *     answering for confidentialcomputing.googleapis.com and www.googleapis.com through the
 *     connect-to mapping: GetLocation, CreateChallenge, VerifyAttestation (which checks the
 *     evidence it gets: challenge, ID token, quotes carrying the nonce, AK certificate, chain),
 *     the discovery document and the JWKS; tokens are RS256 JWTs minted with a test key;
 *   - a fake metadata server (plain http) that also serves the AK CA certificates (AIA);
 *   - a swtpm child on loopback, provisioned like a GCE vTPM (AK templates and AK certificates
 *     in platform NV indices, certificates from a test "EK/AK CA" chain with AIA URLs).
 *
 * Functions are static inline so that each test may use a subset without unused warnings.
 * Failures abort the test (cmocka assertions).
 */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"
#include "tls_server.h"

#define FX_ISSUER "https://confidentialcomputing.googleapis.com"
#define FX_PROJECT "fx-project"
#define FX_ZONE "projects/123/zones/us-central1-b"
#define FX_REGION "us-central1"
#define FX_PARENT "projects/fx-project/locations/us-central1"
#define FX_CHALLENGE FX_PARENT "/challenges/c-1"
#define FX_NONCE "GoogAttestV1xkIPiQz1O8T_O88A4cv4iA"
#define FX_ID_TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"
#define FX_SA_TOKEN "ya29.fx-access-token"
#define FX_KID "fx-kid-1"
#define FX_AIA_HOST "aia.fx.test"

/* How the fake verifier misbehaves (set by a test before the call). */
enum fx_verifier_fault {
    FX_OK = 0,
    FX_STATUS_503,   /* every verifier call: 503 with a Google envelope */
    FX_STATUS_403,   /* every verifier call: 403 */
    FX_FOREIGN_NAME, /* CreateChallenge answers a challenge outside the parent */
    FX_BAD_NONCE,    /* tpmNonce is not base64 */
    FX_WRONG_KEY,    /* tokens signed with a key not in the JWKS (same kid) */
    FX_UNKNOWN_KID,  /* tokens carry a kid the JWKS lacks */
    FX_EXPIRED,      /* exp one hour ago */
    FX_WRONG_ISSUER, /* discovery names another issuer */
};

struct fx {
    /* verifier */
    struct shd_test_pki *pki;
    char ca_path[128];
    struct shd_http_server *vsrv;
    uint16_t vport;
    EVP_PKEY *sign_key;
    EVP_PKEY *other_key;
    enum fx_verifier_fault fault;
    atomic_int jwks_fetches;
    atomic_int verify_calls;
    char last_audience[600]; /* tokenOptions.audience of the last VerifyAttestation */
    int last_nquotes;
    size_t last_chain;
    bool last_had_log;
    char last_bearer[128];
    char last_params[600];
    /* evidence the verifier expects (set by TPM tests) */
    uint8_t *want_ak_cert;
    size_t want_ak_cert_len;
    /* MDS + AIA */
    struct shd_http_server *msrv;
    uint16_t mport;
    uint8_t *aia_intermediate; /* DER */
    size_t aia_intermediate_len;
    uint8_t *aia_root;
    size_t aia_root_len;
    bool mds_no_flavor;
    char last_identity_aud[600];
    /* clients */
    struct shd_http_client *http;
    struct shd_http_client *http_mds;
};

/* ---------------------------------------------------------------- token minting */

static inline char *fx_mint(struct fx *f, const char *aud, int64_t exp_delta, size_t *ret_len)
{
    int64_t now = (int64_t)time(NULL);
    json_t *c = json_pack("{s:s,s:I,s:I,s:s,s:I,s:s,s:s}", "aud", aud, "exp",
                          (json_int_t)(now + exp_delta), "iat", (json_int_t)now, "iss", FX_ISSUER,
                          "nbf", (json_int_t)now, "sub", "https://fx/instance", "swname", "GCE");
    assert_non_null(c);
    char *payload = NULL;
    size_t plen = 0;
    EXPECT_OK(shd_json_go_dump(c, 0, &payload, &plen));
    json_decref(c);
    const struct shd_jws_sign_header h = {
        .kid = f->fault == FX_UNKNOWN_KID ? "fx-kid-unknown" : FX_KID, .typ = "JWT"};
    char *tok = NULL;
    EXPECT_OK(shd_jws_sign(&h, (const uint8_t *)payload, plen,
                           f->fault == FX_WRONG_KEY ? f->other_key : f->sign_key, SHD_JWS_RS256,
                           &tok, ret_len));
    shd_free(payload);
    return tok;
}

/* ---------------------------------------------------------------- fake verifier */

static inline shd_result fx_google_error(int code, const char *status, const char *msg,
                                         struct shd_http_resp *resp)
{
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"error\":{\"code\":%d,\"message\":\"%s\",\"status\":\"%s\"}}", code, msg,
                   status);
    return shd_http_resp_json((unsigned)code, body, resp);
}

static inline shd_result fx_discovery(struct fx *f, struct shd_http_resp *resp)
{
    return shd_http_resp_json(
        200,
        f->fault == FX_WRONG_ISSUER
            ? "{\"issuer\":\"https://evil.example\",\"jwks_uri\":\"https://www.googleapis.com/"
              "fx/jwks\"}"
            : "{\"issuer\":\"" FX_ISSUER "\",\"jwks_uri\":\"https://www.googleapis.com/fx/jwks\","
              "\"id_token_signing_alg_values_supported\":[\"RS256\"]}",
        resp);
}

static inline shd_result fx_jwks(struct fx *f, struct shd_http_resp *resp)
{
    json_t *jwk = NULL;
    atomic_fetch_add(&f->jwks_fetches, 1);
    SHD_GUARD(shd_jwk_export_public(f->sign_key, &jwk));
    json_object_set_new(jwk, "kid", json_string(FX_KID));
    json_object_set_new(jwk, "alg", json_string("RS256"));
    json_object_set_new(jwk, "use", json_string("sig"));
    json_t *set = json_pack("{s:[o]}", "keys", jwk);
    char *text = NULL;
    size_t tl = 0;
    shd_result r = shd_json_go_dump(set, 0, &text, &tl);
    json_decref(set);
    SHD_GUARD(r);
    r = shd_http_resp_json(200, text, resp);
    shd_free(text);
    return r;
}

/* Checks one quote: a TPMS_ATTEST that carries the nonce. */
static inline bool fx_quote_ok(const json_t *q)
{
    const char *raw = json_string_value(json_object_get(q, "rawQuote"));
    const json_t *pcrs = json_object_get(q, "pcrValues");
    if (raw == NULL || json_object_size(pcrs) != 24 ||
        json_string_value(json_object_get(q, "rawSignature")) == NULL) {
        return false;
    }
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (shd_is_err(shd_b64_decode(raw, strlen(raw), SHD_B64_STD_PAD, &bytes, &n))) {
        return false;
    }
    TPMS_ATTEST at = {0};
    size_t off = 0;
    bool ok = Tss2_MU_TPMS_ATTEST_Unmarshal(bytes, n, &off, &at) == TSS2_RC_SUCCESS && off == n &&
              at.extraData.size == strlen(FX_NONCE) &&
              shd_memcmp(at.extraData.buffer, FX_NONCE, strlen(FX_NONCE)) == 0;
    shd_free(bytes);
    return ok;
}

static inline shd_result fx_verify(struct fx *f, const struct shd_http_req *req,
                                   struct shd_http_resp *resp)
{
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    json_t *doc = json_loadb((const char *)body, len, 0, NULL);
    atomic_fetch_add(&f->verify_calls, 1);
    if (doc == NULL) {
        return fx_google_error(400, "INVALID_ARGUMENT", "bad json", resp);
    }
    const json_t *tpm = json_object_get(doc, "tpmAttestation");
    const json_t *quotes = json_object_get(tpm, "quotes");
    const char *ak = json_string_value(json_object_get(tpm, "akCert"));
    const char *aud =
        json_string_value(json_object_get(json_object_get(doc, "tokenOptions"), "audience"));
    const char *idt = json_string_value(json_array_get(
        json_object_get(json_object_get(doc, "gcpCredentials"), "serviceAccountIdTokens"), 0));
    bool ok =
        json_is_string(json_object_get(doc, "challenge")) &&
        strcmp(json_string_value(json_object_get(doc, "challenge")), FX_CHALLENGE) == 0 &&
        idt != NULL && strcmp(idt, FX_ID_TOKEN) == 0 && json_array_size(quotes) > 0 && ak != NULL &&
        aud != NULL &&
        json_integer_value(json_object_get(json_object_get(doc, "tokenOptions"), "tokenType")) == 1;
    for (size_t i = 0; ok && i < json_array_size(quotes); i++) {
        ok = fx_quote_ok(json_array_get(quotes, i));
    }
    if (ok && f->want_ak_cert != NULL) {
        uint8_t *der = NULL;
        size_t dl = 0;
        ok = shd_is_ok(shd_b64_decode(ak, strlen(ak), SHD_B64_STD_PAD, &der, &dl)) &&
             dl == f->want_ak_cert_len && shd_memcmp(der, f->want_ak_cert, dl) == 0;
        shd_free(der);
    }
    if (ok) {
        /* aud is borrowed from doc: keep a copy before doc goes. */
        (void)snprintf(f->last_audience, sizeof(f->last_audience), "%s", aud);
        f->last_nquotes = (int)json_array_size(quotes);
        f->last_chain = json_array_size(json_object_get(tpm, "certChain"));
        f->last_had_log = json_is_string(json_object_get(tpm, "tcgEventLog"));
    }
    json_decref(doc);
    if (!ok) {
        return fx_google_error(400, "INVALID_ARGUMENT", "The request was invalid: fx", resp);
    }
    size_t tl = 0;
    char *tok =
        fx_mint(f, f->last_audience[0] != '\0' ? f->last_audience : "https://sts.googleapis.com",
                f->fault == FX_EXPIRED ? -3600 : 3600, &tl);
    json_t *out = json_pack("{s:s,s:[{s:i,s:s}]}", "oidcClaimsToken", tok, "partialErrors", "code",
                            3, "message", "fx partial");
    char *text = NULL;
    shd_result r = shd_json_go_dump(out, 0, &text, &tl);
    json_decref(out);
    shd_free(tok);
    SHD_GUARD(r);
    r = shd_http_resp_json(200, text, resp);
    shd_free(text);
    return r;
}

static inline shd_result fx_verifier_handler(void *ctx, const struct shd_http_req *req,
                                             struct shd_http_resp *resp)
{
    struct fx *f = ctx;
    const char *path = shd_http_req_path(req);
    const char *auth = shd_http_req_header(req, "Authorization");
    const char *params = shd_http_req_header(req, "x-goog-request-params");

    if (strcmp(path, "/.well-known/openid-configuration") == 0) {
        return fx_discovery(f, resp);
    }
    if (strcmp(path, "/fx/jwks") == 0) {
        return fx_jwks(f, resp);
    }
    (void)snprintf(f->last_bearer, sizeof(f->last_bearer), "%s", auth != NULL ? auth : "");
    (void)snprintf(f->last_params, sizeof(f->last_params), "%s", params != NULL ? params : "");
    if (shd_http_req_query(req, "$alt") == NULL) {
        return fx_google_error(400, "INVALID_ARGUMENT", "no $alt", resp);
    }
    if (f->fault == FX_STATUS_503) {
        return fx_google_error(503, "UNAVAILABLE", "The service is currently unavailable.", resp);
    }
    if (f->fault == FX_STATUS_403) {
        return fx_google_error(403, "PERMISSION_DENIED", "Permission denied", resp);
    }
    if (strcmp(path, "/v1/projects/" FX_PROJECT "/locations/" FX_REGION) == 0) {
        return shd_http_resp_json(200, "{\"name\":\"" FX_PARENT "\",\"locationId\":\"x\"}", resp);
    }
    if (strcmp(path, "/v1/" FX_PARENT "/challenges") == 0) {
        if (f->fault == FX_FOREIGN_NAME) {
            return shd_http_resp_json(
                200, "{\"name\":\"projects/other/locations/x/challenges/c\",\"tpmNonce\":\"AA==\"}",
                resp);
        }
        if (f->fault == FX_BAD_NONCE) {
            return shd_http_resp_json(
                200, "{\"name\":\"" FX_CHALLENGE "\",\"tpmNonce\":\"!!notbase64\"}", resp);
        }
        char *b64 = NULL;
        SHD_GUARD(shd_b64_encode((const uint8_t *)FX_NONCE, strlen(FX_NONCE), SHD_B64_STD_PAD, &b64,
                                 NULL));
        char body[256];
        (void)snprintf(body, sizeof(body),
                       "{\"name\":\"%s\",\"createTime\":\"2023-09-21T01:04:48Z\","
                       "\"tpmNonce\":\"%s\"}",
                       FX_CHALLENGE, b64);
        shd_free(b64);
        return shd_http_resp_json(200, body, resp);
    }
    if (strcmp(path, "/v1/" FX_CHALLENGE ":verifyAttestation") == 0) {
        return fx_verify(f, req, resp);
    }
    return fx_google_error(404, "NOT_FOUND", "no such thing", resp);
}

/* ---------------------------------------------------------------- fake MDS + AIA */

static inline shd_result fx_mds_text(struct fx *f, const char *text, struct shd_http_resp *resp)
{
    if (!f->mds_no_flavor) {
        SHD_GUARD(shd_http_resp_header("Metadata-Flavor", "Google", resp));
    }
    return shd_http_resp_body(200, "application/text", text, strlen(text), resp);
}

static inline shd_result fx_mds_handler(void *ctx, const struct shd_http_req *req,
                                        struct shd_http_resp *resp)
{
    struct fx *f = ctx;
    const char *path = shd_http_req_path(req);
    const char *flavor = shd_http_req_header(req, "Metadata-Flavor");

    if (strcmp(path, "/ca/intermediate.crt") == 0 && f->aia_intermediate != NULL) {
        return shd_http_resp_body(200, "application/pkix-cert", f->aia_intermediate,
                                  f->aia_intermediate_len, resp);
    }
    if (strcmp(path, "/ca/root.crt") == 0 && f->aia_root != NULL) {
        return shd_http_resp_body(200, "application/pkix-cert", f->aia_root, f->aia_root_len, resp);
    }
    if (flavor == NULL || strcmp(flavor, "Google") != 0) {
        return shd_http_resp_text(403, "missing Metadata-Flavor", resp);
    }
    if (strcmp(path, "/computeMetadata/v1/project/project-id") == 0) {
        return fx_mds_text(f, FX_PROJECT, resp);
    }
    if (strcmp(path, "/computeMetadata/v1/instance/zone") == 0) {
        return fx_mds_text(f, FX_ZONE, resp);
    }
    if (strcmp(path, "/computeMetadata/v1/instance/service-accounts/default/token") == 0) {
        return fx_mds_text(f,
                           "{\"access_token\":\"" FX_SA_TOKEN
                           "\",\"expires_in\":3599,\"token_type\":\"Bearer\"}",
                           resp);
    }
    if (strcmp(path, "/computeMetadata/v1/instance/service-accounts/default/identity") == 0) {
        const char *aud = shd_http_req_query(req, "audience");
        const char *fmt = shd_http_req_query(req, "format");
        (void)snprintf(f->last_identity_aud, sizeof(f->last_identity_aud), "%s",
                       aud != NULL ? aud : "");
        if (aud == NULL || fmt == NULL || strcmp(fmt, "full") != 0) {
            return shd_http_resp_text(400, "bad identity request", resp);
        }
        return fx_mds_text(f, FX_ID_TOKEN, resp);
    }
    return shd_http_resp_text(404, "not found", resp);
}

/* ---------------------------------------------------------------- set-up */

static inline void fx_start(struct fx *f)
{
    static const char *const names[] = {"confidentialcomputing.googleapis.com",
                                        "www.googleapis.com"};
    shd_memzero(f, sizeof(*f));
    f->pki = shd_test_pki_new("fx test CA", names, 2);
    (void)snprintf(f->ca_path, sizeof(f->ca_path), "/tmp/wif-attest-ca-%d.pem", (int)getpid());
    shd_test_pki_write_ca(f->pki, f->ca_path);
    EXPECT_OK(shd_crypto_rsa_generate(2048, &f->sign_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &f->other_key));

    const struct shd_http_route vroutes[] = {
        {NULL, "/", fx_verifier_handler, SHD_HTTP_ROUTE_PREFIX}};
    struct shd_http_server_options vo = {
        .routes = vroutes, .nroutes = 1, .ctx = f, .max_body_bytes = 1024 * 1024};
    EXPECT_OK(shd_http_server_create(&vo, &f->vsrv));
    char *cert = shd_test_pki_leaf_cert_pem(f->pki);
    char *key = shd_test_pki_leaf_key_pem(f->pki);
    EXPECT_OK(shd_http_server_listen_tls("127.0.0.1", 0, cert, key, f->vsrv, &f->vport));
    shd_free(cert);
    shd_free_wipe(key, strlen(key));
    EXPECT_OK(shd_http_server_start(f->vsrv));

    const struct shd_http_route mroutes[] = {{NULL, "/", fx_mds_handler, SHD_HTTP_ROUTE_PREFIX}};
    struct shd_http_server_options mo = {.routes = mroutes, .nroutes = 1, .ctx = f};
    EXPECT_OK(shd_http_server_create(&mo, &f->msrv));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->msrv, &f->mport));
    EXPECT_OK(shd_http_server_start(f->msrv));

    char ct[512];
    (void)snprintf(ct, sizeof(ct),
                   "confidentialcomputing.googleapis.com:443:127.0.0.1:%u,"
                   "www.googleapis.com:443:127.0.0.1:%u," FX_AIA_HOST ":80:127.0.0.1:%u",
                   f->vport, f->vport, f->mport);
    struct shd_http_client_options co = {
        .ca_file = f->ca_path, .connect_to = ct, .timeout_ms = 20000};
    EXPECT_OK(shd_http_client_create(&co, &f->http));
    EXPECT_OK(shd_http_client_create(&co, &f->http_mds));
}

static inline void fx_stop(struct fx *f)
{
    shd_http_client_free(f->http);
    shd_http_client_free(f->http_mds);
    shd_http_server_free(f->vsrv);
    shd_http_server_free(f->msrv);
    EVP_PKEY_free(f->sign_key);
    EVP_PKEY_free(f->other_key);
    shd_test_pki_free(f->pki);
    (void)unlink(f->ca_path);
    shd_free(f->aia_intermediate);
    shd_free(f->aia_root);
    shd_free(f->want_ak_cert);
    shd_memzero(f, sizeof(*f));
}

/* The metadata server's base URL ("http://127.0.0.1:P"), in a static buffer. */
static inline const char *fx_mds_url(const struct fx *f)
{
    static char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", f->mport);
    return url;
}
