/*
 * config.h - SkrSideCarArgs (skr-sidecar.md §1.3) and the UVM security context (§1.4).
 */
#pragma once

#include <stddef.h>

#include "shd/result.h"
#include "skr.h"

/*
 * Decodes the -base64 value: Go base64.StdEncoding (padding required, CR/LF ignored), then JSON
 * read like Go's encoding/json into AzureInformation (keys matched case-insensitively, unknown
 * keys ignored, null leaves a field empty, a non-string where a string belongs is an error).
 * Errors (SHD_ERR_ENCODING, SHD_ERR_JSON / SHD_ERR_TOO_LARGE, SHD_ERR_CONFIG for a type
 * mismatch) carry the original's fatal texts:
 *   "Failed to decode base64 attestation info: illegal base64 data at input byte N"
 *   "Failed to unmarshal attestion info json into AzureInformation: <reason>"
 * An endpoint_type other than LocalTHIM/AzCache/AMD is not an error here (the original fails at
 * refresh time): type SKR_CERT_ENDPOINT_INVALID keeps the name. *ret written only on success;
 * release with skr_sidecar_args_clear.
 */
SHD_RESULT skr_sidecar_args_decode(const char *b64, struct skr_sidecar_args *ret);

/* Frees the strings of *args and zeroes it (NULL is fine). */
void skr_sidecar_args_clear(struct skr_sidecar_args *args);

/* Test seam: the file-system root and environment lookups used by skr_uvm_info_load. */
struct skr_uvm_env {
    const char *root;                     /* "/" in production */
    const char *(*getenv)(const char *);  /* secure_getenv in production */
};

/*
 * Resolves the security-context directory: $UVM_SECURITY_CONTEXT_DIR if non-empty, else the
 * first entry of root (sorted by name) whose name contains "security-context-", else the Kata
 * default. *ret (shd_alloc'd) written on success.
 */
SHD_RESULT skr_uvm_dir_find(const struct skr_uvm_env *env, char **ret);

/*
 * Loads reference-info-base64, host-amd-cert-base64 and security-policy-base64 from the
 * directory in the original's order (a missing reference-info stops the loading), then, if no
 * reference info was found, replaces everything with UVM_HOST_AMD_CERTIFICATE,
 * UVM_SECURITY_POLICY and UVM_REFERENCE_INFO. Never fails on missing files (the original only
 * logs): *ret then holds "" strings. SHD_ERR_NOMEM and oversized files (SHD_ERR_TOO_LARGE) are
 * errors. env NULL = production. Release with skr_uvm_info_clear.
 */
SHD_RESULT skr_uvm_info_load(const struct skr_uvm_env *env, struct skr_uvm_info *ret);

/* Frees the strings of *uvm and zeroes it (NULL is fine). */
void skr_uvm_info_clear(struct skr_uvm_info *uvm);

/*
 * Parses a THIM JSON document ({"vcekCert","tcbm","certificateChain","cacheControl"}) given as
 * base64 (host-amd-cert-base64) or raw (b64 == false). "tcbm" is parsed base 16, either case.
 * *ret written on success; release with skr_certs_clear.
 */
SHD_RESULT skr_thim_parse(const char *data, size_t len, bool b64, struct skr_certs *ret);

/* Frees the strings of *certs and zeroes it (NULL is fine). */
void skr_certs_clear(struct skr_certs *certs);

/* Deep copy (shd_alloc'd strings). */
SHD_RESULT skr_certs_copy(const struct skr_certs *in, struct skr_certs *ret);
