/*
 * attest_test.c - mode B end to end against swtpm and the fake verifier and metadata server
 * (attest_fixture*.h), and its parts: configuration checks, the metadata-server client, the
 * verifier REST client and request body, the event-log parser (known answers and truncated,
 * forged, oversized logs) and the token check (forged signature, unknown kid, expired token,
 * wrong issuer).
 */
#include <fcntl.h>

#include "attest_fixture_tpm.h"

#include "attest.h"
#include "attest_int.h"
#include "eventlog.h"
#include "mds_client.h"
#include "verifier_client.h"

struct a_state {
    struct fx f;
    struct fx_tpm t;
    bool tpm;
    char log_path[96];
};

static int setup(void **state)
{
    struct a_state *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_start(&s->f);
    *state = s;
    return 0;
}

static int setup_tpm(void **state)
{
    setup(state);
    struct a_state *s = *state;
    fx_tpm_start(&s->t);
    s->tpm = true;
    return 0;
}

static int teardown(void **state)
{
    struct a_state *s = *state;
    if (s->tpm) {
        fx_tpm_stop(&s->t);
    }
    if (s->log_path[0] != '\0') {
        (void)unlink(s->log_path);
    }
    fx_stop(&s->f);
    shd_free(s);
    return 0;
}

/* ------------------------------------------------------------------ configuration */

static void test_config(void **state)
{
    struct a_state *s = *state;
    struct wif_attest *a = NULL;
    struct wif_attest_config c = {
        .mode = WIF_ATTEST_MODE_TPM, .http = s->f.http, .http_mds = s->f.http_mds};
    EXPECT_OK(wif_attest_new(&c, &a));
    wif_attest_free(&a);
    assert_null(a);
    wif_attest_free(&a);
    wif_attest_free(NULL);

    struct wif_attest_config bad = c;
    bad.mode = 0;
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad = c;
    bad.http = NULL;
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad = c;
    bad.http_mds = NULL;
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad = c;
    bad.verifier_url = "http://confidentialcomputing.googleapis.com";
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad.verifier_url = "https://confidentialcomputing.googleapis.com/";
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad.verifier_url = "https://x/v1?a";
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad = c;
    bad.mds_url = "ftp://metadata";
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    bad = c;
    bad.tcti = "";
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    char long_path[WIF_ATTEST_STRING_MAX + 8];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    bad = c;
    bad.event_log_path = long_path;
    EXPECT_ERR(wif_attest_new(&bad, &a), SHD_ERR_CONFIG);
    assert_null(a);

    /* Audience rules. */
    EXPECT_OK(wif_attest_new(&c, &a));
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    char aud[WIF_ATTEST_AUDIENCE_MAX + 2];
    memset(aud, 'a', sizeof(aud) - 1);
    aud[sizeof(aud) - 1] = '\0';
    EXPECT_ERR(wif_attest_token(aud, a, &tok, &n, &exp), SHD_ERR_USAGE);
    EXPECT_ERR(wif_attest_token("https://has space", a, &tok, &n, &exp), SHD_ERR_USAGE);
    assert_null(tok);
    wif_attest_free(&a);
}

/* ------------------------------------------------------------------ metadata server */

static void test_mds(void **state)
{
    struct a_state *s = *state;
    const char *base = fx_mds_url(&s->f);
    char *v = NULL;
    size_t n = 0;

    EXPECT_OK(wif_mds_project_id(base, s->f.http_mds, &v));
    assert_string_equal(v, FX_PROJECT);
    shd_free(v);
    EXPECT_OK(wif_mds_region(base, s->f.http_mds, &v));
    assert_string_equal(v, FX_REGION);
    shd_free(v);
    EXPECT_OK(wif_mds_access_token(base, s->f.http_mds, &v, &n));
    assert_string_equal(v, FX_SA_TOKEN);
    assert_int_equal(n, strlen(FX_SA_TOKEN));
    shd_free_wipe(v, n + 1);
    EXPECT_OK(wif_mds_identity_token(base, FX_CHALLENGE, s->f.http_mds, &v, &n));
    assert_string_equal(v, FX_ID_TOKEN);
    assert_string_equal(s->f.last_identity_aud, FX_CHALLENGE);
    shd_free_wipe(v, n + 1);

    v = NULL;
    EXPECT_ERR(wif_mds_get(base, "/computeMetadata/v1/nothing", 100, s->f.http_mds, &v, &n),
               SHD_ERR_NOT_FOUND);
    EXPECT_ERR(wif_mds_get(base, "/other/path", 100, s->f.http_mds, &v, &n), SHD_ERR_USAGE);
    EXPECT_ERR(
        wif_mds_get(base, "/computeMetadata/v1/project/project-id", 3, s->f.http_mds, &v, &n),
        SHD_ERR_TOO_LARGE);
    s->f.mds_no_flavor = true;
    EXPECT_ERR(wif_mds_project_id(base, s->f.http_mds, &v), SHD_ERR_INPUT);
    assert_null(v);
}

