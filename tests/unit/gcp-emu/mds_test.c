/*
 * mds_test.c - the metadata server: the Metadata-Flavor request check and response header,
 * values, 404s, access tokens, Google-signed identity tokens (standard and full), the AK CA
 * certificates for AIA, and the fault-control endpoint on the same listener.
 */
#include "faults.h"
#include "gemu_fixture.h"
#include "mds.h"
#include "shd/crypto_x509.h"
#include "shd/jws.h"
#include "shd/jwt.h"

#define SA_PATH "/computeMetadata/v1/instance/service-accounts/default/"

struct mds_fx {
    struct fx f;
    uint16_t port;
};

static int mds_setup(void **state)
{
    struct mds_fx *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_init(&s->f);
    s->port = fx_bind(&s->f, GEMU_SVC_MDS, false);
    struct gemu_service *svc = NULL;
    fx_fail(gemu_mds_service_new(s->f.st, &svc), "mds service");
    fx_attach(&s->f, svc, NULL);
    *state = s;
    return 0;
}

static int mds_teardown(void **state)
{
    struct mds_fx *s = *state;
    fx_free(&s->f);
    shd_free(s);
    return 0;
}

static void mds_get(struct mds_fx *s, const char *path, bool flavor, struct fx_resp *r)
{
    const char *h[] = {"Metadata-Flavor", "Google", NULL};
    fx_do(&s->f, "GET", "http", s->port, path, flavor ? h : NULL, NULL, "Metadata-Flavor", r);
}

static void test_flavor_and_values(void **state)
{
    struct mds_fx *s = *state;
    struct fx_resp r;
    mds_get(s, "/computeMetadata/v1/project/project-id", false, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.header, "Google");
    fx_resp_clear(&r);
    const char *wrong[] = {"Metadata-Flavor", "google", NULL};
    fx_do(&s->f, "GET", "http", s->port, "/computeMetadata/v1/project/project-id", wrong, NULL,
          "Metadata-Flavor", &r);
    assert_int_equal(r.status, 403);
    fx_resp_clear(&r);

    static const struct {
        const char *path;
        const char *value;
    } values[] = {
        {"/computeMetadata/v1/project/project-id", "gemu-project"},
        {"/computeMetadata/v1/project/numeric-project-id", "123456789012"},
        {"/computeMetadata/v1/instance/zone", "projects/123456789012/zones/us-central1-a"},
        {"/computeMetadata/v1/instance/id", "7333251546816446069"},
        {"/computeMetadata/v1/instance/name", "gemu-cvm"},
        {SA_PATH "email", "123456789012-compute@developer.gserviceaccount.com"},
        {"/computeMetadata/v1/instance/attributes/?recursive=true", "{}"},
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        mds_get(s, values[i].path, true, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, values[i].value);
        assert_string_equal(r.header, "Google");
        fx_resp_clear(&r);
    }
    mds_get(s, "/computeMetadata/v1/instance", true, &r);
    assert_int_equal(r.status, 200);
    fx_resp_clear(&r);
    static const char *const missing[] = {
        "/computeMetadata/v1/instance/nope", "/computeMetadata/v1/project/",
        "/computeMetadata/v1/instance/service-accounts/other@x/email", "/nothing"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        mds_get(s, missing[i], true, &r);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.header, "Google");
        fx_resp_clear(&r);
    }
}

static void test_token(void **state)
{
    struct mds_fx *s = *state;
    struct fx_resp r;
    mds_get(s, SA_PATH "token?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform",
            true, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.header, "Google");
    assert_string_equal(fx_str(&r, "token_type"), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 3599);
    const char *tok = fx_str(&r, "access_token");
    struct gemu_principal *p = NULL;
    fx_fail(gemu_tokens_lookup(tok, strlen(tok), (int64_t)time(NULL), s->f.st->tokens, &p, NULL),
            "lookup");
    assert_int_equal(p->kind, GEMU_PRINCIPAL_SERVICE_ACCOUNT);
    assert_string_equal(p->subject, "123456789012-compute@developer.gserviceaccount.com");
    gemu_principal_free(p);
    fx_resp_clear(&r);
}

static const json_t *mds_verify(struct mds_fx *s, const char *jwt, struct shd_jws **jws)
{
    json_t *jwks = NULL;
    fx_fail(gemu_jwks_new(s->f.st->google_key, s->f.st->google_kid, &jwks), "jwks");
    fx_fail(shd_jws_parse(jwt, strlen(jwt), 0, jws), "parse");
    fx_fail(shd_jws_verify_jwks(jwks, SHD_JWS_RS256, *jws), "verify");
    json_decref(jwks);
    struct shd_jwt_rules rules;
    shd_jwt_rules_init(&rules);
    rules.iss = GEMU_GOOGLE_ISSUER;
    rules.aud = "projects/p/locations/l/challenges/c1";
    const json_t *claims = NULL;
    fx_fail(shd_jwt_check(&rules, *jws, &claims), "claims");
    return claims;
}

