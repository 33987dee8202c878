/*
 * akv_service_test.c - the Key Vault and Managed HSM services end to end, in process: each
 * service behind a loopback HTTP listener (reached as <vault>.vault.azure.net through the
 * client's connect-to mapping), the attestation authority a TLS peer with its own CA serving
 * the OIDC document and the key set, tokens minted here.
 *
 * Covered: the 401 challenge (bytes) before the body is read, bearer audience per service,
 * api-version handling (also api%2Dversion), create/import/get/versions per key type, release of
 * every key type with every enc (JWS verified against the test CA for the vault host, key_hsm
 * unwrapped independently and compared with the key), policy denials naming the claim,
 * unknown keys, and the release error paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "akv.h"
#include "pki.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/crypto_x509.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/jose.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "tls_server.h"

#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define AAD_ISS "https://sts.windows.net/" TENANT "/"
#define MAA_HOST "sharedeus.eus.attest.azure.net"
#define MAA_ISS "https://" MAA_HOST
#define MAA_KID "maa-kid-1"
#define VAULT "http://myvault.vault.azure.net"
#define HSM "http://myhsm.managedhsm.azure.net"
#define API "?api-version=7.4"
#define POLICY_OK                                                                                  \
    "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" MAA_ISS "/\",\"allOf\":["              \
    "{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":\"false\"},"                          \
    "{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":\"0\"}]}]}"
#define POLICY_VMPL1                                                                               \
    "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" MAA_ISS "\",\"allOf\":["               \
    "{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":\"1\"}]}]}"
#define POLICY_DOWN                                                                                \
    "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"https://down.attest.azure.net\","        \
    "\"allOf\":[{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":\"0\"}]}]}"

struct fixture {
    EVP_PKEY *aad_key;
    EVP_PKEY *maa_key;
    EVP_PKEY *other_key;
    EVP_PKEY *wrap_key;
    EVP_PKEY *ca_key;
    X509 *ca;
    struct shd_test_pki *maa_pki;
    struct shd_test_tls_server *maa;
    char ca_path[64];
    struct aemu_service *svc[2];
    struct shd_http_server *srv[2];
    uint16_t port[2];
    struct shd_http_client *client;
    char *bearer[2]; /* "Bearer ..." for vault, mHSM */
};

static struct fixture g;

/* ------------------------------------------------------------------------------------------ */
/* Fixture                                                                                     */

static shd_result route_all(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    return aemu_service_dispatch(ctx, req, resp);
}

static char *sign_token(EVP_PKEY *key, const char *kid, const char *claims)
{
    char *tok = NULL;
    struct shd_jws_sign_header hdr = {.typ = "JWT", .kid = kid};
    EXPECT_OK(shd_jws_sign(&hdr, (const uint8_t *)claims, strlen(claims), key, SHD_JWS_RS256, &tok,
                           NULL));
    return tok;
}

static char *aad_bearer(const char *aud)
{
    long long now = (long long)time(NULL);
    char claims[512];
    snprintf(claims, sizeof(claims),
             "{\"aud\":\"%s\",\"iss\":\"" AAD_ISS "\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", aud,
             now, now, now + 3600);
    SHD_CLEANUP_FREE char *tok = sign_token(g.aad_key, "aad", claims);
    size_t n = strlen(tok) + 8;
    char *out = shd_alloc(n);
    assert_non_null(out);
    snprintf(out, n, "Bearer %s", tok);
    return out;
}

/* The authority's answer to every request: OIDC metadata and key set in one document. */
static char *maa_response(void)
{
    SHD_CLEANUP_JSON json_t *jwk = NULL;
    EXPECT_OK(shd_jwk_export_public(g.maa_key, &jwk));
    json_object_set_new(jwk, "kid", json_string(MAA_KID));
    SHD_CLEANUP_JSON json_t *doc = json_pack("{s:s,s:s,s:[O]}", "issuer", MAA_ISS, "jwks_uri",
                                             MAA_ISS "/certs", "keys", jwk);
    char *body = json_dumps(doc, JSON_COMPACT);
    size_t n = strlen(body) + 256;
    char *resp = shd_alloc(n);
    assert_non_null(resp);
    snprintf(resp, n,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(body), body);
    shd_test_json_free(body);
    return resp;
}

