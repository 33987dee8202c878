/*
 * api_test.c - the Unix-socket API end to end against fakes: routes, /token, /key/release byte
 * for byte like skr's (an RSA PKCS#8 key and a 32-byte symmetric key), error objects naming
 * the failing step, wrapped_key_file confinement, and the SO_PEERCRED allow-list.
 */
#include "shd_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "api.h"
#include "config.h"
#include "creds.h"
#include "ctx.h"
#include "kms.h"
#include "shd/buf.h"
#include "shd/codec.h"
#include "shd/crc32c.h"
#include "shd/crypto.h"
#include "shd/file.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "skr_fake_upstream.h"
#include "wif_test_util.h"

#define AUD "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"
#define KEY "projects/p/locations/global/keyRings/r/cryptoKeys/k"
#define STS_OK "{\"access_token\":\"fed-1\",\"token_type\":\"Bearer\",\"expires_in\":3600}"

struct fixture {
    struct skr_fake_upstream *sts;
    struct skr_fake_upstream *kms_fake;
    struct shd_http_client *http;
    struct wif_test_clock clock;
    struct wif_test_source source;
    struct wif_config cfg;
    struct wif_ctx ctx;
    struct shd_http_server *server;
    struct shd_http_client *client;
    char *dir;
    char sock[256];
};

static void server_start(struct fixture *f, const uid_t *uids, size_t nuids)
{
    struct shd_http_server_options so;
    wif_api_server_options(&f->ctx, &so);
    EXPECT_OK(shd_http_server_create(&so, &f->server));
    const struct shd_http_peer_allow allow = {.uids = uids, .nuids = nuids};
    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0660, &allow, f->server));
    EXPECT_OK(shd_http_server_start(f->server));
}

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    f->sts = skr_fake_upstream_start(NULL);
    f->kms_fake = skr_fake_upstream_start(NULL);
    f->http = wif_test_client(NULL);
    f->dir = wif_test_tmpdir();
    (void)snprintf(f->sock, sizeof(f->sock), "%s/wif.sock", f->dir);
    wif_test_clock_init(&f->clock, (int64_t)time(NULL) * 1000);
    wif_test_source_init(&f->source, &f->clock, 3600);
    f->cfg.mode = WIF_MODE_TPM;
    char sts_url[64];
    char kms_url[64];
    (void)snprintf(sts_url, sizeof(sts_url), "http://127.0.0.1:%u", skr_fake_upstream_port(f->sts));
    (void)snprintf(kms_url, sizeof(kms_url), "http://127.0.0.1:%u",
                   skr_fake_upstream_port(f->kms_fake));
    const struct wif_creds_options co = {
        .http = f->http,
        .sts_url = sts_url,
        .audience = AUD,
        .source = {wif_test_fetch, &f->source},
    };
    f->ctx.cfg = &f->cfg;
    EXPECT_OK(wif_creds_new(&co, &f->ctx.creds));
    EXPECT_OK(wif_kms_new(f->http, kms_url, &f->ctx.kms));
    f->client = wif_test_client(f->sock);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    shd_http_server_free(f->server);
    shd_http_client_free(f->client);
    wif_creds_free(&f->ctx.creds);
    wif_kms_free(&f->ctx.kms);
    skr_fake_upstream_stop(f->sts);
    skr_fake_upstream_stop(f->kms_fake);
    shd_http_client_free(f->http);
    shd_free(f->cfg.key_dir);
    wif_test_rmdir(f->dir);
    shd_free(f);
    return 0;
}

/* One request over the socket; returns the status and a copy of the body (shd_free). */
static int call(struct fixture *f, const char *method, const char *path, const char *body,
                char **ret_body)
{
    char url[512];
    (void)snprintf(url, sizeof(url), "http://localhost%s", path);
    const struct shd_http_header h = {"Content-Type", "application/json"};
    const struct shd_http_request req = {
        .method = method,
        .url = url,
        .headers = &h,
        .nheaders = body != NULL ? 1 : 0,
        .body = (const uint8_t *)body,
        .body_len = body != NULL ? strlen(body) : 0,
    };
    struct shd_http_response *resp = NULL;
    EXPECT_OK(shd_http_client_do(f->client, &req, &resp, NULL));
    size_t len = 0;
    const uint8_t *b = shd_http_response_body(resp, &len);
    *ret_body = shd_strndup((const char *)b, len);
    int status = shd_http_response_status(resp);
    shd_http_response_free(resp);
    return status;
}

