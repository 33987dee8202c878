/*
 * api_test.c - the HTTP API (skr-sidecar.md §2, D1-D3): exact bodies, status codes, routing,
 * /attest/raw and /attest/combined against the signed SEV-SNP simulator of `azure-emu init`,
 * the fake report fallback, and the evidence/TCB logic (§4.1 with D5, D8).
 *
 * The simulator state is created once by running build/bin/azure-emu (found next to this test
 * binary: ../../bin/azure-emu), as a deployment would.
 */
#include "shd_test.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "certs.h"
#include "config.h"
#include "ctx.h"
#include "flags.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/snp_report.h"
#include "skr.h"
#include "snp.h"

#define ES_JSON                                                                                    \
    "ERROR: Please refer to the documentation for more information on how to use this "          \
    "sidecar.\\nACI: https://github.com/microsoft/confidential-sidecar-containers/blob/main/"     \
    "examples/skr/aci/README.md\\nKATA: https://github.com/microsoft/"                            \
    "confidential-sidecar-containers/blob/main/examples/skr/aks/README.md\\nTroubleshooting: "    \
    "https://github.com/microsoft/confidential-sidecar-containers/blob/main/examples/skr/"        \
    "TROUBLESHOOTING.md"

#define CT_JSON "application/json; charset=utf-8"

/* {\n   "akey" : "avalue"\n}\n, §3.1 */
#define VECTOR_B64 "ewogICAiYWtleSIgOiAiYXZhbHVlIgp9Cg=="
#define VECTOR_REPORT_DATA                                                                         \
    "ee986ff2bd7e3f22e29f640918627816cf8e23b9d9c312767168eab68c861c71"                            \
    "0000000000000000000000000000000000000000000000000000000000000000"

static char STATE_DIR[PATH_MAX];
static char SECCTX_DIR[PATH_MAX + 32];
static char EMPTY_ROOT[PATH_MAX];

/* ---- fake environment for skr_ctx_init ---- */

static const char *ENV_KEYS[8];
static const char *ENV_VALS[8];
static size_t ENV_N;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < ENV_N; i++) {
        if (strcmp(ENV_KEYS[i], name) == 0) {
            return ENV_VALS[i];
        }
    }
    return NULL;
}

static void env_set(const char *k, const char *v)
{
    assert_true(ENV_N < 8);
    ENV_KEYS[ENV_N] = k;
    ENV_VALS[ENV_N] = v;
    ENV_N++;
}

/* A context; with_sim: SKR_SNP_SIMULATOR set; with_secctx: the emulator's security context. */
static void ctx_make(struct skr_ctx *ctx, bool with_sim, bool with_secctx, const char *extra_flag)
{
    ENV_N = 0;
    if (with_sim) {
        env_set("SKR_SNP_SIMULATOR", STATE_DIR);
    }
    env_set("UVM_SECURITY_CONTEXT_DIR", with_secctx ? SECCTX_DIR : EMPTY_ROOT);
    const struct skr_ctx_env env = {.getenv = fake_getenv, .root = EMPTY_ROOT};
    const char *argv[] = {"skr", extra_flag};
    struct skr_options opts;
    EXPECT_OK(skr_flags_parse(extra_flag != NULL ? 2 : 1, argv, &opts));
    EXPECT_OK(skr_ctx_init(&env, &opts, ctx));
    ctx->snp_dev_sev = "/nonexistent/sev";
    ctx->snp_dev_sev_guest = "/nonexistent/sev-guest";
    ctx->snp_tsm_dir = "/nonexistent/tsm";
}

/* ---- calling the API ---- */

struct answer {
    unsigned status;
    char *body; /* NUL-terminated copy */
    size_t len;
    char ct[64];
    char location[64];
};

