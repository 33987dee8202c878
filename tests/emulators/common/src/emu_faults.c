/*
 * emu_faults.c - the fault-injection table and its control body (emu_faults.h).
 */
#include "emu_faults.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

struct emu_faults {
    pthread_mutex_t lock;
    struct emu_fault rules[EMU_FAULTS_MAX];
    size_t n;
};

/* ------------------------------------------------------------------------------------------ */
/* Control body                                                                                */

static const char *const faults_members[] = {
    "service",     "method",   "path_prefix", "count", "status",
    "retry_after", "delay_ms", "body",        "drop",
};

/* Non-const doc: jansson's iteration macro takes a json_t *. */
static shd_result faults_check_members(json_t *doc)
{
    const char *key = NULL;
    json_t *v = NULL;
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

/* Copies a string member into a fixed field; absent: "" (or an error when required). */
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

/* "*" or one of the schema's names (any non-empty name without a list). */
static shd_result faults_check_service(const struct emu_fault_schema *schema, const char *svc)
{
    if (schema->services == NULL) {
        SHD_ENSURE_MSG(svc[0] != '\0', SHD_ERR_INPUT, "field 'service' is empty");
        return SHD_OK;
    }
    if (strcmp(svc, "*") == 0) {
        return SHD_OK;
    }
    for (size_t i = 0; i < schema->nservices; i++) {
        if (strcmp(svc, schema->services[i]) == 0) {
            return SHD_OK;
        }
    }
    char list[256] = "";
    size_t pos = 0;
    for (size_t i = 0; i < schema->nservices && pos < sizeof(list); i++) {
        int n = snprintf(list + pos, sizeof(list) - pos, "%s, ", schema->services[i]);
        pos = n > 0 ? pos + (size_t)n : sizeof(list);
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "field 'service' must be %.*s or *",
                 (int)(pos >= 2 && pos < sizeof(list) ? pos - 2 : 0), list);
}

/* An optional unsigned member in 0..max; absent: 0. */
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

static shd_result faults_body_kind(const json_t *doc, enum emu_fault_body *ret)
{
    const char *s = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, "body", &s));
    if (s == NULL || strcmp(s, "error") == 0) {
        *ret = EMU_FAULT_BODY_ERROR;
    } else if (strcmp(s, "malformed") == 0) {
        *ret = EMU_FAULT_BODY_MALFORMED;
    } else if (strcmp(s, "empty") == 0) {
        *ret = EMU_FAULT_BODY_EMPTY;
    } else {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "field 'body' must be \"error\", \"malformed\" or \"empty\"");
    }
    return SHD_OK;
}

static shd_result faults_parse_doc(const struct emu_fault_schema *schema, json_t *doc,
                                   struct emu_fault *f)
{
    SHD_GUARD(faults_check_members(doc));
    SHD_GUARD(faults_copy_str(doc, "service", true, f->service, sizeof(f->service)));
    SHD_GUARD(faults_check_service(schema, f->service));
    SHD_GUARD(faults_copy_str(doc, "method", false, f->method, sizeof(f->method)));
    SHD_GUARD(faults_copy_str(doc, "path_prefix", false, f->path_prefix, sizeof(f->path_prefix)));
    SHD_ENSURE_MSG(f->path_prefix[0] == '\0' || f->path_prefix[0] == '/', SHD_ERR_INPUT,
                   "field 'path_prefix' must start with /");
    SHD_GUARD(faults_uint(doc, "count", EMU_FAULT_COUNT_MAX, &f->count));
    SHD_GUARD(faults_uint(doc, "status", 599u, &f->status));
    SHD_ENSURE_MSG(f->status == 0 || f->status >= 200, SHD_ERR_INPUT,
                   "field 'status' must be 0 or 200..599");
    SHD_GUARD(faults_uint(doc, "retry_after", EMU_FAULT_RETRY_AFTER_MAX, &f->retry_after));
    SHD_GUARD(faults_uint(doc, "delay_ms", EMU_FAULT_DELAY_MAX_MS, &f->delay_ms));
    SHD_GUARD(faults_body_kind(doc, &f->body));
    if (json_object_get(doc, "drop") != NULL) {
        SHD_GUARD(shd_json_get_bool(doc, "drop", &f->drop));
    }
    SHD_ENSURE_MSG(!f->drop || schema->drop_supported, SHD_ERR_UNSUPPORTED, "%s",
                   schema->drop_refusal != NULL ? schema->drop_refusal : "drop is not supported");
    SHD_ENSURE_MSG(f->status != 0 || f->delay_ms != 0 || f->drop || f->body != EMU_FAULT_BODY_ERROR,
                   SHD_ERR_INPUT, "the rule does nothing: set status, delay_ms, drop or body");
    return SHD_OK;
}

