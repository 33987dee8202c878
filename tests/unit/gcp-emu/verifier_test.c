/*
 * verifier_test.c - verifyAttestation / verifyConfidentialSpace end to end on a real swtpm:
 * quotes made with tpm2-tools (the GCE AK recreated from its template, as gotpm does) verify
 * through gemu_verifier_verify; each broken piece of evidence is refused with the exact error;
 * the token verifies against the JWKS with a pinned RS256 and carries exact claims.
 * swtpm and tpm2-tools are required (`./run test` installs them): missing tools FAIL.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "shd_test.h"

#include "gemu.h"
#include "pki.h"
#include "tpm_akcert.h"
#include "verifier.h"
#include "vtpm.h"

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/mem.h"

#define NOW_S 1760000000LL
#define PARENT "projects/gemu-project/locations/us-central1"
#define SA_EMAIL "123456789012-compute@developer.gserviceaccount.com"

struct fixture {
    char dir[128];
    char tpmdir[192];
    EVP_PKEY *root_key, *ca_key, *sign_key, *google_key;
    X509 *root, *ca;
    struct gemu_instance_info info;
    struct gemu_vtpm *vtpm;
    struct gemu_vtpm_provisioned prov;
    struct gemu_verifier *v;
    int64_t now_ns;
};

static int64_t fake_clock(void *arg)
{
    return ((struct fixture *)arg)->now_ns;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static X509 *make_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    struct gemu_pki_rdn rdns[] = {{"O", "Google LLC"}, {"CN", cn}};
    X509_NAME *name = NULL;
    X509 *cert = NULL;

    EXPECT_OK(gemu_pki_name(rdns, 2, &name));
    EXPECT_OK(
        gemu_pki_cert_new(name, issuer ? X509_get_subject_name(issuer) : name, key, 365, &cert));
    EXPECT_OK(gemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE", issuer, cert));
    EXPECT_OK(gemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign,cRLSign", issuer, cert));
    EXPECT_OK(gemu_pki_cert_sign(issuer_key, cert));
    X509_NAME_free(name);
    return cert;
}

static int run(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(struct fixture *f, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int n, st;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    assert_int_equal(setenv("TPM2TOOLS_TCTI", gemu_vtpm_tcti(f->vtpm), 1), 0);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    struct gemu_vtpm_provision_opts o = {
        .aia_url = GEMU_AK_INTERMEDIATE_AIA_URL,
        .log = {.firmware_version = 1, .technology = GEMU_GCE_TECH_AMD_SEV, .secure_boot = true},
    };
    char logpath[256];
    struct gemu_verifier_config cfg = {0};

    assert_non_null(f);
    f->now_ns = NOW_S * 1000000000LL;
    snprintf(f->dir, sizeof(f->dir), "/tmp/gemu-verifier-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->tpmdir, sizeof(f->tpmdir), "%s/vtpm", f->dir);
    snprintf(logpath, sizeof(logpath), "%s/vtpm/binary_bios_measurements", f->dir);
    assert_int_equal(mkdir(f->tpmdir, 0700), 0);
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &f->root_key));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &f->ca_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &f->sign_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &f->google_key));
    f->root = make_ca("EK/AK CA Root", f->root_key, NULL, f->root_key);
    f->ca = make_ca("EK/AK CA Intermediate", f->ca_key, f->root, f->root_key);
    EXPECT_OK(gemu_instance_info_from_text("us-central1-a", "gemu-project", "123456789012",
                                           "7333251546816446069", "gemu-cvm", &f->info));
    EXPECT_OK(gemu_vtpm_start(f->tpmdir, &f->vtpm));
    o.instance = &f->info;
    o.ca_cert = f->ca;
    o.ca_key = f->ca_key;
    o.eventlog_path = logpath;
    EXPECT_OK(gemu_vtpm_provision(&o, f->vtpm, &f->prov));
    /* The GCE AKs as a client recreates them from the NV templates. */
    assert_int_equal(run(f,
                         "tpm2_createprimary -C e -G rsa2048:rsassa-sha256:null -g sha256 -a "
                         "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign'"
                         " -c %s/ak-rsa.ctx >/dev/null && tpm2_flushcontext -t && "
                         "tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 -a "
                         "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign'"
                         " -c %s/ak-ecc.ctx >/dev/null && tpm2_flushcontext -t",
                         f->dir, f->dir),
                     0);
    cfg.signing_key = f->sign_key;
    cfg.signing_kid = "0123456789abcdef0123456789abcdef01234567";
    cfg.google_key = f->google_key;
    cfg.google_kid = "google-kid-1";
    cfg.ak_root = f->root;
    cfg.clock = fake_clock;
    cfg.clock_arg = f;
    EXPECT_OK(gemu_verifier_new(&cfg, &f->v));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f == NULL) {
        return 0;
    }
    gemu_verifier_free(f->v);
    gemu_vtpm_free(f->vtpm);
    gemu_vtpm_provisioned_clear(&f->prov);
    X509_free(f->root);
    X509_free(f->ca);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->sign_key);
    EVP_PKEY_free(f->google_key);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    shd_free(f);
    return 0;
}

