/*
 * iam_test.c - IAM policies (roles, principal and principalSet members) and the IAM Credentials
 * emulator: generateAccessToken honouring workloadIdentityUser bindings, lifetimes, %40 in the
 * path, and the 401/403/404 envelopes.
 */
#include "gemu_fixture.h"
#include "iam.h"

#define POOL "projects/123456789012/locations/global/workloadIdentityPools/gemu-pool"
#define OTHER_POOL "projects/123456789012/locations/global/workloadIdentityPools/other"
#define USER "kms-user@gemu-project.iam.gserviceaccount.com"
#define GAT "/v1/projects/-/serviceAccounts/" USER ":generateAccessToken"

struct iam_fx {
    struct fx f;
    uint16_t port;
};

static int iam_setup(void **state)
{
    struct iam_fx *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_init(&s->f);
    s->port = fx_bind(&s->f, GEMU_SVC_IAM, false);
    struct gemu_service *svc = NULL;
    fx_fail(gemu_iam_service_new(s->f.st, &svc), "iam service");
    fx_attach(&s->f, svc, NULL);
    *state = s;
    return 0;
}

static int iam_teardown(void **state)
{
    struct iam_fx *s = *state;
    fx_free(&s->f);
    shd_free(s);
    return 0;
}

static void iam_post(struct iam_fx *s, const char *tok, const char *path, const char *body,
                     struct fx_resp *r)
{
    char auth[256];
    fx_bearer(tok != NULL ? tok : "", auth, sizeof(auth));
    const char *h[] = {"Authorization", auth, "Content-Type", "application/json", NULL};
    fx_do(&s->f, "POST", "http", s->port, path, tok != NULL ? h : h + 2, body, NULL, r);
}