static void make_ca(void)
{
    EXPECT_OK(aemu_pki_ec_new("P-256", &g.ca_key));
    X509_NAME *name = NULL;
    EXPECT_OK(aemu_pki_simple_name("azure-emu", "akv test CA", &name));
    EXPECT_OK(aemu_pki_cert_new(name, name, g.ca_key, 1, 10, &g.ca));
    X509_NAME_free(name);
    EXPECT_OK(aemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE", NULL, g.ca));
    EXPECT_OK(aemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign", NULL, g.ca));
    EXPECT_OK(aemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", NULL, g.ca));
    EXPECT_OK(aemu_pki_cert_sign(g.ca_key, AEMU_SIG_DEFAULT, g.ca));
}

static void start_service(size_t i, bool mhsm, const char *connect_to)
{
    struct shd_http_client_options co = {.ca_file = g.ca_path, .connect_to = connect_to};
    struct aemu_akv_config cfg = {
        .managed_hsm = mhsm, .tenant_id = TENANT, .aad_issuer = AAD_ISS, .aad_key = g.aad_key,
        .ca_cert = g.ca, .ca_key = g.ca_key};
    EXPECT_OK(shd_http_client_create(&co, &cfg.http));
    EXPECT_OK(aemu_akv_service_new_config(&cfg, &g.svc[i]));
    assert_null(cfg.http);
    static const struct shd_http_route routes[] = {
        {NULL, "/", route_all, SHD_HTTP_ROUTE_PREFIX}};
    struct shd_http_server_options so = {
        .routes = routes, .nroutes = 1, .ctx = g.svc[i], .not_found = route_all};
    EXPECT_OK(shd_http_server_create(&so, &g.srv[i]));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, g.srv[i], &g.port[i]));
    EXPECT_OK(shd_http_server_start(g.srv[i]));
}

static int setup(void **state)
{
    (void)state;
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g.aad_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g.maa_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g.other_key));
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g.wrap_key));
    make_ca();
    const char *names[] = {MAA_HOST, "down.attest.azure.net"};
    g.maa_pki = shd_test_pki_new("maa test CA", names, 2);
    snprintf(g.ca_path, sizeof(g.ca_path), "/tmp/akv-test-ca-%ld.pem", (long)getpid());
    shd_test_pki_write_ca(g.maa_pki, g.ca_path);
    SHD_CLEANUP_FREE char *resp = maa_response();
    g.maa = shd_test_tls_server_start(g.maa_pki, resp);
    char connect_to[256];
    /* down.attest.azure.net goes to a port nobody listens on (connection refused). */
    snprintf(connect_to, sizeof(connect_to),
             MAA_HOST ":443:127.0.0.1:%u,down.attest.azure.net:443:127.0.0.1:1",
             shd_test_tls_server_port(g.maa));
    start_service(0, false, connect_to);
    start_service(1, true, connect_to);
    char map[256];
    snprintf(map, sizeof(map),
             "myvault.vault.azure.net:80:127.0.0.1:%u,other.vault.azure.net:80:127.0.0.1:%u,"
             "myhsm.managedhsm.azure.net:80:127.0.0.1:%u",
             g.port[0], g.port[0], g.port[1]);
    /* Generous: RSA-3072 generation under valgrind on a busy machine takes a while. */
    struct shd_http_client_options co = {.connect_to = map, .timeout_ms = 180000};
    EXPECT_OK(shd_http_client_create(&co, &g.client));
    g.bearer[0] = aad_bearer("https://vault.azure.net");
    g.bearer[1] = aad_bearer("https://managedhsm.azure.net/");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        shd_http_server_free(g.srv[i]);
        aemu_service_free(g.svc[i]);
        shd_free(g.bearer[i]);
    }
    shd_http_client_free(g.client);
    shd_test_tls_server_stop(g.maa);
    shd_test_pki_free(g.maa_pki);
    unlink(g.ca_path);
    EVP_PKEY_free(g.aad_key);
    EVP_PKEY_free(g.maa_key);
    EVP_PKEY_free(g.other_key);
    EVP_PKEY_free(g.wrap_key);
    EVP_PKEY_free(g.ca_key);
    X509_free(g.ca);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */

struct reply {
    int status;
    json_t *json;
    struct shd_http_response *resp;
};

static void reply_clear(struct reply *r)
{
    json_decref(r->json);
    shd_http_response_free(r->resp);
    *r = (struct reply){0};
}

static struct reply call(const char *method, const char *url, const char *authz, const char *body)
{
    struct shd_http_header h[2] = {{"Content-Type", "application/json"}, {"Authorization", authz}};
    struct shd_http_request req = {.method = method, .url = url, .headers = h,
                                   .nheaders = authz != NULL ? 2 : 1,
                                   .body = (const uint8_t *)body,
                                   .body_len = body != NULL ? strlen(body) : 0};
    struct reply r = {0};
    EXPECT_OK(shd_http_client_do(g.client, &req, &r.resp, NULL));
    r.status = shd_http_response_status(r.resp);
    size_t len = 0;
    const uint8_t *b = shd_http_response_body(r.resp, &len);
    if (len > 0) {
        EXPECT_OK(shd_json_parse((const char *)b, len, NULL, &r.json));
    }
    return r;
}

