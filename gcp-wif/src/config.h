/*
 * config.h - gcp-wif's configuration: one immutable struct filled from, in rising precedence,
 * built-in defaults, a gcp-emu endpoints.json (--endpoints), a JSON config file (--config), the
 * environment (GCP_WIF_<NAME>) and the command line (--name VALUE or --name=VALUE).
 *
 * Every option has one row in a table (STYLE.md rule 4) that gives its flag name, its
 * environment variable (GCP_WIF_ + the name upper-cased, '-' -> '_'), its config-file key (the
 * flag name, '-' or '_' accepted) and its parser. A list option (--allow-uid, --allow-gid) given
 * in a source replaces what lower sources set; repeating it within one source accumulates.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "shd/result.h"

#define WIF_DEFAULT_SOCKET "/run/gcp-wif/gcp-wif.sock"
#define WIF_DEFAULT_STS_URL "https://sts.googleapis.com"
#define WIF_DEFAULT_IAM_URL "https://iamcredentials.googleapis.com"
#define WIF_DEFAULT_KMS_URL "https://cloudkms.googleapis.com"
#define WIF_MAX_ALLOW_IDS 32u
/* Bounds on what the config sources may hold (STYLE.md rule 23). */
#define WIF_CONFIG_FILE_MAX ((size_t)64 * 1024)
#define WIF_CONFIG_VALUE_MAX 4096u
/* Lifetime asked of IAM for impersonated tokens (gcp-identity.md 5: 3600 s default). */
#define WIF_DEFAULT_SA_LIFETIME_S 3600u

enum wif_mode {
    WIF_MODE_TPM = 1, /* plain Confidential VM: attest with the vTPM */
    WIF_MODE_LAUNCHER /* Confidential Space: the launcher's token */
};

/* The parsed configuration; strings are owned (NULL when unset). */
struct wif_config {
    enum wif_mode mode;
    char *tcti;
    bool ak_ecc;
    char *event_log;
    char *launcher_token;
    char *launcher_socket;
    char *audience;             /* workload identity provider (STS audience), required */
    char *attestation_audience; /* aud of the attestation token; NULL: verifier default */
    char *service_account;      /* impersonate this account; NULL: use the federated token */
    uint32_t sa_lifetime_s;
    char *verifier_url;
    char *verifier_issuer;
    char *sts_url;
    char *iam_url;
    char *kms_url;
    char *mds_url;
    char *ca_file;    /* trust anchors; NULL: SSL_CERT_FILE or the system store */
    char *connect_to; /* GCP_WIF_CONNECT_TO */
    char *project;
    char *project_number;
    char *zone;
    char *location;
    char *socket_path;
    mode_t socket_mode;
    uid_t allow_uids[WIF_MAX_ALLOW_IDS];
    size_t nallow_uids;
    gid_t allow_gids[WIF_MAX_ALLOW_IDS];
    size_t nallow_gids;
    uint16_t metadata_port; /* 0: no metadata-server look-alike */
    char *token_file;       /* NULL: no token file */
    char *key_dir;          /* NULL: wrapped_key_file may name any absolute path */
    char *log_level;
    char *endpoints_file;
    char *config_file;
    /* Values of endpoints.json that only the wrap-key subcommand and the docs use. */
    char *kms_rsa_key_version;
    char *kms_sym_key;
    bool help;
    bool version;
};

/* Reads an environment variable (secure_getenv in production; a test table in tests). */
typedef const char *(*wif_getenv_fn)(void *ctx, const char *name);

/* An option a subcommand handles itself (wrap-key's --kms-key, --raw, ...). */
struct wif_config_extra {
    const char *name; /* NULL ends a list */
    bool takes_value; /* false: a boolean switch */
};

/*
 * Parses the command line argv[first..argc) (options only; stops at "--" or the first argument
 * that is not an option and reports it as SHD_ERR_USAGE "unexpected argument") together with the
 * other sources. getenv NULL means secure_getenv. extra (ended by a NULL name; may be NULL)
 * lists options the caller handles itself (a subcommand's own flags): they come back through
 * *ret_extra (may be NULL when extra is) as "name=value" strings ("name" for a switch) in argv
 * order, in a NULL-terminated list owned by the caller (wif_config_extra_free).
 * SHD_ERR_USAGE / SHD_ERR_CONFIG with a message naming the option and its source; *ret written
 * only on success (wif_config_clear it).
 */
SHD_RESULT wif_config_load(int argc, const char *const argv[], int first, wif_getenv_fn getenv_fn,
                           void *getenv_ctx, const struct wif_config_extra *extra,
                           struct wif_config *ret, char ***ret_extra);

/* Checks what serving needs (an audience, an absolute socket path, ...). SHD_ERR_CONFIG. */
SHD_RESULT wif_config_check_serve(const struct wif_config *cfg);

/* Frees the strings and zeroes *cfg (NULL is fine). */
void wif_config_clear(struct wif_config *cfg);

/* Frees a NULL-terminated list returned through ret_extra (NULL is fine). */
void wif_config_extra_free(char **extra);

/* Writes the option list (name, environment variable, help) to out. */
void wif_config_usage(FILE *out);
