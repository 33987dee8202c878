/*
 * sts_test.c - the STS emulator end to end over HTTP: the issuer's discovery document and JWKS
 * are fetched over TLS from a verifier listener (real host names through the connect-to map),
 * tokens signed with the verifier key are exchanged, and every rejection gives the exact OAuth
 * error body.
 */
#include "gemu_fixture.h"
#include "shd/codec.h"
#include "faults.h"
#include "sts.h"
#include "tokens_jwks.h"

struct sts_fx {
    struct fx f;
    uint16_t sts;
    char audience[512];
};

static int sts_setup(void **state)
{
    struct sts_fx *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_init(&s->f);
    /* The verifier listener serves only the well-known documents here. */
    s->f.st->ports.verifier = fx_bind(&s->f, GEMU_SVC_VERIFIER, true);
    struct gemu_service *wk = NULL;
    fx_fail(gemu_wellknown_service_new(s->f.st, &wk), "wellknown");
    fx_attach(&s->f, NULL, wk);
    s->sts = fx_bind(&s->f, GEMU_SVC_STS, false);
    s->f.st->ports.sts = s->sts;
    struct gemu_service *sts = NULL;
    fx_fail(gemu_sts_service_new(s->f.st, &sts), "sts service");
    fx_attach(&s->f, sts, NULL);
    snprintf(s->audience, sizeof(s->audience),
             "//iam.googleapis.com/projects/123456789012/locations/global/"
             "workloadIdentityPools/gemu-pool/providers/attestation-verifier");
    *state = s;
    return 0;
}

static int sts_teardown(void **state)
{
    struct sts_fx *s = *state;
    fx_free(&s->f);
    shd_free(s);
    return 0;
}

/* Claims of a mode-B attestation token; tweak with the arguments. */
static json_t *sts_claims(const char *aud, const char *project, bool secboot, int64_t iat,
                          int64_t exp)
{
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:s,s:{s:{s:s,s:s}}}", "iss",
                          GEMU_VERIFIER_ISSUER, "aud", aud, "sub",
                          "https://www.googleapis.com/compute/v1/projects/gemu-project/zones/"
                          "us-central1-a/instances/gemu-cvm",
                          "iat", (json_int_t)iat, "nbf", (json_int_t)iat, "exp", (json_int_t)exp,
                          "secboot", secboot, "swname", "GCE", "submods", "gce", "project_id",
                          project, "project_number", "123456789012");
    assert_non_null(c);
    return c;
}

static char *sts_sign(struct sts_fx *s, json_t *claims, EVP_PKEY *key, const char *kid)
{
    char *jwt = NULL;
    fx_fail(gemu_jwt_sign(key != NULL ? key : s->f.st->verifier_key,
                          kid != NULL ? kid : s->f.st->verifier_kid, claims, &jwt),
            "sign");
    json_decref(claims);
    return jwt;
}

static char *sts_good_token(struct sts_fx *s)
{
    int64_t now = (int64_t)time(NULL);
    return sts_sign(s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", true, now, now + 3600),
                    NULL, NULL);
}

static void sts_post_form(struct sts_fx *s, const char *audience, const char *jwt,
                          const char *grant, struct fx_resp *out)
{
    char body[16384];
    snprintf(body, sizeof(body),
             "grant_type=%s&audience=%s&scope=https%%3A%%2F%%2Fwww.googleapis.com%%2Fauth%%2F"
             "cloud-platform&requested_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type"
             "%%3Aaccess_token&subject_token=%s&subject_token_type=urn:ietf:params:oauth:"
             "token-type:jwt",
             grant, audience, jwt);
    const char *h[] = {"Content-Type", "application/x-www-form-urlencoded;charset=UTF-8", NULL};
    fx_do(&s->f, "POST", "http", s->sts, "/v1/token", h, body, NULL, out);
}

static void expect_oauth(const struct fx_resp *r, const char *error, const char *desc_prefix)
{
    assert_int_equal(r->status, 400);
    assert_string_equal(fx_str(r, "error"), error);
    const char *d = fx_str(r, "error_description");
    if (strncmp(d, desc_prefix, strlen(desc_prefix)) != 0) {
        fail_msg("error_description '%s' does not start with '%s'", d, desc_prefix);
    }
    assert_int_equal(json_object_size(r->json), 2);
}

