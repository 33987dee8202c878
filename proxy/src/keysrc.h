/*
 * keysrc.h - the key sources that ask a local key service for the proxy's key: our skr (or the
 * Microsoft SKR sidecar), and our gcp-wif broker in two modes (released key, per-request KMS).
 * The rows that name them are in keystore_sources.c; keystore.h describes the source contract.
 *
 * Every source talks HTTP/1.1 to a local service, over a Unix-domain socket (polaris-protocol.md
 * §6.7). Only the `skr` source also accepts a loopback TCP address, for the Microsoft sidecar
 * image, which serves TCP only.
 *
 * Settings come from the environment (Polaris's variables where Polaris has one, PROXY_KEY_*
 * otherwise); configure fails fast with SHD_ERR_CONFIG naming the variable.
 *
 * Secrets: released key text (the JWK or PEM in the reply) lives only in HTTP response buffers
 * and jansson strings that are wiped when freed (shd_http_response_free, and jansson's heap once
 * shd_json_allocator_install ran, as main does); it is freed right after the import into an
 * EVP_PKEY. A Key Vault access token given in the environment is copied into the source state
 * and wiped with it. Nothing here logs key material.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/http_client.h"
#include "shd/result.h"

#include "keystore.h"

/* Environment variables (besides Polaris's, read by each source). */
#define PROXY_KEYSRC_ENV_TIMEOUT "PROXY_KEY_TIMEOUT_MS"
#define PROXY_KEYSRC_ENV_WIF_SOCKET "PROXY_KEY_GCP_WIF_SOCKET"
#define PROXY_KEYSRC_ENV_KMS_KEY "PROXY_KEY_GCP_KMS_KEY"
#define PROXY_KEYSRC_ENV_WRAPPED_FILE "PROXY_KEY_GCP_WRAPPED_KEY_FILE"
#define PROXY_KEYSRC_ENV_KMS_VERSION "PROXY_KEY_GCP_KMS_KEY_VERSION"

/* Defaults: the DESIGN.md socket paths. */
#define PROXY_KEYSRC_SKR_SOCKET "/run/skr/skr.sock"
#define PROXY_KEYSRC_WIF_SOCKET "/run/gcp-wif/gcp-wif.sock"
/* Whole request to the key service (an skr release runs MAA and Key Vault behind it). */
#define PROXY_KEYSRC_DEFAULT_TIMEOUT_MS 60000u
#define PROXY_KEYSRC_CONNECT_TIMEOUT_MS 5000u
/* Largest reply accepted from a key service (an RSA-8192 JWK is about 6.5 KiB). */
#define PROXY_KEYSRC_MAX_REPLY ((size_t)64 * 1024)
/* Longest setting value accepted (access tokens included). */
#define PROXY_KEYSRC_MAX_VALUE ((size_t)16 * 1024)

/* Scope-bound frees for the HTTP objects. */
SHD_DEFINE_CLEANUP(struct shd_http_client, shd_http_client_free, proxy_keysrc_client_free_p)
SHD_DEFINE_CLEANUP(struct shd_http_response, shd_http_response_free, proxy_keysrc_resp_free_p)

/* Where a key service listens. Exactly one of unix_path and tcp_base is set. */
struct proxy_keysrc_endpoint {
    char *unix_path; /* absolute path of a Unix socket */
    char *tcp_base;  /* "http://127.0.0.1:8080" (loopback only) */
};

/*
 * Parses a key-service address: "unix:/abs/path" or "/abs/path" (a Unix socket; the path at most
 * 107 bytes), or, when allow_tcp is true, "http://HOST:PORT" with an optional trailing "/" where
 * HOST is localhost, 127.0.0.1 or [::1]. Anything else (https, another host, a path, no port):
 * SHD_ERR_CONFIG. *ret is written only on success (release with proxy_keysrc_endpoint_clear).
 */
SHD_RESULT proxy_keysrc_endpoint_parse(const char *spec, bool allow_tcp,
                                       struct proxy_keysrc_endpoint *ret);

/* Frees the strings and zeroes *ep (NULL is fine). */
void proxy_keysrc_endpoint_clear(struct proxy_keysrc_endpoint *ep);

/*
 * Reads a setting: *ret points into the environment (borrowed), NULL when unset or empty. A value
 * longer than PROXY_KEYSRC_MAX_VALUE or with a byte outside visible ASCII (0x21..0x7e):
 * SHD_ERR_CONFIG naming the variable (never quoting the value, which may be a token).
 */
SHD_RESULT proxy_keysrc_env(proxy_getenv_fn getenv, const char *name, const char **ret);

/* Like proxy_keysrc_env, but unset is SHD_ERR_CONFIG "<name> is not set". */
SHD_RESULT proxy_keysrc_env_required(proxy_getenv_fn getenv, const char *name, const char **ret);

