/*
 * emu.h - what every `azure-emu serve` service shares: the state loaded once from the state
 * directory (struct aemu_state), the service plug-in shape (struct aemu_service) and the HTTP
 * client through which the emulator reaches its own listeners under the real Azure host names.
 *
 * Flow (serve.c):
 *   aemu_state_load(&opts, &st)                  keys, certificates, chip, AMD roots
 *   bind every listener                          st->ports filled in
 *   aemu_maa_service_new(st, &maa)               maa.h
 *   aemu_imds_service_new(st, &imds)             imds.h
 *   aemu_akv_service_new(st, false, &akv)        akv.h (Key Vault)
 *   aemu_akv_service_new(st, true, &mhsm)        akv.h (Managed HSM)
 *   serve; every request passes the fault-injection and access-log layer first, then the
 *   service's route table (aemu_service_dispatch)
 *   aemu_service_free(...), aemu_state_free(st)
 *
 * Threads: handlers run concurrently (one thread per connection, shd/http_server.h). The state
 * is immutable after serve.c filled in the ports, except the fault table, which has its own
 * mutex; EVP_PKEY/X509 objects are only read (OpenSSL allows concurrent signing with one key).
 * A service whose ctx changes at run time (Key Vault's key store) guards it itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/result.h"

struct emu_faults; /* faults.h: the common fault table (emu_faults.h) */

/* Service names: the keys of endpoints.json, of the access log and of fault rules. */
#define AEMU_SVC_MAA "maa"
#define AEMU_SVC_AKV "akv"
#define AEMU_SVC_MHSM "mhsm"
#define AEMU_SVC_IMDS "imds"

/* Default x-ms-compliance-status of a verified ACI UVM endorsement (azure-formats.md §4.2). */
#define AEMU_DEFAULT_COMPLIANCE_STATUS "azure-compliant-uvm"
/* Tenant of the emulated AAD (iss https://sts.windows.net/<tenant>/, tid). */
#define AEMU_DEFAULT_TENANT_ID "72f988bf-86f1-41af-91ab-2d7cd011db47"
/* Length of a kid we derive: unpadded base64url of a SHA-256 (RFC 7638 style). */
#define AEMU_KID_LEN 43

/* What `serve` was asked for (command line). Strings are borrowed during aemu_state_load. */
struct aemu_state_options {
    const char *state_dir;
    const char *compliance_status; /* NULL: AEMU_DEFAULT_COMPLIANCE_STATUS */
    const char *tenant_id;         /* NULL: AEMU_DEFAULT_TENANT_ID */
};

/* Listener ports once bound (0 before). */
struct aemu_ports {
    uint16_t maa;
    uint16_t akv;
    uint16_t mhsm;
    uint16_t imds;
};

/*
 * Everything loaded from the state directory (init.h lists the files). Fields are read-only
 * for services. Private keys live only here and are freed (OpenSSL clears them) at
 * aemu_state_free; the PEM text of the TLS key is kept because the TLS listener needs it and
 * is wiped at free.
 */
struct aemu_state {
    char *state_dir;
    char *ca_path;         /* DIR/ca.pem: the trust anchor clients use */
    X509 *ca_cert;         /* the test CA */
    EVP_PKEY *ca_key;      /* its private key (services may mint certificates, e.g. AKV) */
    char *server_cert_pem; /* DIR/server.pem, NUL-terminated */
    char *server_key_pem;  /* DIR/server.key, NUL-terminated, SECRET (wiped at free) */
    size_t server_key_pem_len;

    /* MAA token signing (RS256, self-signed RSA-2048, azure-formats.md §4.2-4.3). */
    EVP_PKEY *maa_key;
    X509 *maa_cert;
    char maa_kid[AEMU_KID_LEN + 1]; /* the JWKS kid and token header kid */

    /* Emulated AAD / managed-identity token issuer (RS256, azure-formats.md §5.6). */
    EVP_PKEY *aad_key;
    char aad_kid[AEMU_KID_LEN + 1];
    char *tenant_id;
    char *aad_issuer; /* "https://sts.windows.net/<tenant>/" */

    /* The simulated SNP chip (DIR/snp). */
    X509 *chip_ark;
    X509 *chip_ask;
    X509 *chip_vcek;
    uint64_t chip_tcbm; /* REPORTED_TCB the VCEK was issued for */
    char *thim_json;    /* DIR/snp/thim.json: the THIM body, NUL-terminated */

    /* Trust anchors of MAA report verification: AMD's ARK-Milan/Genoa/Turin (built in) and the
     * simulator's ARK. UVM endorsements chain to ca_cert. */
    STACK_OF(X509) * amd_roots;

    char *compliance_status;

    struct aemu_ports ports;   /* filled by serve.c after binding, before services exist */
    struct emu_faults *faults; /* run-time fault injection (faults.h), thread-safe */
};

