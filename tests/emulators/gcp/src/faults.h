/*
 * faults.h - run-time fault injection for `gcp-emu serve` (DESIGN.md "Faults are injected at
 * run time ... per endpoint"): a small thread-safe table of rules. Each request of a service
 * takes the first rule that matches its service, method and path prefix; a rule with a count
 * is used up after that many requests.
 *
 * Control (on the plain-http MDS listener, never itself subject to faults; docs/emulators.md):
 *   POST   /emu/faults  {"service":"sts","method":"POST","path_prefix":"/v1/token","count":2,
 *                        "status":503,"retry_after":1,"delay_ms":0,
 *                        "body":"error"|"malformed"|"empty","drop":false}
 *   DELETE /emu/faults  removes every rule
 *   GET    /emu/faults  lists the rules with their remaining counts
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#define GEMU_FAULTS_MAX 32u
#define GEMU_FAULT_SERVICE_MAX 16u
#define GEMU_FAULT_METHOD_MAX 16u
#define GEMU_FAULT_PATH_MAX 256u
#define GEMU_FAULT_DELAY_MAX_MS 60000u
#define GEMU_FAULT_RETRY_AFTER_MAX 3600u
#define GEMU_FAULT_COUNT_MAX 1000000u

/* What the response of a faulted request carries. */
enum gemu_fault_body {
    GEMU_FAULT_BODY_ERROR = 0, /* the service's own error shape (the default) */
    GEMU_FAULT_BODY_MALFORMED, /* a cut-off JSON text; without status: the real body cut in half */
    GEMU_FAULT_BODY_EMPTY,     /* no body at all */
};

struct gemu_fault {
    char service[GEMU_FAULT_SERVICE_MAX];  /* GEMU_SVC_* or "*" */
    char method[GEMU_FAULT_METHOD_MAX];    /* "" = any */
    char path_prefix[GEMU_FAULT_PATH_MAX]; /* "" = any; compared case-sensitively */
    unsigned count;                        /* requests left; 0 = unlimited */
    unsigned status;                       /* 0 = the real handler answers (after the delay) */
    unsigned retry_after;                  /* seconds; adds Retry-After when > 0 */
    unsigned delay_ms;                     /* sleep before answering */
    enum gemu_fault_body body;
    bool drop; /* answer nothing useful: an empty reply with Connection: close */
};

struct gemu_faults;

/* A fresh empty table (gemu_faults_free). */
SHD_RESULT gemu_faults_new(struct gemu_faults **ret);

/* Frees the table (NULL is fine). */
void gemu_faults_free(struct gemu_faults *f);

/*
 * Parses a control body (the JSON above; unknown members, wrong types and out-of-range values
 * are SHD_ERR_INPUT with a message for the 400 answer). "service" is required; a rule must do
 * something (status, delay_ms, drop or a malformed/empty body). *ret written only on success.
 */
SHD_RESULT gemu_fault_parse(const char *json, size_t len, struct gemu_fault *ret);

/* Appends a rule (SHD_ERR_TOO_LARGE when GEMU_FAULTS_MAX rules exist). */
SHD_RESULT gemu_faults_add(const struct gemu_fault *rule, struct gemu_faults *f);

/* Removes every rule. */
void gemu_faults_clear(struct gemu_faults *f);

/*
 * Finds the first rule for this request, uses one of its count (dropping it when it reaches 0)
 * and copies it to *ret. False (nothing written) when no rule matches.
 */
bool gemu_faults_take(const char *service, const char *method, const char *path,
                      struct gemu_faults *f, struct gemu_fault *ret);

/* The rules as a JSON array text (shd_alloc'd, NUL-terminated) for GET /emu/faults. */
SHD_RESULT gemu_faults_list(struct gemu_faults *f, char **ret, size_t *ret_len);
