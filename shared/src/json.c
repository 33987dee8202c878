/*
 * json.c - strict parsing with limits, the jansson allocator hook, typed getters.
 *
 * The Go-compatible writer lives in json_go.c.
 */
#include <string.h>

#include <jansson.h>

#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

/* ---------------------------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------------------------- */

/*
 * Set by json_alloc_hook when an allocation for jansson fails, cleared by shd_json_parse around
 * each parse: jansson does not report its own allocation failures reliably (see below). Thread
 * local and scoped to one call, so it carries no state between callers.
 */
static _Thread_local bool json_alloc_failed;

/*
 * Counts the nesting of arrays and objects before jansson sees the input: jansson's own limit
 * (JSON_PARSER_MAX_DEPTH, 2048) is fixed at compile time and far above what any of our peers
 * sends. Brackets inside strings do not count. For valid JSON the count is exact; for invalid
 * JSON it may be off, which only changes which error rejects the input.
 */
static shd_result json_depth_check(const char *data, size_t len, size_t max_depth)
{
    size_t depth = 0;
    bool in_string = false;
    bool escaped = false;

    for (size_t i = 0; i < len; i++) {
        char c = data[i];

        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '[':
        case '{':
            depth++;
            SHD_ENSURE_MSG(depth <= max_depth, SHD_ERR_TOO_LARGE,
                           "JSON nesting deeper than %zu levels at byte %zu", max_depth, i);
            break;
        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }
            break;
        default:
            break;
        }
    }
    return SHD_OK;
}

/*
 * jansson appends " near '<token>'" to most messages; the token is input text, which may be a
 * secret (a key, a bearer token) and would end up in a log. Keep jansson's reason only.
 */
static void json_error_text_strip(char *text)
{
    char *near = strstr(text, " near '");

    if (near != NULL) {
        *near = '\0';
    }
}

SHD_RESULT shd_json_parse(const char *data, size_t len, const struct shd_json_limits *lim,
                          json_t **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);

    size_t max_bytes = SHD_JSON_DEFAULT_MAX_BYTES;
    size_t max_depth = SHD_JSON_DEFAULT_MAX_DEPTH;
    size_t flags = JSON_REJECT_DUPLICATES;

    if (lim != NULL) {
        max_bytes = lim->max_bytes != 0 ? lim->max_bytes : max_bytes;
        max_depth = lim->max_depth != 0 ? lim->max_depth : max_depth;
        flags |= lim->allow_nul ? JSON_ALLOW_NUL : 0;
        flags |= lim->allow_any_root ? JSON_DECODE_ANY : 0;
    }
    SHD_ENSURE_MSG(len <= max_bytes, SHD_ERR_TOO_LARGE, "JSON document of %zu bytes exceeds %zu",
                   len, max_bytes);
    SHD_GUARD(json_depth_check(data, len, max_depth));

    /* No JSON_DISABLE_EOF_CHECK: anything but whitespace after the document is an error. An
     * empty buffer has no pointer to hand over; jansson then reports "expected" at EOF. */
    json_error_t err;

    json_alloc_failed = false;

    json_t *doc = json_loadb(len > 0 ? data : "", len, flags, &err);

    if (doc == NULL) {
        /* jansson 2.14 rarely says "out of memory": a failed json_object() leaves the error
         * text empty, a failed string buffer reads as a syntax error. Trust the hook's flag,
         * and an empty reason when another allocator is installed. */
        bool oom = json_alloc_failed || err.text[0] == '\0' ||
                   json_error_code(&err) == json_error_out_of_memory;

        json_alloc_failed = false;
        SHD_ENSURE_MSG(!oom, SHD_ERR_NOMEM, "out of memory while parsing JSON");
        json_error_text_strip(err.text);
        SHD_BAIL_MSG(SHD_ERR_JSON, "invalid JSON at line %d, column %d, byte %d: %s", err.line,
                     err.column, err.position, err.text);
    }
    *ret = doc;
    return SHD_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Allocator hook
 * ------------------------------------------------------------------------------------------- */

/* Keeps max_align_t alignment for the block handed to jansson. */
#define JSON_ALLOC_HDR ((size_t)16)

static void *json_alloc_hook(size_t n)
{
    size_t total;

    if (shd_is_err(shd_add_overflow(n, JSON_ALLOC_HDR, &total))) {
        shd_error_clear();
        json_alloc_failed = true;
        return NULL;
    }
    unsigned char *p = shd_alloc(total);
    if (p == NULL) {
        json_alloc_failed = true;
        return NULL;
    }
    shd_memcpy(p, &n, sizeof(n));
    return p + JSON_ALLOC_HDR;
}

static void json_free_hook(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    unsigned char *p = (unsigned char *)ptr - JSON_ALLOC_HDR;
    size_t n;

    shd_memcpy(&n, p, sizeof(n));
    shd_free_wipe(p, n + JSON_ALLOC_HDR);
}

void shd_json_allocator_install(void)
{
    json_malloc_t cur_alloc = NULL;
    json_free_t cur_free = NULL;

    json_get_alloc_funcs(&cur_alloc, &cur_free);
    if (cur_alloc == json_alloc_hook && cur_free == json_free_hook) {
        return;
    }
    json_set_alloc_funcs(json_alloc_hook, json_free_hook);
}

/* ---------------------------------------------------------------------------------------------
 * Getters
 * ------------------------------------------------------------------------------------------- */

