/*
 * vtpm_state.c - the serve-time vTPM from the loaded state (vtpm_state.h).
 */
#include <errno.h>
#include <sys/stat.h>

#include "emu_files.h"
#include "gemu.h"
#include "vtpm_state.h"

#include "shd/safety.h"

#define PATH_CAP 4096

shd_result gemu_vtpm_serve_start(struct gemu_state *st, struct gemu_vtpm **ret)
{
    char dir[PATH_CAP], log[PATH_CAP];
    struct gemu_instance_info info;
    struct gemu_vtpm *v = NULL;
    struct gemu_vtpm_provision_opts o = {
        .aia_url = GEMU_AK_INTERMEDIATE_AIA_URL,
        .log = {.firmware_version = 1, .technology = GEMU_GCE_TECH_AMD_SEV, .secure_boot = true},
    };
    shd_result r;

    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(st->ak_ca_cert != NULL && st->ak_ca_key != NULL, SHD_ERR_CONFIG,
                   "the state has no AK CA");
    SHD_GUARD(emu_path_join(st->state_dir, "vtpm", dir, sizeof(dir)));
    SHD_GUARD(emu_path_join(st->state_dir, GEMU_EVENTLOG_FILE, log, sizeof(log)));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    SHD_GUARD(gemu_instance_info_from_text(st->id.zone, st->id.project_id, st->id.project_number,
                                           st->id.instance_id, st->id.instance_name, &info));
    SHD_GUARD(gemu_vtpm_start(dir, &v));
    o.instance = &info;
    o.ca_cert = st->ak_ca_cert;
    o.ca_key = st->ak_ca_key;
    o.eventlog_path = log;
    r = gemu_vtpm_provision(&o, v, NULL);
    if (shd_is_err(r)) {
        gemu_vtpm_free(v);
        shd_error_wrap("provisioning the vTPM");
        return r;
    }
    st->ports.tpm = gemu_vtpm_port(v);
    st->ports.tpm_ctrl = gemu_vtpm_ctrl_port(v);
    *ret = v;
    return SHD_OK;
}
