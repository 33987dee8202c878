/*
 * emu_faults.h - the run-time fault-injection table of the emulators (DESIGN.md "Faults are
 * injected at run time ... per endpoint"): a small thread-safe table of rules. Each request of a
 * service takes the first rule that matches its service, method and path prefix; a rule with a
 * count is used up after that many requests. Also the control body parser and two helpers of
 * the front layer that applies a rule (delay, Retry-After).
 *
 * Control body (POST /emu/faults on the emulator's plain-http listener):
 *   {"service":"akv","method":"POST","path_prefix":"/keys","count":2,"status":503,
 *    "retry_after":1,"delay_ms":0,"body":"error"|"malformed"|"empty","drop":false}
 * What each emulator answers, and the error shapes of an injected status, stay with it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shd/result.h"

struct shd_http_resp;

#define EMU_FAULTS_MAX 32u
#define EMU_FAULT_SERVICE_MAX 16u
#define EMU_FAULT_METHOD_MAX 16u
#define EMU_FAULT_PATH_MAX 256u
#define EMU_FAULT_DELAY_MAX_MS 60000u
#define EMU_FAULT_RETRY_AFTER_MAX 3600u
#define EMU_FAULT_COUNT_MAX 1000000u

/* What the response of a faulted request carries. */
enum emu_fault_body {
    EMU_FAULT_BODY_ERROR = 0, /* the service's own error shape (the default) */
    EMU_FAULT_BODY_MALFORMED, /* a cut-off JSON text; without status: the real body cut in half */
    EMU_FAULT_BODY_EMPTY,     /* no body at all */
};

struct emu_fault {
    char service[EMU_FAULT_SERVICE_MAX];  /* a service name of the emulator or "*" */
    char method[EMU_FAULT_METHOD_MAX];    /* "" = any */
    char path_prefix[EMU_FAULT_PATH_MAX]; /* "" = any; compared case-sensitively */
    unsigned count;                       /* requests left; 0 = unlimited */
    unsigned status;      /* 0 = the real handler answers (after delay, maybe mangled) */
    unsigned retry_after; /* seconds; adds Retry-After when > 0 */
    unsigned delay_ms;    /* sleep before answering */
    enum emu_fault_body body;
    bool drop; /* give the client nothing useful (how: the emulator's front decides) */
};

/* What one emulator accepts in a control body. */
struct emu_fault_schema {
    /* Service names allowed besides "*" (then "field 'service' must be a, b or *"); NULL: any
     * non-empty name. */
    const char *const *services;
    size_t nservices;
    /* false: "drop":true is refused with SHD_ERR_UNSUPPORTED (drop_refusal is the message). */
    bool drop_supported;
    const char *drop_refusal;
    /* Limits of the JSON text (shd_json_parse). */
    size_t max_bytes;
    size_t max_depth;
};

/*
 * Parses a control body. Unknown members, wrong types and out-of-range values are SHD_ERR_INPUT
 * with a message fit for a 400 answer. "service" is required; strings are printable ASCII
 * without spaces; "path_prefix" starts with '/'; "status" is 0 or 200..599; a rule must do
 * something (status, delay_ms, drop or a malformed/empty body). *ret written only on success.
 */
SHD_RESULT emu_fault_parse(const char *json, size_t len, const struct emu_fault_schema *schema,
                           struct emu_fault *ret);

struct emu_faults;

/* A fresh empty table (emu_faults_free). */
SHD_RESULT emu_faults_new(struct emu_faults **ret);

/* Frees the table (NULL is fine). */
void emu_faults_free(struct emu_faults *f);

/* Appends a rule (SHD_ERR_TOO_LARGE when EMU_FAULTS_MAX rules exist). */
SHD_RESULT emu_faults_add(const struct emu_fault *rule, struct emu_faults *f);

/* Removes every rule (NULL is fine). */
void emu_faults_clear(struct emu_faults *f);

/*
 * Finds the first rule for this request, uses one of its count (removing it when it reaches 0)
 * and copies it to *ret. False (nothing written) when no rule matches or an argument is NULL.
 */
bool emu_faults_take(const char *service, const char *method, const char *path,
                     struct emu_faults *f, struct emu_fault *ret);

/*
 * The rules with their remaining counts as a new JSON array (json_decref) of objects with the
 * members of the control body, in that order, for GET /emu/faults.
 */
SHD_RESULT emu_faults_to_json(struct emu_faults *f, json_t **ret);

/* The control-body name of a body kind: "error", "malformed" or "empty". */
const char *emu_fault_body_name(enum emu_fault_body body);

/* Sleeps the rule's delay_ms (if any), resuming after signals. */
void emu_fault_sleep(const struct emu_fault *f);

/* Adds "Retry-After: <retry_after>" to resp when the rule has one. */
SHD_RESULT emu_fault_retry_after(const struct emu_fault *f, struct shd_http_resp *resp);