static json_t *b64_of(const uint8_t *p, size_t n)
{
    char *s = NULL;
    json_t *j;

    EXPECT_OK(shd_b64_encode(p, n, SHD_B64_STD_PAD, &s, NULL));
    j = json_string(s);
    shd_free(s);
    return j;
}

static json_t *b64_file(struct fixture *f, const char *name, uint8_t **ret_data, size_t *ret_len)
{
    char path[256];
    size_t n = 0;
    uint8_t *d;
    json_t *j;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    d = shd_test_read_file(path, &n);
    j = b64_of(d, n);
    if (ret_data != NULL) {
        *ret_data = d;
        *ret_len = n;
    } else {
        shd_free(d);
    }
    return j;
}

static json_t *b64_cert(X509 *c)
{
    uint8_t *der = NULL;
    size_t n = 0;
    json_t *j;

    EXPECT_OK(shd_crypto_x509_export_der(c, &der, &n));
    j = b64_of(der, n);
    shd_free(der);
    return j;
}

/* A VM identity token as the metadata server mints it (gcp-identity.md §3.5). */
static char *id_token(struct fixture *f, const char *aud, const char *kid)
{
    struct shd_jws_sign_header hdr = {.kid = kid, .typ = "JWT"};
    json_t *c =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I}", "iss", "https://accounts.google.com", "aud",
                  aud, "azp", "1234", "sub", "1234", "email", SA_EMAIL, "email_verified", 1, "iat",
                  (json_int_t)NOW_S, "exp", (json_int_t)(NOW_S + 3600));
    char *payload = json_dumps(c, JSON_COMPACT), *tok = NULL;

    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)payload, strlen(payload), f->google_key,
                           SHD_JWS_RS256, &tok, NULL));
    shd_test_json_free(payload);
    json_decref(c);
    return tok;
}

/* Quotes all sha256 PCRs with the nonce and builds a verifyAttestation body. */
static json_t *make_request(struct fixture *f, bool ecc, const struct gemu_challenge *ch,
                            const uint8_t *nonce, size_t nonce_len)
{
    char hex[2 * GEMU_CHALLENGE_NONCE_LEN + 1];
    uint8_t *pcrs = NULL;
    size_t pcrs_len = 0;
    json_t *vals = json_object(), *quote, *tpm, *req;
    char *tok = id_token(f, ch->name, "google-kid-1");

    assert_true(nonce_len <= GEMU_CHALLENGE_NONCE_LEN);
    EXPECT_OK(shd_hex_encode_into(nonce, nonce_len, hex, sizeof(hex)));
    assert_int_equal(run(f,
                         "tpm2_quote -c %s/ak-%s.ctx -l sha256:all -q %s -m %s/q.msg -s %s/q.sig "
                         "-o %s/q.pcrs -F values >/dev/null && tpm2_flushcontext -t",
                         f->dir, ecc ? "ecc" : "rsa", hex, f->dir, f->dir, f->dir),
                     0);
    json_decref(b64_file(f, "q.pcrs", &pcrs, &pcrs_len));
    assert_int_equal(pcrs_len, 24 * 32);
    for (size_t i = 0; i < 24; i++) {
        char key[4];

        snprintf(key, sizeof(key), "%zu", i);
        json_object_set_new(vals, key, b64_of(pcrs + 32 * i, 32));
    }
    shd_free(pcrs);
    quote = json_pack("{s:i,s:o,s:o,s:o}", "hashAlgo", 11, "pcrValues", vals, "rawQuote",
                      b64_file(f, "q.msg", NULL, NULL), "rawSignature",
                      b64_file(f, "q.sig", NULL, NULL));
    tpm = json_pack("{s:[o],s:o,s:o,s:[o,o]}", "quotes", quote, "tcgEventLog",
                    b64_of(f->prov.eventlog, f->prov.eventlog_len), "akCert",
                    b64_cert(ecc ? f->prov.ak_cert_ecc : f->prov.ak_cert_rsa), "certChain",
                    b64_cert(f->ca), b64_cert(f->root));
    req = json_pack("{s:s,s:{s:[s]},s:o}", "challenge", ch->name, "gcpCredentials",
                    "serviceAccountIdTokens", tok, "tpmAttestation", tpm);
    assert_non_null(req);
    shd_free(tok);
    return req;
}

