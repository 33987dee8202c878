/*
 * vtpm.h - the GCE-style vTPM of `gcp-emu serve --vtpm`: a swtpm child process on loopback
 * (real-clients.md §4.1) and its provisioning the way GCE provisions a Shielded/Confidential VM
 * (gcp-identity.md §2):
 *
 *   NV 0x01C10001 / 0x01C10003   GCE AK templates (TPMT_PUBLIC, RSA / ECC)
 *   NV 0x01C10000 / 0x01C10002   AK certificates (DER) from the "EK/AK CA Intermediate", with
 *                                the GCE instance-identity extension and an AIA URL
 *   NV 0x01C00002                RSA EK certificate (TCG profile) from the same CA
 *   PCRs 0-7 of every allocated SHA-1/256/384/512 bank, extended from a synthetic TCG event
 *                                log that is also written to a file (eventlog.h)
 *
 * NV indices are defined under the platform hierarchy with PPWRITE|PPREAD|WRITEDEFINE|
 * OWNERREAD|AUTHREAD|PLATFORMCREATE|NO_DA (0x62072001 once written, as on GCE), so clients read
 * them with owner authorisation. The swtpm state survives restarts (DIR/vtpm); provisioning is
 * idempotent: an index whose content is already right is left alone, any other is redefined.
 * PCRs are volatile, so the log is extended after every start.
 *
 * Threads: one struct gemu_vtpm belongs to one thread; the TPM itself serves one TCTI client at
 * a time (swtpm without a resource manager, three transient slots): provisioning flushes every
 * object it loads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "eventlog.h"
#include "tpm_akcert.h"

#include "shd/result.h"

struct gemu_vtpm;

/* Longest TCTI configuration string ("swtpm:host=127.0.0.1,port=65535"). */
#define GEMU_VTPM_TCTI_MAX 64u

/*
 * Starts `swtpm socket --tpm2 --tpmstate dir=<tpmstate_dir> --server type=tcp,port=P
 * --ctrl type=tcp,port=P+1 --flags not-need-init,startup-clear` (P and P+1 free loopback ports
 * found by binding; the attempt is repeated with new ports if swtpm loses a race for them) and
 * waits until both ports accept connections. tpmstate_dir must exist. swtpm is looked up in
 * PATH; its log goes to <tpmstate_dir>/swtpm.log. The child gets SIGTERM if the thread that
 * started it dies (PR_SET_PDEATHSIG) and starts with no blocked signals.
 * Errors: SHD_ERR_NOT_FOUND (no swtpm in PATH), SHD_ERR_IO, SHD_ERR_TIMEOUT (not ready within
 * 10 s). *ret: gemu_vtpm_free (which stops swtpm).
 */
SHD_RESULT gemu_vtpm_start(const char *tpmstate_dir, struct gemu_vtpm **ret);

/* Stops swtpm (SIGTERM, then SIGKILL after 3 s), reaps it and frees (NULL is fine). */
void gemu_vtpm_free(struct gemu_vtpm *vtpm);

/* The tpm2-tss TCTI configuration "swtpm:host=127.0.0.1,port=P" (borrowed). */
const char *gemu_vtpm_tcti(const struct gemu_vtpm *vtpm);

/* The server port P and the control port P+1. */
uint16_t gemu_vtpm_port(const struct gemu_vtpm *vtpm);
uint16_t gemu_vtpm_ctrl_port(const struct gemu_vtpm *vtpm);

/* The child's process id (for tests that need to see it gone). */
int gemu_vtpm_pid(const struct gemu_vtpm *vtpm);

/* What to provision. Everything is borrowed for the duration of the call. */
struct gemu_vtpm_provision_opts {
    const struct gemu_instance_info *instance; /* goes into the AK certificates */
    X509 *ca_cert;                             /* "EK/AK CA Intermediate" */
    EVP_PKEY *ca_key;                          /* its private key */
    const char *aia_url;                       /* caIssuers URL of ca_cert (GEMU_AK_*_AIA_URL) */
    struct gemu_eventlog_spec log;             /* the synthetic boot */
    const char *eventlog_path;                 /* where the TCG log is written (mode 0644) */
};

/* Results of provisioning (all owned by the caller). */
struct gemu_vtpm_provisioned {
    X509 *ak_cert_rsa; /* X509_free */
    X509 *ak_cert_ecc;
    X509 *ek_cert_rsa;
    uint8_t *eventlog; /* the log written to eventlog_path; shd_free */
    size_t eventlog_len;
};

/* Frees what gemu_vtpm_provision returned (fields set to NULL; NULL is fine). */
void gemu_vtpm_provisioned_clear(struct gemu_vtpm_provisioned *p);

/*
 * Provisions the running vTPM as described at the top of this header, through ESAPI over the
 * TCTI loader. Before extending, the PCRs must be all zero (fresh start) or already hold the
 * values the log replays to (provisioned since this start): anything else is SHD_ERR_TPM.
 * After extending, the PCRs are read back and compared with the replay. *ret (may be NULL)
 * receives the certificates and the log.
 */
SHD_RESULT gemu_vtpm_provision(const struct gemu_vtpm_provision_opts *opts, struct gemu_vtpm *vtpm,
                               struct gemu_vtpm_provisioned *ret);
