/*
 * serve_test.c - the serving infrastructure of `azure-emu serve` (state.c, accesslog.c, emu.h)
 * and the MAA service end to end through a real HTTPS listener:
 *   - state loading and its refusals, Host checks, route matching (case, trailing slash, 405);
 *   - aemu_http_client_new reaches the MAA listener under a real MAA host name with the state CA;
 *   - POST /attest/SevSnpVM with a simulator report as the sidecar sends it gives a token that
 *     verifies against /certs with RS256 pinned, with exactly the expected claims;
 *   - bad evidence gives MAA's 400 body; injected faults (503 + Retry-After, delay, malformed,
 *     a dropped connection after a delay, the real answer with its body removed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "emu.h"
#include "faults.h"
#include "init.h"
#include "maa.h"
#include "shd/codec.h"
#include "shd/crypto_x509.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/jose.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "snpsim.h"
#include "util.h"

#define HOST "sharedeus.eus.attest.azure.net"
#define RUNTIME                                                                                    \
    "{\"keys\":[{\"e\":\"AQAB\",\"key_ops\":[\"encrypt\"],\"kid\":\"k\",\"kty\":\"RSA\"}]}"

struct fx {
    char dir[64];
    struct aemu_state *st;
    struct aemu_service *svc;
    struct aemu_front front;
    struct shd_http_server *srv;
    struct shd_http_client *client;
};

static char *path_of(const char *dir, const char *name)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static int setup(void **state)
{
    struct fx *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/aemu-serve-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct aemu_init_opts o = {.state_dir = f->dir, .root_rsa_bits = 2048};
    EXPECT_OK(aemu_init_run(&o));
    struct aemu_state_options so = {.state_dir = f->dir};
    EXPECT_OK(aemu_state_load(&so, &f->st));
    EXPECT_OK(aemu_maa_service_new(f->st, &f->svc));
    f->front = (struct aemu_front){.svc = f->svc, .faults = f->st->faults};
    const struct shd_http_route all = {NULL, "/", aemu_front_handle, SHD_HTTP_ROUTE_PREFIX};
    struct shd_http_server_options opts = {
        .routes = &all, .nroutes = 1, .ctx = &f->front, .max_body_bytes = 1024 * 1024};
    EXPECT_OK(shd_http_server_create(&opts, &f->srv));
    EXPECT_OK(shd_http_server_listen_tls("127.0.0.1", 0, f->st->server_cert_pem,
                                         f->st->server_key_pem, f->srv, &f->st->ports.maa));
    EXPECT_OK(shd_http_server_start(f->srv));
    EXPECT_OK(aemu_http_client_new(f->st, &f->client));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    shd_http_client_free(f->client);
    shd_http_server_free(f->srv);
    aemu_service_free(f->svc);
    aemu_state_free(f->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    shd_free(f);
    return 0;
}

static struct shd_http_response *req(const struct fx *f, const char *method, const char *url,
                                     const char *body)
{
    struct shd_http_header h[] = {{"Content-Type", "application/json"}};
    struct shd_http_request r = {
        .method = method,
        .url = url,
        .headers = h,
        .nheaders = body != NULL ? 1 : 0,
        .body = (const uint8_t *)body,
        .body_len = body != NULL ? strlen(body) : 0,
    };
    struct shd_http_response *resp = NULL;
    EXPECT_OK(shd_http_client_do(f->client, &r, &resp, NULL));
    return resp;
}

static const char *body_of(const struct shd_http_response *r)
{
    return (const char *)shd_http_response_body(r, NULL);
}

/* ------------------------------------------------------------------------------------------ */

