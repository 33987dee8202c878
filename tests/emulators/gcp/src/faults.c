/*
 * faults.c - the fault-injection table of `gcp-emu serve` (faults.h).
 */
#include "faults.h"

#include <pthread.h>
#include <string.h>

#include <jansson.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define FAULTS_LIST_MAX (64u * 1024u)

struct gemu_faults {
    pthread_mutex_t lock;
    struct gemu_fault rules[GEMU_FAULTS_MAX];
    size_t n;
};

shd_result gemu_faults_new(struct gemu_faults **ret)
{
    SHD_ENSURE_REF(ret);
    struct gemu_faults *f = shd_alloc(sizeof(*f));
    SHD_ENSURE(f != NULL, SHD_ERR_NOMEM);
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        shd_free(f);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret = f;
    return SHD_OK;
}

void gemu_faults_free(struct gemu_faults *f)
{
    if (f == NULL) {
        return;
    }
    (void)pthread_mutex_destroy(&f->lock);
    shd_free(f);
}

/* Copies a string member into a fixed field; absent leaves the default. */
static shd_result faults_str(const json_t *doc, const char *key, char *out, size_t cap)
{
    const char *v = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, key, &v));
    if (v == NULL) {
        return SHD_OK;
    }
    size_t n = strlen(v);
    SHD_ENSURE_MSG(n < cap, SHD_ERR_INPUT, "field '%s' is longer than %zu bytes", key, cap - 1);
    shd_memcpy(out, v, n + 1);
    return SHD_OK;
}

static shd_result faults_uint(const json_t *doc, const char *key, unsigned min, unsigned max,
                              unsigned *out)
{
    if (json_object_get(doc, key) == NULL) {
        return SHD_OK;
    }
    int64_t v = 0;
    SHD_GUARD(shd_json_get_int(doc, key, min, max, &v));
    *out = (unsigned)v;
    return SHD_OK;
}

static shd_result faults_known_members(json_t *doc)
{
    static const char *const known[] = {"service",     "method",   "path_prefix", "count", "status",
                                        "retry_after", "delay_ms", "body",        "drop"};
    const char *key = NULL;
    json_t *val = NULL;
    json_object_foreach(doc, key, val)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            ok = ok || strcmp(key, known[i]) == 0;
        }
        SHD_ENSURE_MSG(ok, SHD_ERR_INPUT, "unknown field '%s'", key);
    }
    return SHD_OK;
}

shd_result gemu_fault_parse(const char *json, size_t len, struct gemu_fault *ret)
{
    SHD_ENSURE_REF(json);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_JSON json_t *doc = NULL;
    struct shd_json_limits lim = {.max_bytes = 16u * 1024u, .max_depth = 4};
    SHD_GUARD(shd_json_parse(json, len, &lim, &doc));
    SHD_ENSURE_MSG(json_is_object(doc), SHD_ERR_INPUT, "expected a JSON object");
    SHD_GUARD(faults_known_members(doc));
    struct gemu_fault f;
    shd_memzero(&f, sizeof(f));
    const char *svc = NULL;
    SHD_GUARD(shd_json_get_string(doc, "service", &svc));
    SHD_ENSURE_MSG(svc[0] != '\0', SHD_ERR_INPUT, "field 'service' is empty");
    SHD_GUARD(faults_str(doc, "service", f.service, sizeof(f.service)));
    SHD_GUARD(faults_str(doc, "method", f.method, sizeof(f.method)));
    SHD_GUARD(faults_str(doc, "path_prefix", f.path_prefix, sizeof(f.path_prefix)));
    SHD_GUARD(faults_uint(doc, "count", 0, GEMU_FAULT_COUNT_MAX, &f.count));
    SHD_GUARD(faults_uint(doc, "retry_after", 0, GEMU_FAULT_RETRY_AFTER_MAX, &f.retry_after));
    SHD_GUARD(faults_uint(doc, "delay_ms", 0, GEMU_FAULT_DELAY_MAX_MS, &f.delay_ms));
    if (json_object_get(doc, "status") != NULL) {
        SHD_GUARD(faults_uint(doc, "status", 200, 599, &f.status));
    }
    if (json_object_get(doc, "drop") != NULL) {
        SHD_GUARD(shd_json_get_bool(doc, "drop", &f.drop));
    }
    const char *body = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, "body", &body));
    if (body == NULL || strcmp(body, "error") == 0) {
        f.body = GEMU_FAULT_BODY_ERROR;
    } else if (strcmp(body, "malformed") == 0) {
        f.body = GEMU_FAULT_BODY_MALFORMED;
    } else if (strcmp(body, "empty") == 0) {
        f.body = GEMU_FAULT_BODY_EMPTY;
    } else {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "field 'body' must be error, malformed or empty");
    }
    SHD_ENSURE_MSG(f.status != 0 || f.delay_ms != 0 || f.drop || f.body != GEMU_FAULT_BODY_ERROR,
                   SHD_ERR_INPUT, "the rule does nothing (set status, delay_ms, drop or body)");
    *ret = f;
    return SHD_OK;
}