static void test_happy_path_form(void **state)
{
    struct sts_fx *s = *state;
    char *jwt = sts_good_token(s);
    struct fx_resp r;
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "issued_token_type"), GEMU_STS_TOKEN_TYPE_ACCESS);
    assert_string_equal(fx_str(&r, "token_type"), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 3600);
    const char *tok = fx_str(&r, "access_token");
    assert_int_equal(strncmp(tok, GEMU_TOKEN_PREFIX, strlen(GEMU_TOKEN_PREFIX)), 0);
    struct gemu_principal *p = NULL;
    fx_fail(gemu_tokens_lookup(tok, strlen(tok), (int64_t)time(NULL), s->f.st->tokens, &p, NULL),
            "lookup");
    assert_int_equal(p->kind, GEMU_PRINCIPAL_FEDERATED);
    assert_string_equal(p->subject, "https://www.googleapis.com/compute/v1/projects/gemu-project/"
                                    "zones/us-central1-a/instances/gemu-cvm");
    assert_string_equal(p->pool,
                        "projects/123456789012/locations/global/workloadIdentityPools/gemu-pool");
    assert_string_equal(json_string_value(json_object_get(p->attributes, "attribute.project_id")),
                        "gemu-project");
    assert_true(gemu_principal_matches("principalSet://iam.googleapis.com/projects/123456789012/"
                                       "locations/global/workloadIdentityPools/gemu-pool/*",
                                       p));
    assert_true(gemu_principal_matches(
        "principalSet://iam.googleapis.com/projects/123456789012/locations/global/"
        "workloadIdentityPools/gemu-pool/attribute.project_id/gemu-project",
        p));
    assert_false(gemu_principal_matches(
        "principalSet://iam.googleapis.com/projects/123456789012/locations/global/"
        "workloadIdentityPools/gemu-pool/attribute.project_id/other",
        p));
    gemu_principal_free(p);
    fx_resp_clear(&r);
    shd_free(jwt);
}

static void test_happy_path_json(void **state)
{
    struct sts_fx *s = *state;
    char *jwt = sts_good_token(s);
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "grantType", GEMU_STS_GRANT_TYPE, "audience",
                             s->audience, "requestedTokenType", GEMU_STS_TOKEN_TYPE_ACCESS,
                             "subjectToken", jwt, "subjectTokenType", GEMU_STS_TOKEN_TYPE_ID);
    char *text = NULL;
    size_t tlen = 0;
    fx_fail(shd_json_go_dump(body, 0, &text, &tlen), "dump");
    const char *h[] = {"Content-Type", "application/json", NULL};
    struct fx_resp r;
    fx_do(&s->f, "POST", "http", s->sts, "/v1/token", h, text, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "token_type"), "Bearer");
    fx_resp_clear(&r);
    shd_free(text);
    json_decref(body);
    shd_free(jwt);
}

static void test_rejections(void **state)
{
    struct sts_fx *s = *state;
    int64_t now = (int64_t)time(NULL);
    struct fx_resp r;

    char *jwt = sts_sign(s, sts_claims("https://example.com", "gemu-project", true, now, now + 600),
                         NULL, NULL);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant",
                 "The audience in ID Token [https://example.com] does not match the expected "
                 "audience.");
    fx_resp_clear(&r);
    shd_free(jwt);

    jwt = sts_sign(
        s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", true, now - 7200, now - 3600),
        NULL, NULL);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant", "ID Token issued at ");
    assert_non_null(strstr(fx_str(&r, "error_description"), "has expired at"));
    fx_resp_clear(&r);
    shd_free(jwt);

    /* Signed by another key under the verifier's kid: bad signature. */
    jwt = sts_sign(s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", true, now, now + 600),
                   s->f.st->google_key, s->f.st->verifier_kid);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant", "The ID Token's signature could not be verified.");
    fx_resp_clear(&r);
    shd_free(jwt);

    /* A kid the issuer does not publish. */
    jwt = sts_sign(s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", true, now, now + 600),
                   s->f.st->google_key, s->f.st->google_kid);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant", "The ID Token's key id was not found");
    fx_resp_clear(&r);
    shd_free(jwt);

    /* Attribute condition false: wrong project, then secure boot off. */
    jwt = sts_sign(s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "other-project", true, now, now + 600),
                   NULL, NULL);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "unauthorized_client",
                 "The given credential is rejected by the attribute condition.");
    fx_resp_clear(&r);
    shd_free(jwt);
    jwt = sts_sign(s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", false, now, now + 600),
                   NULL, NULL);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "unauthorized_client",
                 "The given credential is rejected by the attribute condition.");
    fx_resp_clear(&r);
    shd_free(jwt);

    /* Another issuer. */
    json_t *c = sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", true, now, now + 600);
    json_object_set_new(c, "iss", json_string("https://evil.example"));
    jwt = sts_sign(s, c, NULL, NULL);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant",
                 "The issuer in ID Token https://evil.example does not match the expected ones");
    fx_resp_clear(&r);
    shd_free(jwt);

    /* A lifetime over 48 h. */
    jwt = sts_sign(
        s, sts_claims(GEMU_DEFAULT_STS_AUDIENCE, "gemu-project", true, now, now + 49 * 3600), NULL,
        NULL);
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant", "The ID Token's lifetime");
    fx_resp_clear(&r);
    shd_free(jwt);
}