static void test_host_is_served(void **state)
{
    (void)state;
    static const struct {
        const char *host;
        bool ok;
    } cases[] = {
        {"sharedeus.eus.attest.azure.net", true},
        {"SharedEUS.eus.ATTEST.azure.net:443", true},
        {"myattest.attest.azure.net:8443", true},
        {"localhost:1234", true},
        {"127.0.0.1", true},
        {"[::1]:9", true},
        {".attest.azure.net", false},
        {"attest.azure.net", false},
        {"evil.attest.azure.net.example.com", false},
        {"a..attest.azure.net", false},
        {"x.attest.azure.net:0", false},
        {"x.attest.azure.net:65536", false},
        {"x.attest.azure.net:", false},
        {"x y.attest.azure.net", false},
        {"x.attest.azure.net/", false},
        {"[::2]", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(aemu_host_is_served(cases[i].host, ".attest.azure.net"), cases[i].ok);
    }
    assert_false(aemu_host_is_served("x.vault.azure.net", ".attest.azure.net"));
    assert_true(aemu_host_is_served("x.vault.azure.net", ".vault.azure.net"));
}

static void test_state_load_refusals(void **state)
{
    struct fx *f = *state;
    struct aemu_state *st = NULL;
    struct aemu_state_options o = {.state_dir = "/nonexistent/aemu"};
    EXPECT_ERR(aemu_state_load(&o, &st), SHD_ERR_NOT_FOUND);
    o = (struct aemu_state_options){.state_dir = ""};
    EXPECT_ERR(aemu_state_load(&o, &st), SHD_ERR_CONFIG);
    o = (struct aemu_state_options){.state_dir = f->dir, .tenant_id = "not-a-guid"};
    EXPECT_ERR(aemu_state_load(&o, &st), SHD_ERR_CONFIG);
    o = (struct aemu_state_options){.state_dir = f->dir, .compliance_status = "Bad Status"};
    EXPECT_ERR(aemu_state_load(&o, &st), SHD_ERR_CONFIG);
    /* A signing key readable by others. */
    const char *key = path_of(f->dir, "maa-signing.key");
    assert_int_equal(chmod(key, 0644), 0);
    o = (struct aemu_state_options){.state_dir = f->dir};
    EXPECT_ERR(aemu_state_load(&o, &st), SHD_ERR_PERMISSION);
    assert_int_equal(chmod(key, 0600), 0);
    assert_null(st);
    /* Options come through. */
    o = (struct aemu_state_options){.state_dir = f->dir,
                                    .compliance_status = "azure-signed-katacc-uvm",
                                    .tenant_id = "00000000-1111-2222-3333-444444444444"};
    EXPECT_OK(aemu_state_load(&o, &st));
    assert_string_equal(st->compliance_status, "azure-signed-katacc-uvm");
    assert_string_equal(st->aad_issuer,
                        "https://sts.windows.net/00000000-1111-2222-3333-444444444444/");
    assert_int_equal(strlen(st->maa_kid), AEMU_KID_LEN);
    assert_int_equal(st->chip_tcbm, 0x7308000000000003ull);
    assert_int_equal(sk_X509_num(st->amd_roots), 4);
    aemu_state_free(st);
}

/* ------------------------------------------------------------------------------------------ */
/* The attest call end to end                                                                  */

static char *b64u(const void *p, size_t n, unsigned flags)
{
    char *s = NULL;
    EXPECT_OK(shd_b64_encode(p, n, flags, &s, NULL));
    return s;
}

/* The body skr sends (skr-sidecar.md §4.3), around a fresh simulator report. */
static char *attest_body(const struct fx *f, const char *runtime, unsigned flags, const char *nonce,
                         uint8_t ret_report[static 1184])
{
    struct snpsim *sim = NULL;
    EXPECT_OK(snpsim_open(f->dir, &sim));
    uint8_t rd[64] = {0};
    SHA256((const uint8_t *)RUNTIME, strlen(RUNTIME), rd);
    EXPECT_OK(snpsim_get_report(sim, rd, 2, ret_report));
    snpsim_free(&sim);
    size_t n = 0;
    char *vcek = (char *)shd_test_read_file(path_of(f->dir, "snp/vcek.pem"), &n);
    char *chain = (char *)shd_test_read_file(path_of(f->dir, "snp/cert_chain.pem"), &n);
    char *pem = shd_alloc(strlen(vcek) + strlen(chain) + 1);
    snprintf(pem, strlen(vcek) + strlen(chain) + 1, "%s%s", vcek, chain);
    uint8_t *ri_b64 =
        shd_test_read_file(path_of(f->dir, "security-context/reference-info-base64"), &n);
    uint8_t *cose = NULL;
    size_t cose_len = 0;
    EXPECT_OK(shd_b64_decode((const char *)ri_b64, n, SHD_B64_STD_PAD, &cose, &cose_len));
    char *cose_b = b64u(cose, cose_len, flags);
    char uvm[8192];
    snprintf(uvm, sizeof(uvm), "{\"Uvm\":[\"%s\"]}", cose_b);
    char *rep_b = b64u(ret_report, 1184, flags);
    char *pem_b = b64u(pem, strlen(pem), flags);
    char *uvm_b = b64u(uvm, strlen(uvm), flags);
    size_t cap = strlen(rep_b) + strlen(pem_b) + strlen(uvm_b) + 128;
    char *inner = shd_alloc(cap);
    snprintf(inner, cap, "{\"SnpReport\":\"%s\",\"VcekCertChain\":\"%s\",\"Endorsements\":\"%s\"}",
             rep_b, pem_b, uvm_b);
    char *inner_b = b64u(inner, strlen(inner), flags);
    char *rt_b = b64u(runtime, strlen(runtime), flags);
    cap = strlen(inner_b) + strlen(rt_b) + 256;
    char *body = shd_alloc(cap);
    snprintf(body, cap,
             "{\"report\":\"%s\",\"runtimeData\":{\"data\":\"%s\",\"dataType\":\"JSON\"},"
             "\"initTimeData\":{\"data\":\"\",\"dataType\":\"\"},\"nonce\":%s}",
             inner_b, rt_b, nonce);
    shd_free(vcek);
    shd_free(chain);
    shd_free(pem);
    shd_free(ri_b64);
    shd_free(cose);
    shd_free(cose_b);
    shd_free(rep_b);
    shd_free(pem_b);
    shd_free(uvm_b);
    shd_free(inner);
    shd_free(inner_b);
    shd_free(rt_b);
    return body;
}

static json_t *hexj(const uint8_t *p, size_t n)
{
    char *h = NULL;
    EXPECT_OK(shd_hex_encode(p, n, &h));
    json_t *j = json_string(h);
    shd_free(h);
    return j;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The claims the token must carry, read straight off the report bytes (azure-formats.md §1.1). */
static json_t *expected_claims(const struct fx *f, const uint8_t *r, const char *nonce)
{
    uint64_t policy = 0;
    for (int i = 7; i >= 0; i--) {
        policy = policy << 8 | r[8 + i];
    }
    uint8_t *ca_der = NULL;
    size_t ca_len = 0;
    EXPECT_OK(shd_crypto_x509_export_der(f->st->ca_cert, &ca_der, &ca_len));
    uint8_t fp[32];
    SHA256(ca_der, ca_len, fp);
    shd_free(ca_der);
    char *fp_b = b64u(fp, sizeof(fp), SHD_B64_URL_NOPAD);
    char did[160];
    snprintf(did, sizeof(did), "did:x509:0:sha256:%s::eku:1.3.6.1.4.1.311.76.59.1.2", fp_b);
    shd_free(fp_b);
    char *meas = NULL;
    EXPECT_OK(shd_hex_encode(r + 0x90, 48, &meas));
    json_t *runtime = NULL;
    EXPECT_OK(shd_json_parse(RUNTIME, strlen(RUNTIME), NULL, &runtime));
    json_t *e = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:o, s:i, s:o, s:o, s:o, s:b, s:o, s:i, s:b, s:o, "
        "s:o, s:b, s:i, s:i, s:{s:s, s:s}, s:{s:s, s:s}, s:i, s:s}",
        "iss", "https://" HOST, "nonce", nonce, "x-ms-attestation-type", "sevsnpvm",
        "x-ms-compliance-status", "azure-compliant-uvm", "x-ms-runtime", runtime,
        "x-ms-sevsnpvm-authorkeydigest", hexj(r + 0x110, 48), "x-ms-sevsnpvm-bootloader-svn",
        (int)r[0x180], "x-ms-sevsnpvm-familyId", hexj(r + 0x10, 16), "x-ms-sevsnpvm-guestsvn",
        (int)le32(r + 4), "x-ms-sevsnpvm-hostdata", hexj(r + 0xc0, 32), "x-ms-sevsnpvm-idkeydigest",
        hexj(r + 0xe0, 48), "x-ms-sevsnpvm-imageId", hexj(r + 0x20, 16),
        "x-ms-sevsnpvm-is-debuggable", (int)((policy >> 19) & 1), "x-ms-sevsnpvm-launchmeasurement",
        hexj(r + 0x90, 48), "x-ms-sevsnpvm-microcode-svn", (int)r[0x187],
        "x-ms-sevsnpvm-migration-allowed", (int)((policy >> 18) & 1), "x-ms-sevsnpvm-reportdata",
        hexj(r + 0x50, 64), "x-ms-sevsnpvm-reportid", hexj(r + 0x140, 32),
        "x-ms-sevsnpvm-smt-allowed", (int)((policy >> 16) & 1), "x-ms-sevsnpvm-snpfw-svn",
        (int)r[0x186], "x-ms-sevsnpvm-tee-svn", (int)r[0x181], "x-ms-sevsnpvm-uvm-endorsement",
        "x-ms-sevsnpvm-guestsvn", "0", "x-ms-sevsnpvm-launchmeasurement", meas,
        "x-ms-sevsnpvm-uvm-endorsement-headers", "feed", "ContainerPlat-AMD-UVM", "iss", did,
        "x-ms-sevsnpvm-vmpl", (int)le32(r + 0x30), "x-ms-ver", "1.0");
    assert_non_null(e);
    assert_int_equal(
        json_object_set_new(e, "x-ms-policy-hash",
                            json_string("9NY0VnTQ-IiBriBplVUpFbczcDaEBUwsiFYAzHu_gco")),
        0);
    shd_free(meas);
    return e;
}

/* Checks the token against /certs (RS256 pinned) and returns its claims (a copy). */
static json_t *token_claims(const struct fx *f, const char *token)
{
    struct shd_http_response *certs = req(f, "GET", "https://" HOST "/certs", NULL);
    assert_int_equal(shd_http_response_status(certs), 200);
    json_t *jwks = NULL;
    EXPECT_OK(shd_json_parse(body_of(certs), strlen(body_of(certs)), NULL, &jwks));
    struct shd_jws *jws = NULL;
    EXPECT_OK(shd_jws_parse(token, strlen(token), 0, &jws));
    const json_t *h = shd_jws_header(jws);
    assert_string_equal(json_string_value(json_object_get(h, "jku")), "https://" HOST "/certs");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(shd_jws_kid(jws), f->st->maa_kid);
    assert_int_equal(json_object_size(h), 4);
    EXPECT_OK(shd_jws_verify_jwks(jwks, SHD_JWS_RS256, jws));
    const json_t *claims = NULL;
    EXPECT_OK(shd_jws_payload_json(jws, &claims));
    json_t *copy = json_deep_copy(claims);
    shd_jws_free(&jws);
    json_decref(jwks);
    shd_http_response_free(certs);
    return copy;
}

static void test_attest_end_to_end(void **state)
{
    struct fx *f = *state;
    uint8_t report[1184];
    char *body = attest_body(f, RUNTIME, SHD_B64_URL_PAD, "9223372036854775808", report);
    int64_t t0 = (int64_t)time(NULL);
    struct shd_http_response *r =
        req(f, "POST", "https://" HOST "/attest/SevSnpVM?api-version=2020-10-01", body);
    int64_t t1 = (int64_t)time(NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    assert_string_equal(shd_http_response_header(r, "Content-Type"),
                        "application/json; charset=utf-8");
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(body_of(r), strlen(body_of(r)), NULL, &doc));
    assert_int_equal(json_object_size(doc), 1);
    json_t *claims = token_claims(f, json_string_value(json_object_get(doc, "token")));

    /* Times and jti first, then everything else exactly. */
    json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
    assert_true(iat >= t0 && iat <= t1);
    assert_int_equal(json_integer_value(json_object_get(claims, "nbf")), iat);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), iat + 28800);
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    assert_non_null(jti);
    assert_int_equal(strlen(jti), 64);
    assert_int_equal(strspn(jti, "0123456789abcdef"), 64);
    json_object_del(claims, "iat");
    json_object_del(claims, "nbf");
    json_object_del(claims, "exp");
    json_object_del(claims, "jti");
    json_t *want = expected_claims(f, report, "9223372036854775808");
    if (!json_equal(claims, want)) {
        char *got = NULL;
        char *exp = NULL;
        size_t n = 0;
        EXPECT_OK(aemu_json_dump(claims, JSON_SORT_KEYS | JSON_COMPACT, &got, &n));
        EXPECT_OK(aemu_json_dump(want, JSON_SORT_KEYS | JSON_COMPACT, &exp, &n));
        print_error("got  %s\nwant %s\n", got, exp);
        shd_free(got);
        shd_free(exp);
        fail();
    }
    json_decref(want);
    json_decref(claims);
    json_decref(doc);
    shd_http_response_free(r);
    shd_free(body);

    /* Unpadded base64url, a string nonce, api-version 2022-08-01, any path case. */
    body = attest_body(f, RUNTIME, SHD_B64_URL_NOPAD, "\"n-1\"", report);
    r = req(f, "POST", "https://" HOST "/attest/sevsnpvm?api-version=2022-08-01", body);
    assert_int_equal(shd_http_response_status(r), 200);
    shd_http_response_free(r);
    shd_free(body);
}