static void call(const struct skr_ctx *ctx, const char *method, const char *path,
                 const char *body, struct answer *ret)
{
    struct shd_http_resp *resp = NULL;
    EXPECT_OK(shd_http_resp_new(&resp));
    EXPECT_OK(skr_api_handle(ctx, method, path, (const uint8_t *)body,
                             body != NULL ? strlen(body) : 0, resp));
    ret->status = shd_http_resp_get_status(resp);
    size_t len = 0;
    const uint8_t *b = shd_http_resp_get_body(resp, &len);
    ret->body = shd_alloc(len + 1);
    assert_non_null(ret->body);
    shd_memcpy(ret->body, b, len);
    ret->len = len;
    const char *ct = shd_http_resp_get_content_type(resp);
    (void)snprintf(ret->ct, sizeof(ret->ct), "%s", ct != NULL ? ct : "");
    const char *loc = shd_http_resp_get_header(resp, "Location");
    (void)snprintf(ret->location, sizeof(ret->location), "%s", loc != NULL ? loc : "");
    shd_http_resp_free(resp);
}

static void answer_clear(struct answer *a)
{
    shd_free(a->body);
    a->body = NULL;
}

static void expect_answer(const struct skr_ctx *ctx, const char *method, const char *path,
                          const char *body, unsigned status, const char *ct, const char *want)
{
    struct answer a;
    call(ctx, method, path, body, &a);
    if (a.status != status || strcmp(a.ct, ct) != 0 || strcmp(a.body, want) != 0) {
        fail_msg("%s %s: got %u %s \"%s\", want %u %s \"%s\"", method, path, a.status, a.ct,
                 a.body, status, ct, want);
    }
    answer_clear(&a);
}

/* ---- group set-up: the simulator state ---- */

