/*
 * gemu.h - what every `gcp-emu serve` service shares: the state loaded once from the state
 * directory (struct gemu_state), the service plug-in shape (struct gemu_service), Google-style
 * path templates, and the HTTP client through which the emulator reaches its own listeners
 * under the real *.googleapis.com host names.
 *
 * State directory (written by `gcp-emu init`, init.h):
 *   DIR/ca.pem, DIR/ca.key (0600)             test CA (EC P-256)
 *   DIR/server.pem, DIR/server.key (0600)     TLS leaf for localhost, 127.0.0.1, *.googleapis.com,
 *                                             sts., iamcredentials., cloudkms.,
 *                                             confidentialcomputing.googleapis.com
 *   DIR/verifier.key (0600)                   attestation-token signing key (RSA-2048, RS256)
 *   DIR/google.key (0600)                     fake accounts.google.com key (VM identity tokens)
 *   DIR/ak/root.pem                           "EK/AK CA Root" (self-signed, EC P-256)
 *   DIR/ak/intermediate.pem, .key (0600)      "EK/AK CA Intermediate": signs AK certificates
 *   DIR/config.json                           project, instance, pools/providers, service
 *                                             accounts with IAM policies, KMS key rings/keys
 *   DIR/kms/<location>/<ring>/<key>/<ver>.pem (0600)   RSA private keys (PKCS#8 PEM)
 *   DIR/kms/<location>/<ring>/<key>/<ver>.aes (0600)   symmetric keys (32 raw bytes)
 *   DIR/vtpm/...                              owned by the vTPM provisioning (gemu-tpm)
 *
 * Flow (serve.c):
 *   gemu_state_load(&opts, &st)               keys, certificates, config
 *   bind every listener                       st->ports filled in
 *   gemu_<svc>_service_new(st, &svc)          one service per listener
 *   serve; every request passes the fault-injection and access-log layer first, then the
 *   service's route table (gemu_service_dispatch)
 *   gemu_service_free(...), gemu_state_free(st)
 *
 * Threads: handlers run concurrently (one thread per connection, shd/http_server.h). The state
 * is immutable after serve.c filled in the ports, except the fault table and the access-token
 * table, which have their own mutexes; EVP_PKEY/X509 objects are only read (OpenSSL allows
 * concurrent use of one key). A service whose ctx changes at run time (KMS key store) guards it
 * itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/result.h"

struct emu_faults;  /* faults.h: the common fault table (emu_faults.h) */
struct gemu_tokens; /* tokens.h: opaque access tokens (STS, IAM, MDS) */

/* Service names: the keys of endpoints.json, of the access log and of fault rules. */
#define GEMU_SVC_VERIFIER "verifier"
#define GEMU_SVC_STS "sts"
#define GEMU_SVC_IAM "iam"
#define GEMU_SVC_KMS "kms"
#define GEMU_SVC_MDS "mds"

/* Real host names (gcp-identity.md); the HTTP client maps them to our listeners. */
#define GEMU_HOST_VERIFIER "confidentialcomputing.googleapis.com"
#define GEMU_HOST_STS "sts.googleapis.com"
#define GEMU_HOST_IAM "iamcredentials.googleapis.com"
#define GEMU_HOST_KMS "cloudkms.googleapis.com"
#define GEMU_HOST_WWW "www.googleapis.com" /* JWKS documents; served by the verifier listener */
#define GEMU_HOST_MDS "metadata.google.internal"
/* Plain-http host of the AK CA certificates (AIA CA Issuers URL, gcp-identity.md 2.2); mapped
 * to the MDS listener, which serves GEMU_AK_*_PATH whatever the Host. */
#define GEMU_HOST_AK_AIA "privateca-content-gemu.storage.googleapis.com"

/* Attestation tokens (gcp-identity.md 3.6, 3.7). The verifier listener serves the discovery
 * document and both JWKS (tokens_jwks.c, mounted by serve.c before the verifier's routes). */
#define GEMU_VERIFIER_ISSUER "https://confidentialcomputing.googleapis.com"
#define GEMU_VERIFIER_JWKS_PATH                                                                    \
    "/service_accounts/v1/metadata/jwk/signer@confidentialspace-sign.iam.gserviceaccount.com"
