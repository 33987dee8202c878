/*
 * attest.h - where gcp-wif gets its attestation token (the OIDC JWT issued by Google Cloud
 * Attestation, iss https://confidentialcomputing.googleapis.com) that STS exchanges for a
 * federated access token (gcp-identity.md section 1).
 *
 * Two sources, chosen by configuration:
 *   WIF_ATTEST_MODE_TPM       a plain Confidential VM: this module does what `gotpm token` does
 *                             (gcp-identity.md section 8 steps 1-7): metadata server, challenge,
 *                             GCE AK from the vTPM (tpm2-tss ESAPI), quotes of PCRs 0-23 in every
 *                             bank, firmware event log, AK certificate chain, verifyAttestation.
 *   WIF_ATTEST_MODE_LAUNCHER  Confidential Space: the launcher already holds the token; the
 *                             default-audience token is read from its file (re-read when the file
 *                             changes), custom-audience tokens come from its teeserver Unix
 *                             socket (gcp-identity.md sections 3.8, 3.9).
 *
 * Every token handed out has been checked: RS256 signature (pinned) against the JWKS named by
 * <verifier_url>/.well-known/openid-configuration, iss == verifier_issuer, aud == the requested
 * audience, exp in the future, nbf/iat not in the future (60 s skew).
 *
 * Thread safety: one struct wif_attest may be shared by threads; requests are serialised by a
 * mutex inside, so an ESAPI context is never used by two callers at once (STYLE.md rule 32).
 * A TPM-mode request opens the TCTI, does its work and closes it again, flushing every transient
 * object it created (swtpm has three transient slots and no resource manager).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_http_client;
struct wif_attest;

enum wif_attest_mode {
    WIF_ATTEST_MODE_TPM = 1,
    WIF_ATTEST_MODE_LAUNCHER,
};

/* Defaults used when a string option is NULL. */
#define WIF_ATTEST_DEFAULT_TCTI "device:/dev/tpmrm0"
#define WIF_ATTEST_DEFAULT_EVENT_LOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define WIF_ATTEST_DEFAULT_VERIFIER_URL "https://confidentialcomputing.googleapis.com"
#define WIF_ATTEST_DEFAULT_MDS_URL "http://metadata.google.internal"
#define WIF_ATTEST_DEFAULT_AUDIENCE "https://sts.googleapis.com"
#define WIF_ATTEST_DEFAULT_LAUNCHER_TOKEN                                                          \
    "/run/container_launcher/attestation_verifier_claims_token"
#define WIF_ATTEST_DEFAULT_LAUNCHER_SOCKET "/run/container_launcher/teeserver.sock"

/* Longest audience accepted (TokenOptions.audience, gcp-identity.md section 3.3). */
#define WIF_ATTEST_AUDIENCE_MAX 512u
/* Largest attestation token accepted from any source. */
#define WIF_ATTEST_TOKEN_MAX (64u * 1024u)

/*
 * Configuration. Zero-initialise, then set what differs. Every string is copied by
 * wif_attest_new; the http clients are borrowed and must outlive the struct wif_attest.
 */
struct wif_attest_config {
    enum wif_attest_mode mode;

    /* ---- TPM mode ---- */
    const char *tcti;           /* TCTI loader string; NULL: WIF_ATTEST_DEFAULT_TCTI */
    bool ak_ecc;                /* GCE ECC P-256 AK (NV 0x01C10003/0x01C10002); false: RSA */
    const char *event_log_path; /* NULL: WIF_ATTEST_DEFAULT_EVENT_LOG; "" sends no event log */
    const char *mds_url;        /* metadata server base; NULL: WIF_ATTEST_DEFAULT_MDS_URL */
    const char *project_id;     /* NULL: from the metadata server */
    const char *location;       /* region of the challenge; NULL: the MDS zone minus "-x" */

    /* ---- both modes ---- */
    /* Verifier base URL (no trailing slash). NULL: WIF_ATTEST_DEFAULT_VERIFIER_URL. */
    const char *verifier_url;
    /* Expected `iss` of the discovery document and of every token. It is fixed by Google
     * whatever address the verifier is reached at (an emulator on localhost issues Google's
     * issuer too). NULL: WIF_ATTEST_DEFAULT_VERIFIER_URL. */
    const char *verifier_issuer;
    /* TLS client for the verifier API, its discovery document and the JWKS (required). */
    struct shd_http_client *http;
    /* Client for the metadata server and the AK certificate's AIA URLs (plain http; required in
     * TPM mode, unused in launcher mode). */
    struct shd_http_client *http_mds;

    /* ---- launcher mode ---- */
    const char *launcher_token_path; /* NULL: WIF_ATTEST_DEFAULT_LAUNCHER_TOKEN */
    const char *launcher_socket;     /* NULL: WIF_ATTEST_DEFAULT_LAUNCHER_SOCKET */
};

/*
 * Validates cfg and creates the attestation source. Does not touch the TPM, the network or the
 * launcher files (see wif_attest_probe). SHD_ERR_CONFIG for an unknown mode, a missing http
 * client, a verifier URL that is not https://host[:port] without path, or an over-long string.
 * *ret written only on success; free with wif_attest_free.
 */
SHD_RESULT wif_attest_new(const struct wif_attest_config *cfg, struct wif_attest **ret);

/*
 * Start-up check, for main to fail early with a clear message: TPM mode opens the TCTI and reads
 * the public area of the AK template and certificate NV indices; launcher mode checks that the
 * token file exists and is a regular file. No network.
 * Errors: SHD_ERR_TPM, SHD_ERR_IO, SHD_ERR_NOT_FOUND.
 */
SHD_RESULT wif_attest_probe(struct wif_attest *a);

/*
 * Returns a fresh, checked attestation token for audience (NULL or "" = the default audience
 * WIF_ATTEST_DEFAULT_AUDIENCE; at most WIF_ATTEST_AUDIENCE_MAX bytes, printable ASCII).
 * TPM mode performs a full challenge/quote/verify round trip on every call (a challenge is
 * single-use); the caller caches and refreshes. Launcher mode returns the file's token for the
 * default audience (re-read when its inode, size or mtime changed) and asks the teeserver for
 * any other audience.
 *
 * *ret_token: NUL-terminated compact JWT, a bearer credential: free it with
 * shd_free_wipe(token, *ret_len + 1) and never log it. *ret_exp: its exp claim (Unix seconds).
 * Outputs are written only on success.
 *
 * Errors (category is what callers branch on): SHD_ERR_T_RETRY / SHD_ERR_T_IO for network,
 * metadata server and verifier failures (retry with backoff), SHD_ERR_T_TPM for TPM failures,
 * SHD_ERR_T_CRYPTO (SHD_ERR_TOKEN, SHD_ERR_BAD_SIGNATURE, SHD_ERR_BAD_CERT) when the token or the
 * AK certificate does not check out, SHD_ERR_T_INPUT for malformed peer answers, SHD_ERR_USAGE
 * for a bad audience.
 */
SHD_RESULT wif_attest_token(const char *audience, struct wif_attest *a, char **ret_token,
                            size_t *ret_len, int64_t *ret_exp);

/* Frees the source (wiping cached tokens) and sets *a to NULL. NULL and *a == NULL are fine.
 * No wif_attest_token call may be running. */
void wif_attest_free(struct wif_attest **a);