static void test_request_errors(void **state)
{
    struct sts_fx *s = *state;
    char *jwt = sts_good_token(s);
    struct fx_resp r;

    sts_post_form(s, "projects/123/providers/x", jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_request",
                 "Invalid value for \"audience\". This value should be the full resource name of "
                 "the Identity Provider. See "
                 "https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the "
                 "list of possible formats.");
    fx_resp_clear(&r);

    sts_post_form(s,
                  "//iam.googleapis.com/projects/123456789012/locations/global/"
                  "workloadIdentityPools/gemu-pool/providers/nope",
                  jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_target",
                 "The target service indicated by the \"audience\" parameters is invalid. This "
                 "might either be because the pool or provider is disabled or deleted or because "
                 "it doesn't exist.");
    fx_resp_clear(&r);

    sts_post_form(s, s->audience, jwt, "client_credentials", &r);
    expect_oauth(&r, "unsupported_grant_type", "Invalid value for \"grant_type\".");
    fx_resp_clear(&r);

    /* Truncated and forged tokens. */
    sts_post_form(s, s->audience, "abc.def", GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant", "Unable to parse the ID Token.");
    fx_resp_clear(&r);
    char none[4096];
    char *hdr = NULL;
    static const char none_hdr[] = "{\"alg\":\"none\",\"kid\":\"x\"}";
    fx_fail(shd_b64_encode((const uint8_t *)none_hdr, sizeof(none_hdr) - 1, SHD_B64_URL_NOPAD, &hdr,
                           NULL),
            "b64");
    const char *payload = strchr(jwt, '.') + 1;
    int plen = (int)(strrchr(jwt, '.') - payload);
    snprintf(none, sizeof(none), "%s.%.*s.AAAA", hdr, plen, payload);
    sts_post_form(s, s->audience, none, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant", "The ID Token's signing algorithm is not supported");
    fx_resp_clear(&r);
    shd_free(hdr);

    const char *h[] = {"Content-Type", "text/plain", NULL};
    fx_do(&s->f, "POST", "http", s->sts, "/v1/token", h, "x", NULL, &r);
    expect_oauth(&r, "invalid_request", "The request body must be");
    fx_resp_clear(&r);

    const char *hf[] = {"Content-Type", "application/x-www-form-urlencoded", NULL};
    fx_do(&s->f, "POST", "http", s->sts, "/v1/token", hf,
          "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token_type="
          "urn:ietf:params:oauth:token-type:jwt",
          NULL, &r);
    expect_oauth(&r, "invalid_request", "Missing required field \"subject_token\".");
    fx_resp_clear(&r);
    /* A duplicated field and a bad escape make the form invalid. */
    fx_do(&s->f, "POST", "http", s->sts, "/v1/token", hf, "grant_type=a&grant_type=b", NULL, &r);
    expect_oauth(&r, "invalid_request", "The request body must be");
    fx_resp_clear(&r);
    fx_do(&s->f, "POST", "http", s->sts, "/v1/token", hf, "grant_type=%zz", NULL, &r);
    expect_oauth(&r, "invalid_request", "The request body must be");
    fx_resp_clear(&r);
    shd_free(jwt);
}

/* A fault on the issuer's JWKS shows that the keys really come over TLS from the verifier. */
static void test_jwks_fetch_fault(void **state)
{
    struct sts_fx *s = *state;
    struct gemu_fault rule;
    static const char spec[] = "{\"service\":\"verifier\",\"path_prefix\":\"/service_accounts/\","
                               "\"count\":1,\"status\":503}";
    fx_fail(gemu_fault_parse(spec, sizeof(spec) - 1, &rule), "fault");
    fx_fail(gemu_faults_add(&rule, s->f.st->faults), "fault add");
    char *jwt = sts_good_token(s);
    struct fx_resp r;
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    expect_oauth(&r, "invalid_grant",
                 "Unable to fetch https://www.googleapis.com/service_accounts/");
    fx_resp_clear(&r);
    /* The rule was used up: the next exchange succeeds. */
    sts_post_form(s, s->audience, jwt, GEMU_STS_GRANT_TYPE, &r);
    assert_int_equal(r.status, 200);
    fx_resp_clear(&r);
    shd_free(jwt);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path_form),  cmocka_unit_test(test_happy_path_json),
        cmocka_unit_test(test_rejections),       cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_jwks_fetch_fault),
    };
    return cmocka_run_group_tests(tests, sts_setup, sts_teardown);
}