/*
 * Loads the state directory written by `azure-emu init`. Fails with SHD_ERR_NOT_FOUND (a file is
 * missing; the message names it), SHD_ERR_CONFIG (bad option, unreadable key file),
 * SHD_ERR_PERMISSION (a private key accessible by group or others), SHD_ERR_INPUT/SHD_ERR_JSON
 * (malformed file), SHD_ERR_BAD_KEY (keys that do not parse or match their certificate).
 * On success *ret owns a new state (aemu_state_free).
 */
SHD_RESULT aemu_state_load(const struct aemu_state_options *opts, struct aemu_state **ret);

/* Frees the state, wiping secrets (NULL is fine). */
void aemu_state_free(struct aemu_state *st);

/*
 * An HTTP client for the emulator's own outgoing calls (Key Vault fetching MAA's OIDC document
 * and JWKS for a release policy's authority). It trusts only the state CA (st->ca_path), and
 * maps every https host on the default port to the MAA listener with CURLOPT_CONNECT_TO
 * (":443:127.0.0.1:<maa port>"), so https://sharedeus.eus.attest.azure.net/certs reaches our MAA
 * with the URL's host in SNI, the certificate check and Host. URLs naming 127.0.0.1 or localhost
 * with an explicit port go there directly. The emulator itself never leaves the machine: MAA is
 * the only service it calls, and any other https host lands on it too.
 * No retries; 5 s timeout. Call after the ports are bound. *ret: shd_http_client_free.
 */
SHD_RESULT aemu_http_client_new(const struct aemu_state *st, struct shd_http_client **ret);

/*
 * True when host (a Host header value, optionally with ":port") is a syntactically valid DNS
 * name or IP literal that ends in suffix (".attest.azure.net") or is localhost, 127.0.0.1 or
 * [::1]. Used to decide whether a listener answers a request; the value then becomes a token
 * issuer, so nothing outside [A-Za-z0-9.-] (and a bracketed IPv6 loopback) passes.
 */
bool aemu_host_is_served(const char *host, const char *suffix);

/* ---------------------------------------------------------------------------------------------
 * Service plug-in shape. A service is a route table plus a context. serve.c mounts one service
 * per listener; the dispatcher matches routes in order (the first whose method and path match
 * wins), a path that matches with another method gets 405, nothing matching goes to not_found.
 * ------------------------------------------------------------------------------------------- */

enum aemu_route_flags {
    AEMU_ROUTE_EXACT = 0,           /* path equals the route path */
    AEMU_ROUTE_PREFIX = 1u << 0,    /* path starts with the route path */
    AEMU_ROUTE_NOCASE = 1u << 1,    /* ASCII case-insensitive comparison (MAA: SevSnpVM) */
    AEMU_ROUTE_SLASH_OPT = 1u << 2, /* one trailing '/' on the request path is ignored */
};

/* One row. method NULL matches any method. handler gets the service's ctx. */
struct aemu_route {
    const char *method;
    const char *path;
    shd_http_handler_fn handler;
    unsigned flags; /* enum aemu_route_flags */
};

struct aemu_service {
    const char *name;                /* AEMU_SVC_* (static) */
    const struct aemu_route *routes; /* static table */
    size_t nroutes;
    void *ctx;
    /* NULL: 404 {"error":"not found"}. Key Vault answers its own error shape here. */
    shd_http_handler_fn not_found;
    /* Frees ctx (may be NULL when ctx needs no freeing). */
    void (*ctx_free)(void *ctx);
};

/*
 * Allocates a service (so that the plug-ins need not know its allocation): copies the fields
 * of *tmpl. On failure ctx is NOT freed (the caller still owns it). *ret: aemu_service_free.
 */
SHD_RESULT aemu_service_new(const struct aemu_service *tmpl, struct aemu_service **ret);

/* Calls ctx_free(ctx) and frees the service (NULL is fine). */
void aemu_service_free(struct aemu_service *svc);

/*
 * Routes one request through svc's table and runs the handler (what serve.c does after the
 * fault and log layer; unit tests call it directly with a standalone response).
 */
SHD_RESULT aemu_service_dispatch(const struct aemu_service *svc, const struct shd_http_req *req,
                                 struct shd_http_resp *resp);

/*
 * `azure-emu serve --state DIR [...]` (serve.c), dispatched from main.c's subcommand table like
 * the commands of cmd.h: argv starts at "serve"; returns 0 (clean stop on SIGTERM/SIGINT),
 * 1 (runtime failure) or 2 (usage).
 */
int aemu_cmd_serve(int argc, char **argv);

/* The Key Vault / Managed HSM plug-in (akv.h, written by the Key Vault emulator):
 *   SHD_RESULT aemu_akv_service_new(const struct aemu_state *st, bool managed_hsm,
 *                                   struct aemu_service **ret);
 * Its name is AEMU_SVC_AKV or AEMU_SVC_MHSM. */
