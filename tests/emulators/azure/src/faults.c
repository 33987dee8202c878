/*
 * faults.c - the fault-injection table (see faults.h).
 */
#include "faults.h"

#include <pthread.h>
#include <string.h>

#include <jansson.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define FAULTS_BODY_MAX (4u * 1024u)

struct aemu_faults {
    pthread_mutex_t lock;
    struct aemu_fault rules[AEMU_FAULTS_MAX];
    size_t n;
};

shd_result aemu_faults_new(struct aemu_faults **ret)
{
    SHD_ENSURE_REF(ret);
    struct aemu_faults *f = shd_alloc(sizeof(*f));
    SHD_ENSURE(f != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        shd_free(f);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = f;
    return SHD_OK;
}

void aemu_faults_free(struct aemu_faults *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_destroy(&f->lock);
    shd_free(f);
}

/* ------------------------------------------------------------------------------------------ */
/* Control body                                                                                */

static const char *const faults_members[] = {
    "service",     "method",   "path_prefix", "count", "status",
    "retry_after", "delay_ms", "body",        "drop",
};

/* Non-const doc: jansson's iteration macro takes a json_t *. */
static shd_result faults_check_members(json_t *doc)
{
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        (void)v;
        bool known = false;
        for (size_t i = 0; i < sizeof(faults_members) / sizeof(faults_members[0]); i++) {
            known = known || strcmp(key, faults_members[i]) == 0;
        }
        SHD_ENSURE_MSG(known, SHD_ERR_INPUT, "unknown member '%s'", key);
    }
    return SHD_OK;
}

static shd_result faults_copy_str(const json_t *doc, const char *key, bool required, char *out,
                                  size_t cap)
{
    const char *s = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, key, &s));
    if (s == NULL) {
        SHD_ENSURE_MSG(!required, SHD_ERR_INPUT, "missing field '%s'", key);
        out[0] = '\0';
        return SHD_OK;
    }
    size_t n = strlen(s);
    SHD_ENSURE_MSG(n < cap, SHD_ERR_INPUT, "field '%s' is longer than %zu bytes", key, cap - 1);
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_MSG(s[i] > 0x20 && s[i] < 0x7f, SHD_ERR_INPUT,
                       "field '%s' must be printable ASCII without spaces", key);
    }
    shd_memcpy(out, s, n + 1);
    return SHD_OK;
}

static shd_result faults_uint(const json_t *doc, const char *key, unsigned max, unsigned *ret)
{
    if (json_object_get(doc, key) == NULL) {
        *ret = 0;
        return SHD_OK;
    }
    int64_t v = 0;
    SHD_GUARD(shd_json_get_int(doc, key, 0, (int64_t)max, &v));
    *ret = (unsigned)v;
    return SHD_OK;
}

static shd_result faults_body_kind(const json_t *doc, enum aemu_fault_body *ret)
{
    const char *s = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, "body", &s));
    if (s == NULL || strcmp(s, "error") == 0) {
        *ret = AEMU_FAULT_BODY_ERROR;
    } else if (strcmp(s, "malformed") == 0) {
        *ret = AEMU_FAULT_BODY_MALFORMED;
    } else if (strcmp(s, "empty") == 0) {
        *ret = AEMU_FAULT_BODY_EMPTY;
    } else {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "field 'body' must be \"error\", \"malformed\" or \"empty\"");
    }
    return SHD_OK;
}

static shd_result faults_parse_doc(json_t *doc, struct aemu_fault *f)
{
    SHD_GUARD(faults_check_members(doc));
    SHD_GUARD(faults_copy_str(doc, "service", true, f->service, sizeof(f->service)));
    SHD_ENSURE_MSG(strcmp(f->service, "maa") == 0 || strcmp(f->service, "akv") == 0 ||
                       strcmp(f->service, "mhsm") == 0 || strcmp(f->service, "imds") == 0 ||
                       strcmp(f->service, "*") == 0,
                   SHD_ERR_INPUT, "field 'service' must be maa, akv, mhsm, imds or *");
    SHD_GUARD(faults_copy_str(doc, "method", false, f->method, sizeof(f->method)));
    SHD_GUARD(faults_copy_str(doc, "path_prefix", false, f->path_prefix, sizeof(f->path_prefix)));
    SHD_ENSURE_MSG(f->path_prefix[0] == '\0' || f->path_prefix[0] == '/', SHD_ERR_INPUT,
                   "field 'path_prefix' must start with /");
    SHD_GUARD(faults_uint(doc, "count", 1000000u, &f->count));
    SHD_GUARD(faults_uint(doc, "status", 599u, &f->status));
    SHD_ENSURE_MSG(f->status == 0 || f->status >= 200, SHD_ERR_INPUT,
                   "field 'status' must be 0 or 200..599");
    SHD_GUARD(faults_uint(doc, "retry_after", AEMU_FAULT_RETRY_AFTER_MAX, &f->retry_after));
    SHD_GUARD(faults_uint(doc, "delay_ms", AEMU_FAULT_DELAY_MAX_MS, &f->delay_ms));
    SHD_GUARD(faults_body_kind(doc, &f->body));
    if (json_object_get(doc, "drop") != NULL) {
        SHD_GUARD(shd_json_get_bool(doc, "drop", &f->drop));
    }
    /* Closing a connection without an answer needs an abort hook in shd_http_server, which it
     * does not have yet: refuse rather than pretend (docs/emulators.md). */
    SHD_ENSURE_MSG(!f->drop, SHD_ERR_UNSUPPORTED,
                   "drop is not supported yet (needs a connection abort in shd_http_server)");
    SHD_ENSURE_MSG(f->status != 0 || f->delay_ms != 0 || f->drop ||
                       f->body != AEMU_FAULT_BODY_ERROR,
                   SHD_ERR_INPUT, "the rule does nothing: set status, delay_ms, drop or body");
    return SHD_OK;
}

