/*
 * imds_test.c - the IMDS/THIM emulator over a real plain-HTTP listener (imds.c) and the
 * /emu/faults control endpoints (faults.c, accesslog.c):
 *   - managed-identity tokens: the Metadata header rule with its exact 400 body, both path
 *     spellings MSAL uses, string-valued fields, a JWT that verifies with the AAD issuer key
 *     (RS256 pinned) and carries aud/iss/appid/tid/oid/xms_az_rid, refusals with exact bodies;
 *   - THIM: the state's thim.json for the simulated chip;
 *   - faults: 503 twice with Retry-After then OK, a dropped connection (empty reply), the real
 *     answer without its body, refused rule bodies, /emu never faulted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"
#include "faults.h"
#include "imds.h"
#include "init.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/jose.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"

#define TOKEN_PATH "/metadata/identity/oauth2/token"
#define VAULT "resource=https%3A%2F%2Fvault.azure.net"

struct fx {
    char dir[64];
    struct aemu_state *st;
    struct aemu_service *svc;
    struct aemu_front front;
    struct shd_http_server *srv;
    struct shd_http_client *client;
    char base[64];
};

static int setup(void **state)
{
    struct fx *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/aemu-imds-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct aemu_init_opts o = {.state_dir = f->dir, .root_rsa_bits = 2048};
    EXPECT_OK(aemu_init_run(&o));
    struct aemu_state_options so = {.state_dir = f->dir};
    EXPECT_OK(aemu_state_load(&so, &f->st));
    EXPECT_OK(aemu_imds_service_new(f->st, &f->svc));
    f->front = (struct aemu_front){.svc = f->svc, .faults = f->st->faults};
    const struct shd_http_route all = {NULL, "/", aemu_front_handle, SHD_HTTP_ROUTE_PREFIX};
    struct shd_http_server_options opts = {.routes = &all, .nroutes = 1, .ctx = &f->front};
    EXPECT_OK(shd_http_server_create(&opts, &f->srv));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->srv, &f->st->ports.imds));
    EXPECT_OK(shd_http_server_start(f->srv));
    /* The real address, mapped to our listener as skr does it. */
    char map[64];
    snprintf(map, sizeof(map), "169.254.169.254:80:127.0.0.1:%u", (unsigned)f->st->ports.imds);
    struct shd_http_client_options co = {.connect_to = map};
    EXPECT_OK(shd_http_client_create(&co, &f->client));
    snprintf(f->base, sizeof(f->base), "http://169.254.169.254");
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

static struct shd_http_response *get(const struct fx *f, const char *method, const char *path,
                                     bool metadata, const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    struct shd_http_header h[] = {{"Metadata", "true"}};
    struct shd_http_request r = {
        .method = method,
        .url = url,
        .headers = h,
        .nheaders = metadata ? 1 : 0,
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

static void expect(const struct fx *f, const char *path, bool metadata, int status,
                   const char *body)
{
    struct shd_http_response *r = get(f, "GET", path, metadata, NULL);
    assert_int_equal(shd_http_response_status(r), status);
    assert_string_equal(body_of(r), body);
    shd_http_response_free(r);
}

/* ------------------------------------------------------------------------------------------ */

static void test_metadata_header_required(void **state)
{
    struct fx *f = *state;
    static const char want[] = "{\"error\":\"invalid_request\",\"error_description\":"
                               "\"Required metadata header not specified\"}";
    expect(f, TOKEN_PATH "?api-version=2018-02-01&" VAULT, false, 400, want);
    expect(f, TOKEN_PATH "/?api-version=2018-02-01&" VAULT, false, 400, want);
    expect(f, "/metadata/THIM/amd/certification", false, 400, want);
}

/* Verifies the token's JWT with the AAD key and returns its claims (a copy). */
static json_t *jwt_claims(const struct fx *f, const char *token)
{
    struct shd_jws *jws = NULL;
    EXPECT_OK(shd_jws_parse(token, strlen(token), 0, &jws));
    assert_string_equal(shd_jws_kid(jws), f->st->aad_kid);
    EXPECT_OK(shd_jws_verify_key(f->st->aad_key, SHD_JWS_RS256, jws));
    struct shd_jwt_rules rules;
    shd_jwt_rules_init(&rules);
    rules.iss = f->st->aad_issuer;
    rules.aud = "https://vault.azure.net";
    const json_t *claims = NULL;
    EXPECT_OK(shd_jwt_check(&rules, jws, &claims));
    json_t *copy = json_deep_copy(claims);
    shd_jws_free(&jws);
    return copy;
}

static void check_token(const struct fx *f, const char *path, const char *client_id)
{
    int64_t t0 = (int64_t)time(NULL);
    struct shd_http_response *r = get(f, "GET", path, true, NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(body_of(r), strlen(body_of(r)), NULL, &doc));
    static const char *const keys[] = {"access_token", "refresh_token", "client_id",
                                       "expires_in",   "expires_on",    "ext_expires_in",
                                       "not_before",   "resource",      "token_type"};
    assert_int_equal(json_object_size(doc), sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_true(json_is_string(json_object_get(doc, keys[i])));
    }
#define S(k) json_string_value(json_object_get(doc, k))
    assert_string_equal(S("token_type"), "Bearer");
    assert_string_equal(S("refresh_token"), "");
    assert_string_equal(S("resource"), "https://vault.azure.net");
    assert_string_equal(S("expires_in"), "86399");
    assert_string_equal(S("client_id"), client_id);
    char nbf[24];
    snprintf(nbf, sizeof(nbf), "%lld", (long long)t0);
    json_t *c = jwt_claims(f, S("access_token"));
    json_int_t iat = json_integer_value(json_object_get(c, "iat"));
    assert_true(iat >= t0 && iat <= t0 + 2);
    char s[24];
    snprintf(s, sizeof(s), "%lld", (long long)iat);
    assert_string_equal(S("not_before"), s);
    snprintf(s, sizeof(s), "%lld", (long long)(iat + 86399));
    assert_string_equal(S("expires_on"), s);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), iat + 86399);
    assert_string_equal(json_string_value(json_object_get(c, "appid")), client_id);
    assert_string_equal(json_string_value(json_object_get(c, "tid")), AEMU_DEFAULT_TENANT_ID);
    assert_string_equal(json_string_value(json_object_get(c, "xms_az_rid")), AEMU_IMDS_RESOURCE_ID);
    const char *oid = json_string_value(json_object_get(c, "oid"));
    assert_non_null(oid);
    assert_int_equal(strlen(oid), 36);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), oid);