static void test_zone_and_escape(void **state)
{
    (void)state;
    char *r = NULL;
    EXPECT_OK(wif_mds_zone_to_region("projects/1/zones/europe-west4-a", &r));
    assert_string_equal(r, "europe-west4");
    shd_free(r);
    EXPECT_OK(wif_mds_zone_to_region("us-central1-f", &r));
    assert_string_equal(r, "us-central1");
    shd_free(r);
    r = NULL;
    EXPECT_ERR(wif_mds_zone_to_region("projects/1/zones/nodash", &r), SHD_ERR_INPUT);
    EXPECT_ERR(wif_mds_zone_to_region("projects/1/zones/a-", &r), SHD_ERR_INPUT);
    EXPECT_ERR(wif_mds_zone_to_region("projects/1/zones/US-east1-b", &r), SHD_ERR_INPUT);
    EXPECT_ERR(wif_mds_zone_to_region("", &r), SHD_ERR_INPUT);
    assert_null(r);
    EXPECT_OK(wif_mds_url_escape("projects/p/x:y a~b_c.d-e&=%", &r));
    assert_string_equal(r, "projects%2Fp%2Fx%3Ay%20a~b_c.d-e%26%3D%25");
    shd_free(r);
}

/* ------------------------------------------------------------------ event log */

struct logb {
    uint8_t b[4096];
    size_t n;
};

static void lb_u32(struct logb *l, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        l->b[l->n++] = (uint8_t)(v >> (8 * i));
    }
}

static void lb_u16(struct logb *l, uint16_t v)
{
    l->b[l->n++] = (uint8_t)v;
    l->b[l->n++] = (uint8_t)(v >> 8);
}

static void lb_bytes(struct logb *l, const void *p, size_t n)
{
    shd_memcpy(l->b + l->n, p, n);
    l->n += n;
}

/* An event whose digests are H("<data>") for SHA-1 and SHA-256. */
static void lb_event(struct logb *l, uint32_t pcr, uint32_t type, const char *data)
{
    uint8_t d1[20];
    uint8_t d2[32];
    size_t dl = 0;
    EXPECT_OK(shd_crypto_digest(SHD_CRYPTO_HASH_SHA1, (const uint8_t *)data, strlen(data), d1,
                                sizeof(d1), &dl));
    EXPECT_OK(shd_crypto_sha256((const uint8_t *)data, strlen(data), d2));
    lb_u32(l, pcr);
    lb_u32(l, type);
    lb_u32(l, 2);
    lb_u16(l, 0x0004);
    lb_bytes(l, d1, 20);
    lb_u16(l, 0x000B);
    lb_bytes(l, d2, 32);
    lb_u32(l, (uint32_t)strlen(data));
    lb_bytes(l, data, strlen(data));
}

