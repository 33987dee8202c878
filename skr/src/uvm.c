/*
 * uvm.c - the UVM security context (skr-sidecar.md §1.4, azure-formats.md §3.5): directory
 * discovery, the three base64 files, and the legacy environment variables.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

static const char *prod_getenv(const char *name)
{
    return secure_getenv(name);
}

static const struct skr_uvm_env PROD_ENV = {.root = "/", .getenv = prod_getenv};

static shd_result join_path(const char *dir, const char *name, char **ret)
{
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    size_t n = 0;
    SHD_GUARD(shd_add_overflow(dl, strlen(name), &n));
    SHD_GUARD(shd_add_overflow(n, 2, &n));
    char *p = shd_alloc(n);
    SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
    (void)snprintf(p, n, "%s%s%s", dir, slash ? "" : "/", name);
    *ret = p;
    return SHD_OK;
}

static void closedir_p(DIR **d)
{
    if (*d != NULL) {
        (void)closedir(*d);
        *d = NULL;
    }
}

shd_result skr_uvm_dir_find(const struct skr_uvm_env *env, char **ret)
{
    SHD_ENSURE_REF(ret);
    if (env == NULL) {
        env = &PROD_ENV;
    }
    const char *v = env->getenv("UVM_SECURITY_CONTEXT_DIR");
    if (v != NULL && v[0] != '\0') {
        char *copy = shd_strdup(v);
        SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
        *ret = copy;
        return SHD_OK;
    }
    /* os.ReadDir("/") sorts by name: keep the smallest matching name. */
    SHD_CLEANUP_FREE char *best = NULL;
    SHD_CLEANUP(closedir_p) DIR *d = opendir(env->root);
    if (d != NULL) {
        const struct dirent *e = NULL;
        while ((e = readdir(d)) != NULL) {
            if (strstr(e->d_name, "security-context-") == NULL) {
                continue;
            }
            if (best == NULL || strcmp(e->d_name, best) < 0) {
                char *copy = shd_strdup(e->d_name);
                SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
                shd_free(best);
                best = copy;
            }
        }
    }
    if (best != NULL) {
        SHD_LOG_INFO(SKR_LOG_CONFIG, "Running in Confidential ACI: security context %s", best);
        return join_path(env->root, best, ret);
    }
    SHD_LOG_INFO(SKR_LOG_CONFIG, "Running in Confidential AKS (Kata): security context %s",
                 SKR_KATA_SECURITY_CONTEXT_DIR);
    char *copy = shd_strdup(SKR_KATA_SECURITY_CONTEXT_DIR);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret = copy;
    return SHD_OK;
}

void skr_uvm_info_clear(struct skr_uvm_info *uvm)
{
    if (uvm == NULL) {
        return;
    }
    shd_free(uvm->security_policy_b64);
    shd_free(uvm->reference_info_b64);
    shd_free(uvm->host_amd_cert_b64);
    shd_free(uvm->dir);
    shd_memzero(uvm, sizeof(*uvm));
}

/* Reads dir/name into *ret. A missing or unreadable file is not an error: false is returned
 * (the original logs and stops loading). Out of memory and oversized files are errors. */
static shd_result read_secctx_file(const char *dir, const char *name, char **ret, bool *ret_ok)
{
    SHD_CLEANUP_FREE char *path = NULL;
    SHD_GUARD(join_path(dir, name, &path));
    uint8_t *data = NULL;
    size_t len = 0;
    shd_result r = shd_file_read(path, SKR_SECCTX_FILE_MAX, 0, &data, &len);
    if (shd_is_err(r)) {
        if (r.err == SHD_ERR_NOMEM || r.err == SHD_ERR_TOO_LARGE) {
            return r;
        }
        char msg[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(msg, sizeof(msg));
        SHD_LOG_INFO(SKR_LOG_CONFIG, "Failed to read %s: %s", name, msg);
        shd_error_clear();
        *ret_ok = false;
        return SHD_OK;
    }
    shd_free(*ret);
    *ret = (char *)data;
    *ret_ok = true;
    return SHD_OK;
}

static shd_result env_or_empty(const struct skr_uvm_env *env, const char *name, char **ret)
{
    const char *v = env->getenv(name);
    char *copy = shd_strdup(v != NULL ? v : "");
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_free(*ret);
    *ret = copy;
    return SHD_OK;
}

static shd_result fill_empty(char **s)
{
    if (*s == NULL) {
        *s = shd_strdup("");
        SHD_ENSURE(*s != NULL, SHD_ERR_NOMEM);
    }
    return SHD_OK;
}

shd_result skr_uvm_info_load(const struct skr_uvm_env *env, struct skr_uvm_info *ret)
{
    SHD_ENSURE_REF(ret);
    if (env == NULL) {
        env = &PROD_ENV;
    }
    SHD_CLEANUP(skr_uvm_info_clear) struct skr_uvm_info u = {0};
    SHD_GUARD(skr_uvm_dir_find(env, &u.dir));
    bool ok = false;
    SHD_GUARD(read_secctx_file(u.dir, "reference-info-base64", &u.reference_info_b64, &ok));
    if (ok) {
        SHD_GUARD(read_secctx_file(u.dir, "host-amd-cert-base64", &u.host_amd_cert_b64, &ok));
    }
    if (ok) {
        SHD_GUARD(read_secctx_file(u.dir, "security-policy-base64", &u.security_policy_b64, &ok));
    }
    if (u.reference_info_b64 == NULL || u.reference_info_b64[0] == '\0') {
        /* The legacy (pre-GA) scheme replaces everything (GetUvmInformationFromEnv). */
        SHD_GUARD(env_or_empty(env, "UVM_HOST_AMD_CERTIFICATE", &u.host_amd_cert_b64));
        SHD_GUARD(env_or_empty(env, "UVM_SECURITY_POLICY", &u.security_policy_b64));
        SHD_GUARD(env_or_empty(env, "UVM_REFERENCE_INFO", &u.reference_info_b64));
        shd_free(u.dir);
        u.dir = NULL;
    }
    SHD_GUARD(fill_empty(&u.reference_info_b64));
    SHD_GUARD(fill_empty(&u.host_amd_cert_b64));
    SHD_GUARD(fill_empty(&u.security_policy_b64));
    *ret = u;
    shd_memzero(&u, sizeof(u));
    return SHD_OK;
}