static void test_attest_errors(void **state)
{
    struct fx *f = *state;
    uint8_t report[1184];
    /* runtimeData that REPORT_DATA does not bind. */
    char *body = attest_body(f, RUNTIME " ", SHD_B64_URL_PAD, "1", report);
    struct shd_http_response *r =
        req(f, "POST", "https://" HOST "/attest/SevSnpVm?api-version=2020-10-01", body);
    assert_int_equal(shd_http_response_status(r), 400);
    assert_string_equal(body_of(r), "{\"error\":{\"code\":\"InvalidParameter\",\"message\":"
                                    "\"attestation failed: REPORT_DATA does not hold the "
                                    "SHA-256 of runtimeData\"}}");
    assert_string_equal(shd_http_response_header(r, "x-ms-error-code"), "InvalidParameter");
    shd_http_response_free(r);
    shd_free(body);

    r = req(f, "POST", "https://" HOST "/attest/SevSnpVm", "{}");
    assert_int_equal(shd_http_response_status(r), 400);
    assert_string_equal(body_of(r), "{\"error\":{\"code\":\"InvalidParameter\",\"message\":"
                                    "\"api-version must be one of " AEMU_MAA_API_VERSIONS "\"}}");
    shd_http_response_free(r);

    r = req(f, "POST", "https://" HOST "/attest/SevSnpVm?api-version=2020-10-01", "{\"report\"");
    assert_int_equal(shd_http_response_status(r), 400);
    shd_http_response_free(r);

    r = req(f, "GET", "https://" HOST "/attest/SevSnpVm?api-version=2020-10-01", NULL);
    assert_int_equal(shd_http_response_status(r), 405);
    shd_http_response_free(r);
    r = req(f, "GET", "https://" HOST "/nope", NULL);
    assert_int_equal(shd_http_response_status(r), 404);
    assert_string_equal(body_of(r), "{\"error\":{\"code\":\"NotFound\",\"message\":"
                                    "\"the requested resource does not exist\"}}");
    shd_http_response_free(r);
}