static shd_result verify_json(struct fixture *f, enum gemu_verify_method m, const char *name,
                              const json_t *req, char **tok)
{
    char *body = json_dumps(req, JSON_COMPACT);
    shd_result r;

    *tok = NULL;
    r = gemu_verifier_verify(m, name, (const uint8_t *)body, strlen(body), f->v, tok);
    shd_test_json_free(body);
    return r;
}

static void expect_root_message(const char *part)
{
    char msg[1024];

    shd_error_render(msg, sizeof(msg));
    if (strstr(msg, part) == NULL) {
        fail_msg("error '%s' does not mention '%s'", msg, part);
    }
}

static json_t *checked_claims(struct fixture *f, const char *tok)
{
    struct shd_jws *jws = NULL;
    json_t *jwks = NULL;
    const json_t *claims = NULL;
    json_t *copy;

    EXPECT_OK(gemu_jwks_new(f->sign_key, "0123456789abcdef0123456789abcdef01234567", &jwks));
    EXPECT_OK(shd_jws_parse(tok, strlen(tok), 0, &jws));
    assert_string_equal(json_string_value(json_object_get(shd_jws_header(jws), "typ")), "JWT");
    EXPECT_OK(shd_jws_verify_jwks(jwks, SHD_JWS_RS256, jws));
    EXPECT_OK(shd_jws_payload_json(jws, &claims));
    copy = json_deep_copy(claims);
    shd_jws_free(&jws);
    json_decref(jwks);
    return copy;
}

static void test_rsa_quote_gives_exact_token(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req, *claims;
    char *tok = NULL, *dump = NULL;
    size_t len = 0;

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    json_object_set_new(req, "tokenOptions",
                        json_pack("{s:s,s:[s,s],s:i}", "audience", "https://example.com/aud",
                                  "nonce", "thisIsAcustomNonce", "anotherNonce1234", "tokenType",
                                  1));
    EXPECT_OK(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok));
    claims = checked_claims(f, tok);
    EXPECT_OK(shd_json_go_dump(claims, 0, &dump, &len));
    assert_string_equal(
        dump,
        "{\"aud\":\"https://example.com/aud\",\"exp\":1760003600,\"iat\":1760000000,"
        "\"iss\":\"https://confidentialcomputing.googleapis.com\",\"nbf\":1760000000,"
        "\"sub\":\"https://www.googleapis.com/compute/v1/projects/gemu-project/zones/"
        "us-central1-a/instances/gemu-cvm\",\"eat_nonce\":[\"thisIsAcustomNonce\","
        "\"anotherNonce1234\"],\"secboot\":true,\"oemid\":11129,\"hwmodel\":\"GCP_AMD_SEV\","
        "\"swname\":\"GCE\",\"dbgstat\":\"enabled\",\"submods\":{\"gce\":{\"zone\":"
        "\"us-central1-a\",\"project_id\":\"gemu-project\",\"project_number\":\"123456789012\","
        "\"instance_name\":\"gemu-cvm\",\"instance_id\":\"7333251546816446069\"}},"
        "\"google_service_accounts\":[\"" SA_EMAIL "\"]}");
    shd_free(dump);
    json_decref(claims);
    shd_free(tok);

    /* The same evidence again: the challenge is single-use. */
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_POLICY);
    expect_root_message("challenge already used");
    assert_null(tok);
    json_decref(req);
}

static void test_ecc_quote_default_audience(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req, *claims;
    char *tok = NULL;

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, true, &ch, ch.nonce, sizeof(ch.nonce));
    EXPECT_OK(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok));
    claims = checked_claims(f, tok);
    assert_string_equal(json_string_value(json_object_get(claims, "aud")),
                        "https://sts.googleapis.com");
    assert_null(json_object_get(claims, "eat_nonce"));
    json_decref(claims);
    shd_free(tok);
    json_decref(req);
}

