/*
 * secctx.c - ACI security-context files (see secctx.h).
 */
#include "secctx.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "emu_files.h"
#include "pki.h"
#include "refinfo.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

SHD_DEFINE_CLEANUP(json_t, json_decref, secctx_json_freep)

/* A trimmed-down policy in the shape `az confcom acipolicygen` emits (hcsshim framework). */
static const char secctx_default_policy[] =
    "package policy\n"
    "\n"
    "import future.keywords.every\n"
    "import future.keywords.in\n"
    "\n"
    "api_version := \"0.10.0\"\n"
    "framework_version := \"0.2.3\"\n"
    "\n"
    "fragments := []\n"
    "\n"
    "containers := [\n"
    "  {\n"
    "    \"allow_elevated\": false,\n"
    "    \"allow_stdio_access\": true,\n"
    "    \"command\": [\"/bin/skr\"],\n"
    "    \"env_rules\": [{\"pattern\": \"SkrSideCarArgs=.+\", \"required\": false, "
    "\"strategy\": \"re2\"}],\n"
    "    \"exec_processes\": [],\n"
    "    \"id\": \"azure-emu/skr:test\",\n"
    "    \"layers\": [\"0000000000000000000000000000000000000000000000000000000000000000\"],\n"
    "    \"mounts\": [],\n"
    "    \"no_new_privileges\": true,\n"
    "    \"signals\": [],\n"
    "    \"working_dir\": \"/\"\n"
    "  }\n"
    "]\n"
    "\n"
    "allow_properties_access := true\n"
    "allow_dump_stacks := false\n"
    "allow_runtime_logging := false\n"
    "allow_environment_variable_dropping := true\n"
    "allow_unencrypted_scratch := false\n"
    "allow_capability_dropping := true\n"
    "\n"
    "mount_device := data.framework.mount_device\n"
    "unmount_device := data.framework.unmount_device\n"
    "mount_overlay := data.framework.mount_overlay\n"
    "unmount_overlay := data.framework.unmount_overlay\n"
    "create_container := data.framework.create_container\n"
    "exec_in_container := data.framework.exec_in_container\n"
    "exec_external := data.framework.exec_external\n"
    "shutdown_container := data.framework.shutdown_container\n"
    "signal_container_process := data.framework.signal_container_process\n"
    "plan9_mount := data.framework.plan9_mount\n"
    "plan9_unmount := data.framework.plan9_unmount\n"
    "get_properties := data.framework.get_properties\n"
    "dump_stacks := data.framework.dump_stacks\n"
    "runtime_logging := data.framework.runtime_logging\n"
    "load_fragment := data.framework.load_fragment\n"
    "scratch_mount := data.framework.scratch_mount\n"
    "scratch_unmount := data.framework.scratch_unmount\n"
    "\n"
    "reason := {\"errors\": data.framework.errors}\n";

const char *aemu_secctx_default_policy(void)
{
    return secctx_default_policy;
}

/* Writes b64(data) to dir/security-context/name, mode 0644 (public material only). */
static shd_result secctx_write_b64(const char *dir, const char *name, const uint8_t *data,
                                   size_t len)
{
    char rel[128];
    int n = snprintf(rel, sizeof(rel), "security-context/%s", name);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(rel), SHD_ERR_INTERNAL);
    char path[4096];
    SHD_GUARD(emu_path_join(dir, rel, path, sizeof(path)));
    SHD_CLEANUP_FREE char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD(aemu_b64_encode(data, len, &b64, &b64_len));
    return emu_file_write(path, b64, b64_len, 0644, 0);
}

/* THIM JSON, members in the order of skr-sidecar.md §1.4; tcbm as 16 hex digits (§3.4). */
static shd_result secctx_thim_json(const struct aemu_chip *chip, char **ret, size_t *ret_len)
{
    SHD_CLEANUP_FREE char *vcek = NULL;
    size_t vcek_len = 0;
    SHD_GUARD(aemu_pki_cert_pem_append(chip->vcek, &vcek, &vcek_len));
    SHD_CLEANUP_FREE char *chain = NULL;
    size_t chain_len = 0;
    SHD_GUARD(aemu_pki_cert_pem_append(chip->ask, &chain, &chain_len));
    SHD_GUARD(aemu_pki_cert_pem_append(chip->ark, &chain, &chain_len));
    char tcbm[17];
    int n = snprintf(tcbm, sizeof(tcbm), "%016llx", (unsigned long long)chip->reported_tcb);
    SHD_ENSURE(n == 16, SHD_ERR_INTERNAL);
    SHD_CLEANUP(secctx_json_freep)
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "vcekCert", vcek, "tcbm", tcbm,
                          "certificateChain", chain, "cacheControl", "86400");
    SHD_ENSURE(j != NULL, SHD_ERR_NOMEM);
    return aemu_json_dump(j, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_len);
}

shd_result aemu_secctx_write(const char *dir, const struct aemu_chip *chip, const uint8_t *policy,
                             size_t policy_len, X509 *ca, EVP_PKEY *ca_key)
{
    SHD_ENSURE_REF(dir);
    SHD_ENSURE_REF(chip);
    SHD_ENSURE_REF(policy);
    SHD_ENSURE_REF(ca);
    SHD_ENSURE_REF(ca_key);

    SHD_CLEANUP_FREE char *thim = NULL;
    size_t thim_len = 0;
    SHD_GUARD(secctx_thim_json(chip, &thim, &thim_len));
    char path[4096];
    SHD_GUARD(emu_path_join(dir, "snp/thim.json", path, sizeof(path)));
    SHD_GUARD(emu_file_write(path, thim, thim_len, 0644, 0));
    SHD_GUARD(secctx_write_b64(dir, "host-amd-cert-base64", (const uint8_t *)thim, thim_len));

    SHD_GUARD(secctx_write_b64(dir, "security-policy-base64", policy, policy_len));

    SHD_CLEANUP_FREE uint8_t *cose = NULL;
    size_t cose_len = 0;
    SHD_GUARD(aemu_refinfo_build(chip->measurement, chip->guest_svn, ca, ca_key, &cose, &cose_len));
    return secctx_write_b64(dir, "reference-info-base64", cose, cose_len);
}