static void test_identity(void **state)
{
    struct mds_fx *s = *state;
    struct fx_resp r;
    mds_get(s, SA_PATH "identity", true, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.header, "Google");
    fx_resp_clear(&r);
    mds_get(s, SA_PATH "identity?audience=x&format=weird", true, &r);
    assert_int_equal(r.status, 400);
    fx_resp_clear(&r);

    mds_get(s,
            SA_PATH "identity?audience=projects%2Fp%2Flocations%2Fl%2Fchallenges%2Fc1"
                    "&format=full&licenses=TRUE",
            true, &r);
    assert_int_equal(r.status, 200);
    struct shd_jws *jws = NULL;
    const json_t *c = mds_verify(s, r.body, &jws);
    assert_string_equal(json_string_value(json_object_get(c, "email")),
                        "123456789012-compute@developer.gserviceaccount.com");
    assert_true(json_is_true(json_object_get(c, "email_verified")));
    const json_t *ce = json_object_get(json_object_get(c, "google"), "compute_engine");
    assert_string_equal(json_string_value(json_object_get(ce, "project_id")), "gemu-project");
    assert_int_equal(json_integer_value(json_object_get(ce, "project_number")), 123456789012);
    assert_string_equal(json_string_value(json_object_get(ce, "instance_id")),
                        "7333251546816446069");
    assert_true(json_is_array(json_object_get(ce, "license_id")));
    shd_jws_free(&jws);
    fx_resp_clear(&r);

    mds_get(s, SA_PATH "identity?audience=projects%2Fp%2Flocations%2Fl%2Fchallenges%2Fc1", true,
            &r);
    assert_int_equal(r.status, 200);
    c = mds_verify(s, r.body, &jws);
    assert_null(json_object_get(c, "google"));
    assert_non_null(json_object_get(c, "email"));
    shd_jws_free(&jws);
    fx_resp_clear(&r);
}

static void test_ak_certificates(void **state)
{
    struct mds_fx *s = *state;
    struct fx_resp r;
    /* The AIA target needs no Metadata-Flavor (plain HTTP GET as go-tpm-tools does). */
    mds_get(s, GEMU_AK_INTERMEDIATE_PATH, false, &r);
    assert_int_equal(r.status, 200);
    X509 *c = NULL;
    fx_fail(shd_crypto_x509_load((const uint8_t *)r.body, r.len, &c), "der");
    assert_int_equal(X509_cmp(c, s->f.st->ak_ca_cert), 0);
    X509_free(c);
    fx_resp_clear(&r);
    mds_get(s, GEMU_AK_ROOT_PATH, false, &r);
    assert_int_equal(r.status, 200);
    fx_fail(shd_crypto_x509_load((const uint8_t *)r.body, r.len, &c), "der");
    assert_int_equal(X509_cmp(c, s->f.st->ak_root_cert), 0);
    X509_free(c);
    fx_resp_clear(&r);
    mds_get(s, GEMU_EVENTLOG_PATH, false, &r);
    assert_int_equal(r.status, 404); /* no vTPM in this test */
    fx_resp_clear(&r);
}

static void test_fault_control(void **state)
{
    struct mds_fx *s = *state;
    struct fx_resp r;
    fx_do(&s->f, "POST", "http", s->port, "/emu/faults", NULL, "{\"service\":\"mds\"}", NULL, &r);
    assert_int_equal(r.status, 400); /* a rule that does nothing */
    fx_resp_clear(&r);
    fx_do(&s->f, "POST", "http", s->port, "/emu/faults", NULL, "{\"service\":\"mds\",\"bogus\":1}",
          NULL, &r);
    assert_int_equal(r.status, 400);
    fx_resp_clear(&r);
    fx_do(&s->f, "POST", "http", s->port, "/emu/faults", NULL,
          "{\"service\":\"mds\",\"path_prefix\":\"/computeMetadata/v1/project/\",\"count\":1,"
          "\"status\":429,\"retry_after\":2}",
          NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(r.json), 1);
    fx_resp_clear(&r);
    const char *h[] = {"Metadata-Flavor", "Google", NULL};
    fx_do(&s->f, "GET", "http", s->port, "/computeMetadata/v1/project/project-id", h, NULL,
          "Retry-After", &r);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.header, "2");
    fx_resp_clear(&r);
    mds_get(s, "/computeMetadata/v1/project/project-id", true, &r);
    assert_int_equal(r.status, 200);
    fx_resp_clear(&r);
    /* Malformed body on the real answer: half of it. */
    fx_do(&s->f, "POST", "http", s->port, "/emu/faults", NULL,
          "{\"service\":\"mds\",\"path_prefix\":\"/computeMetadata/v1/project/project-id\","
          "\"body\":\"malformed\"}",
          NULL, &r);
    fx_resp_clear(&r);
    mds_get(s, "/computeMetadata/v1/project/project-id", true, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "gemu-p");
    fx_resp_clear(&r);
    fx_do(&s->f, "DELETE", "http", s->port, "/emu/faults", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    fx_resp_clear(&r);
    mds_get(s, "/computeMetadata/v1/project/project-id", true, &r);
    assert_string_equal(r.body, "gemu-project");
    fx_resp_clear(&r);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flavor_and_values), cmocka_unit_test(test_token),
        cmocka_unit_test(test_identity),          cmocka_unit_test(test_ak_certificates),
        cmocka_unit_test(test_fault_control),
    };
    return cmocka_run_group_tests(tests, mds_setup, mds_teardown);
}