/* snake_case names, enum names and URL-safe unpadded base64 are proto3-JSON too. */
static void test_snake_case_and_enum_names(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req, *tpm, *q, *claims;
    char *tok = NULL;

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    tpm = json_object_get(req, "tpmAttestation");
    json_object_set(req, "tpm_attestation", tpm);
    json_object_del(req, "tpmAttestation");
    q = json_array_get(json_object_get(tpm, "quotes"), 0);
    json_object_set_new(q, "hash_algo", json_string("SHA256"));
    json_object_del(q, "hashAlgo");
    json_object_set(tpm, "ak_cert", json_object_get(tpm, "akCert"));
    json_object_del(tpm, "akCert");
    json_object_set_new(req, "token_options",
                        json_pack("{s:s,s:[s],s:s}", "audience", "aud-x", "nonce", "single-nonce-1",
                                  "token_type", "TOKEN_TYPE_OIDC"));
    EXPECT_OK(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok));
    claims = checked_claims(f, tok);
    assert_string_equal(json_string_value(json_object_get(claims, "eat_nonce")), "single-nonce-1");
    json_decref(claims);
    shd_free(tok);
    json_decref(req);
}

static void test_wrong_nonce(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req;
    char *tok = NULL;
    uint8_t other[GEMU_CHALLENGE_NONCE_LEN];

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    shd_memcpy(other, ch.nonce, sizeof(other));
    other[sizeof(other) - 1] ^= 1;
    req = make_request(f, false, &ch, other, sizeof(other));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_POLICY);
    expect_root_message("quote nonce does not match the challenge");
    json_decref(req);
}

static void test_tampered_pcr_value(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req, *vals;
    char *tok = NULL;
    uint8_t forged[32] = {1};

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    vals = json_object_get(
        json_array_get(json_object_get(json_object_get(req, "tpmAttestation"), "quotes"), 0),
        "pcrValues");
    json_object_set_new(vals, "16", b64_of(forged, sizeof(forged)));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_POLICY);
    expect_root_message("PCR values do not match the quote's PCR digest");
    json_decref(req);
}

static void tamper_log(struct fixture *f, size_t offset, const char *want)
{
    struct gemu_challenge ch;
    json_t *req;
    char *tok = NULL;
    uint8_t *log = shd_memdup(f->prov.eventlog, f->prov.eventlog_len);

    assert_non_null(log);
    assert_true(offset < f->prov.eventlog_len);
    log[offset] ^= 0x01;
    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    json_object_set_new(json_object_get(req, "tpmAttestation"), "tcgEventLog",
                        b64_of(log, f->prov.eventlog_len));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_POLICY);
    expect_root_message(want);
    shd_free(log);
    json_decref(req);
}

/* Offsets in the synthetic log: the Spec ID record, then the first event (S-CRTM version). */
static size_t first_event_offset(struct fixture *f)
{
    const uint8_t *p = f->prov.eventlog;
    size_t spec_size =
        (size_t)p[28] | (size_t)p[29] << 8 | (size_t)p[30] << 16 | (size_t)p[31] << 24;

    return 32 + spec_size;
}

static void test_tampered_event_log_digest(void **state)
{
    struct fixture *f = *state;
    /* pcr, type, count, then SHA-1 (alg + 20 bytes), then the SHA-256 digest. */
    size_t sha256_digest = first_event_offset(f) + 12 + 22 + 2;

    tamper_log(f, sha256_digest + 5, "event log replay does not match PCR 0");
}

static void test_tampered_event_log_data(void **state)
{
    struct fixture *f = *state;
    /* The last byte of the CRTM version text: digests still replay, the data lies. */
    size_t data_size_at = first_event_offset(f) + 12 + 22 + 34 + 50 + 66;
    const uint8_t *p = f->prov.eventlog + data_size_at;
    size_t size = (size_t)p[0] | (size_t)p[1] << 8;

    tamper_log(f, data_size_at + 4 + size - 4, "digest does not match its data");
}

static void test_bad_quote_signature(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req, *q;
    char *tok = NULL;
    uint8_t *sig = NULL;
    size_t n = 0;

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    q = json_array_get(json_object_get(json_object_get(req, "tpmAttestation"), "quotes"), 0);
    json_decref(b64_file(f, "q.sig", &sig, &n));
    sig[n - 1] ^= 0x80;
    json_object_set_new(q, "rawSignature", b64_of(sig, n));
    shd_free(sig);
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_BAD_SIGNATURE);
    json_decref(req);
}