shd_result aemu_fault_parse(const char *json, size_t len, struct aemu_fault *ret)
{
    SHD_ENSURE_REF(ret);
    struct shd_json_limits lim = {.max_bytes = FAULTS_BODY_MAX, .max_depth = 2};
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD(shd_json_parse(json, len, &lim, &doc));
    SHD_ENSURE_MSG(json_is_object(doc), SHD_ERR_INPUT, "expected a JSON object");
    struct aemu_fault f = {0};
    SHD_GUARD(faults_parse_doc(doc, &f));
    *ret = f;
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Table                                                                                       */

shd_result aemu_faults_add(const struct aemu_fault *rule, struct aemu_faults *f)
{
    SHD_ENSURE_REF(rule);
    SHD_ENSURE_REF(f);
    pthread_mutex_lock(&f->lock);
    bool full = f->n >= AEMU_FAULTS_MAX;
    if (!full) {
        f->rules[f->n++] = *rule;
    }
    pthread_mutex_unlock(&f->lock);
    SHD_ENSURE_MSG(!full, SHD_ERR_TOO_LARGE, "at most %u fault rules", AEMU_FAULTS_MAX);
    return SHD_OK;
}

void aemu_faults_clear(struct aemu_faults *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    f->n = 0;
    shd_memzero(f->rules, sizeof(f->rules));
    pthread_mutex_unlock(&f->lock);
}

static bool faults_match(const struct aemu_fault *r, const char *service, const char *method,
                         const char *path)
{
    if (strcmp(r->service, "*") != 0 && strcmp(r->service, service) != 0) {
        return false;
    }
    if (r->method[0] != '\0' && strcmp(r->method, method) != 0) {
        return false;
    }
    return strncmp(path, r->path_prefix, strlen(r->path_prefix)) == 0;
}

bool aemu_faults_take(const char *service, const char *method, const char *path,
                      struct aemu_faults *f, struct aemu_fault *ret)
{
    if (f == NULL || service == NULL || method == NULL || path == NULL || ret == NULL) {
        return false;
    }
    bool found = false;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++) {
        struct aemu_fault *r = &f->rules[i];
        if (!faults_match(r, service, method, path)) {
            continue;
        }
        *ret = *r;
        found = true;
        if (r->count > 0 && --r->count == 0) {
            shd_memmove(&f->rules[i], &f->rules[i + 1], (f->n - i - 1) * sizeof(f->rules[0]));
            f->n--;
        }
        break;
    }
    pthread_mutex_unlock(&f->lock);
    return found;
}

static const char *faults_body_name(enum aemu_fault_body b)
{
    switch (b) {
    case AEMU_FAULT_BODY_MALFORMED:
        return "malformed";
    case AEMU_FAULT_BODY_EMPTY:
        return "empty";
    case AEMU_FAULT_BODY_ERROR:
    default:
        return "error";
    }
}

static shd_result faults_list_locked(const struct aemu_faults *f, json_t *arr)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct aemu_fault *r = &f->rules[i];
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b}", "service", r->service, "method",
            r->method, "path_prefix", r->path_prefix, "count", (json_int_t)r->count, "status",
            (json_int_t)r->status, "retry_after", (json_int_t)r->retry_after, "delay_ms",
            (json_int_t)r->delay_ms, "body", faults_body_name(r->body), "drop", r->drop ? 1 : 0);
        SHD_ENSURE(o != NULL && json_array_append_new(arr, o) == 0, SHD_ERR_NOMEM);
    }
    return SHD_OK;
}

shd_result aemu_faults_list(struct aemu_faults *f, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(f);
    SHD_CLEANUP_JSON json_t *arr = json_array();
    SHD_ENSURE(arr != NULL, SHD_ERR_NOMEM);
    pthread_mutex_lock(&f->lock);
    shd_result r = faults_list_locked(f, arr);
    pthread_mutex_unlock(&f->lock);
    SHD_GUARD(r);
    return aemu_json_dump(arr, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_len);
}
