/*
 * faults.c - what azure-emu's fault control accepts and how it lists rules (faults.h); the
 * table itself is emu_faults.c.
 */
#include "faults.h"

#include <jansson.h>

#include "emu.h"
#include "shd/cleanup.h"
#include "shd/json.h"
#include "shd/safety.h"
#include "util.h"

static const char *const faults_services[] = {AEMU_SVC_MAA, AEMU_SVC_AKV, AEMU_SVC_MHSM,
                                              AEMU_SVC_IMDS};

static const struct emu_fault_schema faults_schema = {
    .services = faults_services,
    .nservices = sizeof(faults_services) / sizeof(faults_services[0]),
    /* The front closes the connection unanswered (shd_http_resp_abort, accesslog.c). */
    .drop_supported = true,
    .max_bytes = 4u * 1024u,
    .max_depth = 2,
};

shd_result aemu_fault_parse(const char *json, size_t len, struct emu_fault *ret)
{
    return emu_fault_parse(json, len, &faults_schema, ret);
}

shd_result aemu_faults_list(struct emu_faults *f, char **ret, size_t *ret_len)
{
    SHD_CLEANUP_JSON json_t *arr = NULL;
    SHD_GUARD(emu_faults_to_json(f, &arr));
    return aemu_json_dump(arr, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_len);
}