#define GEMU_VERIFIER_JWKS_URI "https://" GEMU_HOST_WWW GEMU_VERIFIER_JWKS_PATH
#define GEMU_DISCOVERY_PATH "/.well-known/openid-configuration"
#define GEMU_DEFAULT_STS_AUDIENCE "https://sts.googleapis.com"
/* VM identity tokens from the metadata server (gcp-identity.md 3.5). */
#define GEMU_GOOGLE_ISSUER "https://accounts.google.com"
#define GEMU_GOOGLE_CERTS_PATH "/oauth2/v3/certs"
#define GEMU_GOOGLE_CERTS_URI "https://" GEMU_HOST_WWW GEMU_GOOGLE_CERTS_PATH

/* AK certificate chain as the MDS listener serves it (DER, application/pkix-cert). */
#define GEMU_AK_INTERMEDIATE_PATH "/gemu/ak/intermediate.crt"
#define GEMU_AK_ROOT_PATH "/gemu/ak/root.crt"
#define GEMU_AK_INTERMEDIATE_AIA_URL "http://" GEMU_HOST_AK_AIA GEMU_AK_INTERMEDIATE_PATH
#define GEMU_AK_ROOT_AIA_URL "http://" GEMU_HOST_AK_AIA GEMU_AK_ROOT_PATH
/* The TCG event log of the vTPM, relative to the state dir; MDS serves it at GEMU_EVENTLOG_PATH
 * when the file exists (written by the vTPM provisioning). */
#define GEMU_EVENTLOG_FILE "vtpm/binary_bios_measurements"
#define GEMU_EVENTLOG_PATH "/gemu/eventlog"

/* kid of our signing keys: 40 lower-case hex digits (gcp-identity.md 3.6), the first 20 bytes
 * of SHA-256 over the key's DER SubjectPublicKeyInfo. */
#define GEMU_KID_LEN 40

/* What `serve` was asked for (command line). Strings are borrowed during gemu_state_load. */
struct gemu_state_options {
    const char *state_dir;
};

/* Listener ports once bound (0 before / not running). */
struct gemu_ports {
    uint16_t verifier;
    uint16_t sts;
    uint16_t iam;
    uint16_t kms;
    uint16_t mds;
    uint16_t tpm;      /* swtpm server port (with --vtpm) */
    uint16_t tpm_ctrl; /* swtpm control port (with --vtpm) */
};

/* The emulated project and VM (config.json "project" and "instance"). */
struct gemu_identity {
    char *project_id;     /* "gemu-project" */
    char *project_number; /* decimal string, "123456789012" */
    char *zone;           /* "us-central1-a" */
    char *instance_id;    /* decimal string */
    char *instance_name;
    int64_t instance_creation_timestamp; /* seconds since the epoch */
    char *vm_service_account;            /* "<number>-compute@developer.gserviceaccount.com" */
    char *vm_service_account_id;         /* its numeric unique id (ID token "sub") */
};

/*
 * Everything loaded from the state directory. Fields are read-only for services. Private keys
 * live only here and are freed (OpenSSL clears them) at gemu_state_free; the PEM text of the TLS
 * key is kept because the TLS listeners need it and is wiped at free.
 */
struct gemu_state {
    char *state_dir;
    char *ca_path;         /* DIR/ca.pem: the trust anchor clients use */
    X509 *ca_cert;         /* the test CA */
    char *server_cert_pem; /* DIR/server.pem (leaf first), NUL-terminated */
    char *server_key_pem;  /* DIR/server.key, NUL-terminated, SECRET (wiped at free) */
    size_t server_key_pem_len;

    /* Attestation-token signing (RS256). */
    EVP_PKEY *verifier_key;
    char verifier_kid[GEMU_KID_LEN + 1];

    /* Fake accounts.google.com (RS256): VM identity tokens from the MDS, checked by the
     * verifier (gcp-identity.md 3.5). */
    EVP_PKEY *google_key;
    char google_kid[GEMU_KID_LEN + 1];

    /* AK certificate CA (for the vTPM provisioning and the verifier's chain check). */
    X509 *ak_root_cert;
    X509 *ak_ca_cert; /* intermediate; its AIA points at GEMU_AK_ROOT_AIA_URL */
    EVP_PKEY *ak_ca_key;

    struct gemu_identity id;

    /* DIR/config.json as parsed (read-only; services build their registries from it):
     * "project", "instance", "workload_identity_pools", "service_accounts", "kms". */
    json_t *config;

    struct gemu_ports ports;    /* filled by serve.c after binding, before services exist */
    struct emu_faults *faults;  /* run-time fault injection (faults.h), thread-safe */
    struct gemu_tokens *tokens; /* access tokens (tokens.h), thread-safe */
};