static const char *jstr(const json_t *root, const char *path)
{
    json_t *v = NULL;
    EXPECT_OK(shd_json_get_path(root, path, &v));
    if (!json_is_string(v)) {
        fail_msg("%s is not a string", path);
    }
    return json_string_value(v);
}

static void expect_error(struct reply *r, int status, const char *code, const char *msg_part)
{
    if (r->status != status) {
        fail_msg("status %d, want %d (%s)", r->status, status,
                 (const char *)shd_http_response_body(r->resp, NULL));
    }
    assert_string_equal(jstr(r->json, "error.code"), code);
    const char *m = jstr(r->json, "error.message");
    if (msg_part != NULL && strstr(m, msg_part) == NULL) {
        fail_msg("message '%s' lacks '%s'", m, msg_part);
    }
    reply_clear(r);
}

static char *policy_b64(const char *policy)
{
    char *out = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)policy, strlen(policy), SHD_B64_URL_NOPAD, &out,
                             NULL));
    return out;
}

/* Creates a key; returns its bundle. */
static json_t *create(const char *base, size_t who, const char *name, const char *params,
                      const char *policy)
{
    SHD_CLEANUP_FREE char *p64 = policy != NULL ? policy_b64(policy) : NULL;
    char body[2048];
    char url[256];
    if (policy != NULL) {
        snprintf(body, sizeof(body),
                 "{%s,\"attributes\":{\"exportable\":true},\"release_policy\":{\"contentType\":"
                 "\"application/json; charset=utf-8\",\"immutable\":false,\"data\":\"%s\"}}",
                 params, p64);
    } else {
        snprintf(body, sizeof(body), "{%s}", params);
    }
    snprintf(url, sizeof(url), "%s/keys/%s/create" API, base, name);
    struct reply r = call("POST", url, g.bearer[who], body);
    if (r.status != 200) {
        fail_msg("create %s: %d %s", name, r.status,
                 (const char *)shd_http_response_body(r.resp, NULL));
    }
    json_t *bundle = json_incref(r.json);
    reply_clear(&r);
    return bundle;
}

/* ------------------------------------------------------------------------------------------ */
/* Challenge, api-version, routing                                                             */

static void test_challenge(void **state)
{
    (void)state;
    /* The SDK's first request: no Authorization and an empty body. */
    struct reply r = call("POST", VAULT "/keys/k/create?api%2Dversion=2025-07-01", NULL, "");
    assert_int_equal(r.status, 401);
    assert_string_equal(shd_http_response_header(r.resp, "WWW-Authenticate"),
                        "Bearer authorization=\"https://login.windows.net/" TENANT
                        "\", resource=\"https://vault.azure.net\"");
    assert_string_equal(shd_http_response_header(r.resp, "Content-Type"),
                        "application/json; charset=utf-8");
    assert_string_equal((const char *)shd_http_response_body(r.resp, NULL),
                        "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"AKV10000: Request is "
                        "missing a Bearer or PoP token.\"}}");
    reply_clear(&r);
    r = call("POST", HSM "/keys/k/release" API, NULL, "");
    assert_int_equal(r.status, 401);
    assert_string_equal(shd_http_response_header(r.resp, "WWW-Authenticate"),
                        "Bearer authorization=\"https://login.microsoftonline.com/" TENANT
                        "\", resource=\"https://managedhsm.azure.net\"");
    assert_null(r.json);
    reply_clear(&r);
    /* A vault token at the HSM: 401 naming the audience, with the challenge. */
    r = call("GET", HSM "/keys/k" API, g.bearer[0], NULL);
    assert_non_null(shd_http_response_header(r.resp, "WWW-Authenticate"));
    expect_error(&r, 401, "Unauthorized", "AKV10022: Invalid audience");
    /* Authentication comes before routing and api-version checks. */
    r = call("GET", VAULT "/nothing", NULL, NULL);
    expect_error(&r, 401, "Unauthorized", "AKV10000");
}

