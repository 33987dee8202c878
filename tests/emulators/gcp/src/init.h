/*
 * init.h - `gcp-emu init --state DIR`: everything persistent the emulators need (DESIGN.md
 * "Emulator conventions"; the file list is in gemu.h) and the ready default of the issue:
 *   - workload identity pool "gemu-pool" with OIDC provider "attestation-verifier" trusting
 *     the verifier (issuer https://confidentialcomputing.googleapis.com/, audience
 *     https://sts.googleapis.com, google.subject = assertion.sub, a condition on the project
 *     and secure boot);
 *   - service account "kms-user@<project>.iam.gserviceaccount.com" that the whole pool may
 *     impersonate (roles/iam.workloadIdentityUser for principalSet://.../gemu-pool/{star});
 *   - key ring "gemu-ring" (location global) with "gemu-rsa" (RSA_DECRYPT_OAEP_4096_SHA256)
 *     and "gemu-sym" (GOOGLE_SYMMETRIC_ENCRYPTION), usable by that service account;
 *   - the project grants roles/cloudkms.admin to the VM's default service account, so that
 *     its metadata-server token may create key rings and keys over REST.
 */
#pragma once

#include <stdbool.h>

#include "shd/result.h"

#define GEMU_DEFAULT_PROJECT_ID "gemu-project"
#define GEMU_DEFAULT_PROJECT_NUMBER "123456789012"
#define GEMU_DEFAULT_ZONE "us-central1-a"
#define GEMU_DEFAULT_INSTANCE_ID "7333251546816446069"
#define GEMU_DEFAULT_INSTANCE_NAME "gemu-cvm"
#define GEMU_DEFAULT_POOL "gemu-pool"
#define GEMU_DEFAULT_PROVIDER "attestation-verifier"
#define GEMU_DEFAULT_SA_NAME "kms-user"
#define GEMU_DEFAULT_KEY_RING "gemu-ring"
#define GEMU_DEFAULT_RSA_KEY "gemu-rsa"
#define GEMU_DEFAULT_SYM_KEY "gemu-sym"

struct gemu_init_opts {
    const char *state_dir;
    const char *project_id;     /* NULL: GEMU_DEFAULT_PROJECT_ID */
    const char *project_number; /* NULL: GEMU_DEFAULT_PROJECT_NUMBER */
    const char *zone;           /* NULL: GEMU_DEFAULT_ZONE */
    const char *instance_id;    /* NULL: GEMU_DEFAULT_INSTANCE_ID */
    const char *instance_name;  /* NULL: GEMU_DEFAULT_INSTANCE_NAME */
    bool force;                 /* allow a non-empty existing state directory */
    /* Tests only (not on the command line): the default RSA key is RSA_DECRYPT_OAEP_2048_SHA256
     * instead of _4096_, which keeps key generation fast under valgrind. */
    bool small_keys;
};

/*
 * Creates the state directory (0700). An existing directory must be empty unless force is set
 * (SHD_ERR_CONFIG otherwise). Option values are validated (SHD_ERR_CONFIG). Private keys are
 * written 0600.
 */
SHD_RESULT gemu_init_run(const struct gemu_init_opts *opts);