static void build_log(struct logb *l)
{
    static const uint8_t zero[20] = {0};
    l->n = 0;
    lb_u32(l, 0);
    lb_u32(l, 3); /* EV_NO_ACTION */
    lb_bytes(l, zero, 20);
    lb_u32(l, 16 + 4 + 4 + 4 + 2 * 4 + 1);
    lb_bytes(l, "Spec ID Event03", 16);
    lb_u32(l, 0);
    const uint8_t ver[4] = {0, 2, 0, 2};
    lb_bytes(l, ver, 4);
    lb_u32(l, 2);
    lb_u16(l, 0x0004);
    lb_u16(l, 20);
    lb_u16(l, 0x000B);
    lb_u16(l, 32);
    l->b[l->n++] = 0; /* vendorInfoSize */
    /* StartupLocality 3, then two PCR 0 events and one PCR 7 event. */
    lb_u32(l, 0);
    lb_u32(l, 3);
    lb_u32(l, 2);
    lb_u16(l, 0x0004);
    lb_bytes(l, zero, 20);
    lb_u16(l, 0x000B);
    uint8_t z32[32] = {0};
    lb_bytes(l, z32, 32);
    lb_u32(l, 17);
    lb_bytes(l, "StartupLocality\0\3", 17);
    lb_event(l, 0, 0x00000008, "GCE Virtual Firmware v1");
    lb_event(l, 0, 0x00000004, "separator");
    lb_event(l, 7, 0x80000001, "SecureBoot");
}

static void extend256(uint8_t pcr[32], const char *data)
{
    uint8_t in[64];
    shd_memcpy(in, pcr, 32);
    EXPECT_OK(shd_crypto_sha256((const uint8_t *)data, strlen(data), in + 32));
    EXPECT_OK(shd_crypto_sha256(in, 64, pcr));
}

static void test_eventlog_replay(void **state)
{
    (void)state;
    struct logb l;
    build_log(&l);
    EXPECT_OK(wif_eventlog_check(l.b, l.n));

    uint8_t pcrs[WIF_EVENTLOG_PCRS][WIF_EVENTLOG_DIGEST_MAX];
    uint32_t touched = 0;
    EXPECT_OK(wif_eventlog_replay(l.b, l.n, 0x000B, pcrs, &touched));
    assert_int_equal(touched, (1u << 0) | (1u << 7));
    uint8_t p0[32] = {0};
    p0[31] = 3; /* StartupLocality */
    extend256(p0, "GCE Virtual Firmware v1");
    extend256(p0, "separator");
    uint8_t p7[32] = {0};
    extend256(p7, "SecureBoot");
    assert_memory_equal(pcrs[0], p0, 32);
    assert_memory_equal(pcrs[7], p7, 32);
    EXPECT_OK(wif_eventlog_replay(l.b, l.n, 0x0004, pcrs, &touched));
    EXPECT_ERR(wif_eventlog_replay(l.b, l.n, 0x000C, pcrs, &touched), SHD_ERR_NOT_FOUND);
}

static void test_eventlog_negative(void **state)
{
    (void)state;
    struct logb l;
    build_log(&l);
    /* Every strict prefix fails (an event boundary is not a valid end inside a record... but a
     * prefix ending exactly after a whole record is a valid shorter log). */
    size_t ok_prefixes = 0;
    for (size_t n = 0; n < l.n; n++) {
        shd_result r = wif_eventlog_check(l.b, n);
        if (shd_is_ok(r)) {
            ok_prefixes++;
            continue;
        }
        assert_true(r.err == SHD_ERR_TRUNCATED || r.err == SHD_ERR_INPUT);
    }
    assert_int_equal(ok_prefixes, 4); /* after the header and after three of the four events */

    struct logb bad = l;
    bad.b[32 + 3] = 'X'; /* Spec ID signature */
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_INPUT);
    bad = l;
    bad.b[4] = 4; /* first record not EV_NO_ACTION */
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_INPUT);
    bad = l;
    bad.b[bad.n++] = 0; /* trailing byte */
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_TRUNCATED);

    /* An event for PCR 24, and one with one digest where the header lists two. */
    size_t hdr = 32 + 16 + 4 + 4 + 4 + 8 + 1;
    bad = l;
    bad.b[hdr] = 24;
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_INPUT);
    bad = l;
    bad.b[hdr + 8] = 1;
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_INPUT);
    /* An event data size pointing past the end. */
    bad = l;
    size_t last = l.n - strlen("SecureBoot") - 4;
    bad.b[last + 3] = 0x7F;
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_TOO_LARGE);
    bad.b[last + 3] = 0;
    bad.b[last + 1] = 0x10;
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_TRUNCATED);
    /* Unknown algorithm in the header. */
    bad = l;
    bad.b[32 + 16 + 4 + 4 + 4] = 0x99;
    EXPECT_ERR(wif_eventlog_check(bad.b, bad.n), SHD_ERR_INPUT);
    EXPECT_ERR(wif_eventlog_check(l.b, WIF_EVENTLOG_MAX_BYTES + 1), SHD_ERR_TOO_LARGE);
}