#undef S
    json_decref(c);
    json_decref(doc);
    shd_http_response_free(r);
}

static void test_token(void **state)
{
    struct fx *f = *state;
    check_token(f, TOKEN_PATH "?api-version=2018-02-01&" VAULT, AEMU_IMDS_DEFAULT_CLIENT_ID);
    /* MSAL's spelling with the trailing slash, a user-assigned identity. */
    check_token(f,
                TOKEN_PATH "/?api-version=2019-08-01&" VAULT
                           "&client_id=0a1b2c3d-0000-4000-8000-0123456789ab",
                "0a1b2c3d-0000-4000-8000-0123456789ab");
}

static void test_token_refusals(void **state)
{
    struct fx *f = *state;
    expect(f, TOKEN_PATH "?" VAULT, true, 400,
           "{\"error\":\"invalid_request\",\"error_description\":"
           "\"Required query variable 'api-version' is missing\"}");
    expect(f, TOKEN_PATH "?api-version=2018-02-01", true, 400,
           "{\"error\":\"invalid_request\",\"error_description\":"
           "\"Required query variable 'resource' is missing\"}");
    expect(f, TOKEN_PATH "?api-version=2018-02-01&" VAULT "&client_id=nope", true, 400,
           "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}");
    expect(f, TOKEN_PATH "?api-version=2018-02-01&resource=a%20b", true, 400,
           "{\"error\":\"invalid_resource\",\"error_description\":"
           "\"The resource is not a valid URI\"}");
    expect(f, TOKEN_PATH "//?api-version=2018-02-01&" VAULT, true, 404,
           "{\"error\":\"not found\"}");
    struct shd_http_response *r = get(f, "POST", TOKEN_PATH, true, "");
    assert_int_equal(shd_http_response_status(r), 405);
    shd_http_response_free(r);
}

static void test_thim(void **state)
{
    struct fx *f = *state;
    struct shd_http_response *r = get(f, "GET", "/metadata/THIM/amd/certification", true, NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    char path[128];
    snprintf(path, sizeof(path), "%s/snp/thim.json", f->dir);
    size_t n = 0;
    uint8_t *want = shd_test_read_file(path, &n);
    size_t got_len = 0;
    const uint8_t *got = shd_http_response_body(r, &got_len);
    assert_int_equal(got_len, n);
    assert_memory_equal(got, want, n);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse((const char *)got, got_len, NULL, &doc));
    assert_int_equal(json_object_size(doc), 4);
    assert_string_equal(json_string_value(json_object_get(doc, "tcbm")), "7308000000000003");
    assert_string_equal(json_string_value(json_object_get(doc, "cacheControl")), "86400");
    json_decref(doc);
    shd_free(want);
    shd_http_response_free(r);
}

