/*
 * gobind_fuzz.c - fuzz target for skr's replica of gin's ShouldBindJSON (skr/src/gobind.c,
 * gobind_scan.c): Go's encoding/json scanner, string unquoting, field matching and the
 * "required" validator.
 *
 * Target Functions: skr_gobind_decode, skr_gobind_values_clear
 *
 * Input: an HTTP request body, bound into each of the three request structs of the sidecar
 * (RawAttestData, MAAAttestData, KeyReleaseData, as in skr/src/api.c).
 * Properties checked:
 *   - decode fails only with SHD_ERR_INPUT, whose message is one of Go's forms ("EOF",
 *     "unexpected EOF", "invalid character ...", "json: cannot unmarshal ...", "Key: '...'"),
 *     and leaves the output untouched;
 *   - on success every required field is present and non-empty, every value is NUL-terminated
 *     at its length, and absent fields have length 0;
 *   - differential oracle: when the body is also strict JSON (shd_json_parse, "\u0000" allowed)
 *     with ASCII keys, no two of which land on the same field, the outcome is predicted from
 *     the jansson tree: type errors and missing required fields fail, and otherwise each
 *     value equals the jansson string byte for byte;
 *   - skr_gobind_values_clear leaves a zeroed struct.
 */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "../shared/fuzz_common.h"
#include "gobind.h"
#include "shd/json.h"
#include "shd/mem.h"

static const struct skr_gobind_field RAW_FIELDS[] = {
    {"runtime_data", "RuntimeData", true},
};
static const struct skr_gobind_field MAA_FIELDS[] = {
    {"maa_endpoint", "MAAEndpoint", true},
    {"runtime_data", "RuntimeData", true},
};
static const struct skr_gobind_field KEY_FIELDS[] = {
    {"maa_endpoint", "MAAEndpoint", true},
    {"akv_endpoint", "AKVEndpoint", true},
    {"kid", "KID", true},
    {"access_token", "AccessToken", false},
};
static const struct skr_gobind_struct STRUCTS[] = {
    {"RawAttestData", RAW_FIELDS, 1},
    {"MAAAttestData", MAA_FIELDS, 2},
    {"KeyReleaseData", KEY_FIELDS, 4},
};

enum oracle { ORACLE_NONE, ORACLE_FAIL, ORACLE_OK };

static bool ascii(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s >= 0x80) {
            return false;
        }
    }
    return true;
}

/* encoding/json's lookup: exact name first, then ASCII case folding; -1 when none. */
static long field_of(const struct skr_gobind_struct *st, const char *key)
{
    for (size_t f = 0; f < st->nfields; f++) {
        if (strcmp(key, st->fields[f].json_name) == 0) {
            return (long)f;
        }
    }
    for (size_t f = 0; f < st->nfields; f++) {
        if (strcasecmp(key, st->fields[f].json_name) == 0) {
            return (long)f;
        }
    }
    return -1;
}

/* Predicts the outcome from the strict parse of the body; expect[f] the value of field f. */
static enum oracle predict(const json_t *doc, const struct skr_gobind_struct *st,
                           const json_t **expect)
{
    bool type_error = false;
    if (json_is_object(doc)) {
        const char *key = NULL;
        json_t *val = NULL;
        bool seen[SKR_GOBIND_MAX_FIELDS] = {false};
        json_object_foreach((json_t *)(uintptr_t)doc, key, val)
        {
            if (!ascii(key)) {
                return ORACLE_NONE;
            }
            long f = field_of(st, key);
            if (f < 0) {
                continue;
            }
            if (seen[f]) {
                return ORACLE_NONE; /* the winner depends on member order */
            }
            seen[f] = true;
            if (json_is_string(val)) {
                expect[f] = val;
            } else if (!json_is_null(val)) {
                type_error = true;
            }
        }
    } else if (!json_is_null(doc)) {
        type_error = true;
    }
    if (type_error) {
        return ORACLE_FAIL;
    }
    for (size_t f = 0; f < st->nfields; f++) {
        if (st->fields[f].required && (expect[f] == NULL || json_string_length(expect[f]) == 0)) {
            return ORACLE_FAIL;
        }
    }
    return ORACLE_OK;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void check_error_text(void)
{
    char msg[1024];
    (void)shd_error_render(msg, sizeof(msg));
    FUZZ_ASSERT(strcmp(msg, "EOF") == 0 || strcmp(msg, "unexpected EOF") == 0 ||
                starts_with(msg, "invalid character ") ||
                starts_with(msg, "json: cannot unmarshal ") || starts_with(msg, "Key: '"));
}

static void bind_one(const uint8_t *data, size_t size, const struct skr_gobind_struct *st,
                     const json_t *doc)
{
    const json_t *expect[SKR_GOBIND_MAX_FIELDS] = {NULL};
    enum oracle want = doc != NULL ? predict(doc, st, expect) : ORACLE_NONE;

    struct skr_gobind_values v;
    shd_memzero(&v, sizeof(v));
    shd_result r = skr_gobind_decode(data, size, st, &v);
    FUZZ_OK_OR(r, SHD_ERR_INPUT);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(want != ORACLE_OK);
        for (size_t f = 0; f < SKR_GOBIND_MAX_FIELDS; f++) {
            FUZZ_ASSERT(v.vals[f] == NULL && v.lens[f] == 0);
        }
        check_error_text();
        fuzz_error_reset();
        return;
    }
    FUZZ_ASSERT(want != ORACLE_FAIL);
    for (size_t f = 0; f < SKR_GOBIND_MAX_FIELDS; f++) {
        if (f >= st->nfields || v.vals[f] == NULL) {
            FUZZ_ASSERT(v.vals[f] == NULL && v.lens[f] == 0);
            FUZZ_ASSERT(f >= st->nfields || !st->fields[f].required);
            continue;
        }
        FUZZ_ASSERT(v.vals[f][v.lens[f]] == '\0');
        FUZZ_ASSERT(!st->fields[f].required || v.lens[f] > 0);
    }
    if (want == ORACLE_OK) {
        for (size_t f = 0; f < st->nfields; f++) {
            if (expect[f] == NULL) {
                FUZZ_ASSERT(v.vals[f] == NULL);
                continue;
            }
            size_t n = json_string_length(expect[f]);
            FUZZ_ASSERT(v.vals[f] != NULL && v.lens[f] == n);
            FUZZ_ASSERT(shd_memcmp(v.vals[f], json_string_value(expect[f]), n) == 0);
        }
    }
    skr_gobind_values_clear(&v);
    for (size_t f = 0; f < SKR_GOBIND_MAX_FIELDS; f++) {
        FUZZ_ASSERT(v.vals[f] == NULL && v.lens[f] == 0);
    }
    fuzz_error_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();
    const struct shd_json_limits lim = {.allow_nul = true, .allow_any_root = true};
    json_t *doc = NULL;
    if (shd_is_err(shd_json_parse((const char *)data, size, &lim, &doc))) {
        doc = NULL;
        shd_error_clear();
    }
    for (size_t i = 0; i < sizeof(STRUCTS) / sizeof(STRUCTS[0]); i++) {
        bind_one(data, size, &STRUCTS[i], doc);
    }
    json_decref(doc);
    return 0;
}