/* A KMS :decrypt answer for plaintext pt. */
static void kms_push_plain(struct fixture *f, const uint8_t *pt, size_t len)
{
    char *b64 = NULL;
    EXPECT_OK(shd_b64_encode(pt, len, SHD_B64_STD_PAD, &b64, NULL));
    char crc[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c(pt, len), crc);
    struct shd_buf b;
    shd_buf_init(65536, 0, &b);
    EXPECT_OK(shd_buf_appendf(&b, "{\"plaintext\":\"%s\",\"plaintextCrc32c\":\"%s\"}", b64, crc));
    skr_fake_upstream_push(f->kms_fake, 200, shd_buf_str(&b), NULL);
    shd_buf_free(&b);
    shd_free(b64);
}

static void test_routes(void **state)
{
    struct fixture *f = *state;
    server_start(f, NULL, 0);
    char *body = NULL;
    assert_int_equal(call(f, "GET", "/status", NULL, &body), 200);
    assert_string_equal(body, "{\"status\":\"ok\",\"mode\":\"tpm\",\"attestation_expires_in\":0,"
                              "\"access_token_expires_in\":0,\"refresh_failures\":0}");
    shd_free(body);
    assert_int_equal(call(f, "GET", "/nope", NULL, &body), 404);
    assert_string_equal(body, "{\"error\":\"not found\"}");
    shd_free(body);
    assert_int_equal(call(f, "POST", "/token", "{}", &body), 405);
    shd_free(body);

    skr_fake_upstream_push(f->sts, 200, STS_OK, NULL);
    assert_int_equal(call(f, "GET", "/token", NULL, &body), 200);
    assert_non_null(strstr(body, "{\"access_token\":\"fed-1\",\"expires_in\":"));
    assert_non_null(strstr(body, ",\"token_type\":\"Bearer\"}"));
    shd_free(body);
    assert_int_equal(call(f, "GET", "/identity?audience=https%3A%2F%2Fsvc", NULL, &body), 200);
    assert_string_equal(body, "{\"token\":\"att-2-https://svc\"}");
    shd_free(body);
    assert_int_equal(call(f, "GET", "/identity", NULL, &body), 200);
    assert_string_equal(body, "{\"token\":\"att-1\"}");
    shd_free(body);
    assert_int_equal(call(f, "GET", "/kms/publicKey", NULL, &body), 400);
    assert_string_equal(body, "{\"error\":\"request: query parameter 'name' is required\"}");
    shd_free(body);
}

static void test_release_oct(void **state)
{
    struct fixture *f = *state;
    server_start(f, NULL, 0);
    skr_fake_upstream_push(f->sts, 200, STS_OK, NULL);
    uint8_t k[32];
    for (size_t i = 0; i < sizeof(k); i++) {
        k[i] = (uint8_t)(i * 7 + 1);
    }
    kms_push_plain(f, k, sizeof(k));
    char *body = NULL;
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\"}", &body),
                     200);
    char *kb64 = NULL;
    EXPECT_OK(shd_b64_encode(k, sizeof(k), SHD_B64_URL_NOPAD, &kb64, NULL));
    char want[256];
    (void)snprintf(want, sizeof(want),
                   "{\"key\":\"{\\\"k\\\":\\\"%s\\\",\\\"kty\\\":\\\"oct\\\"}\"}", kb64);
    assert_string_equal(body, want);
    shd_free(kb64);
    shd_free(body);
    /* The request that reached KMS: the key, the Bearer from STS, the wrapped bytes. */
    const struct skr_fake_request *req = skr_fake_upstream_last(f->kms_fake);
    assert_string_equal(req->path, "/v1/" KEY ":decrypt");
    assert_string_equal(req->authorization, "Bearer fed-1");
    assert_non_null(strstr(req->body, "\"ciphertext\":\"Y3Qh\""));

    /* key_ops is copied when given (and checked). */
    kms_push_plain(f, k, sizeof(k));
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\",\"key_ops\":"
                          "[\"encrypt\",\"decrypt\"]}",
                          &body),
                     200);
    assert_non_null(strstr(body, "\\\"key_ops\\\":[\\\"encrypt\\\",\\\"decrypt\\\"],\\\"kty"));
    shd_free(body);
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\",\"key_ops\":"
                          "[\"export\"]}",
                          &body),
                     400);
    shd_free(body);
}