static void test_expired_challenge(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req;
    char *tok = NULL;

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    assert_true(ch.expire_ns - ch.create_ns == 3600LL * 1000000000LL);
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    f->now_ns = ch.expire_ns;
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_POLICY);
    expect_root_message("challenge expired");
    f->now_ns = NOW_S * 1000000000LL;
    json_decref(req);
}

static void test_id_token_for_another_audience(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req;
    char *tok = NULL, *bad = id_token(f, "projects/p/locations/l/challenges/other", "google-kid-1");

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    json_object_set_new(req, "gcpCredentials", json_pack("{s:[s]}", "serviceAccountIdTokens", bad));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_TOKEN);
    expect_root_message("audience");
    shd_free(bad);
    json_decref(req);
}

static void test_id_token_signed_by_another_key(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req;
    char *tok = NULL, *bad;
    EVP_PKEY *real = f->google_key, *other = NULL;

    EXPECT_OK(shd_crypto_rsa_generate(2048, &other));
    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    f->google_key = other;
    bad = id_token(f, ch.name, "google-kid-1");
    f->google_key = real;
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    json_object_set_new(req, "gcpCredentials", json_pack("{s:[s]}", "serviceAccountIdTokens", bad));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_TOKEN);
    EVP_PKEY_free(other);
    shd_free(bad);
    json_decref(req);
}

/* An AK certificate for the right key from a CA that does not chain to the root. */
static void test_ak_cert_from_foreign_ca(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req;
    char *tok = NULL;
    EVP_PKEY *key = NULL;
    X509 *ca, *forged = NULL;

    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &key));
    ca = make_ca("EK/AK CA Intermediate", key, NULL, key);
    EXPECT_OK(gemu_akcert_issue(X509_get0_pubkey(f->prov.ak_cert_rsa), &f->info, ca, key,
                                "http://x/ca.crt", &forged));
    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    json_object_set_new(json_object_get(req, "tpmAttestation"), "akCert", b64_cert(forged));
    json_object_set_new(json_object_get(req, "tpmAttestation"), "certChain",
                        json_pack("[o]", b64_cert(ca)));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_BAD_CERT);
    X509_free(forged);
    X509_free(ca);
    EVP_PKEY_free(key);
    json_decref(req);
}

static void test_unknown_challenge_and_bad_bodies(void **state)
{
    struct fixture *f = *state;
    char *tok = NULL;
    static const char *const bodies[] = {
        "",
        "[]",
        "{\"tpmAttestation\":{}}",
        "{\"tdCcel\":{},\"tpmAttestation\":{}}",
        "{\"tpmAttestation\":{\"quotes\":[]}}",
    };
    static const int codes[] = {SHD_ERR_JSON, SHD_ERR_INPUT, SHD_ERR_INPUT, SHD_ERR_UNSUPPORTED,
                                SHD_ERR_INPUT};
    struct gemu_challenge ch;
    json_t *req;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        EXPECT_ERR(gemu_verifier_verify(GEMU_VERIFY_ATTESTATION, PARENT "/challenges/x",
                                        (const uint8_t *)bodies[i], strlen(bodies[i]), f->v, &tok),
                   codes[i]);
    }
    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, false, &ch, ch.nonce, sizeof(ch.nonce));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, PARENT "/challenges/nope", req, &tok),
               SHD_ERR_INPUT);
    json_object_del(req, "challenge");
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, PARENT "/challenges/nope", req, &tok),
               SHD_ERR_NOT_FOUND);
    json_object_set_new(req, "tokenOptions", json_pack("{s:i}", "tokenType", 2));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_UNSUPPORTED);
    json_object_set_new(req, "tokenOptions", json_pack("{s:[s]}", "nonce", "nonce-without-aud"));
    EXPECT_ERR(verify_json(f, GEMU_VERIFY_ATTESTATION, ch.name, req, &tok), SHD_ERR_INPUT);
    assert_null(tok);
    json_decref(req);
}