static int group_setup(void **state)
{
    (void)state;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL) {
        return -1;
    }
    *slash = '\0';
    char tmpl[] = "/tmp/skr-api-test-XXXXXX";
    if (mkdtemp(tmpl) == NULL) {
        return -1;
    }
    (void)snprintf(STATE_DIR, sizeof(STATE_DIR), "%s/state", tmpl);
    (void)snprintf(SECCTX_DIR, sizeof(SECCTX_DIR), "%s/security-context", STATE_DIR);
    (void)snprintf(EMPTY_ROOT, sizeof(EMPTY_ROOT), "%s/empty", tmpl);
    char cmd[4 * PATH_MAX + 128];
    (void)snprintf(cmd, sizeof(cmd), "mkdir '%s' && '%s/../../bin/azure-emu' init --state '%s' >/dev/null",
                   EMPTY_ROOT, exe, STATE_DIR);
    if (system(cmd) != 0) {
        (void)fprintf(stderr, "cannot run %s/../../bin/azure-emu init (build azure-emu first)\n",
                      exe);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[2 * PATH_MAX];
    char *base = strrchr(STATE_DIR, '/');
    if (base != NULL) {
        *base = '\0';
        (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", STATE_DIR);
        if (system(cmd) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- tests ---- */

static void test_report_data_vector(void **state)
{
    (void)state;
    const char *rt = "{\n   \"akey\" : \"avalue\"\n}\n";
    uint8_t rd[SHD_SNP_REPORT_DATA_LEN];
    EXPECT_OK(skr_report_data_build((const uint8_t *)rt, strlen(rt), rd));
    char hex[2 * SHD_SNP_REPORT_DATA_LEN + 1];
    EXPECT_OK(shd_hex_encode_into(rd, sizeof(rd), hex, sizeof(hex)));
    assert_string_equal(hex, VECTOR_REPORT_DATA);
    EXPECT_OK(skr_report_data_build(NULL, 0, rd));
    EXPECT_OK(shd_hex_encode_into(rd, sizeof(rd), hex, sizeof(hex)));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                             "0000000000000000000000000000000000000000000000000000000000000000");
}

static void test_status_and_routing(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, false, false, NULL);
    expect_answer(&ctx, "GET", "/status", NULL, 200, CT_JSON, "{\"message\":\"Status OK\"}");
    expect_answer(&ctx, "GET", "/nope", NULL, 404, "text/plain", "404 page not found");
    expect_answer(&ctx, "GET", "/", NULL, 404, "text/plain", "404 page not found");
    /* wrong method: 404, not 405 (gin HandleMethodNotAllowed=false) */
    expect_answer(&ctx, "POST", "/status", "{}", 404, "text/plain", "404 page not found");
    expect_answer(&ctx, "GET", "/attest/raw", NULL, 404, "text/plain", "404 page not found");
    expect_answer(&ctx, "HEAD", "/status", NULL, 404, "text/plain", "404 page not found");
    expect_answer(&ctx, "POST", "/status/", NULL, 404, "text/plain", "404 page not found");
    expect_answer(&ctx, "GET", "/status//", NULL, 404, "text/plain", "404 page not found");

    struct answer a;
    call(&ctx, "GET", "/status/", NULL, &a);
    assert_int_equal(a.status, 301);
    assert_string_equal(a.location, "/status");
    assert_string_equal(a.ct, "text/html; charset=utf-8");
    assert_string_equal(a.body, "<a href=\"/status\">Moved Permanently</a>.\n\n");
    answer_clear(&a);
    call(&ctx, "POST", "/key/release/", "{}", &a);
    assert_int_equal(a.status, 307);
    assert_string_equal(a.location, "/key/release");
    assert_int_equal(a.len, 0);
    answer_clear(&a);
    skr_ctx_clear(&ctx);
}

static void test_error_bodies_golden(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, false, false, NULL);
    expect_answer(&ctx, "POST", "/attest/raw", "", 400, CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON ": EOF\"}");
    /* Go's HTML-safe escaping of the quoted character */
    expect_answer(&ctx, "POST", "/attest/raw", "<x>", 400, CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON
                  ": invalid character '\\u003c' looking for beginning of value\"}");
    expect_answer(&ctx, "POST", "/attest/maa", "{\"maa_endpoint\":\"m\"}", 400, CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON
                  ": Key: 'MAAAttestData.RuntimeData' Error:Field validation for 'RuntimeData' "
                  "failed on the 'required' tag\"}");
    /* D1: /key/release bind errors carry their message (the original sent {"error":{}}) */
    expect_answer(&ctx, "POST", "/key/release", "{\"maa_endpoint\":\"m\",\"akv_endpoint\":\"a\"",
                  400, CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON ": unexpected EOF\"}");
    expect_answer(&ctx, "POST", "/key/release",
                  "{\"maa_endpoint\":\"m\",\"akv_endpoint\":\"a\",\"kid\":\"k\\u0000x\"}", 400,
                  CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON
                  ": field kid contains a NUL character\"}");
    expect_answer(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"!!!!\"}", 400, CT_JSON,
                  "{\"error\":\"decoding base64-encoded runtime data of request failed\\n" ES_JSON
                  ": illegal base64 data at input byte 0\"}");
    expect_answer(&ctx, "POST", "/attest/combined", "{\"runtime_data\":1}", 400, CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON
                  ": json: cannot unmarshal number into Go struct field RawAttestData.runtime_data"
                  " of type string\"}");
    skr_ctx_clear(&ctx);
}

static void test_policy_decode_error_status(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, true, true, NULL);
    shd_free(ctx.uvm.security_policy_b64);
    ctx.uvm.security_policy_b64 = shd_strdup("bad&");
    assert_non_null(ctx.uvm.security_policy_b64);
    /* §2.2: 403 on /attest/raw, §2.3: 500 on /attest/combined */
    expect_answer(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"\"}", 400, CT_JSON,
                  "{\"error\":\"invalid request format\\n" ES_JSON
                  ": Key: 'RawAttestData.RuntimeData' Error:Field validation for 'RuntimeData' "
                  "failed on the 'required' tag\"}");
    expect_answer(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"YQ==\"}", 403, CT_JSON,
                  "{\"error\":\"decoding policy from Base64 format failed\\n" ES_JSON
                  ": illegal base64 data at input byte 3\"}");
    expect_answer(&ctx, "POST", "/attest/combined", "{\"runtime_data\":\"YQ==\"}", 500, CT_JSON,
                  "{\"error\":\"decoding policy from Base64 format failed\\n" ES_JSON
                  ": illegal base64 data at input byte 3\"}");
    skr_ctx_clear(&ctx);
}