/* The sidecar's RSA JWK text, built here from the key's own numbers (skr-sidecar.md 5.6). */
static void append_bn(struct shd_buf *b, EVP_PKEY *k, const char *param, const char *name,
                      bool last)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    uint8_t bin[1024];
    int n = BN_bn2bin(bn, bin);
    char *s = NULL;
    EXPECT_OK(shd_b64_encode(bin, (size_t)n, SHD_B64_URL_NOPAD, &s, NULL));
    EXPECT_OK(shd_buf_appendf(b, "\\\"%s\\\":\\\"%s\\\"%s", name, s, last ? "" : ","));
    shd_free(s);
    BN_clear_free(bn);
}

static void test_release_rsa(void **state)
{
    struct fixture *f = *state;
    server_start(f, NULL, 0);
    EVP_PKEY *k = NULL;
    EXPECT_OK(shd_crypto_rsa_generate(2048, &k));
    size_t der_len = 0;
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(k, NULL, 0, &der_len));
    uint8_t *der = shd_alloc(der_len);
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(k, der, der_len, &der_len));
    skr_fake_upstream_push(f->sts, 200, STS_OK, NULL);
    kms_push_plain(f, der, der_len);
    char *body = NULL;
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\"}", &body),
                     200);
    struct shd_buf want;
    shd_buf_init(1 << 16, 0, &want);
    EXPECT_OK(shd_buf_append_str("{\"key\":\"{", &want));
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_D, "d", false);
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_EXPONENT1, "dp", false);
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_EXPONENT2, "dq", false);
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_E, "e", false);
    EXPECT_OK(shd_buf_append_str("\\\"kty\\\":\\\"RSA\\\",", &want));
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_N, "n", false);
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_FACTOR1, "p", false);
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_FACTOR2, "q", false);
    append_bn(&want, k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, "qi", true);
    EXPECT_OK(shd_buf_append_str("}\"}", &want));
    assert_string_equal(body, shd_buf_str(&want));
    shd_buf_free(&want);
    shd_free(body);
    shd_free_wipe(der, der_len);
    EVP_PKEY_free(k);

    /* 65..N bytes that are no PKCS#8 key: refused, naming the step. */
    uint8_t junk[100];
    memset(junk, 0x41, sizeof(junk));
    kms_push_plain(f, junk, sizeof(junk));
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\"}", &body),
                     400);
    assert_non_null(strstr(body, "{\"error\":\"release: the unwrapped key is neither"));
    shd_free(body);
}

static void test_release_errors(void **state)
{
    struct fixture *f = *state;
    server_start(f, NULL, 0);
    char *body = NULL;
    const char *bad[] = {
        "",
        "[]",
        "{\"kms_key\":\"" KEY "\"}",
        "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\",\"wrapped_key_file\":\"/x\"}",
        "{\"kms_key\":\"" KEY "/cryptoKeyVersions/1\",\"wrapped_key\":\"Y3Qh\"}",
        "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"**\"}",
        "{\"kms_key\":5,\"wrapped_key\":\"Y3Qh\"}",
        "{\"kms_key\":\"" KEY "\",\"wrapped_key_file\":\"relative\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(call(f, "POST", "/key/release", bad[i], &body), 400);
        assert_non_null(strstr(body, "{\"error\":\"request: "));
        shd_free(body);
    }
    assert_int_equal(skr_fake_upstream_count(f->sts), 0);
    assert_int_equal(skr_fake_upstream_count(f->kms_fake), 0);

    /* STS says no: 403 naming STS and its error_description. */
    skr_fake_upstream_push(f->sts, 400,
                           "{\"error\":\"unauthorized_client\",\"error_description\":\"The given "
                           "credential is rejected by the attribute condition.\"}",
                           NULL);
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\"}", &body),
                     403);
    assert_string_equal(body, "{\"error\":\"credentials: STS token exchange: HTTP 400 "
                              "unauthorized_client: The given credential is rejected by the "
                              "attribute condition.\"}");
    shd_free(body);
    /* An upstream 5xx: 502. */
    skr_fake_upstream_push(f->sts, 503, "{}", NULL);
    assert_int_equal(call(f, "GET", "/token", NULL, &body), 502);
    assert_string_equal(body, "{\"error\":\"credentials: STS token exchange: HTTP 503\"}");
    shd_free(body);
    /* KMS says no: 403 naming KMS. */
    skr_fake_upstream_push(f->sts, 200, STS_OK, NULL);
    skr_fake_upstream_push(f->kms_fake, 403,
                           "{\"error\":{\"code\":403,\"message\":\"Permission denied\","
                           "\"status\":\"PERMISSION_DENIED\"}}",
                           NULL);
    assert_int_equal(call(f, "POST", "/key/release",
                          "{\"kms_key\":\"" KEY "\",\"wrapped_key\":\"Y3Qh\"}", &body),
                     403);
    assert_string_equal(body, "{\"error\":\"KMS: KMS decrypt " KEY
                              ": HTTP 403 PERMISSION_DENIED: Permission denied\"}");
    shd_free(body);
}