static void test_openid_and_issuer_from_host(void **state)
{
    struct fx *f = *state;
    struct shd_http_response *r = req(
        f, "GET", "https://SharedWEU.weu.attest.azure.net/.well-known/openid-configuration", NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(body_of(r), strlen(body_of(r)), NULL, &doc));
    assert_string_equal(json_string_value(json_object_get(doc, "issuer")),
                        "https://sharedweu.weu.attest.azure.net");
    assert_string_equal(json_string_value(json_object_get(doc, "jwks_uri")),
                        "https://sharedweu.weu.attest.azure.net/certs");
    json_decref(doc);
    shd_http_response_free(r);
}

static void test_faults(void **state)
{
    struct fx *f = *state;
    struct aemu_fault rule = {0};
    static const char spec[] = "{\"service\":\"maa\",\"path_prefix\":\"/certs\",\"count\":2,"
                               "\"status\":503,\"retry_after\":1}";
    EXPECT_OK(aemu_fault_parse(spec, strlen(spec), &rule));
    EXPECT_OK(aemu_faults_add(&rule, f->st->faults));
    for (int i = 0; i < 2; i++) {
        struct shd_http_response *r = req(f, "GET", "https://" HOST "/certs", NULL);
        assert_int_equal(shd_http_response_status(r), 503);
        assert_string_equal(shd_http_response_header(r, "Retry-After"), "1");
        assert_string_equal(body_of(r), "{\"error\":{\"code\":\"InjectedFault\",\"message\":"
                                        "\"azure-emu injected status 503\"}}");
        shd_http_response_free(r);
    }
    struct shd_http_response *r = req(f, "GET", "https://" HOST "/certs", NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    shd_http_response_free(r);

    /* A delay, then the real answer cut in half. */
    static const char cut[] =
        "{\"service\":\"*\",\"count\":1,\"delay_ms\":200,\"body\":\"malformed\"}";
    EXPECT_OK(aemu_fault_parse(cut, strlen(cut), &rule));
    EXPECT_OK(aemu_faults_add(&rule, f->st->faults));
    struct timespec a;
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    r = req(f, "GET", "https://" HOST "/certs", NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= 200);
    assert_int_equal(shd_http_response_status(r), 200);
    json_t *doc = NULL;
    EXPECT_ERR(shd_json_parse(body_of(r), strlen(body_of(r)), NULL, &doc), SHD_ERR_JSON);
    shd_http_response_free(r);
    aemu_faults_clear(f->st->faults);
}

/* Milliseconds one request took; *ret_r gets the result, *ret_resp the response (or NULL). */
static long timed_get(const struct fx *f, const char *url, shd_result *ret_r,
                      struct shd_http_response **ret_resp)
{
    struct shd_http_request rq = {.method = "GET", .url = url};
    struct timespec a;
    struct timespec b;
    *ret_resp = NULL;
    clock_gettime(CLOCK_MONOTONIC, &a);
    *ret_r = shd_http_client_do(f->client, &rq, ret_resp, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
}

/* "drop": after the delay, the TLS connection closes without an HTTP byte (an empty reply). */
static void test_fault_drop(void **state)
{
    struct fx *f = *state;
    struct aemu_fault rule = {0};
    static const char spec[] = "{\"service\":\"maa\",\"method\":\"GET\",\"path_prefix\":\"/certs\","
                               "\"count\":2,\"delay_ms\":150,\"status\":503,\"drop\":true}";
    EXPECT_OK(aemu_fault_parse(spec, strlen(spec), &rule));
    assert_true(rule.drop);
    EXPECT_OK(aemu_faults_add(&rule, f->st->faults));
    for (int i = 0; i < 2; i++) {
        shd_result r;
        struct shd_http_response *resp = NULL;
        long ms = timed_get(f, "https://" HOST "/certs", &r, &resp);
        EXPECT_ERR(r, SHD_ERR_IO);
        unsigned long code = 0;
        assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_CURL);
        assert_int_equal(code, 52); /* CURLE_GOT_NOTHING: "Empty reply from server" */
        assert_null(resp);
        assert_true(ms >= 150);
    }
    /* Used up: the listener still serves, on new connections. */
    struct shd_http_response *r = req(f, "GET", "https://" HOST "/certs", NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    assert_true(strncmp(body_of(r), "{\"keys\":[", 9) == 0);
    shd_http_response_free(r);
    /* The method filter holds: a drop rule for POST leaves GET alone. */
    static const char post_only[] = "{\"service\":\"maa\",\"method\":\"POST\",\"drop\":true}";
    EXPECT_OK(aemu_fault_parse(post_only, strlen(post_only), &rule));
    EXPECT_OK(aemu_faults_add(&rule, f->st->faults));
    r = req(f, "GET", "https://" HOST "/certs", NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    shd_http_response_free(r);
    aemu_faults_clear(f->st->faults);
}

/* "body":"empty" without a status: the real answer (status, type) with its body removed. */
static void test_fault_empty_real_answer(void **state)
{
    struct fx *f = *state;
    struct aemu_fault rule = {0};
    static const char spec[] =
        "{\"service\":\"maa\",\"path_prefix\":\"/certs\",\"count\":1,\"body\":\"empty\"}";
    EXPECT_OK(aemu_fault_parse(spec, strlen(spec), &rule));
    EXPECT_OK(aemu_faults_add(&rule, f->st->faults));
    struct shd_http_response *r = req(f, "GET", "https://" HOST "/certs", NULL);
    size_t len = 1;
    assert_int_equal(shd_http_response_status(r), 200);
    assert_string_equal((const char *)shd_http_response_body(r, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(shd_http_response_header(r, "Content-Length"), "0");
    assert_string_equal(shd_http_response_header(r, "Content-Type"),
                        "application/json; charset=utf-8");
    shd_http_response_free(r);
    /* Used up: the next answer has its body again. */
    r = req(f, "GET", "https://" HOST "/certs", NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    assert_true(strncmp(body_of(r), "{\"keys\":[", 9) == 0);
    shd_http_response_free(r);
    /* The real answer's status stays too: an unknown path keeps its 404, without the body. */
    EXPECT_OK(aemu_fault_parse(spec, strlen(spec), &rule));
    snprintf(rule.path_prefix, sizeof(rule.path_prefix), "/nowhere");
    EXPECT_OK(aemu_faults_add(&rule, f->st->faults));
    r = req(f, "GET", "https://" HOST "/nowhere", NULL);
    assert_int_equal(shd_http_response_status(r), 404);
    assert_string_equal(body_of(r), "");
    shd_http_response_free(r);
    aemu_faults_clear(f->st->faults);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_is_served),
        cmocka_unit_test(test_state_load_refusals),
        cmocka_unit_test(test_attest_end_to_end),
        cmocka_unit_test(test_attest_errors),
        cmocka_unit_test(test_openid_and_issuer_from_host),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_fault_drop),
        cmocka_unit_test(test_fault_empty_real_answer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