static void report_from_raw(const struct answer *a, uint8_t report[static SHD_SNP_REPORT_LEN])
{
    static const char prefix[] = "{\"report\":\"";
    assert_int_equal(a->status, 200);
    assert_int_equal(a->len, sizeof(prefix) - 1 + 2 * SHD_SNP_REPORT_LEN + 2);
    assert_memory_equal(a->body, prefix, sizeof(prefix) - 1);
    const char *hex = a->body + sizeof(prefix) - 1;
    for (size_t i = 0; i < 2 * SHD_SNP_REPORT_LEN; i++) {
        assert_true((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'));
    }
    assert_string_equal(hex + 2 * SHD_SNP_REPORT_LEN, "\"}");
    size_t got = 0;
    EXPECT_OK(shd_hex_decode_into(hex, 2 * SHD_SNP_REPORT_LEN, report, SHD_SNP_REPORT_LEN, &got));
    assert_int_equal(got, SHD_SNP_REPORT_LEN);
}

static void test_attest_raw_simulator(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, true, true, NULL);
    struct answer a;
    call(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"" VECTOR_B64 "\"}", &a);
    assert_string_equal(a.ct, CT_JSON);
    uint8_t report[SHD_SNP_REPORT_LEN];
    report_from_raw(&a, report);
    answer_clear(&a);
    struct shd_snp_report parsed;
    EXPECT_OK(shd_snp_report_parse(report, sizeof(report), &parsed));
    assert_int_equal(parsed.reported_tcb, 0x7308000000000003ull);
    char hex[2 * SHD_SNP_REPORT_DATA_LEN + 1];
    EXPECT_OK(shd_hex_encode_into(parsed.report_data, 64, hex, sizeof(hex)));
    assert_string_equal(hex, VECTOR_REPORT_DATA);

    /* D2: URL-safe and unpadded runtime data are accepted: "-_-_" = fb ff bf */
    call(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"-_-_\"}", &a);
    report_from_raw(&a, report);
    answer_clear(&a);
    uint8_t rd[SHD_SNP_REPORT_DATA_LEN];
    EXPECT_OK(skr_report_data_build((const uint8_t *)"\xfb\xff\xbf", 3, rd));
    assert_memory_equal(report + 0x50, rd, sizeof(rd));
    call(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"YQ\"}", &a);
    report_from_raw(&a, report);
    answer_clear(&a);
    EXPECT_OK(skr_report_data_build((const uint8_t *)"a", 1, rd));
    assert_memory_equal(report + 0x50, rd, sizeof(rd));
    skr_ctx_clear(&ctx);
}

static void test_attest_combined(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, true, true, NULL);
    struct answer a;
    call(&ctx, "POST", "/attest/combined", "{\"runtime_data\":\"" VECTOR_B64 "\"}", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.ct, CT_JSON);
    /* field order is fixed: endorsed_tcb, endorsements, evidence, uvm_endorsements */
    const char *p0 = strstr(a.body, "{\"endorsed_tcb\":\"7308000000000003\",\"endorsements\":\"");
    const char *p1 = strstr(a.body, "\",\"evidence\":\"");
    const char *p2 = strstr(a.body, "\",\"uvm_endorsements\":\"");
    assert_ptr_equal(p0, a.body);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_true(p1 < p2);
    /* evidence: std base64 of the raw report */
    const char *ev = p1 + strlen("\",\"evidence\":\"");
    uint8_t *report = NULL;
    size_t rlen = 0;
    EXPECT_OK(shd_b64_decode(ev, (size_t)(p2 - ev), SHD_B64_STD_PAD, &report, &rlen));
    assert_int_equal(rlen, SHD_SNP_REPORT_LEN);
    uint8_t rd[SHD_SNP_REPORT_DATA_LEN];
    size_t got = 0;
    EXPECT_OK(shd_hex_decode_into(VECTOR_REPORT_DATA, 128, rd, sizeof(rd), &got));
    assert_memory_equal(report + 0x50, rd, sizeof(rd));
    shd_free(report);
    /* endorsements: vcekCert + certificateChain of the THIM JSON */
    const char *en = p0 + strlen("{\"endorsed_tcb\":\"7308000000000003\",\"endorsements\":\"");
    uint8_t *chain = NULL;
    size_t clen = 0;
    EXPECT_OK(shd_b64_decode(en, (size_t)(p1 - en), SHD_B64_STD_PAD, &chain, &clen));
    struct skr_certs certs;
    const char *thim = ctx.uvm.host_amd_cert_b64;
    EXPECT_OK(skr_thim_parse(thim, strlen(thim), true, &certs));
    assert_int_equal(clen, strlen(certs.vcek_pem) + strlen(certs.chain_pem));
    assert_memory_equal(chain, certs.vcek_pem, strlen(certs.vcek_pem));
    skr_certs_clear(&certs);
    shd_free(chain);
    /* uvm_endorsements: reference-info-base64 verbatim */
    const char *uvm = p2 + strlen("\",\"uvm_endorsements\":\"");
    assert_int_equal(strlen(uvm), strlen(ctx.uvm.reference_info_b64) + 2);
    assert_memory_equal(uvm, ctx.uvm.reference_info_b64, strlen(ctx.uvm.reference_info_b64));
    answer_clear(&a);
    skr_ctx_clear(&ctx);
}