/* The present member key of obj, or SHD_ERR_INPUT naming it. */
static shd_result json_field(const json_t *obj, const char *key, json_t **ret)
{
    SHD_ENSURE_REF(obj);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_MSG(json_is_object(obj), SHD_ERR_INPUT, "expected a JSON object");

    json_t *v = json_object_get(obj, key);

    SHD_ENSURE_MSG(v != NULL, SHD_ERR_INPUT, "missing field '%s'", key);
    *ret = v;
    return SHD_OK;
}

SHD_RESULT shd_json_get_stringn(const json_t *obj, const char *key, const char **ret,
                                size_t *ret_len)
{
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);

    json_t *v = NULL;

    SHD_GUARD(json_field(obj, key, &v));
    SHD_ENSURE_MSG(json_is_string(v), SHD_ERR_INPUT, "field '%s' is not a string", key);
    *ret = json_string_value(v);
    *ret_len = json_string_length(v);
    return SHD_OK;
}

SHD_RESULT shd_json_get_string(const json_t *obj, const char *key, const char **ret)
{
    SHD_ENSURE_REF(ret);

    const char *s = NULL;
    size_t len = 0;

    SHD_GUARD(shd_json_get_stringn(obj, key, &s, &len));
    /* A C string would silently end at the NUL: refuse rather than truncate. */
    SHD_ENSURE_MSG(memchr(s, '\0', len) == NULL, SHD_ERR_INPUT,
                   "field '%s' contains a NUL character", key);
    *ret = s;
    return SHD_OK;
}

SHD_RESULT shd_json_get_string_opt(const json_t *obj, const char *key, const char **ret)
{
    SHD_ENSURE_REF(obj);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(json_is_object(obj), SHD_ERR_INPUT, "expected a JSON object");

    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        *ret = NULL;
        return SHD_OK;
    }
    return shd_json_get_string(obj, key, ret);
}

SHD_RESULT shd_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max,
                            int64_t *ret)
{
    SHD_ENSURE_REF(ret);
    SHD_ENSURE(min <= max, SHD_ERR_USAGE);

    json_t *v = NULL;

    SHD_GUARD(json_field(obj, key, &v));
    SHD_ENSURE_MSG(json_is_integer(v), SHD_ERR_INPUT, "field '%s' is not an integer", key);

    /* json_int_t is long long (JSON_INTEGER_IS_LONG_LONG), 64 bits on every target we build. */
    int64_t x = (int64_t)json_integer_value(v);

    SHD_ENSURE_MSG(x >= min && x <= max, SHD_ERR_INPUT, "field '%s' is out of range", key);
    *ret = x;
    return SHD_OK;
}

SHD_RESULT shd_json_get_bool(const json_t *obj, const char *key, bool *ret)
{
    SHD_ENSURE_REF(ret);

    json_t *v = NULL;

    SHD_GUARD(json_field(obj, key, &v));
    SHD_ENSURE_MSG(json_is_boolean(v), SHD_ERR_INPUT, "field '%s' is not a boolean", key);
    *ret = json_is_true(v);
    return SHD_OK;
}

SHD_RESULT shd_json_get_object(const json_t *obj, const char *key, json_t **ret)
{
    SHD_ENSURE_REF(ret);

    json_t *v = NULL;

    SHD_GUARD(json_field(obj, key, &v));
    SHD_ENSURE_MSG(json_is_object(v), SHD_ERR_INPUT, "field '%s' is not an object", key);
    *ret = v;
    return SHD_OK;
}

SHD_RESULT shd_json_get_array(const json_t *obj, const char *key, json_t **ret)
{
    SHD_ENSURE_REF(ret);

    json_t *v = NULL;

    SHD_GUARD(json_field(obj, key, &v));
    SHD_ENSURE_MSG(json_is_array(v), SHD_ERR_INPUT, "field '%s' is not an array", key);
    *ret = v;
    return SHD_OK;
}

/* Checks the whole path first, so a malformed path fails the same way whatever the data. */
static shd_result json_path_check(const char *path, size_t len)
{
    SHD_ENSURE_MSG(len > 0, SHD_ERR_INPUT, "empty claim path");
    SHD_ENSURE_MSG(len <= SHD_JSON_PATH_MAX, SHD_ERR_INPUT, "claim path longer than %d bytes",
                   SHD_JSON_PATH_MAX);
    SHD_ENSURE_MSG(path[0] != '.' && path[len - 1] != '.', SHD_ERR_INPUT,
                   "claim path has an empty segment");
    for (size_t i = 1; i < len; i++) {
        SHD_ENSURE_MSG(!(path[i] == '.' && path[i - 1] == '.'), SHD_ERR_INPUT,
                       "claim path has an empty segment");
    }
    return SHD_OK;
}

SHD_RESULT shd_json_get_path(const json_t *root, const char *path, json_t **ret)
{
    SHD_ENSURE_REF(root);
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);

    size_t len = strnlen(path, SHD_JSON_PATH_MAX + 1);

    SHD_GUARD(json_path_check(path, len));

    const json_t *cur = root;
    json_t *found = NULL;
    size_t start = 0;

    /* json_path_check guarantees at least one non-empty segment, so found is set below. */
    while (start < len) {
        const char *dot = memchr(path + start, '.', len - start);
        size_t end = dot != NULL ? (size_t)(dot - path) : len;

        if (!json_is_object(cur)) {
            *ret = NULL;
            return SHD_OK;
        }
        found = json_object_getn(cur, path + start, end - start);
        if (found == NULL) {
            *ret = NULL;
            return SHD_OK;
        }
        cur = found;
        start = end + 1;
    }
    *ret = found;
    return SHD_OK;
}