/* PROXY_KEY_TIMEOUT_MS (1000..600000), default PROXY_KEYSRC_DEFAULT_TIMEOUT_MS. */
SHD_RESULT proxy_keysrc_env_timeout(proxy_getenv_fn getenv, uint32_t *ret_ms);

/*
 * Checks a Cloud KMS resource name: "projects/P/locations/L/keyRings/R/cryptoKeys/K" and, when
 * version is true, "/cryptoKeyVersions/N" after it (N decimal). Ids are 1..100 bytes of
 * [A-Za-z0-9_.:-]. SHD_ERR_CONFIG otherwise (naming `what`).
 */
SHD_RESULT proxy_keysrc_kms_name_check(const char *name, bool version, const char *what);

/*
 * An HTTP client for the endpoint: no TLS (plain HTTP to a local service), the connect and total
 * timeouts, attempts (1 = none) on transport failures only, replies capped at
 * PROXY_KEYSRC_MAX_REPLY. Free with shd_http_client_free.
 */
SHD_RESULT proxy_keysrc_client_create(const struct proxy_keysrc_endpoint *ep, uint32_t timeout_ms,
                                      unsigned attempts, struct shd_http_client **ret_client);

/*
 * One call: method ("GET"/"POST") on path_and_query (starts with "/") of the service; body (may
 * be secret; NULL for none) is sent as application/json. SHD_OK only for a 200, with the
 * response in *ret_resp (shd_http_response_free wipes it). Another status:
 * SHD_ERR_HTTP_STATUS (403: SHD_ERR_PERMISSION) whose root message is
 * "<service> answered <status>: <the reply's "error" text>" (control characters replaced,
 * at most 300 bytes); transport failures keep the client's code, wrapped with the service name.
 */
SHD_RESULT proxy_keysrc_call(const struct shd_http_client *client,
                             const struct proxy_keysrc_endpoint *ep, const char *service,
                             const char *method, const char *path_and_query, const char *body,
                             size_t body_len, struct shd_http_response **ret_resp);

/*
 * Parses a key-release reply into a private key:
 *   {"key":"<JWK as a JSON string>"}   (the SKR sidecar contract, skr-sidecar.md §2.5, and
 *                                       gcp-wif), imported with shd_jwk_import_private;
 *   {"privateKey":"<PEM>","publicKey":"<PEM>"}  (Fr0ntierX's CVM container,
 *                                       polaris-protocol.md §3.2 form 2); publicKey is optional
 *                                       and, when present, must be the private key's own.
 * "key" wins when both forms are present. Only RSA keys are accepted (the envelope is
 * RSA-OAEP). Errors: SHD_ERR_JSON / SHD_ERR_INPUT for a malformed reply, SHD_ERR_BAD_KEY /
 * SHD_ERR_UNSUPPORTED for an unusable key (messages never quote key text). Every copy of the
 * key text made here is wiped before returning. *ret_key is owned by the caller.
 */
SHD_RESULT proxy_keysrc_reply_key(const uint8_t *body, size_t len, EVP_PKEY **ret_key);

/*
 * Logs (info, module key) that a key arrived: source, kind (released/remote), RSA bits, the
 * RFC 7638 thumbprint of the public key, and whether the process is dumpable (it must not be,
 * shd_process_harden ran before). Never logs private material.
 */
void proxy_keysrc_log_key(const char *source, bool remote, EVP_PKEY *pub);

/* ---- the sources (keystore.h contract) ---- */

/* `skr` (Polaris `azure-skr`): POST /key/release to our skr or the Microsoft sidecar. */
SHD_RESULT proxy_keysrc_skr_configure(proxy_getenv_fn getenv, void **ret_state);
SHD_RESULT proxy_keysrc_skr_obtain(void *state, struct proxy_key_material *ret);
void proxy_keysrc_skr_free(void *state);

/* `gcp-wif`: POST /key/release on the broker (a KMS-wrapped private key decrypted once). */
SHD_RESULT proxy_keysrc_gcpwif_configure(proxy_getenv_fn getenv, void **ret_state);
SHD_RESULT proxy_keysrc_gcpwif_obtain(void *state, struct proxy_key_material *ret);
void proxy_keysrc_gcpwif_free(void *state);

/* `gcp-kms` (Polaris `google-federated`): every unwrap is a KMS asymmetricDecrypt through the
 * broker; the private key never leaves KMS. */
SHD_RESULT proxy_keysrc_gcpkms_configure(proxy_getenv_fn getenv, void **ret_state);
SHD_RESULT proxy_keysrc_gcpkms_obtain(void *state, struct proxy_key_material *ret);
void proxy_keysrc_gcpkms_free(void *state);