static void test_fake_report_fallback(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, false, true, NULL);
    struct answer a;
    call(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"" VECTOR_B64 "\"}", &a);
    uint8_t report[SHD_SNP_REPORT_LEN];
    report_from_raw(&a, report);
    answer_clear(&a);
    /* the original's template: VERSION 1, REPORTED_TCB 0x31 << 56, its CHIP_ID */
    assert_memory_equal(report, "\x01\x00\x00\x00\x01\x00\x00\x00\x1f\x00\x03\x00", 12);
    assert_memory_equal(report + 0x180, "\x00\x00\x00\x00\x00\x00\x00\x31", 8);
    assert_memory_equal(report + 0x1a0, "\xe6\xc8\x67\x96", 4);
    assert_memory_equal(report + 0x2a0, "\x24\x7c\x75\x25", 4);
    uint8_t rd[SHD_SNP_REPORT_DATA_LEN];
    size_t got = 0;
    EXPECT_OK(shd_hex_decode_into(VECTOR_REPORT_DATA, 128, rd, sizeof(rd), &got));
    assert_memory_equal(report + 0x50, rd, sizeof(rd));
    /* HOST_DATA = SHA-256(decoded policy) */
    uint8_t *policy = NULL;
    size_t plen = 0;
    EXPECT_OK(skr_policy_decode(&ctx, &policy, &plen));
    uint8_t digest[32];
    EXPECT_OK(shd_crypto_sha256(policy, plen, digest));
    shd_free(policy);
    assert_memory_equal(report + 0xc0, digest, sizeof(digest));
    skr_ctx_clear(&ctx);
}

