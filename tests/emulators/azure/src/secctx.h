/*
 * secctx.h - the ACI security-context files that `azure-emu init` writes
 * (skr-sidecar.md §1.4, azure-formats.md §3.4-3.5) into DIR/security-context/:
 *
 *   host-amd-cert-base64    b64(THIM JSON {"vcekCert","tcbm","certificateChain","cacheControl"})
 *   security-policy-base64  b64(Rego policy text); HOST_DATA = SHA-256(policy text)
 *   reference-info-base64   b64(COSE_Sign1 UVM endorsement): see refinfo.h
 *
 * and DIR/snp/thim.json, the same THIM JSON undecorated, for the IMDS/THIM emulator.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "chip.h"
#include "shd/result.h"

/* The default security policy: a small Rego text in the shape confcom generates. */
const char *aemu_secctx_default_policy(void);

/*
 * Writes the security-context directory (dir/security-context must exist) for the chip, the
 * policy text and a UVM endorsement signed by a key certified by ca/ca_key.
 */
SHD_RESULT aemu_secctx_write(const char *dir, const struct aemu_chip *chip, const uint8_t *policy,
                             size_t policy_len, X509 *ca, EVP_PKEY *ca_key);
