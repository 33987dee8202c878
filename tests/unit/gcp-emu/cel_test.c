/*
 * cel_test.c - the CEL subset: accept/reject tables over attestation-token claims (wrong
 * project, wrong image digest, ...), CEL's error absorption in && and ||, and parser negatives.
 */
#include <string.h>

#include <jansson.h>

#include "cel.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

/* Claims shaped like a Confidential Space token (gcp-identity.md 3.6). */
static const char *const claims_text =
    "{\"iss\":\"https://confidentialcomputing.googleapis.com\",\"sub\":\"https://www.googleapis"
    ".com/compute/v1/projects/p1/zones/us-central1-a/instances/vm1\",\"secboot\":true,"
    "\"swname\":\"CONFIDENTIAL_SPACE\",\"hwmodel\":\"GCP_AMD_SEV\",\"dbgstat\":\"disabled-since-"
    "boot\","
    "\"oemid\":11129,\"google_service_accounts\":[\"sa@p1.iam.gserviceaccount.com\"],"
    "\"submods\":{\"gce\":{\"project_id\":\"p1\",\"project_number\":\"42\",\"instance_id\":\"7\"},"
    "\"confidential_space\":{\"support_attributes\":[\"LATEST\",\"STABLE\",\"USABLE\"]},"
    "\"container\":{\"image_digest\":\"sha256:abc\",\"env_override\":{\"MODE\":\"prod\"}}}}";

struct cel_case {
    const char *expr;
    int want; /* 1 true, 0 false, -1 evaluation error, -2 parse error */
};

static void run_cases(const struct cel_case *cases, size_t n)
{
    json_t *claims = json_loads(claims_text, 0, NULL);
    json_t *attribute = json_pack("{s:s}", "image_digest", "sha256:abc");
    json_t *google = json_pack("{s:s}", "subject", "gcpcs::sha256:abc::42::7");
    assert_non_null(claims);
    struct gemu_cel_var vars[] = {
        {"assertion", claims}, {"attribute", attribute}, {"google", google}};
    for (size_t i = 0; i < n; i++) {
        struct gemu_cel *cel = NULL;
        shd_result r = gemu_cel_parse(cases[i].expr, &cel);
        if (cases[i].want == -2) {
            if (shd_is_ok(r)) {
                fail_msg("parsed but should not: %s", cases[i].expr);
            }
            shd_error_clear();
            continue;
        }
        if (shd_is_err(r)) {
            char msg[256];
            shd_error_render(msg, sizeof(msg));
            fail_msg("parse failed: %s: %s", cases[i].expr, msg);
        }
        bool b = false;
        r = gemu_cel_eval_bool(cel, vars, 3, &b);
        if (cases[i].want == -1) {
            if (shd_is_ok(r)) {
                fail_msg("evaluated but should not: %s", cases[i].expr);
            }
            assert_int_equal(shd_error_code(), SHD_ERR_INPUT);
            shd_error_clear();
        } else {
            if (shd_is_err(r)) {
                char msg[256];
                shd_error_render(msg, sizeof(msg));
                fail_msg("eval failed: %s: %s", cases[i].expr, msg);
            }
            if ((int)b != cases[i].want) {
                fail_msg("%s gave %d", cases[i].expr, (int)b);
            }
        }
        gemu_cel_free(cel);
    }
    json_decref(claims);
    json_decref(attribute);
    json_decref(google);
}