static void test_evidence(void **state)
{
    (void)state;
    uint8_t rd[SHD_SNP_REPORT_DATA_LEN] = {1, 2, 3};
    struct skr_evidence ev;
    char buf[1024];

    /* certificates match the simulated chip: report + VCEK + ASK + ARK */
    struct skr_ctx ctx;
    ctx_make(&ctx, true, true, NULL);
    EXPECT_OK(skr_evidence_collect(&ctx, rd, &ev));
    assert_int_equal(ev.tcbm, 0x7308000000000003ull);
    assert_false(ev.fake_report);
    assert_memory_equal(ev.report + 0x50, rd, sizeof(rd));
    assert_int_equal(skr_snp_reported_tcb(ev.report), ev.tcbm);
    assert_int_equal(ev.cert_chain_len, strlen(ev.cert_chain_pem));
    size_t npem = 0;
    for (const char *p = ev.cert_chain_pem; (p = strstr(p, "BEGIN CERTIFICATE")) != NULL; p++) {
        npem++;
    }
    assert_int_equal(npem, 3);
    assert_string_equal(ev.uvm_reference_info_b64, ctx.uvm.reference_info_b64);
    assert_non_null(ev.uvm_reference_info);
    assert_true(ev.uvm_reference_info_len > 0);
    skr_evidence_clear(&ev);
    skr_ctx_clear(&ctx);

    /* -allowTestingMismatchedTCB without a certcache: the refresh path fails clearly */
    ctx_make(&ctx, true, true, "-allowTestingMismatchedTCB");
    shd_result r = skr_evidence_collect(&ctx, rd, &ev);
    assert_int_equal(r.err, SHD_ERR_CONFIG);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "Refreshing CertChain failed: failed to retrieve cert chain: "
                             "certificate endpoint not set");
    skr_ctx_clear(&ctx);

    /* an unknown certcache type fails at refresh time like the original */
    char *args = NULL;
    const char *json = "{\"certcache\":{\"endpoint_type\":\"Bogus\",\"endpoint\":\"e\"}}";
    EXPECT_OK(shd_b64_encode((const uint8_t *)json, strlen(json), SHD_B64_STD_PAD, &args, NULL));
    char flag[256];
    (void)snprintf(flag, sizeof(flag), "-base64=%s", args);
    shd_free(args);
    ctx_make(&ctx, false, true, flag);
    r = skr_evidence_collect(&ctx, rd, &ev);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "Refreshing CertChain failed: invalid endpoint type: Bogus");
    skr_ctx_clear(&ctx);

    /* D8: no certificates yet */
    ctx_make(&ctx, true, false, NULL);
    r = skr_evidence_collect(&ctx, rd, &ev);
    assert_int_equal(r.err, SHD_ERR_UNAVAILABLE);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "AMD certificates are not available yet (no fetch attempted yet)");
    expect_answer(&ctx, "POST", "/attest/combined", "{\"runtime_data\":\"YQ==\"}", 500, CT_JSON,
                  "{\"error\":\"failure to fetch attestation report bytes\\n" ES_JSON
                  ": AMD certificates are not available yet (no fetch attempted yet)\"}");
    /* /attest/raw needs no certificates */
    struct answer a;
    call(&ctx, "POST", "/attest/raw", "{\"runtime_data\":\"YQ==\"}", &a);
    assert_int_equal(a.status, 200);
    answer_clear(&a);
    skr_ctx_clear(&ctx);
}

struct par {
    const struct skr_ctx *ctx;
    int ok;
};

static void *par_worker(void *arg)
{
    struct par *p = arg;
    for (int i = 0; i < 5; i++) {
        struct shd_http_resp *resp = NULL;
        if (shd_is_err(shd_http_resp_new(&resp))) {
            return NULL;
        }
        const char *body = "{\"runtime_data\":\"" VECTOR_B64 "\"}";
        shd_result r = skr_api_handle(p->ctx, "POST", "/attest/combined",
                                      (const uint8_t *)body, strlen(body), resp);
        if (shd_is_ok(r) && shd_http_resp_get_status(resp) == 200) {
            p->ok++;
        }
        shd_http_resp_free(resp);
    }
    return NULL;
}

static void test_parallel_requests(void **state)
{
    (void)state;
    struct skr_ctx ctx;
    ctx_make(&ctx, true, true, NULL);
    pthread_t th[4];
    struct par ps[4];
    for (int i = 0; i < 4; i++) {
        ps[i] = (struct par){.ctx = &ctx, .ok = 0};
        assert_int_equal(pthread_create(&th[i], NULL, par_worker, &ps[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ps[i].ok, 5);
    }
    skr_ctx_clear(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_data_vector),
        cmocka_unit_test(test_status_and_routing),
        cmocka_unit_test(test_error_bodies_golden),
        cmocka_unit_test(test_policy_decode_error_status),
        cmocka_unit_test(test_attest_raw_simulator),
        cmocka_unit_test(test_attest_combined),
        cmocka_unit_test(test_fake_report_fallback),
        cmocka_unit_test(test_evidence),
        cmocka_unit_test(test_parallel_requests),
    };
    return cmocka_run_group_tests_name("skr_api", tests, group_setup, group_teardown);
}