/*
 * Loads the state directory written by `gcp-emu init` and creates the (empty) fault and token
 * tables. Fails with SHD_ERR_NOT_FOUND (a missing file), SHD_ERR_CONFIG or SHD_ERR_JSON/INPUT
 * (a malformed one; the file is named in the message),
 * SHD_ERR_PERMISSION (a private key readable by group or others), SHD_ERR_BAD_KEY or
 * SHD_ERR_BAD_CERT. On success *ret owns a new state (gemu_state_free).
 */
SHD_RESULT gemu_state_load(const struct gemu_state_options *opts, struct gemu_state **ret);

/* Frees the state, wiping secrets (NULL is fine). */
void gemu_state_free(struct gemu_state *st);

/* Paths and file I/O of the state directory: emu_files.h, emu_state.h (tests/emulators/common). */

/*
 * An HTTP client for the emulator's own outgoing calls (STS fetching the issuer's discovery
 * document and JWKS). It trusts only the state CA (st->ca_path) and maps with CURLOPT_CONNECT_TO
 *   confidentialcomputing.googleapis.com:443, www.googleapis.com:443 -> verifier listener
 *   sts.googleapis.com:443 -> sts, iamcredentials.googleapis.com:443 -> iam,
 *   cloudkms.googleapis.com:443 -> kms, metadata.google.internal:80 and GEMU_HOST_AK_AIA:80 -> mds
 * (only the services whose port is bound), so the URL's host stays in SNI, the certificate
 * check and Host. URLs naming 127.0.0.1 or localhost with a port go there directly; any other
 * host fails to resolve or connect: the emulator never leaves the machine on purpose.
 * No retries; 5 s timeout. Call after the ports are bound. *ret: shd_http_client_free.
 */
SHD_RESULT gemu_http_client_new(const struct gemu_state *st, struct shd_http_client **ret);

/*
 * Signs claims (a JSON object, serialised compactly in member order) as an RS256 JWT whose
 * header is {"alg":"RS256","kid":kid,"typ":"JWT"}. *ret_token: shd_free. (tokens_jwks.c)
 */
SHD_RESULT gemu_jwt_sign(EVP_PKEY *key, const char *kid, const json_t *claims, char **ret_token);

/*
 * The JWK set {"keys":[{"alg":"RS256","e":..,"kid":..,"kty":"RSA","n":..,"use":"sig"}]} of a
 * public RSA key, as a new JSON object (json_decref). (tokens_jwks.c)
 */
SHD_RESULT gemu_jwks_new(EVP_PKEY *key, const char *kid, json_t **ret_jwks);

/* ---------------------------------------------------------------------------------------------
 * Service plug-in shape. A service is a route table plus a context. serve.c mounts one service
 * per listener; the dispatcher matches routes in order (the first whose method and path match
 * wins), a path that matches with another method gets 405, nothing matching goes to not_found.
 * ------------------------------------------------------------------------------------------- */

enum gemu_route_flags {
    GEMU_ROUTE_EXACT = 0,         /* path equals the route path */
    GEMU_ROUTE_PREFIX = 1u << 0,  /* path starts with the route path */
    GEMU_ROUTE_PATTERN = 1u << 1, /* route path is a template for gemu_path_match */
};

/* One row. method NULL matches any method. handler gets the service's ctx. */
struct gemu_route {
    const char *method;
    const char *path;
    shd_http_handler_fn handler;
    unsigned flags; /* enum gemu_route_flags */
};

struct gemu_service {
    const char *name;                /* GEMU_SVC_* (static) */
    const struct gemu_route *routes; /* static table */
    size_t nroutes;
    void *ctx;
    /* NULL: the Google API envelope 404 {"error":{"code":404,"message":..,"status":"NOT_FOUND"}}
     * (gemu_resp_google_error). */
    shd_http_handler_fn not_found;
    /* Frees ctx (may be NULL when ctx needs no freeing). */
    void (*ctx_free)(void *ctx);
};

/*
 * Allocates a service (so that the plug-ins need not know its allocation): copies the fields
 * of *tmpl. On failure ctx is NOT freed (the caller still owns it). *ret: gemu_service_free.
 */
SHD_RESULT gemu_service_new(const struct gemu_service *tmpl, struct gemu_service **ret);

/* Calls ctx_free(ctx) and frees the service (NULL is fine). */
void gemu_service_free(struct gemu_service *svc);

/*
 * Routes one request through svc's table and runs the handler (what serve.c does after the
 * fault and log layer; unit tests call it directly with a standalone response).
 */
SHD_RESULT gemu_service_dispatch(const struct gemu_service *svc, const struct shd_http_req *req,
                                 struct shd_http_resp *resp);