static void test_generate_access_token(void **state)
{
    struct iam_fx *s = *state;
    json_t *attrs = json_pack("{s:s}", "google.subject", "vm-1");
    char *fed = fx_token(&s->f, "vm-1", POOL, attrs);
    json_decref(attrs);
    struct fx_resp r;
    int64_t before = (int64_t)time(NULL);
    iam_post(s, fed, GAT,
             "{\"scope\":[\"https://www.googleapis.com/auth/cloud-platform\"],"
             "\"lifetime\":\"600s\"}",
             &r);
    assert_int_equal(r.status, 200);
    const char *tok = fx_str(&r, "accessToken");
    const char *exp = fx_str(&r, "expireTime");
    assert_int_equal(strlen(exp), 30);
    assert_int_equal(exp[10], 'T');
    assert_int_equal(exp[29], 'Z');
    struct gemu_principal *p = NULL;
    int64_t expiry = 0;
    fx_fail(gemu_tokens_lookup(tok, strlen(tok), before, s->f.st->tokens, &p, &expiry), "lookup");
    assert_int_equal(p->kind, GEMU_PRINCIPAL_SERVICE_ACCOUNT);
    assert_string_equal(p->subject, USER);
    assert_true(expiry >= before + 600 && expiry <= before + 602);
    char want[31];
    fx_fail(gemu_rfc3339(expiry, want), "rfc3339");
    assert_string_equal(exp, want);
    gemu_principal_free(p);
    fx_resp_clear(&r);

    /* gax sends '@' as %40; the default lifetime is one hour. */
    iam_post(s, fed,
             "/v1/projects/-/serviceAccounts/kms-user%40gemu-project.iam.gserviceaccount.com"
             ":generateAccessToken?$alt=json%3Benum-encoding=int",
             "{\"scope\":[\"https://www.googleapis.com/auth/cloud-platform\"]}", &r);
    assert_int_equal(r.status, 200);
    tok = fx_str(&r, "accessToken");
    fx_fail(gemu_tokens_lookup(tok, strlen(tok), before, s->f.st->tokens, &p, &expiry), "lookup");
    assert_true(expiry >= before + 3600 && expiry <= before + 3602);
    gemu_principal_free(p);
    fx_resp_clear(&r);

    /* Lifetimes out of range and malformed. */
    iam_post(s, fed, GAT, "{\"lifetime\":\"43201s\"}", &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(fx_err_status(&r), "INVALID_ARGUMENT");
    fx_resp_clear(&r);
    iam_post(s, fed, GAT, "{\"lifetime\":\"10m\"}", &r);
    assert_int_equal(r.status, 400);
    fx_resp_clear(&r);
    iam_post(s, fed, GAT, "{\"lifetime\":3600}", &r);
    assert_int_equal(r.status, 400);
    fx_resp_clear(&r);
    iam_post(s, fed, GAT, "{\"delegates\":[\"projects/-/serviceAccounts/x@y\"]}", &r);
    assert_int_equal(r.status, 400);
    fx_resp_clear(&r);
    iam_post(s, fed, GAT, "not json", &r);
    assert_int_equal(r.status, 400);
    fx_resp_clear(&r);
    shd_free(fed);
}

static void test_denials(void **state)
{
    struct iam_fx *s = *state;
    struct fx_resp r;
    iam_post(s, NULL, GAT, "{}", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(fx_err_status(&r), "UNAUTHENTICATED");
    fx_resp_clear(&r);
    iam_post(s, "ya29.gemu.forged", GAT, "{}", &r);
    assert_int_equal(r.status, 401);
    fx_resp_clear(&r);

    /* A principal of another pool, and a service account without a binding. */
    json_t *attrs = json_pack("{s:s}", "google.subject", "vm-1");
    char *other = fx_token(&s->f, "vm-1", OTHER_POOL, attrs);
    json_decref(attrs);
    iam_post(s, other, GAT, "{}", &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(fx_err_status(&r), "PERMISSION_DENIED");
    assert_string_equal(fx_err_msg(&r), "Permission 'iam.serviceAccounts.getAccessToken' denied "
                                        "on resource (or it may not exist).");
    const json_t *d =
        json_array_get(json_object_get(json_object_get(r.json, "error"), "details"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "domain")), "iam.googleapis.com");
    fx_resp_clear(&r);
    char *vm = fx_token(&s->f, "123456789012-compute@developer.gserviceaccount.com", NULL, NULL);
    iam_post(s, vm, GAT, "{}", &r);
    assert_int_equal(r.status, 403);
    fx_resp_clear(&r);

    /* An account that does not exist. */
    iam_post(s, vm,
             "/v1/projects/-/serviceAccounts/nobody@x.iam.gserviceaccount.com"
             ":generateAccessToken",
             "{}", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(fx_err_msg(&r),
                        "Not found; Gaia id not found for email nobody@x.iam.gserviceaccount.com");
    fx_resp_clear(&r);
    shd_free(other);
    shd_free(vm);
}

static void test_project_lookup(void **state)
{
    struct iam_fx *s = *state;
    char *tok = fx_token(&s->f, USER, NULL, NULL);
    char auth[256];
    fx_bearer(tok, auth, sizeof(auth));
    const char *h[] = {"Authorization", auth, NULL};
    struct fx_resp r;
    fx_do(&s->f, "GET", "http", s->port, "/v1/projects/123456789012", h, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_str(&r, "projectId"), "gemu-project");
    assert_string_equal(fx_str(&r, "projectNumber"), "123456789012");
    fx_resp_clear(&r);
    fx_do(&s->f, "GET", "http", s->port, "/v1/projects/other", h, NULL, NULL, &r);
    assert_int_equal(r.status, 403);
    fx_resp_clear(&r);
    fx_do(&s->f, "GET", "http", s->port, "/v1/projects/gemu-project", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    fx_resp_clear(&r);
    shd_free(tok);
}

static void test_policy_members(void **state)
{
    (void)state;
    json_t *attrs = json_pack("{s:s,s:s}", "google.subject", "sub/with/slash", "attribute.digest",
                              "sha256:abc");
    struct gemu_principal fed = {.kind = GEMU_PRINCIPAL_FEDERATED,
                                 .subject = (char *)(uintptr_t) "sub/with/slash",
                                 .pool = (char *)(uintptr_t)POOL,
                                 .attributes = attrs};
    struct gemu_principal sa = {.kind = GEMU_PRINCIPAL_SERVICE_ACCOUNT,
                                .subject = (char *)(uintptr_t)USER};
    assert_true(gemu_principal_matches(
        "principal://iam.googleapis.com/" POOL "/subject/sub/with/slash", &fed));
    assert_false(
        gemu_principal_matches("principal://iam.googleapis.com/" POOL "/subject/sub", &fed));
    assert_true(gemu_principal_matches("principalSet://iam.googleapis.com/" POOL "/*", &fed));
    assert_false(
        gemu_principal_matches("principalSet://iam.googleapis.com/" OTHER_POOL "/*", &fed));
    assert_false(gemu_principal_matches("principalSet://iam.googleapis.com/" POOL "x/*", &fed));
    assert_true(gemu_principal_matches(
        "principalSet://iam.googleapis.com/" POOL "/attribute.digest/sha256:abc", &fed));
    assert_false(gemu_principal_matches(
        "principalSet://iam.googleapis.com/" POOL "/attribute.digest/sha256:abd", &fed));
    assert_false(gemu_principal_matches(
        "principalSet://iam.googleapis.com/" POOL "/attribute.missing/x", &fed));
    assert_false(gemu_principal_matches("serviceAccount:" USER, &fed));
    assert_true(gemu_principal_matches("serviceAccount:" USER, &sa));
    assert_false(gemu_principal_matches("serviceAccount:other@x", &sa));
    assert_false(gemu_principal_matches("principalSet://iam.googleapis.com/" POOL "/*", &sa));

    json_t *policy = json_loads(
        "{\"bindings\":[{\"role\":\"roles/cloudkms.cryptoKeyDecrypter\",\"members\":"
        "[\"serviceAccount:" USER "\"]},{\"role\":\"roles/iam.workloadIdentityUser\","
        "\"members\":[1,\"principalSet://iam.googleapis.com/" POOL "/*\"]},{\"role\":7}]}",
        0, NULL);
    assert_non_null(policy);
    assert_true(gemu_iam_policy_allows(policy, "cloudkms.cryptoKeyVersions.useToDecrypt", &sa));
    assert_false(gemu_iam_policy_allows(policy, "cloudkms.cryptoKeyVersions.useToEncrypt", &sa));
    assert_true(gemu_iam_policy_allows(policy, GEMU_IAM_PERM_GET_ACCESS_TOKEN, &fed));
    assert_false(gemu_iam_policy_allows(policy, GEMU_IAM_PERM_GET_ACCESS_TOKEN, &sa));
    assert_false(gemu_iam_policy_allows(NULL, GEMU_IAM_PERM_GET_ACCESS_TOKEN, &fed));
    json_decref(policy);
    json_decref(attrs);
}

static void test_duration(void **state)
{
    (void)state;
    int64_t v = 0;
    EXPECT_OK(gemu_iam_duration_parse("3600s", 43200, &v));
    assert_int_equal(v, 3600);
    EXPECT_OK(gemu_iam_duration_parse("600.5s", 43200, &v));
    assert_int_equal(v, 600);
    EXPECT_OK(gemu_iam_duration_parse("43200s", 43200, &v));
    static const char *const bad[] = {"",       "s",
                                      "3600",   "-1s",
                                      "1.s",    "1.1234567890s",
                                      "43201s", "abc",
                                      "1e3s",   "999999999999999s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(gemu_iam_duration_parse(bad[i], 43200, &v), SHD_ERR_INPUT);
    }
    shd_error_clear();
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_access_token),
        cmocka_unit_test(test_denials),
        cmocka_unit_test(test_project_lookup),
        cmocka_unit_test(test_policy_members),
        cmocka_unit_test(test_duration),
    };
    return cmocka_run_group_tests(tests, iam_setup, iam_teardown);
}
