/*
 * faults.h - run-time fault injection for `azure-emu serve` (DESIGN.md "Faults are injected at
 * run time ... per endpoint"). The table, the rule and the control-body parser are the common
 * ones (emu_faults.h in tests/emulators/common): each request of a service takes the first rule
 * that matches its service, method and path prefix; a rule with a count is used up after that
 * many requests. This header keeps azure-emu's names and its front layer.
 *
 * Control (on the IMDS listener, never itself subject to faults, see docs/emulators.md):
 *   POST   /emu/faults  {"service":"akv","method":"POST","path_prefix":"/keys","count":2,
 *                        "status":503,"retry_after":1,"delay_ms":0,
 *                        "body":"error"|"malformed"|"empty","drop":false}
 *          ("drop":true: the connection is closed unanswered, after delay_ms)
 *   DELETE /emu/faults  removes every rule
 *   GET    /emu/faults  lists the rules with their remaining counts
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu_faults.h"
#include "shd/result.h"

/* The common rule and table under azure-emu's names (used by the services and unit tests). */
#define aemu_fault emu_fault
#define aemu_faults emu_faults
#define AEMU_FAULTS_MAX EMU_FAULTS_MAX
#define AEMU_FAULT_BODY_ERROR EMU_FAULT_BODY_ERROR
#define AEMU_FAULT_BODY_MALFORMED EMU_FAULT_BODY_MALFORMED
#define AEMU_FAULT_BODY_EMPTY EMU_FAULT_BODY_EMPTY

/*
 * emu_fault_parse with azure-emu's schema (faults.c): "service" is maa, akv, mhsm, imds or "*";
 * "drop" is accepted (aemu_front_handle closes the connection unanswered).
 */
SHD_RESULT aemu_fault_parse(const char *json, size_t len, struct emu_fault *ret);

/* The rules as a compact JSON array text (shd_alloc'd, NUL-terminated) for GET /emu/faults. */
SHD_RESULT aemu_faults_list(struct emu_faults *f, char **ret, size_t *ret_len);

/* A fresh empty table (aemu_faults_free). */
static inline SHD_RESULT aemu_faults_new(struct emu_faults **ret)
{
    return emu_faults_new(ret);
}

/* Frees the table (NULL is fine). */
static inline void aemu_faults_free(struct emu_faults *f)
{
    emu_faults_free(f);
}

/* Appends a rule (SHD_ERR_TOO_LARGE when AEMU_FAULTS_MAX rules exist). */
static inline SHD_RESULT aemu_faults_add(const struct emu_fault *rule, struct emu_faults *f)
{
    return emu_faults_add(rule, f);
}

/* Removes every rule. */
static inline void aemu_faults_clear(struct emu_faults *f)
{
    emu_faults_clear(f);
}

/* The first matching rule, one of its count used up (emu_faults_take). */
static inline bool aemu_faults_take(const char *service, const char *method, const char *path,
                                    struct emu_faults *f, struct emu_fault *ret)
{
    return emu_faults_take(service, method, path, f, ret);
}

/* ---------------------------------------------------------------------------------------------
 * The front layer every listener runs (accesslog.c): fault rules, then the service's routes,
 * then one access-log line. Paths under /emu/ (the control endpoints) are never faulted.
 * ------------------------------------------------------------------------------------------- */

struct aemu_service;

/* What one listener's front needs (borrowed; must outlive the listener). */
struct aemu_front {
    const struct aemu_service *svc;
    struct emu_faults *faults;
};

struct shd_http_req;
struct shd_http_resp;

/*
 * An shd_http_handler_fn (ctx = struct aemu_front *): applies the first matching fault rule,
 * else dispatches to the service (aemu_service_dispatch). A rule first sleeps delay_ms, then:
 *   - "drop":true   closes the connection without a byte (shd_http_resp_abort); the service
 *                   never sees the request; status and body of the rule do not apply;
 *   - a status      answers it with the body kind: the service's error shape, a cut-off JSON
 *                   text (malformed) or nothing (empty), plus Retry-After when set;
 *   - no status     lets the service answer, then keeps the first half of its body (malformed)
 *                   or none of it (empty, Content-Length: 0); status and headers stay.
 * Logs one logfmt line at info, module "access": svc, method, host, path (never the query,
 * headers or bodies), status (0 for a drop), ms, and fault=true when a rule fired (fault=drop
 * for a dropped connection, fault=false otherwise).
 */
SHD_RESULT aemu_front_handle(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp);
