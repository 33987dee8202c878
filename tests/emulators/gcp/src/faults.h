/*
 * faults.h - run-time fault injection for `gcp-emu serve` (DESIGN.md "Faults are injected at
 * run time ... per endpoint"). The table, the rule and the control-body parser are the common
 * ones (emu_faults.h in tests/emulators/common); this header keeps gcp-emu's names for them and
 * says what gcp-emu accepts: any non-empty service name (GEMU_SVC_* or "*"), and "drop".
 *
 * Control (on the plain-http MDS listener, never itself subject to faults; docs/emulators.md):
 *   POST   /emu/faults  {"service":"sts","method":"POST","path_prefix":"/v1/token","count":2,
 *                        "status":503,"retry_after":1,"delay_ms":0,
 *                        "body":"error"|"malformed"|"empty","drop":false}
 *   DELETE /emu/faults  removes every rule
 *   GET    /emu/faults  lists the rules with their remaining counts
 * A rule with "drop" closes the connection without answering (shd_http_resp_abort, serve.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "emu_faults.h"
#include "shd/result.h"

/* The common rule and table under gcp-emu's names (used by the services and unit tests). */
#define gemu_fault emu_fault
#define gemu_faults emu_faults
#define GEMU_FAULTS_MAX EMU_FAULTS_MAX
#define GEMU_FAULT_BODY_ERROR EMU_FAULT_BODY_ERROR
#define GEMU_FAULT_BODY_MALFORMED EMU_FAULT_BODY_MALFORMED
#define GEMU_FAULT_BODY_EMPTY EMU_FAULT_BODY_EMPTY
#define gemu_fault_body emu_fault_body

/* emu_fault_parse with gcp-emu's schema (faults.c): a control body. */
SHD_RESULT gemu_fault_parse(const char *json, size_t len, struct emu_fault *ret);

/* The rules as a JSON array text (shd_json_go_dump; shd_alloc'd) for GET /emu/faults. */
SHD_RESULT gemu_faults_list(struct emu_faults *f, char **ret, size_t *ret_len);

/* A fresh empty table (gemu_faults_free). */
static inline SHD_RESULT gemu_faults_new(struct emu_faults **ret)
{
    return emu_faults_new(ret);
}

/* Frees the table (NULL is fine). */
static inline void gemu_faults_free(struct emu_faults *f)
{
    emu_faults_free(f);
}

/* Appends a rule (SHD_ERR_TOO_LARGE when GEMU_FAULTS_MAX rules exist). */
static inline SHD_RESULT gemu_faults_add(const struct emu_fault *rule, struct emu_faults *f)
{
    return emu_faults_add(rule, f);
}

/* Removes every rule. */
static inline void gemu_faults_clear(struct emu_faults *f)
{
    emu_faults_clear(f);
}

/* The first matching rule, one of its count used up (emu_faults_take). */
static inline bool gemu_faults_take(const char *service, const char *method, const char *path,
                                    struct emu_faults *f, struct emu_fault *ret)
{
    return emu_faults_take(service, method, path, f, ret);
}