static void test_api_version_and_routes(void **state)
{
    (void)state;
    struct reply r = call("GET", VAULT "/keys/k", g.bearer[0], NULL);
    expect_error(&r, 400, "BadParameter", "api-version");
    r = call("GET", VAULT "/keys/k?api-version=1.0", g.bearer[0], NULL);
    expect_error(&r, 400, "BadParameter", "(1.0) is not recognized");
    r = call("GET", VAULT "/keys/nope?api%2Dversion=7.5", g.bearer[0], NULL);
    expect_error(&r, 404, "KeyNotFound", "A key with (name/id) nope was not found");
    r = call("GET", VAULT "/keys/bad_name" API, g.bearer[0], NULL);
    expect_error(&r, 400, "BadParameter", "invalid name: bad_name");
    r = call("DELETE", VAULT "/keys/k" API, g.bearer[0], NULL);
    expect_error(&r, 405, "MethodNotAllowed", NULL);
    r = call("GET", VAULT "/keys/k/a/b/c" API, g.bearer[0], NULL);
    expect_error(&r, 404, "NotFound", NULL);
    r = call("POST", VAULT "/keys/k/release?api-version=7.2", g.bearer[0], "{\"target\":\"x\"}");
    expect_error(&r, 400, "BadParameter", "7.3 or later");
    r = call("POST", VAULT "/keys/k/create" API, g.bearer[0], "");
    expect_error(&r, 400, "BadParameter", "body is missing");
    r = call("POST", VAULT "/keys/k/create" API, g.bearer[0], "{\"kty\":\"RSA\",}");
    expect_error(&r, 400, "BadParameter", NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Create, import, get, versions                                                               */

static void check_bundle(const json_t *b, const char *kty, const char *name)
{
    assert_string_equal(jstr(b, "key.kty"), kty);
    const char *kid = jstr(b, "key.kid");
    char want[256];
    snprintf(want, sizeof(want), "https://myvault.vault.azure.net/keys/%s/", name);
    if (strncmp(kid, want, strlen(want)) != 0 &&
        strncmp(kid, "https://myhsm.managedhsm.azure.net/keys/", 40) != 0) {
        fail_msg("kid %s", kid);
    }
    assert_true(json_is_array(json_object_get(json_object_get(b, "key"), "key_ops")));
    const json_t *attrs = json_object_get(b, "attributes");
    assert_true(json_is_true(json_object_get(attrs, "enabled")));
    assert_true(json_is_integer(json_object_get(attrs, "created")));
    assert_string_equal(jstr(b, "attributes.recoveryLevel"), "Recoverable+Purgeable");
}

static void test_create_types(void **state)
{
    (void)state;
    static const struct {
        const char *params;
        const char *kty;
        const char *member; /* a public member that must be there, or NULL (oct) */
        const char *crv;
    } cases[] = {
        {"\"kty\":\"RSA-HSM\",\"key_size\":2048", "RSA-HSM", "n", NULL},
        {"\"kty\":\"RSA-HSM\",\"key_size\":3072,\"key_ops\":[\"wrapKey\",\"unwrapKey\"]",
         "RSA-HSM", "e", NULL},
        {"\"kty\":\"RSA\"", "RSA", "n", NULL},
        {"\"kty\":\"EC-HSM\",\"crv\":\"P-256\"", "EC-HSM", "x", "P-256"},
        {"\"kty\":\"EC-HSM\",\"crv\":\"P-384\"", "EC-HSM", "y", "P-384"},
        {"\"kty\":\"EC\",\"crv\":\"P-521\"", "EC", "x", "P-521"},
        {"\"kty\":\"oct-HSM\",\"key_size\":256", "oct-HSM", NULL, NULL},
        {"\"kty\":\"oct-HSM\",\"key_size\":128", "oct-HSM", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "type-%zu", i);
        SHD_CLEANUP_JSON json_t *b = create(VAULT, 0, name, cases[i].params, POLICY_OK);
        check_bundle(b, cases[i].kty, name);
        const json_t *key = json_object_get(b, "key");
        if (cases[i].member != NULL) {
            assert_non_null(json_object_get(key, cases[i].member));
        } else {
            assert_null(json_object_get(key, "k"));
        }
        assert_null(json_object_get(key, "d"));
        if (cases[i].crv != NULL) {
            assert_string_equal(jstr(b, "key.crv"), cases[i].crv);
        }
        assert_true(json_is_true(json_object_get(json_object_get(b, "attributes"), "exportable")));
        SHD_CLEANUP_FREE char *p64 = policy_b64(POLICY_OK);
        assert_string_equal(jstr(b, "release_policy.data"), p64);
        assert_string_equal(jstr(b, "release_policy.contentType"),
                            "application/json; charset=utf-8");
    }
    /* On Managed HSM every key is an HSM key. */
    SHD_CLEANUP_JSON json_t *h = create(HSM, 1, "hsm-rsa", "\"kty\":\"RSA\"", POLICY_OK);
    assert_string_equal(jstr(h, "key.kty"), "RSA-HSM");
    /* Refusals. */
    static const struct {
        const char *body;
        const char *msg;
    } bad[] = {
        {"{\"kty\":\"RSA\",\"key_size\":1024}", "not supported"},
        {"{\"kty\":\"EC\",\"crv\":\"P-256K\"}", "curve"},
        {"{\"kty\":\"OKP\"}", "not supported"},
        {"{\"key_size\":2048}", "kty"},
        {"{\"kty\":\"RSA\",\"attributes\":{\"exportable\":true}}",
         "AKV.SKR.1004: Exportable keys must have release policy."},
        {"{\"kty\":\"RSA\",\"key_ops\":[\"fly\"]}", "key operation"},
        {"{\"kty\":\"RSA\",\"release_policy\":{\"data\":\"e30\"}}", "Key Release Policy"},
        {"{\"kty\":\"RSA\",\"release_policy\":{\"data\":\"!!\"}}", "release_policy.data"},
        {"{\"kty\":\"RSA\",\"tags\":{\"a\":1}}", "tags"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct reply r = call("POST", VAULT "/keys/bad/create" API, g.bearer[0], bad[i].body);
        expect_error(&r, 400, "BadParameter", bad[i].msg);
    }
}

static void test_get_versions(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *v1 = create(VAULT, 0, "multi", "\"kty\":\"EC\"", NULL);
    SHD_CLEANUP_JSON json_t *v2 =
        create(VAULT, 0, "multi", "\"kty\":\"EC\",\"tags\":{\"purpose\":\"test\"}", NULL);
    const char *kid1 = jstr(v1, "key.kid");
    const char *kid2 = jstr(v2, "key.kid");
    assert_string_not_equal(kid1, kid2);
    /* Newest, with the SDK's trailing slash; a given version. */
    struct reply r = call("GET", VAULT "/keys/multi/" API, g.bearer[0], NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "key.kid"), kid2);
    assert_string_equal(jstr(r.json, "tags.purpose"), "test");
    assert_null(json_object_get(r.json, "release_policy"));
    reply_clear(&r);
    char url[256];
    snprintf(url, sizeof(url), VAULT "/keys/multi/%s" API, strrchr(kid1, '/') + 1);
    r = call("GET", url, g.bearer[0], NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "key.kid"), kid1);
    reply_clear(&r);
    r = call("GET", VAULT "/keys/multi/versions" API, g.bearer[0], NULL);
    assert_int_equal(r.status, 200);
    const json_t *value = json_object_get(r.json, "value");
    assert_int_equal(json_array_size(value), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(value, 0), "kid")), kid1);
    assert_true(json_is_null(json_object_get(r.json, "nextLink")));
    reply_clear(&r);
    /* Unknown version, unknown key's versions, another vault's namespace. */
    r = call("GET", VAULT "/keys/multi/0123456789abcdef0123456789abcdef" API, g.bearer[0], NULL);
    expect_error(&r, 404, "KeyNotFound", "multi/0123456789abcdef0123456789abcdef");
    r = call("GET", VAULT "/keys/none/versions" API, g.bearer[0], NULL);
    expect_error(&r, 404, "KeyNotFound", NULL);
    r = call("GET", "http://other.vault.azure.net/keys/multi" API, g.bearer[0], NULL);
    expect_error(&r, 404, "KeyNotFound", NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Release                                                                                     */

static char *maa_token(EVP_PKEY *key, const char *iss, long long exp_off, bool with_keys)
{
    SHD_CLEANUP_FREE char *set = NULL;
    EXPECT_OK(shd_jwk_wrapping_set_write(g.wrap_key, &set, NULL));
    long long now = (long long)time(NULL);
    char claims[4096];
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"x-ms-attestation-type\":\"sevsnpvm\",\"x-ms-sevsnpvm-is-debuggable\":false,"
             "\"x-ms-sevsnpvm-vmpl\":0,\"x-ms-runtime\":%s}",
             iss, now - 10, now - 10, now + exp_off, with_keys ? set : "{\"keys\":[]}");
    return sign_token(key, MAA_KID, claims);
}