static void test_faults_control(void **state)
{
    struct fx *f = *state;
    struct shd_http_response *r = get(f, "POST", "/emu/faults", false,
                                      "{\"service\":\"imds\",\"path_prefix\":\"/metadata/THIM\","
                                      "\"count\":2,\"status\":503,\"retry_after\":1}");
    assert_int_equal(shd_http_response_status(r), 201);
    shd_http_response_free(r);
    /* A rule for every service and path: /emu itself stays reachable. */
    r = get(f, "POST", "/emu/faults", false, "{\"service\":\"*\",\"status\":500,\"count\":1}");
    assert_int_equal(shd_http_response_status(r), 201);
    shd_http_response_free(r);
    r = get(f, "GET", "/emu/faults", false, NULL);
    assert_string_equal(
        body_of(r),
        "[{\"service\":\"imds\",\"method\":\"\",\"path_prefix\":\"/metadata/THIM\",\"count\":2,"
        "\"status\":503,\"retry_after\":1,\"delay_ms\":0,\"body\":\"error\",\"drop\":false},"
        "{\"service\":\"*\",\"method\":\"\",\"path_prefix\":\"\",\"count\":1,\"status\":500,"
        "\"retry_after\":0,\"delay_ms\":0,\"body\":\"error\",\"drop\":false}]");
    shd_http_response_free(r);
    for (int i = 0; i < 2; i++) {
        r = get(f, "GET", "/metadata/THIM/amd/certification", true, NULL);
        assert_int_equal(shd_http_response_status(r), 503);
        assert_string_equal(shd_http_response_header(r, "Retry-After"), "1");
        assert_string_equal(body_of(r), "{\"error\":\"injected_fault\",\"error_description\":"
                                        "\"azure-emu injected status 503\"}");
        shd_http_response_free(r);
    }
    expect(
        f, TOKEN_PATH "?api-version=2018-02-01&" VAULT, true, 500,
        "{\"error\":\"injected_fault\",\"error_description\":\"azure-emu injected status 500\"}");
    r = get(f, "GET", "/metadata/THIM/amd/certification", true, NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    assert_null(shd_http_response_header(r, "Retry-After"));
    shd_http_response_free(r);
    expect(f, "/emu/faults", false, 200, "[]");

    /* Empty body, then clearing. */
    r = get(f, "POST", "/emu/faults", false,
            "{\"service\":\"imds\",\"status\":429,\"body\":\"empty\"}");
    assert_int_equal(shd_http_response_status(r), 201);
    shd_http_response_free(r);
    expect(f, "/metadata/THIM/amd/certification", true, 429, "");
    expect(f, "/metadata/THIM/amd/certification", true, 429, "");
    r = get(f, "DELETE", "/emu/faults", false, NULL);
    assert_int_equal(shd_http_response_status(r), 200);
    shd_http_response_free(r);
    expect(f, "/emu/faults", false, 200, "[]");
}

/* "drop": the connection closes without a byte; "body":"empty" alone: the real answer, bodiless. */
static void test_faults_drop_and_empty(void **state)
{
    struct fx *f = *state;
    struct shd_http_response *r = get(f, "POST", "/emu/faults", false,
                                      "{\"service\":\"imds\",\"path_prefix\":\"/metadata/THIM\","
                                      "\"count\":1,\"drop\":true}");
    assert_int_equal(shd_http_response_status(r), 201);
    shd_http_response_free(r);
    expect(f, "/emu/faults", false, 200,
           "[{\"service\":\"imds\",\"method\":\"\",\"path_prefix\":\"/metadata/THIM\","
           "\"count\":1,\"status\":0,\"retry_after\":0,\"delay_ms\":0,\"body\":\"error\","
           "\"drop\":true}]");
    struct shd_http_header h[] = {{"Metadata", "true"}};
    struct shd_http_request rq = {.method = "GET",
                                  .url = "http://169.254.169.254/metadata/THIM/amd/certification",
                                  .headers = h,
                                  .nheaders = 1};
    r = NULL;
    EXPECT_ERR(shd_http_client_do(f->client, &rq, &r, NULL), SHD_ERR_IO);
    unsigned long code = 0;
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_CURL);
    assert_int_equal(code, 52); /* CURLE_GOT_NOTHING */
    assert_null(r);
    /* Used up; the control endpoint and the service answer on new connections. */
    expect(f, "/emu/faults", false, 200, "[]");
    char path[128];
    snprintf(path, sizeof(path), "%s/snp/thim.json", f->dir);
    size_t thim_len = 0;
    char *thim = (char *)shd_test_read_file(path, &thim_len);
    expect(f, "/metadata/THIM/amd/certification", true, 200, thim);

    r = get(f, "POST", "/emu/faults", false,
            "{\"service\":\"imds\",\"path_prefix\":\"/metadata/THIM\",\"count\":1,"
            "\"body\":\"empty\"}");
    assert_int_equal(shd_http_response_status(r), 201);
    shd_http_response_free(r);
    r = get(f, "GET", "/metadata/THIM/amd/certification", true, NULL);
    size_t len = 1;
    assert_int_equal(shd_http_response_status(r), 200);
    assert_string_equal((const char *)shd_http_response_body(r, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(shd_http_response_header(r, "Content-Length"), "0");
    shd_http_response_free(r);
    expect(f, "/metadata/THIM/amd/certification", true, 200, thim);
    shd_free(thim);
}

static void test_faults_refused(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *body;
        const char *error;
    } bad[] = {
        {"{\"service\":\"imds\"}", "the rule does nothing: set status, delay_ms, drop or body"},
        {"{\"status\":503}", "missing field 'service'"},
        {"{\"service\":\"kms\",\"status\":503}",
         "field 'service' must be maa, akv, mhsm, imds or *"},
        {"{\"service\":\"akv\",\"status\":99}", "field 'status' must be 0 or 200..599"},
        {"{\"service\":\"akv\",\"status\":503,\"x\":1}", "unknown member 'x'"},
        {"{\"service\":\"akv\",\"path_prefix\":\"keys\",\"status\":503}",
         "field 'path_prefix' must start with /"},
        {"{\"service\":\"akv\",\"delay_ms\":60001}", "field 'delay_ms' is out of range"},
        {"{\"service\":\"akv\",\"body\":\"junk\"}",
         "field 'body' must be \\\"error\\\", \\\"malformed\\\" or \\\"empty\\\""},
        {"{\"service\":\"akv\",\"drop\":1}", "field 'drop' is not a boolean"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct shd_http_response *r = get(f, "POST", "/emu/faults", false, bad[i].body);
        assert_int_equal(shd_http_response_status(r), 400);
        char want[512];
        snprintf(want, sizeof(want), "{\"error\":\"%s\"}", bad[i].error);
        assert_string_equal(body_of(r), want);
        shd_http_response_free(r);
    }
    struct shd_http_response *r = get(f, "POST", "/emu/faults", false, "{\"service\":");
    assert_int_equal(shd_http_response_status(r), 400);
    shd_http_response_free(r);
    expect(f, "/emu/faults", false, 200, "[]");
}

/* The table itself: counts, first match wins, method filter, capacity. */
static void test_faults_table(void **state)
{
    (void)state;
    struct aemu_faults *t = NULL;
    EXPECT_OK(aemu_faults_new(&t));
    struct aemu_fault a = {
        .service = "akv", .method = "POST", .path_prefix = "/keys/", .count = 1, .status = 503};
    struct aemu_fault b = {.service = "*", .status = 429};
    EXPECT_OK(aemu_faults_add(&a, t));
    EXPECT_OK(aemu_faults_add(&b, t));
    struct aemu_fault got;
    assert_true(aemu_faults_take("akv", "GET", "/keys/k", t, &got));
    assert_int_equal(got.status, 429);
    assert_true(aemu_faults_take("akv", "POST", "/keys/k/release", t, &got));
    assert_int_equal(got.status, 503);
    assert_true(aemu_faults_take("akv", "POST", "/keys/k/release", t, &got));
    assert_int_equal(got.status, 429); /* a was used up */
    aemu_faults_clear(t);
    assert_false(aemu_faults_take("akv", "POST", "/keys/k", t, &got));
    for (unsigned i = 0; i < AEMU_FAULTS_MAX; i++) {
        EXPECT_OK(aemu_faults_add(&b, t));
    }
    EXPECT_ERR(aemu_faults_add(&b, t), SHD_ERR_TOO_LARGE);
    aemu_faults_free(t);
    aemu_faults_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_header_required),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_token_refusals),
        cmocka_unit_test(test_thim),
        cmocka_unit_test(test_faults_control),
        cmocka_unit_test(test_faults_drop_and_empty),
        cmocka_unit_test(test_faults_refused),
        cmocka_unit_test(test_faults_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
