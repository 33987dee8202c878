/*
 * faults.c - what gcp-emu's fault control accepts and how it lists rules (faults.h); the table
 * itself is emu_faults.c.
 */
#include "faults.h"

#include <jansson.h>

#include "shd/cleanup.h"
#include "shd/json.h"
#include "shd/safety.h"

/* Any non-empty service name: a rule naming no listener simply never fires. */
static const struct emu_fault_schema faults_schema = {
    .services = NULL,
    .nservices = 0,
    .drop_supported = true,
    .max_bytes = 16u * 1024u,
    .max_depth = 4,
};

shd_result gemu_fault_parse(const char *json, size_t len, struct emu_fault *ret)
{
    SHD_ENSURE_REF(json);
    return emu_fault_parse(json, len, &faults_schema, ret);
}

shd_result gemu_faults_list(struct emu_faults *f, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_JSON json_t *arr = NULL;
    SHD_GUARD(emu_faults_to_json(f, &arr));
    return shd_json_go_dump(arr, 0, ret, ret_len);
}