static struct reply release(const char *base, size_t who, const char *name, const char *version,
                            const char *token, const char *enc)
{
    char url[256];
    if (version != NULL) {
        snprintf(url, sizeof(url), "%s/keys/%s/%s/release" API, base, name, version);
    } else {
        snprintf(url, sizeof(url), "%s/keys/%s/release" API, base, name);
    }
    char body[8192];
    if (enc != NULL) {
        snprintf(body, sizeof(body), "{\"target\":\"%s\",\"nonce\":\"n-1\",\"enc\":\"%s\"}", token,
                 enc);
    } else {
        snprintf(body, sizeof(body), "{\"target\":\"%s\"}", token);
    }
    return call("POST", url, g.bearer[who], body);
}

/* Verifies the JWS against the test CA for host and returns its payload (new reference). */
static json_t *verify_release(const struct reply *r, const char *host)
{
    if (r->status != 200) {
        fail_msg("release: %d %s", r->status, (const char *)shd_http_response_body(r->resp, NULL));
    }
    const char *value = jstr(r->json, "value");
    struct shd_jws *jws = NULL;
    EXPECT_OK(shd_jws_parse(value, strlen(value), 0, &jws));
    STACK_OF(X509) *roots = sk_X509_new_null();
    assert_non_null(roots);
    assert_true(sk_X509_push(roots, g.ca) > 0);
    /* The leaf names the vault host and no other. */
    EXPECT_ERR(shd_jws_verify_x5c(roots, "evil.vault.azure.net", SHD_JWS_RS256, jws),
               SHD_ERR_BAD_CERT);
    EXPECT_OK(shd_jws_verify_x5c(roots, host, SHD_JWS_RS256, jws));
    sk_X509_free(roots);
    const json_t *payload = NULL;
    EXPECT_OK(shd_jws_payload_json(jws, &payload));
    json_t *copy = json_deep_copy(payload);
    shd_jws_free(&jws);
    return copy;
}