static void test_eventlog_read(void **state)
{
    struct a_state *s = *state;
    struct logb l;
    build_log(&l);
    (void)snprintf(s->log_path, sizeof(s->log_path), "/tmp/wif-attest-log-%d", (int)getpid());
    int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, l.b, l.n), (ssize_t)l.n);
    close(fd);
    uint8_t *got = NULL;
    size_t n = 0;
    EXPECT_OK(wif_eventlog_read(s->log_path, &got, &n));
    assert_int_equal(n, l.n);
    assert_memory_equal(got, l.b, n);
    shd_free(got);
    got = NULL;
    EXPECT_ERR(wif_eventlog_read("/nonexistent/binary_bios_measurements", &got, &n),
               SHD_ERR_NOT_FOUND);
    fd = open(s->log_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    close(fd);
    EXPECT_ERR(wif_eventlog_read(s->log_path, &got, &n), SHD_ERR_INPUT);
    assert_null(got);
}

/* ------------------------------------------------------------------ verifier client */

#define VBASE FX_ISSUER

static void test_verifier_calls(void **state)
{
    struct a_state *s = *state;
    char *parent = NULL;
    EXPECT_OK(wif_verifier_location(VBASE, FX_PROJECT, FX_REGION, FX_SA_TOKEN, s->f.http, &parent));
    assert_string_equal(parent, FX_PARENT);
    assert_string_equal(s->f.last_bearer, "Bearer " FX_SA_TOKEN);
    assert_string_equal(s->f.last_params, "name=projects%2Ffx-project%2Flocations%2Fus-central1");
    struct wif_challenge ch = {0};
    EXPECT_OK(wif_verifier_challenge(VBASE, parent, FX_SA_TOKEN, s->f.http, &ch));
    assert_string_equal(ch.name, FX_CHALLENGE);
    assert_int_equal(ch.nonce_len, strlen(FX_NONCE));
    assert_memory_equal(ch.nonce, FX_NONCE, ch.nonce_len);
    assert_string_equal(s->f.last_params, "parent=projects%2Ffx-project%2Flocations%2Fus-central1");

    s->f.fault = FX_FOREIGN_NAME;
    EXPECT_ERR(wif_verifier_challenge(VBASE, parent, FX_SA_TOKEN, s->f.http, &ch), SHD_ERR_INPUT);
    s->f.fault = FX_BAD_NONCE;
    EXPECT_ERR(wif_verifier_challenge(VBASE, parent, FX_SA_TOKEN, s->f.http, &ch),
               SHD_ERR_ENCODING);
    s->f.fault = FX_STATUS_503;
    EXPECT_ERR(wif_verifier_challenge(VBASE, parent, FX_SA_TOKEN, s->f.http, &ch),
               SHD_ERR_UNAVAILABLE);
    char msg[512];
    (void)shd_error_render(msg, sizeof(msg));
    assert_non_null(strstr(msg, "UNAVAILABLE: The service is currently unavailable."));
    s->f.fault = FX_STATUS_403;
    EXPECT_ERR(wif_verifier_challenge(VBASE, parent, FX_SA_TOKEN, s->f.http, &ch),
               SHD_ERR_PERMISSION);
    shd_free(parent);
    parent = NULL;
    EXPECT_ERR(
        wif_verifier_location(VBASE, "bad/project", FX_REGION, FX_SA_TOKEN, s->f.http, &parent),
        SHD_ERR_CONFIG);
    EXPECT_ERR(wif_verifier_location(VBASE, "..", FX_REGION, FX_SA_TOKEN, s->f.http, &parent),
               SHD_ERR_CONFIG);
    assert_null(parent);
}