/* Most captures gemu_path_match fills, and the longest capture (bytes, without NUL). */
#define GEMU_PATH_MAX_CAPTURES 8u
#define GEMU_PATH_CAPTURE_MAX 256u

struct gemu_path_captures {
    size_t n;
    char v[GEMU_PATH_MAX_CAPTURES][GEMU_PATH_CAPTURE_MAX + 1];
};

/*
 * Matches a decoded request path against a Google REST template: literal text, and a star
 * which matches one non-empty segment without '/' and without ':', so that a template like
 * "/v1/projects/{star}/locations/{star}" or ".../cryptoKeys/{star}:encrypt" (each {star} written
 * as a single '*') matches. The whole path must be consumed. Returns true on a
 * match and then fills *ret (may be NULL) with the segments "*" stood for, in order; a
 * segment longer than GEMU_PATH_CAPTURE_MAX or more than GEMU_PATH_MAX_CAPTURES stars give
 * false.
 */
bool gemu_path_match(const char *tmpl, const char *path, struct gemu_path_captures *ret);

/*
 * Answers with the Google API error envelope (gcp-identity.md 6, 5):
 * {"error":{"code":<status>,"message":"<message>","status":"<grpc_status>"}}.
 * grpc_status is e.g. "PERMISSION_DENIED"; message is JSON-escaped here.
 */
SHD_RESULT gemu_resp_google_error(unsigned status, const char *grpc_status, const char *message,
                                  struct shd_http_resp *resp);

/* The 401 message Google APIs send for a missing, unknown or expired Bearer token. */
#define GEMU_MSG_UNAUTHENTICATED                                                                   \
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "        \
    "cookie or other valid authentication credential. See "                                        \
    "https://developers.google.com/identity/sign-in/web/devconsole-project."

/* 401 UNAUTHENTICATED with GEMU_MSG_UNAUTHENTICATED and WWW-Authenticate: Bearer. */
SHD_RESULT gemu_resp_unauthenticated(struct shd_http_resp *resp);

/*
 * 403 PERMISSION_DENIED, message "Permission '<permission>' denied on resource '<resource>' (or
 * it may not exist)." (resource NULL: "... denied on resource (or it may not exist).", IAM
 * Credentials' form), with details [{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
 * "reason":"IAM_PERMISSION_DENIED","domain":<domain>,"metadata":{"permission":..}}]
 * (gcp-identity.md 5, 6).
 */
SHD_RESULT gemu_resp_permission_denied(const char *permission, const char *resource,
                                       const char *domain, struct shd_http_resp *resp);

/*
 * Percent-decodes in (RFC 3986 2.1; '+' stays '+') into out[0..cap) NUL-terminated. gax sends
 * '@' as %40 in paths (real-clients.md 1.6). SHD_ERR_INPUT for a bad escape or a decoded NUL,
 * SHD_ERR_TOO_LARGE when it does not fit.
 */
SHD_RESULT gemu_pct_decode(const char *in, char *out, size_t cap);

/*
 * Parses a JSON request body (object root, default limits). Errors are SHD_ERR_JSON/INPUT with a
 * message fit for a 400 answer. *ret: json_decref.
 */
SHD_RESULT gemu_json_body(const struct shd_http_req *req, json_t **ret);

/* ---------------------------------------------------------------------------------------------
 * Service constructors (one per listener). Each borrows st for its lifetime.
 *   sts.h:      SHD_RESULT gemu_sts_service_new(struct gemu_state *st, struct gemu_service **);
 *   iam.h:      SHD_RESULT gemu_iam_service_new(struct gemu_state *st, struct gemu_service **);
 *   kms.h:      SHD_RESULT gemu_kms_service_new(struct gemu_state *st, struct gemu_service **);
 *   mds.h:      SHD_RESULT gemu_mds_service_new(struct gemu_state *st, struct gemu_service **);
 *   verifier.h (gemu-tpm):
 *               SHD_RESULT gemu_verifier_service_new(struct gemu_state *st,
 *                                                    struct gemu_service **ret);
 *     Its routes must leave GEMU_DISCOVERY_PATH, GEMU_VERIFIER_JWKS_PATH and
 *     GEMU_GOOGLE_CERTS_PATH alone: serve.c serves those on the verifier listener. Tokens are
 *     signed with gemu_jwt_sign(st->verifier_key, st->verifier_kid, claims, &jwt); VM identity
 *     tokens verify against gemu_jwks_new(st->google_key, st->google_kid). A Bearer token is
 *     checked with gemu_tokens_lookup (tokens.h).
 * ------------------------------------------------------------------------------------------- */
