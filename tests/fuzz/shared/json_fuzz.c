/*
 * json_fuzz.c - fuzz target for the strict JSON parser and the Go-compatible writer
 * (shared/src/json.c, shared/src/json_go.c).
 *
 * Target Functions: shd_json_parse, shd_json_go_dump, shd_json_go_quote, shd_json_get_path,
 *                   shd_json_get_string, shd_json_get_int, shd_json_get_bool
 *
 * Input: one JSON document, parsed under three limit sets (defaults; allow_nul + any root;
 * a tight 256-byte / depth-4 budget).
 * Properties checked:
 *   - parse fails only with SHD_ERR_JSON or SHD_ERR_TOO_LARGE (never NOMEM without injection);
 *   - a document over max_bytes or max_depth is refused with SHD_ERR_TOO_LARGE;
 *   - go_dump of a parsed document succeeds, or fails cleanly with SHD_ERR_UNSUPPORTED (reals)
 *     or SHD_ERR_TOO_LARGE; its output is valid JSON that dumps to the same bytes again
 *     (the writer is a fixed point of parse + dump);
 *   - go_quote of any bytes is one valid JSON string;
 *   - with allocation failures injected (shd_mem_fail_after) into the writer, it fails with
 *     SHD_ERR_NOMEM or succeeds, and leaks nothing (valgrind/ASan replay).
 */
#include <string.h>

#include "fuzz_common.h"
#include "shd/json.h"
#include "shd/mem.h"

/* Keys and paths the getters are tried with (claims MAA and JWT headers use). */
static const char *const KEYS[] = {"alg", "kid", "iss", "exp", "keys", "x-ms-sevsnpvm-vmpl"};
static const char *const PATHS[] = {"a", "a.b", "x-ms-isolation-tee.x-ms-attestation-type",
                                    "x-ms-runtime.keys", "a..b"};

static void getters(const json_t *doc)
{
    for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++) {
        const char *s = NULL;
        int64_t v = 0;
        bool b = false;
        size_t n = 0;
        shd_result r = shd_json_get_string(doc, KEYS[i], &s);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
        r = shd_json_get_stringn(doc, KEYS[i], &s, &n);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
        r = shd_json_get_string_opt(doc, KEYS[i], &s);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
        r = shd_json_get_int(doc, KEYS[i], -5, INT64_MAX, &v);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
        FUZZ_ASSERT(shd_is_err(r) || v >= -5);
        r = shd_json_get_bool(doc, KEYS[i], &b);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
    }
    for (size_t i = 0; i < sizeof(PATHS) / sizeof(PATHS[0]); i++) {
        json_t *v = NULL;
        shd_result r = shd_json_get_path(doc, PATHS[i], &v);
        FUZZ_OK_OR(r, SHD_ERR_INPUT);
    }
    shd_error_clear();
}

/* Dumps doc; when that works, the output must parse and dump to the same bytes. */
static void dump_fixed_point(const json_t *doc, unsigned flags)
{
    char *out = NULL;
    size_t out_len = 0;
    shd_result r = shd_json_go_dump(doc, flags, &out, &out_len);
    FUZZ_OK_OR(r, SHD_ERR_UNSUPPORTED, SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(out == NULL);
        shd_error_clear();
        return;
    }
    FUZZ_ASSERT(out[out_len] == '\0');

    /* Escaping grows a string at most 6-fold (\u00xx); inputs are at most 64 KiB. */
    struct shd_json_limits lim = {
        .max_bytes = 8 * FUZZ_MAX_INPUT, .allow_nul = true, .allow_any_root = true};
    json_t *again = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_json_parse(out, out_len, &lim, &again)));
    char *out2 = NULL;
    size_t out2_len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_json_go_dump(again, flags, &out2, &out2_len)));
    FUZZ_ASSERT(out2_len == out_len && shd_memcmp(out2, out, out_len) == 0);
    shd_free(out2);
    json_decref(again);
    shd_free(out);
}

static void quote_any(const uint8_t *data, size_t size)
{
    char *q = NULL;
    size_t q_len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_json_go_quote((const char *)data, size, &q, &q_len)));
    FUZZ_ASSERT(q_len >= 2 && q[0] == '"' && q[q_len - 1] == '"' && q[q_len] == '\0');
    struct shd_json_limits lim = {
        .max_bytes = 8 * FUZZ_MAX_INPUT, .allow_nul = true, .allow_any_root = true};
    json_t *s = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_json_parse(q, q_len, &lim, &s)));
    FUZZ_ASSERT(json_is_string(s));
    json_decref(s);
    shd_free(q);
}

/*
 * The writer with allocation number `fail` failing: a clean SHD_ERR_NOMEM (or success), no
 * leaks. Failures are injected into shd_json_go_dump only: jansson 2.14 aborts on a failed
 * allocation inside its lexer (load.c lex_scan_string "Assertion `0' failed", see
 * tests/fuzz/crashes/json/), which would hide every other finding of this target.
 */
static void dump_oom(const json_t *doc, long fail)
{
    char *out = NULL;
    size_t out_len = 0;
    shd_mem_fail_after(fail);
    shd_result r = shd_json_go_dump(doc, SHD_JSON_SORT_KEYS, &out, &out_len);
    shd_mem_fail_after(-1);
    FUZZ_OK_OR(r, SHD_ERR_NOMEM, SHD_ERR_UNSUPPORTED, SHD_ERR_TOO_LARGE);
    FUZZ_ASSERT(shd_is_ok(r) || out == NULL);
    shd_free(out);
    shd_error_clear();
}

/* Parses under lim and runs the writer and getters on a success. */
static void parse_and_dump(const char *text, size_t size, const struct shd_json_limits *lim)
{
    json_t *doc = NULL;
    shd_result r = shd_json_parse(text, size, lim, &doc);
    FUZZ_OK_OR(r, SHD_ERR_JSON, SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(doc == NULL);
        fuzz_error_reset();
        return;
    }
    FUZZ_ASSERT(size <= lim->max_bytes || lim->max_bytes == 0);
    FUZZ_ASSERT(lim->allow_any_root || json_is_object(doc) || json_is_array(doc));
    dump_fixed_point(doc, 0);
    dump_fixed_point(doc, SHD_JSON_SORT_KEYS);
    /* A few failure points per input, chosen by its size so that runs are reproducible. */
    dump_oom(doc, (long)(size % 3));
    dump_oom(doc, (long)(size % 11));
    getters(doc);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    /* As in production: jansson allocates through shd_alloc and wipes on free. */
    shd_json_allocator_install();
    const char *text = (const char *)data;

    struct shd_json_limits defaults = {0};
    parse_and_dump(text, size, &defaults);
    struct shd_json_limits loose = {.allow_nul = true, .allow_any_root = true};
    parse_and_dump(text, size, &loose);
    struct shd_json_limits tight = {.max_bytes = 256, .max_depth = 4};
    parse_and_dump(text, size, &tight);
    quote_any(data, size);
    fuzz_error_reset();
    return 0;
}