static void test_request_build(void **state)
{
    (void)state;
    struct wif_tpm_evidence ev = {0};
    uint8_t cert[3] = {0x30, 0x01, 0x00};
    uint8_t quote[4] = {0xff, 0x54, 0x43, 0x47};
    uint8_t sig[2] = {0x00, 0x14};
    ev.ak_cert = cert;
    ev.ak_cert_len = sizeof(cert);
    ev.nquotes = 1;
    ev.quotes[0].hash_alg = 0x000B;
    ev.quotes[0].digest_len = 32;
    ev.quotes[0].pcrs[23][31] = 0xAA;
    ev.quotes[0].raw_quote = quote;
    ev.quotes[0].raw_quote_len = sizeof(quote);
    ev.quotes[0].raw_sig = sig;
    ev.quotes[0].raw_sig_len = sizeof(sig);
    struct wif_certchain chain = {.n = 1};
    chain.der[0] = cert;
    chain.len[0] = 2;
    struct wif_verify_request req = {
        .challenge = FX_CHALLENGE, .id_token = FX_ID_TOKEN, .ev = &ev, .chain = &chain};
    char *body = NULL;
    size_t n = 0;
    EXPECT_OK(wif_verifier_request_build(&req, &body, &n));
    const char *want = "{\"challenge\":\"" FX_CHALLENGE
                       "\",\"gcpCredentials\":{\"serviceAccountIdTokens\":[\"" FX_ID_TOKEN
                       "\"]},\"tpmAttestation\":{\"quotes\":[{\"hashAlgo\":11,\"pcrValues\":{";
    assert_int_equal(strncmp(body, want, strlen(want)), 0);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(body, n, NULL, &doc));
    json_t *tpm = json_object_get(doc, "tpmAttestation");
    json_t *q = json_array_get(json_object_get(tpm, "quotes"), 0);
    assert_int_equal(json_object_size(json_object_get(q, "pcrValues")), 24);
    assert_string_equal(json_string_value(json_object_get(json_object_get(q, "pcrValues"), "23")),
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKo=");
    assert_string_equal(json_string_value(json_object_get(q, "rawQuote")), "/1RDRw==");
    assert_string_equal(json_string_value(json_object_get(q, "rawSignature")), "ABQ=");
    assert_string_equal(json_string_value(json_object_get(tpm, "akCert")), "MAEA");
    assert_string_equal(json_string_value(json_array_get(json_object_get(tpm, "certChain"), 0)),
                        "MAE=");
    assert_null(json_object_get(tpm, "tcgEventLog"));
    json_t *opts = json_object_get(doc, "tokenOptions");
    assert_string_equal(json_string_value(json_object_get(opts, "audience")), "");
    assert_int_equal(json_integer_value(json_object_get(opts, "tokenType")), 1);
    assert_int_equal(json_array_size(json_object_get(opts, "nonce")), 0);
    json_decref(doc);
    shd_free_wipe(body, n + 1);

    ev.nquotes = 0;
    EXPECT_ERR(wif_verifier_request_build(&req, &body, &n), SHD_ERR_USAGE);
}

/* ------------------------------------------------------------------ mode B end to end */

static struct wif_attest *new_tpm_attest(struct a_state *s, bool ecc, bool with_log)
{
    if (with_log) {
        struct logb l;
        build_log(&l);
        (void)snprintf(s->log_path, sizeof(s->log_path), "/tmp/wif-attest-log-%d", (int)getpid());
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, l.b, l.n), (ssize_t)l.n);
        close(fd);
    }
    struct wif_attest_config c = {.mode = WIF_ATTEST_MODE_TPM,
                                  .tcti = s->t.tcti,
                                  .ak_ecc = ecc,
                                  .event_log_path = with_log ? s->log_path : "",
                                  .mds_url = fx_mds_url(&s->f),
                                  .http = s->f.http,
                                  .http_mds = s->f.http_mds};
    struct wif_attest *a = NULL;
    EXPECT_OK(wif_attest_new(&c, &a));
    return a;
}