/* Decodes key_hsm and unwraps it with the wrapping key: the plaintext (fresh, secret). */
static uint8_t *unwrap_key_hsm(const json_t *payload, enum shd_crypto_hash h, size_t *ret_len)
{
    const char *kh = jstr(payload, "response.key.key.key_hsm");
    SHD_CLEANUP_FREE uint8_t *blob_text = NULL;
    size_t blob_len = 0;
    EXPECT_OK(shd_b64_decode(kh, strlen(kh), SHD_B64_URL_NOPAD, &blob_text, &blob_len));
    SHD_CLEANUP_JSON json_t *blob = NULL;
    EXPECT_OK(shd_json_parse((const char *)blob_text, blob_len, NULL, &blob));
    assert_string_equal(jstr(blob, "schema_version"), "1.0.0");
    assert_string_equal(jstr(blob, "header.alg"), "dir");
    assert_string_equal(jstr(blob, "header.enc"), jstr(payload, "request.enc"));
    const char *c64 = jstr(blob, "ciphertext");
    SHD_CLEANUP_FREE uint8_t *ct = NULL;
    size_t n = 0;
    EXPECT_OK(shd_b64_decode(c64, strlen(c64), SHD_B64_URL_NOPAD, &ct, &n));
    uint8_t kek[32];
    size_t kek_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_decrypt(h, ct, 256, g.wrap_key, kek, sizeof(kek), &kek_len));
    uint8_t *pt = shd_alloc(n);
    assert_non_null(pt);
    EXPECT_OK(shd_crypto_aes_kwp_unwrap(kek, kek_len, ct + 256, n - 256, pt, n, ret_len));
    return pt;
}

static void import_key(const char *name, const char *jwk)
{
    SHD_CLEANUP_FREE char *p64 = policy_b64(POLICY_OK);
    size_t n = strlen(jwk) + 512;
    SHD_CLEANUP_FREE char *body = shd_alloc(n);
    assert_non_null(body);
    snprintf(body, n,
             "{\"key\":%s,\"hsm\":true,\"attributes\":{\"exportable\":true},\"release_policy\":"
             "{\"contentType\":\"application/json; charset=utf-8\",\"data\":\"%s\"}}",
             jwk, p64);
    char url[128];
    snprintf(url, sizeof(url), VAULT "/keys/%s" API, name);
    struct reply r = call("PUT", url, g.bearer[0], body);
    if (r.status != 200) {
        fail_msg("import %s: %d %s", name, r.status,
                 (const char *)shd_http_response_body(r.resp, NULL));
    }
    reply_clear(&r);
}

static const struct {
    const char *name;
    enum shd_crypto_hash hash;
} encs[] = {
    {"CKM_RSA_AES_KEY_WRAP", SHD_CRYPTO_HASH_SHA1},
    {"RSA_AES_KEY_WRAP_256", SHD_CRYPTO_HASH_SHA256},
    {"RSA_AES_KEY_WRAP_384", SHD_CRYPTO_HASH_SHA384},
};

