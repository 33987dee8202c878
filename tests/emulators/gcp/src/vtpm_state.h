/*
 * vtpm_state.h - the vTPM of `gcp-emu serve --vtpm`, set up from the loaded state (gemu.h):
 * DIR/vtpm is the swtpm state directory, the AK/EK certificates come from st->ak_ca_cert /
 * st->ak_ca_key with st->id's instance identity and the AIA URL GEMU_AK_INTERMEDIATE_AIA_URL,
 * and the TCG event log is written to DIR/GEMU_EVENTLOG_FILE (which the MDS serves).
 */
#pragma once

#include "vtpm.h"

#include "shd/result.h"

struct gemu_state;

/*
 * Creates DIR/vtpm (0700) if needed, starts swtpm, provisions it (a GCE AMD SEV Confidential
 * VM with Secure Boot on, firmware v1) and fills st->ports.tpm / st->ports.tpm_ctrl. The TCTI
 * string for endpoints.json is gemu_vtpm_tcti(*ret). Errors as gemu_vtpm_start and
 * gemu_vtpm_provision (swtpm is stopped again on failure). *ret: gemu_vtpm_free, from the
 * thread that called this (swtpm gets SIGTERM when that thread exits).
 */
SHD_RESULT gemu_vtpm_serve_start(struct gemu_state *st, struct gemu_vtpm **ret);
