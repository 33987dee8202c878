/*
 * skr.h - the skr context (configuration parsed once, immutable afterwards, plus the one guarded
 * piece of shared state: the AMD certificates) and the attestation evidence every upstream call
 * is built from.
 *
 * Threads: HTTP handlers run concurrently (shd/http_server.h). Everything in struct skr_ctx is
 * read-only after skr_ctx_init returned, except the certificate state behind ctx->certs, which
 * is locked internally; callers only ever see copies of it (struct skr_evidence).
 *
 * Wire references: skr-sidecar.md §1 (configuration), §3 (reports), §4.1 (collateral, D5),
 * D8 (start without certificates).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"
#include "shd/snp_report.h"

struct shd_http_client;
struct skr_cert_state; /* certs.c: guarded certificate state (opaque) */

/* Log module tags (SKR_LOG=all+info,maa+debug). */
#define SKR_LOG_MAIN "main"
#define SKR_LOG_API "api"
#define SKR_LOG_CONFIG "config"
#define SKR_LOG_SNP "snp"
#define SKR_LOG_CERTS "certs"
#define SKR_LOG_MAA "maa"
#define SKR_LOG_AKV "akv"
#define SKR_LOG_TOKEN "token"

/* Our User-Agent towards MAA unless maaconfig.user_agent is set (D4). */
#define SKR_USER_AGENT_DEFAULT "skr-native/" SKR_VERSION

/* Default IMDS base (THIM certificates, managed-identity tokens); AZURE_POD_IDENTITY_AUTHORITY_HOST
 * overrides it like in the Azure SDKs. */
#define SKR_IMDS_DEFAULT_BASE "http://169.254.169.254"
#define SKR_THIM_PATH "/metadata/THIM/amd/certification"
#define SKR_KATA_SECURITY_CONTEXT_DIR "/opt/confidential-containers/share/kata-containers"

/* Bounds on the configuration (STYLE.md rule 23). */
#define SKR_CONFIG_MAX_BYTES ((size_t)64 * 1024)  /* decoded SkrSideCarArgs JSON */
#define SKR_SECCTX_FILE_MAX ((size_t)4 * 1024 * 1024) /* one security-context file */
#define SKR_MAX_ALLOW_IDS 32u

/* certcache.endpoint_type (skr-sidecar.md §1.3, §4.2). */
enum skr_cert_endpoint_type {
    SKR_CERT_ENDPOINT_NONE = 0, /* no certcache configured: refresh fails with a clear error */
    SKR_CERT_ENDPOINT_LOCAL_THIM,
    SKR_CERT_ENDPOINT_AZCACHE,
    SKR_CERT_ENDPOINT_AMD,
    SKR_CERT_ENDPOINT_INVALID, /* unknown name: refresh fails "invalid endpoint type: <t>" */
};

/* The "certcache" object of SkrSideCarArgs; strings are NULL when absent. */
struct skr_certcache {
    enum skr_cert_endpoint_type type;
    char *type_name; /* as given, for error messages ("invalid endpoint type: <t>") */
    char *endpoint;  /* host[/path], no scheme */
    char *tee_type;
    char *api_version; /* raw query fragment */
    char *client_id;   /* raw query fragment */
};

/* Decoded SkrSideCarArgs (AzureInformation, §1.3). */
struct skr_sidecar_args {
    struct skr_certcache certcache;
    char *identity_client_id; /* identity.client_id, NULL when absent */
    char *maa_user_agent;     /* maaconfig.user_agent, NULL when absent */
};

/* The UVM information loaded at start-up (§1.4). Strings are the file contents verbatim ("" when
 * absent), i.e. still base64. */
struct skr_uvm_info {
    char *security_policy_b64;
    char *reference_info_b64;
    char *host_amd_cert_b64; /* THIM JSON, base64 */
    char *dir;               /* the security-context directory used (NULL for the env scheme) */
};

/* One consistent set of AMD certificates (THIM JSON or a certcache refresh). */
struct skr_certs {
    char *vcek_pem;  /* VCEK certificate, PEM */
    char *chain_pem; /* ASK + ARK, PEM */
    char *tcbm_str;  /* THIM "tcbm" verbatim (for /attest/combined "endorsed_tcb") */
    uint64_t tcbm;   /* the TCB value the VCEK was issued for */
};

enum skr_server_type {
    SKR_SERVER_HTTP = 0,
    SKR_SERVER_GRPC, /* accepted, answered with "not supported yet" at start-up */
};

/* Command line (flags of the original plus our Unix-socket extension, §1.2 and D10). */
struct skr_options {
    char *base64;      /* -base64 */
    char *port_str;    /* -port, as given (the original does not validate it) */
    uint16_t port;     /* parsed -port */
    char *loglevel;    /* -loglevel */
    char *logfile;     /* -logfile */
    char *server_type; /* -server_type */
    enum skr_server_type server;
    bool allow_testing_mismatched_tcb;
    char *socket_path; /* -socket, NULL: no Unix socket */
    bool tcp;          /* -tcp (default true): also listen on 127.0.0.1:<port> */
    mode_t socket_mode;
    uid_t allow_uids[SKR_MAX_ALLOW_IDS];
    size_t nallow_uids;
    gid_t allow_gids[SKR_MAX_ALLOW_IDS];
    size_t nallow_gids;
    bool help;
    bool version;
};