/* Imported RSA, EC and oct keys released with every enc: the unwrapped key equals the original. */
static void test_release_imported(void **state)
{
    (void)state;
    EVP_PKEY *asym[2] = {NULL, NULL};
    EXPECT_OK(shd_crypto_rsa_generate(2048, &asym[0]));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P384, &asym[1]));
    uint8_t oct[32];
    EXPECT_OK(shd_crypto_random(oct, sizeof(oct)));
    for (size_t i = 0; i < 2; i++) {
        char *jwk = NULL;
        size_t len = 0;
        EXPECT_OK(shd_jwk_released_write(asym[i], NULL, &jwk, &len));
        import_key(i == 0 ? "imp-rsa" : "imp-ec", jwk);
        shd_free_wipe(jwk, len);
    }
    SHD_CLEANUP_FREE char *k64 = NULL;
    EXPECT_OK(shd_b64_encode(oct, sizeof(oct), SHD_B64_URL_NOPAD, &k64, NULL));
    char ojwk[128];
    snprintf(ojwk, sizeof(ojwk), "{\"kty\":\"oct-HSM\",\"k\":\"%s\",\"key_size\":256}", k64);
    import_key("imp-oct", ojwk);

    SHD_CLEANUP_FREE char *token = maa_token(g.maa_key, MAA_ISS, 3600, true);
    static const char *const names[] = {"imp-rsa", "imp-ec", "imp-oct"};
    static const char *const ktys[] = {"RSA-HSM", "EC-HSM", "oct-HSM"};
    for (size_t k = 0; k < 3; k++) {
        for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
            struct reply r = release(VAULT, 0, names[k], NULL, token, encs[e].name);
            SHD_CLEANUP_JSON json_t *p = verify_release(&r, "myvault.vault.azure.net");
            reply_clear(&r);
            assert_string_equal(jstr(p, "request.enc"), encs[e].name);
            assert_string_equal(jstr(p, "request.api-version"), "7.4");
            assert_string_equal(jstr(p, "request.nonce"), "n-1");
            char kid[128];
            snprintf(kid, sizeof(kid), "https://myvault.vault.azure.net/keys/%s", names[k]);
            assert_string_equal(jstr(p, "request.kid"), kid);
            assert_int_equal(strncmp(jstr(p, "response.key.key.kid"), kid, strlen(kid)), 0);
            assert_string_equal(jstr(p, "response.key.key.kty"), ktys[k]);
            assert_true(json_is_true(json_object_get(
                json_object_get(json_object_get(json_object_get(p, "response"), "key"),
                                "attributes"),
                "exportable")));
            assert_non_null(jstr(p, "response.key.release_policy.data"));
            size_t n = 0;
            uint8_t *pt = unwrap_key_hsm(p, encs[e].hash, &n);
            if (k == 2) {
                assert_int_equal(n, sizeof(oct));
                assert_memory_equal(pt, oct, sizeof(oct));
                shd_free_wipe(pt, n);
            } else {
                EVP_PKEY *back = NULL;
                EXPECT_OK(shd_crypto_privkey_load(pt, n, &back));
                assert_int_equal(EVP_PKEY_eq(back, asym[k]), 1);
                EVP_PKEY_free(back);
                shd_free(pt);
            }
        }
    }
    EVP_PKEY_free(asym[0]);
    EVP_PKEY_free(asym[1]);
}

