/*
 * faults.h - run-time fault injection for `azure-emu serve` (DESIGN.md "Faults are injected at
 * run time ... per endpoint"): a small thread-safe table of rules. Each request of a service
 * takes the first rule that matches its service, method and path prefix; a rule with a count
 * is used up after that many requests.
 *
 * Control (on the IMDS listener, never itself subject to faults, see docs/emulators.md):
 *   POST   /emu/faults  {"service":"akv","method":"POST","path_prefix":"/keys","count":2,
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

#define AEMU_FAULTS_MAX 32u
#define AEMU_FAULT_SERVICE_MAX 8u
#define AEMU_FAULT_METHOD_MAX 16u
#define AEMU_FAULT_PATH_MAX 256u
#define AEMU_FAULT_DELAY_MAX_MS 60000u
#define AEMU_FAULT_RETRY_AFTER_MAX 3600u

/* What the response of a faulted request carries. */
enum aemu_fault_body {
    AEMU_FAULT_BODY_ERROR = 0, /* the service's own error shape (the default) */
    AEMU_FAULT_BODY_MALFORMED, /* a cut-off JSON text; without status: the real body cut in half */
    AEMU_FAULT_BODY_EMPTY,     /* no body at all */
};

struct aemu_fault {
    char service[AEMU_FAULT_SERVICE_MAX];  /* "maa", "akv", "mhsm", "imds" or "*" */
    char method[AEMU_FAULT_METHOD_MAX];    /* "" = any */
    char path_prefix[AEMU_FAULT_PATH_MAX]; /* "" = any; compared case-sensitively */
    unsigned count;                        /* requests left; 0 = unlimited */
    unsigned status;      /* 0 = the real handler answers (after delay, maybe malformed) */
    unsigned retry_after; /* seconds; adds Retry-After when > 0 */
    unsigned delay_ms;    /* sleep before answering */
    enum aemu_fault_body body;
    bool drop; /* close the connection without an answer */
};

struct aemu_faults;

/* A fresh empty table (aemu_faults_free). */
SHD_RESULT aemu_faults_new(struct aemu_faults **ret);

/* Frees the table (NULL is fine). */
void aemu_faults_free(struct aemu_faults *f);

/*
 * Parses a control body (the JSON above; unknown members, wrong types and out-of-range values
 * are SHD_ERR_INPUT with a message for the 400 answer). "service" is required; a rule must do
 * something (status, delay_ms, drop or a malformed/empty body). *ret written only on success.
 */
SHD_RESULT aemu_fault_parse(const char *json, size_t len, struct aemu_fault *ret);

/* Appends a rule (SHD_ERR_TOO_LARGE when AEMU_FAULTS_MAX rules exist). */
SHD_RESULT aemu_faults_add(const struct aemu_fault *rule, struct aemu_faults *f);

/* Removes every rule. */
void aemu_faults_clear(struct aemu_faults *f);

/*
 * Finds the first rule for this request, uses one of its count (dropping it when it reaches 0)
 * and copies it to *ret. False (nothing written) when no rule matches.
 */
bool aemu_faults_take(const char *service, const char *method, const char *path,
                      struct aemu_faults *f, struct aemu_fault *ret);

/* The rules as a JSON array text (shd_alloc'd, NUL-terminated) for GET /emu/faults. */
SHD_RESULT aemu_faults_list(struct aemu_faults *f, char **ret, size_t *ret_len);

/* ---------------------------------------------------------------------------------------------
 * The front layer every listener runs (accesslog.c): fault rules, then the service's routes,
 * then one access-log line. Paths under /emu/ (the control endpoints) are never faulted.
 * ------------------------------------------------------------------------------------------- */

struct aemu_service;

/* What one listener's front needs (borrowed; must outlive the listener). */
struct aemu_front {
    const struct aemu_service *svc;
    struct aemu_faults *faults;
};

struct shd_http_req;
struct shd_http_resp;

/*
 * An shd_http_handler_fn (ctx = struct aemu_front *): applies the first matching fault rule
 * (delay, then status/body, or a cut-off real body), else dispatches to the service
 * (aemu_service_dispatch), and logs one logfmt line at info, module "access": svc, method,
 * host, path (never the query, headers or bodies), status, ms, and fault=true when a rule fired.
 */
SHD_RESULT aemu_front_handle(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp);