shd_result emu_fault_parse(const char *json, size_t len, const struct emu_fault_schema *schema,
                           struct emu_fault *ret)
{
    SHD_ENSURE_REF(schema);
    SHD_ENSURE_REF(ret);
    struct shd_json_limits lim = {.max_bytes = schema->max_bytes, .max_depth = schema->max_depth};
    SHD_CLEANUP_JSON json_t *doc = NULL;
    SHD_GUARD(shd_json_parse(json, len, &lim, &doc));
    SHD_ENSURE_MSG(json_is_object(doc), SHD_ERR_INPUT, "expected a JSON object");
    struct emu_fault f;
    shd_memzero(&f, sizeof(f));
    SHD_GUARD(faults_parse_doc(schema, doc, &f));
    *ret = f;
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Table                                                                                       */

shd_result emu_faults_new(struct emu_faults **ret)
{
    SHD_ENSURE_REF(ret);
    struct emu_faults *f = shd_alloc(sizeof(*f));
    SHD_ENSURE(f != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        shd_free(f);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = f;
    return SHD_OK;
}

void emu_faults_free(struct emu_faults *f)
{
    if (f == NULL) {
        return;
    }
    (void)pthread_mutex_destroy(&f->lock);
    shd_free(f);
}

shd_result emu_faults_add(const struct emu_fault *rule, struct emu_faults *f)
{
    SHD_ENSURE_REF(rule);
    SHD_ENSURE_REF(f);
    (void)pthread_mutex_lock(&f->lock);
    bool full = f->n >= EMU_FAULTS_MAX;
    if (!full) {
        f->rules[f->n++] = *rule;
    }
    (void)pthread_mutex_unlock(&f->lock);
    SHD_ENSURE_MSG(!full, SHD_ERR_TOO_LARGE, "at most %u fault rules", EMU_FAULTS_MAX);
    return SHD_OK;
}

void emu_faults_clear(struct emu_faults *f)
{
    if (f == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&f->lock);
    f->n = 0;
    shd_memzero(f->rules, sizeof(f->rules));
    (void)pthread_mutex_unlock(&f->lock);
}

static bool faults_match(const struct emu_fault *r, const char *service, const char *method,
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

bool emu_faults_take(const char *service, const char *method, const char *path,
                     struct emu_faults *f, struct emu_fault *ret)
{
    if (f == NULL || service == NULL || method == NULL || path == NULL || ret == NULL) {
        return false;
    }
    bool found = false;
    (void)pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++) {
        struct emu_fault *r = &f->rules[i];
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
    (void)pthread_mutex_unlock(&f->lock);
    return found;
}

const char *emu_fault_body_name(enum emu_fault_body body)
{
    switch (body) {
    case EMU_FAULT_BODY_MALFORMED:
        return "malformed";
    case EMU_FAULT_BODY_EMPTY:
        return "empty";
    case EMU_FAULT_BODY_ERROR:
    default:
        return "error";
    }
}

static shd_result faults_list_locked(const struct emu_faults *f, json_t *arr)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct emu_fault *r = &f->rules[i];
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b}", "service", r->service, "method",
            r->method, "path_prefix", r->path_prefix, "count", (json_int_t)r->count, "status",
            (json_int_t)r->status, "retry_after", (json_int_t)r->retry_after, "delay_ms",
            (json_int_t)r->delay_ms, "body", emu_fault_body_name(r->body), "drop", r->drop ? 1 : 0);
        SHD_ENSURE(o != NULL && json_array_append_new(arr, o) == 0, SHD_ERR_NOMEM);
    }
    return SHD_OK;
}

shd_result emu_faults_to_json(struct emu_faults *f, json_t **ret)
{
    SHD_ENSURE_REF(f);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_JSON json_t *arr = json_array();
    SHD_ENSURE(arr != NULL, SHD_ERR_NOMEM);
    (void)pthread_mutex_lock(&f->lock);
    shd_result r = faults_list_locked(f, arr);
    (void)pthread_mutex_unlock(&f->lock);
    SHD_GUARD(r);
    *ret = SHD_TAKE_PTR(arr);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Applying a rule                                                                             */

void emu_fault_sleep(const struct emu_fault *f)
{
    if (f == NULL || f->delay_ms == 0) {
        return;
    }
    struct timespec ts = {.tv_sec = f->delay_ms / 1000u,
                          .tv_nsec = (long)(f->delay_ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

shd_result emu_fault_retry_after(const struct emu_fault *f, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(f);
    SHD_ENSURE_REF(resp);
    if (f->retry_after == 0) {
        return SHD_OK;
    }
    char v[16];
    int n = snprintf(v, sizeof(v), "%u", f->retry_after);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(v), SHD_ERR_INTERNAL);
    return shd_http_resp_header("Retry-After", v, resp);
}