/* Created keys on both services, versioned and versionless, default enc. */
static void test_release_created(void **state)
{
    (void)state;
    SHD_CLEANUP_FREE char *token = maa_token(g.maa_key, MAA_ISS "/", 3600, true);
    static const struct {
        const char *base;
        size_t who;
        const char *host;
        const char *params;
    } cases[] = {
        {VAULT, 0, "myvault.vault.azure.net", "\"kty\":\"RSA-HSM\",\"key_size\":2048"},
        {HSM, 1, "myhsm.managedhsm.azure.net", "\"kty\":\"EC-HSM\",\"crv\":\"P-521\""},
        {HSM, 1, "myhsm.managedhsm.azure.net", "\"kty\":\"oct-HSM\",\"key_size\":256"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[16];
        snprintf(name, sizeof(name), "cr-%zu", i);
        SHD_CLEANUP_JSON json_t *b = create(cases[i].base, cases[i].who, name, cases[i].params,
                                            POLICY_OK);
        const char *version = strrchr(jstr(b, "key.kid"), '/') + 1;
        struct reply r = release(cases[i].base, cases[i].who, name, version, token, NULL);
        SHD_CLEANUP_JSON json_t *p = verify_release(&r, cases[i].host);
        reply_clear(&r);
        assert_string_equal(jstr(p, "request.enc"), "CKM_RSA_AES_KEY_WRAP");
        assert_null(json_object_get(json_object_get(p, "request"), "nonce"));
        assert_string_equal(jstr(p, "response.key.key.kid"), jstr(b, "key.kid"));
        size_t n = 0;
        uint8_t *pt = unwrap_key_hsm(p, SHD_CRYPTO_HASH_SHA1, &n);
        if (i == 2) {
            assert_int_equal(n, 32);
            shd_free_wipe(pt, n);
            continue;
        }
        EVP_PKEY *back = NULL;
        EXPECT_OK(shd_crypto_privkey_load(pt, n, &back));
        shd_free(pt);
        EVP_PKEY *pub = NULL;
        EXPECT_OK(shd_jwk_import_public(json_object_get(b, "key"), &pub));
        assert_int_equal(EVP_PKEY_eq(back, pub), 1);
        EVP_PKEY_free(back);
        EVP_PKEY_free(pub);
    }
}

static void test_release_refused(void **state)
{
    (void)state;
    SHD_CLEANUP_JSON json_t *b1 = create(VAULT, 0, "rel-ok", "\"kty\":\"oct-HSM\"", POLICY_OK);
    SHD_CLEANUP_JSON json_t *b2 = create(VAULT, 0, "rel-vmpl1", "\"kty\":\"oct-HSM\"",
                                         POLICY_VMPL1);
    SHD_CLEANUP_JSON json_t *b3 = create(VAULT, 0, "rel-down", "\"kty\":\"oct-HSM\"", POLICY_DOWN);
    SHD_CLEANUP_JSON json_t *b4 = create(VAULT, 0, "rel-noexp", "\"kty\":\"oct-HSM\"", NULL);
    SHD_CLEANUP_FREE char *good = maa_token(g.maa_key, MAA_ISS, 3600, true);
    SHD_CLEANUP_FREE char *forged = maa_token(g.other_key, MAA_ISS, 3600, true);
    SHD_CLEANUP_FREE char *expired = maa_token(g.maa_key, MAA_ISS, -3600, true);
    SHD_CLEANUP_FREE char *nokeys = maa_token(g.maa_key, MAA_ISS, 3600, false);
    SHD_CLEANUP_FREE char *foreign = maa_token(g.maa_key, "https://evil.attest.azure.net", 3600,
                                               true);
    SHD_CLEANUP_FREE char *down = maa_token(g.maa_key, "https://down.attest.azure.net", 3600, true);

    struct reply r = release(VAULT, 0, "rel-vmpl1", NULL, good, NULL);
    expect_error(&r, 403, "Forbidden", "claim 'x-ms-sevsnpvm-vmpl' is '0': condition equals '1'");
    r = release(VAULT, 0, "rel-ok", NULL, foreign, NULL);
    expect_error(&r, 403, "Forbidden", "no authority matches the token issuer");
    r = release(VAULT, 0, "rel-ok", NULL, forged, NULL);
    expect_error(&r, 400, "BadParameter", "cannot be verified");
    r = release(VAULT, 0, "rel-ok", NULL, expired, NULL);
    expect_error(&r, 400, "BadParameter", "expired");
    r = release(VAULT, 0, "rel-ok", NULL, nokeys, NULL);
    expect_error(&r, 400, "BadParameter", "x-ms-runtime.keys");
    r = release(VAULT, 0, "rel-ok", NULL, "not.a.jwt", NULL);
    expect_error(&r, 400, "BadParameter", "not a valid JWT");
    r = release(VAULT, 0, "rel-ok", NULL, good, "RSA_AES_KEY_WRAP_512");
    expect_error(&r, 400, "BadParameter", "Invalid 'enc'");
    r = release(VAULT, 0, "rel-down", NULL, down, NULL);
    expect_error(&r, 400, "BadParameter", "AKV.SKR.1012");
    r = release(VAULT, 0, "rel-noexp", NULL, good, NULL);
    expect_error(&r, 403, "Forbidden", "not exportable");
    r = release(VAULT, 0, "missing", NULL, good, NULL);
    expect_error(&r, 404, "KeyNotFound", "(name/id) missing was");
    r = release(VAULT, 0, "rel-ok", "0123456789abcdef0123456789abcdef", good, NULL);
    expect_error(&r, 404, "KeyNotFound", NULL);
    /* The key lives in myvault only. */
    r = call("POST", "http://other.vault.azure.net/keys/rel-ok/release" API, g.bearer[0],
             "{\"target\":\"x.y.z\"}");
    expect_error(&r, 404, "KeyNotFound", NULL);
    r = call("POST", VAULT "/keys/rel-ok/release" API, g.bearer[0], "{\"nonce\":\"x\"}");
    expect_error(&r, 400, "BadParameter", "target");
    r = call("POST", VAULT "/keys/rel-ok/release" API, g.bearer[0], "[]");
    expect_error(&r, 400, "BadParameter", NULL);
    /* Still releasable with the good token afterwards. */
    r = release(VAULT, 0, "rel-ok", NULL, good, NULL);
    assert_int_equal(r.status, 200);
    reply_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge),        cmocka_unit_test(test_api_version_and_routes),
        cmocka_unit_test(test_create_types),     cmocka_unit_test(test_get_versions),
        cmocka_unit_test(test_release_imported), cmocka_unit_test(test_release_created),
        cmocka_unit_test(test_release_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