static void test_conditions(void **state)
{
    (void)state;
    static const struct cel_case cases[] = {
        /* The documented Confidential Space condition, and variants that must reject. */
        {"assertion.swname == 'CONFIDENTIAL_SPACE' && 'STABLE' in "
         "assertion.submods.confidential_space.support_attributes && "
         "assertion.submods.container.image_digest == 'sha256:abc' && "
         "'sa@p1.iam.gserviceaccount.com' in assertion.google_service_accounts",
         1},
        {"assertion.submods.container.image_digest == 'sha256:def'", 0},
        {"assertion.submods.gce.project_id == 'p2' && assertion.secboot == true", 0},
        {"assertion.submods.gce.project_id == 'p1' && assertion.secboot == true", 1},
        {"assertion.submods.gce.project_id == \"p1\" && assertion.secboot", 1},
        {"assertion.secboot == false", 0},
        {"'other@p1.iam.gserviceaccount.com' in assertion.google_service_accounts", 0},
        {"assertion.hwmodel in ['GCP_AMD_SEV', 'GCP_INTEL_TDX']", 1},
        {"assertion.hwmodel in ['GCP_INTEL_TDX']", 0},
        {"assertion.submods.container.env_override.MODE == 'prod'", 1},
        {"assertion.submods.container.env_override['MODE'] != 'prod'", 0},
        {"'MODE' in assertion.submods.container.env_override", 1},
        {"assertion.oemid == 11129", 1},
        {"assertion.oemid == '11129'", 0}, /* different types are unequal */
        {"!(assertion.dbgstat == 'enabled')", 1},
        {"!!assertion.secboot", 1},
        {"assertion.swname == 'GCE' || assertion.swname == 'CONFIDENTIAL_SPACE'", 1},
        {"(assertion.swname == 'GCE' || assertion.secboot) && assertion.oemid == 1", 0},
        {"attribute.image_digest == 'sha256:abc' && google.subject != ''", 1},
        {"google.subject == 'gcpcs::' + assertion.submods.container.image_digest + '::' + "
         "assertion.submods.gce.project_number + '::' + assertion.submods.gce.instance_id",
         1},
        {"'a\\'b' == \"a'b\"", 1},
        {"[] == []", 1},
        {"null == null", 1},
        {"assertion.google_service_accounts[0] == 'sa@p1.iam.gserviceaccount.com'", 1},
        /* CEL error absorption: the deciding side wins over an error on the other. */
        {"assertion.missing == 'x' && false", 0},
        {"false && assertion.missing == 'x'", 0},
        {"assertion.missing == 'x' || true", 1},
        {"true || assertion.missing", 1},
        /* Evaluation errors: missing fields, wrong operand types, unknown variables. */
        {"assertion.missing == 'x'", -1},
        {"assertion.missing == 'x' && true", -1},
        {"assertion.submods.gce.project_id.x == 'p1'", -1},
        {"!assertion.swname", -1},
        {"assertion.swname && true", -1},
        {"'a' + 1 == 'a1'", -1},
        {"'x' in assertion.swname", -1},
        {"1 in assertion.submods", -1},
        {"unknown == 1", -1},
        {"assertion.google_service_accounts[5] == 'x'", -1},
        {"assertion.swname", -1}, /* not a bool */
        /* Syntax errors. */
        {"", -2},
        {"assertion.", -2},
        {"assertion.swname = 'GCE'", -2},
        {"assertion.swname == 'GCE", -2},
        {"assertion.swname == 'GCE' &&", -2},
        {"(assertion.secboot", -2},
        {"[1, 2", -2},
        {"assertion.secboot & true", -2},
        {"'\\q' == 'q'", -2},
        {"01 == 1", -2},
        {"99999999999999999999 == 1", -2},
        {"assertion.swname == 'GCE' extra", -2},
        {"intrue", -1}, /* an identifier, not the keyword: unknown variable */
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_limits(void **state)
{
    (void)state;
    char deep[256];
    size_t n = 0;
    for (; n < 40; n++) {
        deep[n] = '(';
    }
    deep[n++] = '1';
    for (size_t i = 0; i < 40; i++) {
        deep[n++] = ')';
    }
    deep[n] = '\0';
    struct gemu_cel *cel = NULL;
    EXPECT_ERR(gemu_cel_parse(deep, &cel), SHD_ERR_TOO_LARGE);
    char bangs[128];
    memset(bangs, '!', 100);
    shd_memcpy(bangs + 100, "true", 5);
    EXPECT_ERR(gemu_cel_parse(bangs, &cel), SHD_ERR_TOO_LARGE);
    static char big[GEMU_CEL_MAX_SOURCE + 8];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[0] = '1';
    EXPECT_ERR(gemu_cel_parse(big, &cel), SHD_ERR_TOO_LARGE);
    /* Many nodes: 1 + 1 + ... beyond the node limit. */
    static char many[4000];
    size_t k = 0;
    for (; k + 4 < sizeof(many) && k < 3000; k += 4) {
        shd_memcpy(many + k, "1 + ", 4);
    }
    shd_memcpy(many + k, "1", 2);
    EXPECT_ERR(gemu_cel_parse(many, &cel), SHD_ERR_TOO_LARGE);
    shd_error_clear();
}

static void test_mapping_values(void **state)
{
    (void)state;
    json_t *claims = json_loads(claims_text, 0, NULL);
    struct gemu_cel_var vars[] = {{"assertion", claims}};
    struct gemu_cel *cel = NULL;
    EXPECT_OK(gemu_cel_parse("assertion.sub", &cel));
    json_t *v = NULL;
    EXPECT_OK(gemu_cel_eval(cel, vars, 1, &v));
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), "https://www.googleapis.com/compute/v1/projects/p1/"
                                              "zones/us-central1-a/instances/vm1");
    json_decref(v);
    gemu_cel_free(cel);
    EXPECT_OK(gemu_cel_parse("'gcpcs::' + assertion.submods.gce.instance_id", &cel));
    EXPECT_OK(gemu_cel_eval(cel, vars, 1, &v));
    assert_string_equal(json_string_value(v), "gcpcs::7");
    json_decref(v);
    gemu_cel_free(cel);
    json_decref(claims);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_mapping_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