static void test_release_file(void **state)
{
    struct fixture *f = *state;
    char kd[300];
    (void)snprintf(kd, sizeof(kd), "%s/keys", f->dir);
    assert_int_equal(mkdir(kd, 0700), 0);
    f->cfg.key_dir = shd_strdup(kd);
    server_start(f, NULL, 0);
    char path[400];
    (void)snprintf(path, sizeof(path), "%s/blob", kd);
    EXPECT_OK(shd_file_write_atomic(path, "ct!", 3, 0600));
    char outside[400];
    (void)snprintf(outside, sizeof(outside), "%s/blob2", f->dir);
    EXPECT_OK(shd_file_write_atomic(outside, "ct!", 3, 0600));
    skr_fake_upstream_push(f->sts, 200, STS_OK, NULL);
    uint8_t k[16] = {1, 2, 3};
    kms_push_plain(f, k, sizeof(k));
    char req[1024];
    (void)snprintf(req, sizeof(req), "{\"kms_key\":\"" KEY "\",\"wrapped_key_file\":\"%s\"}", path);
    char *body = NULL;
    assert_int_equal(call(f, "POST", "/key/release", req, &body), 200);
    shd_free(body);
    assert_non_null(strstr(skr_fake_upstream_last(f->kms_fake)->body, "\"ciphertext\":\"Y3Qh\""));
    /* Outside --key-dir, also through "..": refused before any upstream call. */
    unsigned n = skr_fake_upstream_count(f->kms_fake);
    (void)snprintf(req, sizeof(req), "{\"kms_key\":\"" KEY "\",\"wrapped_key_file\":\"%s\"}",
                   outside);
    assert_int_equal(call(f, "POST", "/key/release", req, &body), 400);
    assert_non_null(strstr(body, "outside --key-dir"));
    shd_free(body);
    (void)snprintf(req, sizeof(req),
                   "{\"kms_key\":\"" KEY "\",\"wrapped_key_file\":\"%s/../blob2\"}", kd);
    assert_int_equal(call(f, "POST", "/key/release", req, &body), 400);
    shd_free(body);
    assert_int_equal(skr_fake_upstream_count(f->kms_fake), n);
}

static void test_asym_decrypt(void **state)
{
    struct fixture *f = *state;
    server_start(f, NULL, 0);
    skr_fake_upstream_push(f->sts, 200, STS_OK, NULL);
    char crc[SHD_CRC32C_DEC_LEN];
    shd_crc32c_format(shd_crc32c((const uint8_t *)"hello", 5), crc);
    char kb[256];
    (void)snprintf(kb, sizeof(kb),
                   "{\"plaintext\":\"aGVsbG8=\",\"plaintextCrc32c\":\"%s\","
                   "\"verifiedCiphertextCrc32c\":true}",
                   crc);
    skr_fake_upstream_push(f->kms_fake, 200, kb, NULL);
    char *body = NULL;
    assert_int_equal(call(f, "POST", "/kms/asymmetricDecrypt",
                          "{\"name\":\"" KEY "/cryptoKeyVersions/1\",\"ciphertext\":\"Y3Qh\"}",
                          &body),
                     200);
    assert_string_equal(body, "{\"plaintext\":\"aGVsbG8=\"}");
    shd_free(body);
    assert_string_equal(skr_fake_upstream_last(f->kms_fake)->path,
                        "/v1/" KEY "/cryptoKeyVersions/1:asymmetricDecrypt");
}

static void test_allow_list(void **state)
{
    struct fixture *f = *state;
    const uid_t other = getuid() + 1;
    server_start(f, &other, 1);
    char *body = NULL;
    assert_int_equal(call(f, "GET", "/status", NULL, &body), 403);
    assert_string_equal(body, "{\"error\":\"forbidden\"}");
    shd_free(body);
    shd_http_server_free(f->server);
    f->server = NULL;
    const uid_t me = getuid();
    server_start(f, &me, 1);
    assert_int_equal(call(f, "GET", "/status", NULL, &body), 200);
    shd_free(body);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_oct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_rsa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_asym_decrypt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