static void test_tpm_mode_round_trip(void **state)
{
    struct a_state *s = *state;
    struct wif_attest *a = new_tpm_attest(s, false, true);
    EXPECT_ERR(wif_attest_probe(a), SHD_ERR_NOT_FOUND);
    fx_tpm_provision(&s->t, &s->f, false);
    EXPECT_OK(wif_attest_probe(a));

    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    EXPECT_OK(wif_attest_token(NULL, a, &tok, &n, &exp));
    assert_int_equal(n, strlen(tok));
    assert_true(exp > (int64_t)time(NULL) + 3000 && exp <= (int64_t)time(NULL) + 3600);
    assert_string_equal(s->f.last_audience, ""); /* default: none sent */
    assert_true(s->f.last_nquotes >= 1);
    assert_int_equal(s->f.last_chain, 2);
    assert_true(s->f.last_had_log);
    assert_string_equal(s->f.last_identity_aud, FX_CHALLENGE);
    assert_string_equal(s->f.last_bearer, "Bearer " FX_SA_TOKEN);
    assert_int_equal(fx_tpm_transients(&s->t), 0);
    shd_free_wipe(tok, n + 1);

    /* Custom audience; the JWKS is cached (one fetch for both tokens). */
    EXPECT_OK(wif_attest_token("https://custom.example/aud", a, &tok, &n, &exp));
    assert_string_equal(s->f.last_audience, "https://custom.example/aud");
    assert_int_equal(atomic_load(&s->f.jwks_fetches), 1);
    assert_int_equal(atomic_load(&s->f.verify_calls), 2);
    shd_free_wipe(tok, n + 1);
    assert_int_equal(fx_tpm_transients(&s->t), 0);
    wif_attest_free(&a);
}

static void test_tpm_mode_ecc_without_log(void **state)
{
    struct a_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, true);
    struct wif_attest *a = new_tpm_attest(s, true, false);
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    EXPECT_OK(wif_attest_token("https://sts.googleapis.com", a, &tok, &n, &exp));
    assert_false(s->f.last_had_log);
    assert_string_equal(s->f.last_audience, "");
    shd_free_wipe(tok, n + 1);
    wif_attest_free(&a);
}

static void expect_token_err(struct a_state *s, struct wif_attest *a, enum fx_verifier_fault fault,
                             int code)
{
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    s->f.fault = fault;
    EXPECT_ERR(wif_attest_token(NULL, a, &tok, &n, &exp), code);
    assert_null(tok);
    assert_int_equal(fx_tpm_transients(&s->t), 0);
    s->f.fault = FX_OK;
}

static void test_tpm_mode_rejects(void **state)
{
    struct a_state *s = *state;
    fx_tpm_provision(&s->t, &s->f, false);
    struct wif_attest *a = new_tpm_attest(s, false, false);

    expect_token_err(s, a, FX_WRONG_KEY, SHD_ERR_BAD_SIGNATURE);
    expect_token_err(s, a, FX_EXPIRED, SHD_ERR_TOKEN);
    /* An unknown kid refetches the JWKS at most once per WIF_ATTEST_JWKS_MIN_REFETCH_S, so a
     * forged kid cannot make us hammer the verifier. */
    int before = atomic_load(&s->f.jwks_fetches);
    expect_token_err(s, a, FX_UNKNOWN_KID, SHD_ERR_NOT_FOUND);
    expect_token_err(s, a, FX_UNKNOWN_KID, SHD_ERR_NOT_FOUND);
    assert_int_equal(atomic_load(&s->f.jwks_fetches), before);
    expect_token_err(s, a, FX_STATUS_503, SHD_ERR_UNAVAILABLE);
    expect_token_err(s, a, FX_STATUS_403, SHD_ERR_PERMISSION);
    expect_token_err(s, a, FX_FOREIGN_NAME, SHD_ERR_INPUT);
    wif_attest_free(&a);

    /* A fresh source must fetch discovery: a foreign issuer there is refused. */
    a = new_tpm_attest(s, false, false);
    expect_token_err(s, a, FX_WRONG_ISSUER, SHD_ERR_TOKEN);
    s->f.mds_no_flavor = true;
    expect_token_err(s, a, FX_OK, SHD_ERR_INPUT);
    wif_attest_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_and_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eventlog_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eventlog_negative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eventlog_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verifier_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_build, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpm_mode_round_trip, setup_tpm, teardown),
        cmocka_unit_test_setup_teardown(test_tpm_mode_ecc_without_log, setup_tpm, teardown),
        cmocka_unit_test_setup_teardown(test_tpm_mode_rejects, setup_tpm, teardown),
    };
    /* tpm2-tss logs expected failures (probing undefined NV indices) at ERROR level. */
    (void)setenv("TSS2_LOG", "all+none", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