shd_result gemu_faults_add(const struct gemu_fault *rule, struct gemu_faults *f)
{
    SHD_ENSURE_REF(rule);
    SHD_ENSURE_REF(f);
    (void)pthread_mutex_lock(&f->lock);
    bool full = f->n >= GEMU_FAULTS_MAX;
    if (!full) {
        f->rules[f->n++] = *rule;
    }
    (void)pthread_mutex_unlock(&f->lock);
    SHD_ENSURE_MSG(!full, SHD_ERR_TOO_LARGE, "at most %u fault rules", GEMU_FAULTS_MAX);
    return SHD_OK;
}

void gemu_faults_clear(struct gemu_faults *f)
{
    if (f == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&f->lock);
    f->n = 0;
    (void)pthread_mutex_unlock(&f->lock);
}

static bool faults_match(const struct gemu_fault *r, const char *service, const char *method,
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

bool gemu_faults_take(const char *service, const char *method, const char *path,
                      struct gemu_faults *f, struct gemu_fault *ret)
{
    if (service == NULL || method == NULL || path == NULL || f == NULL || ret == NULL) {
        return false;
    }
    bool hit = false;
    (void)pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++) {
        struct gemu_fault *r = &f->rules[i];
        if (!faults_match(r, service, method, path)) {
            continue;
        }
        *ret = *r;
        hit = true;
        if (r->count > 0 && --r->count == 0) {
            shd_memmove(&f->rules[i], &f->rules[i + 1], (f->n - i - 1) * sizeof(f->rules[0]));
            f->n--;
        }
        break;
    }
    (void)pthread_mutex_unlock(&f->lock);
    return hit;
}

shd_result gemu_faults_list(struct gemu_faults *f, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(f);
    SHD_ENSURE_REF(ret);
    static const char *const bodies[] = {"error", "malformed", "empty"};
    SHD_CLEANUP_JSON json_t *arr = json_array();
    SHD_ENSURE(arr != NULL, SHD_ERR_NOMEM);
    (void)pthread_mutex_lock(&f->lock);
    bool ok = true;
    for (size_t i = 0; ok && i < f->n; i++) {
        const struct gemu_fault *r = &f->rules[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:b}", "service", r->service,
                              "method", r->method, "path_prefix", r->path_prefix, "count",
                              (json_int_t)r->count, "status", (json_int_t)r->status, "retry_after",
                              (json_int_t)r->retry_after, "delay_ms", (json_int_t)r->delay_ms,
                              "body", bodies[r->body], "drop", r->drop ? 1 : 0);
        ok = o != NULL && json_array_append_new(arr, o) == 0;
    }
    (void)pthread_mutex_unlock(&f->lock);
    SHD_ENSURE(ok, SHD_ERR_NOMEM);
    return shd_json_go_dump(arr, 0, ret, ret_len);
}