/* Immutable context shared by every handler. */
struct skr_ctx {
    struct skr_options opts;
    struct skr_sidecar_args args;
    struct skr_uvm_info uvm;
    const char *maa_user_agent; /* args.maa_user_agent or SKR_USER_AGENT_DEFAULT; never NULL */

    /* Outbound HTTP settings, read once from the environment. */
    char *ca_file;    /* SSL_CERT_FILE, NULL: libcurl default */
    char *connect_to; /* SKR_CONNECT_TO, NULL: none */
    uint32_t upstream_timeout_ms; /* SKR_UPSTREAM_TIMEOUT_MS: per MAA/AAD/Key Vault attempt */
    uint32_t upstream_attempts;   /* SKR_UPSTREAM_ATTEMPTS: attempts per MAA/AAD/Key Vault call */
    char *imds_base;  /* AZURE_POD_IDENTITY_AUTHORITY_HOST or SKR_IMDS_DEFAULT_BASE, no '/' end */
    char *thim_url;   /* imds_base + SKR_THIM_PATH: the start-up certificate source (D8) */
    char *wi_client_id;  /* AZURE_CLIENT_ID (workload identity), NULL when unset */
    char *wi_tenant_id;  /* AZURE_TENANT_ID */
    char *wi_token_file; /* AZURE_FEDERATED_TOKEN_FILE */
    char *aad_authority; /* AZURE_AUTHORITY_HOST or https://login.microsoftonline.com */
    char *snp_simulator_dir; /* SKR_SNP_SIMULATOR, NULL when unset */

    /* Shared clients (thread-safe): bounded retries and timeouts on every call (D6). http_maa
     * sends maa_user_agent as User-Agent; http (Key Vault, AAD, AzCache, AMD KDS) sends none;
     * http_imds (THIM, managed-identity tokens at imds_base) has short timeouts (link-local). */
    struct shd_http_client *http;
    struct shd_http_client *http_maa;
    struct shd_http_client *http_imds;

    /* SEV-SNP device paths (production: snp.h defaults; tests point them elsewhere). */
    const char *snp_dev_sev;
    const char *snp_dev_sev_guest;
    const char *snp_tsm_dir;

    /* Guarded certificate state (certs.c). */
    struct skr_cert_state *certs;

    /* Release state (D9): AAD tokens cached until 5 minutes before expiry (token.c), and the
     * pool of pre-generated one-use wrapping keys (wrapkey.c; NULL when SKR_KEY_POOL is 0). */
    struct skr_token_cache *tokens;
    struct skr_key_pool *key_pool;
};

/*
 * What one attestation sends: a report and the certificates that belong to it (D5), plus the
 * UVM endorsement. All fields owned; release with skr_evidence_clear.
 */
struct skr_evidence {
    uint8_t report[SHD_SNP_REPORT_LEN];
    char *cert_chain_pem;          /* VCEK, then ASK, then ARK (PEM text) */
    size_t cert_chain_len;
    char *uvm_reference_info_b64;  /* reference-info-base64 verbatim; "" when absent */
    uint8_t *uvm_reference_info;   /* its decoded COSE_Sign1 bytes; NULL when absent */
    size_t uvm_reference_info_len;
    uint64_t tcbm;                 /* TCB of the certificates = REPORTED_TCB of the report */
    bool fake_report;              /* the unsigned fallback report was used (D3) */
};

/* Frees the contents of *ev and zeroes it (NULL is fine). */
void skr_evidence_clear(struct skr_evidence *ev);

/* REPORT_DATA = SHA-256(runtime data) || 32 zero bytes (§3.1). runtime may be NULL if len 0. */
SHD_RESULT skr_report_data_build(const uint8_t *runtime, size_t len,
                                 uint8_t ret_report_data[static SHD_SNP_REPORT_DATA_LEN]);

/*
 * Gets a fresh SEV-SNP report carrying report_data and the certificates that match its
 * REPORTED_TCB (compare with the certificate TCBM; on mismatch refresh through the configured
 * certcache and, if the refreshed TCB still differs, take one new report; §4.1 with D5).
 * Thread-safe. Errors carry the original's cause texts, e.g.
 * "Refreshing CertChain failed: failed to retrieve cert chain: certificate endpoint not set" or
 * "SNP reported TCB value: <d> doesn't match Certificate TCB value: <d>"; before any
 * certificates are available (D8): SHD_ERR_UNAVAILABLE "AMD certificates are not available yet".
 * *ret_evidence is written only on success.
 */
SHD_RESULT skr_evidence_collect(const struct skr_ctx *ctx,
                                const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                struct skr_evidence *ret_evidence);

/*
 * Decodes the security policy (security-policy-base64, Go StdEncoding) into a fresh buffer
 * (shd_alloc, NUL after the data). Errors: the base64 error alone; callers add their prefix.
 */
SHD_RESULT skr_policy_decode(const struct skr_ctx *ctx, uint8_t **ret, size_t *ret_len);

/*
 * Gets a bare report carrying report_data (no certificates), for /attest/raw and
 * /attest/combined. The fake report's HOST_DATA is SHA-256 of the decoded policy.
 * *ret_fake (may be NULL) tells whether the unsigned fake report was used.
 */
SHD_RESULT skr_report_get(const struct skr_ctx *ctx,
                          const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                          uint8_t ret_report[static SHD_SNP_REPORT_LEN], bool *ret_fake);

/*
 * The ERROR_STRING of the original (§2.0): four lines joined by '\n', no trailing newline.
 */
extern const char SKR_ERROR_STRING[];
