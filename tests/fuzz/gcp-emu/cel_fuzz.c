/*
 * cel_fuzz.c - fuzz target for the CEL subset of the GCP emulator's workload identity
 * federation (tests/emulators/gcp/src/cel.c): attribute mappings and conditions written by
 * whoever configures a provider, evaluated over token claims.
 *
 * Target Functions: gemu_cel_parse, gemu_cel_eval, gemu_cel_eval_bool, gemu_cel_free
 *
 * Input: the expression source (a C string: it ends at the first NUL). It is evaluated with
 * the variables assertion (OIDC-token-like claims with nested objects, arrays, numbers, bool,
 * null and a long string), attribute and google (mapped attributes).
 * Properties checked:
 *   - parse fails only with SHD_ERR_INPUT (syntax) or SHD_ERR_TOO_LARGE, and always with the
 *     latter above GEMU_CEL_MAX_SOURCE bytes;
 *   - evaluation succeeds or fails with SHD_ERR_INPUT; it is deterministic (a second
 *     evaluation gives an equal value) and string results stay within GEMU_CEL_MAX_STRING;
 *   - gemu_cel_eval_bool agrees with gemu_cel_eval: the same bool, SHD_ERR_INPUT for a
 *     non-bool value or an evaluation error;
 *   - the same holds with no variable in scope (every identifier is then an evaluation error).
 */
#include <string.h>

#include <jansson.h>

#include "../shared/fuzz_common.h"
#include "cel.h"
#include "shd/json.h"
#include "shd/mem.h"

static const char ASSERTION[] =
    "{\"iss\":\"https://token.actions.githubusercontent.com\",\"sub\":\"repo:o/r:ref:main\","
    "\"aud\":[\"a\",\"b\"],\"exp\":4102444800,\"neg\":-3,\"ok\":true,\"nil\":null,"
    "\"google\":{\"compute_engine\":{\"project_id\":\"p\",\"instance_id\":\"1\"}},"
    "\"groups\":[\"g1\",\"g2\",{\"x\":1}],\"repository_owner\":\"o\","
    "\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxx\"}";
static const char ATTRIBUTE[] = "{\"repo\":\"o/r\",\"env\":\"prod\"}";
static const char GOOGLE[] = "{\"subject\":\"repo:o/r\",\"groups\":[\"g1\"]}";

static json_t *load(const char *text)
{
    json_t *j = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_json_parse(text, strlen(text), NULL, &j)));
    return j;
}

static void evaluate(const struct gemu_cel *cel, const struct gemu_cel_var *vars, size_t n)
{
    json_t *v1 = NULL;
    json_t *v2 = NULL;
    shd_result r1 = gemu_cel_eval(cel, vars, n, &v1);
    FUZZ_OK_OR(r1, SHD_ERR_INPUT);
    shd_error_clear();
    shd_result r2 = gemu_cel_eval(cel, vars, n, &v2);
    FUZZ_ASSERT(r1.err == r2.err);
    shd_error_clear();
    if (shd_is_ok(r1)) {
        FUZZ_ASSERT(v1 != NULL && v2 != NULL && json_equal(v1, v2));
        FUZZ_ASSERT(!json_is_string(v1) || json_string_length(v1) <= GEMU_CEL_MAX_STRING);
    }
    bool b = false;
    shd_result rb = gemu_cel_eval_bool(cel, vars, n, &b);
    if (shd_is_ok(r1) && json_is_boolean(v1)) {
        FUZZ_ASSERT(shd_is_ok(rb) && b == json_is_true(v1));
    } else {
        FUZZ_ASSERT(rb.err == SHD_ERR_INPUT);
    }
    json_decref(v1);
    json_decref(v2);
    fuzz_error_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    char *src = shd_alloc(size + 1);
    FUZZ_ASSERT(src != NULL);
    shd_memcpy(src, data, size);
    size_t len = strlen(src);

    struct gemu_cel *cel = NULL;
    shd_result r = gemu_cel_parse(src, &cel);
    shd_free(src);
    FUZZ_OK_OR(r, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE);
    if (len > GEMU_CEL_MAX_SOURCE) {
        FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE);
    }
    if (shd_is_err(r)) {
        FUZZ_ASSERT(cel == NULL);
        fuzz_error_reset();
        return 0;
    }
    json_t *assertion = load(ASSERTION);
    json_t *attribute = load(ATTRIBUTE);
    json_t *google = load(GOOGLE);
    const struct gemu_cel_var vars[] = {
        {"assertion", assertion},
        {"attribute", attribute},
        {"google", google},
    };
    evaluate(cel, vars, 3);
    evaluate(cel, vars, 0);
    json_decref(assertion);
    json_decref(attribute);
    json_decref(google);
    gemu_cel_free(cel);
    gemu_cel_free(NULL);
    fuzz_error_reset();
    return 0;
}