static void test_confidential_space_token(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge ch;
    json_t *req, *claims;
    char *tok = NULL;

    EXPECT_OK(gemu_verifier_challenge_new(PARENT, f->v, &ch));
    req = make_request(f, true, &ch, ch.nonce, sizeof(ch.nonce));
    json_object_set_new(req, "options",
                        json_pack("{s:s,s:i,s:i}", "audience", "https://kms.example",
                                  "tokenProfile", 1, "signatureType", 1));
    json_object_set_new(req, "signedEntities", json_array());
    EXPECT_OK(verify_json(f, GEMU_VERIFY_CONFIDENTIAL_SPACE, ch.name, req, &tok));
    claims = checked_claims(f, tok);
    assert_string_equal(json_string_value(json_object_get(claims, "swname")), "CONFIDENTIAL_SPACE");
    assert_string_equal(json_string_value(json_object_get(claims, "aud")), "https://kms.example");
    assert_string_equal(json_string_value(json_object_get(claims, "dbgstat")),
                        "disabled-since-boot");
    assert_non_null(json_object_get(json_object_get(claims, "submods"), "confidential_space"));
    assert_null(json_object_get(json_object_get(claims, "submods"), "container"));
    json_decref(claims);
    shd_free(tok);
    json_decref(req);
}

static void test_challenge_store(void **state)
{
    struct fixture *f = *state;
    struct gemu_challenge_store *s = NULL;
    struct gemu_challenge first, c, got;
    char *json = NULL;
    json_t *doc = NULL;
    uint8_t *nonce = NULL;
    size_t n = 0;
    char long_parent[200];

    EXPECT_OK(gemu_challenge_store_new(fake_clock, f, 0, &s));
    EXPECT_OK(gemu_challenge_create(PARENT, s, &first));
    assert_int_equal(strncmp(first.name, PARENT "/challenges/", strlen(PARENT) + 12), 0);
    assert_int_equal(strlen(first.name), strlen(PARENT) + 12 + 36);
    assert_memory_equal(first.nonce, "GoogAttestV1", 12);
    EXPECT_OK(gemu_challenge_to_json(&first, &json));
    EXPECT_OK(shd_json_parse(json, strlen(json), NULL, &doc));
    assert_string_equal(json_string_value(json_object_get(doc, "createTime")),
                        "2025-10-09T08:53:20.000000000Z");
    assert_string_equal(json_string_value(json_object_get(doc, "expireTime")),
                        "2025-10-09T09:53:20.000000000Z");
    assert_null(json_object_get(doc, "used"));
    EXPECT_OK(shd_b64_decode(json_string_value(json_object_get(doc, "tpmNonce")),
                             strlen(json_string_value(json_object_get(doc, "tpmNonce"))),
                             SHD_B64_STD_PAD, &nonce, &n));
    assert_int_equal(n, GEMU_CHALLENGE_NONCE_LEN);
    assert_memory_equal(nonce, first.nonce, n);
    shd_free(nonce);
    json_decref(doc);
    shd_free(json);
    /* Bounded: one more than the maximum evicts the oldest live challenge. */
    for (size_t i = 0; i < GEMU_CHALLENGE_MAX; i++) {
        EXPECT_OK(gemu_challenge_create(PARENT, s, &c));
    }
    EXPECT_ERR(gemu_challenge_consume(first.name, s, &got), SHD_ERR_NOT_FOUND);
    EXPECT_OK(gemu_challenge_consume(c.name, s, &got));
    assert_true(got.used);
    EXPECT_ERR(gemu_challenge_consume(c.name, s, &got), SHD_ERR_POLICY);
    memset(long_parent, 'a', sizeof(long_parent) - 1);
    long_parent[sizeof(long_parent) - 1] = '\0';
    EXPECT_ERR(gemu_challenge_create(long_parent, s, &c), SHD_ERR_INPUT);
    gemu_challenge_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_quote_gives_exact_token),
        cmocka_unit_test(test_ecc_quote_default_audience),
        cmocka_unit_test(test_snake_case_and_enum_names),
        cmocka_unit_test(test_wrong_nonce),
        cmocka_unit_test(test_tampered_pcr_value),
        cmocka_unit_test(test_tampered_event_log_digest),
        cmocka_unit_test(test_tampered_event_log_data),
        cmocka_unit_test(test_bad_quote_signature),
        cmocka_unit_test(test_expired_challenge),
        cmocka_unit_test(test_id_token_for_another_audience),
        cmocka_unit_test(test_id_token_signed_by_another_key),
        cmocka_unit_test(test_ak_cert_from_foreign_ca),
        cmocka_unit_test(test_unknown_challenge_and_bad_bodies),
        cmocka_unit_test(test_confidential_space_token),
        cmocka_unit_test(test_challenge_store),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
