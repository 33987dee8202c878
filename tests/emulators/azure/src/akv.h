/*
 * akv.h - the Key Vault and Managed HSM emulators of `azure-emu serve` (azure-formats.md §5,
 * real-clients.md §1.3): one plug-in (emu.h's struct aemu_service) per listener.
 *
 * Wire behaviour:
 *  - Every request is authenticated before its body is looked at: no bearer token gives the
 *    real 401 challenge (aad.h), so @azure/keyvault-keys' first, body-less request works.
 *  - api-version (or api%2Dversion) must be 7.2 .. 7.6 or 2025-07-01; release needs 7.3+.
 *  - Routes: PUT /keys/{name} (import), POST /keys/{name}/create, GET /keys/{name}[/],
 *    GET /keys/{name}/{version}, GET /keys/{name}/versions, POST /keys/{name}[/{version}]/release.
 *  - The vault is the first label of the Host header under .vault.azure.net /
 *    .managedhsm.azure.net (else the whole host name); keys are namespaced per vault and live
 *    in memory for the life of the process.
 *  - Errors are {"error":{"code":"...","message":"..."}}: 400 BadParameter, 401 Unauthorized,
 *    403 Forbidden (release policy not satisfied, naming the failing claim), 404 KeyNotFound.
 *  - Release verifies the target token through OIDC discovery at the policy's authority
 *    (TLS, the emulator's own MAA through aemu_http_client_new), evaluates the release policy
 *    (release_policy.h), wraps the key for the RSA key in x-ms-runtime.keys (keystore.h) and
 *    returns {"value":"<JWS>"} signed RS256 with x5c = [leaf for the vault host, test CA].
 */
#pragma once

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "emu.h"
#include "shd/http_client.h"
#include "shd/result.h"

/* What the service needs, for aemu_akv_service_new_config (tests) - every key is up-ref'd. */
struct aemu_akv_config {
    bool managed_hsm;
    const char *tenant_id;         /* for the challenge */
    const char *aad_issuer;        /* exact iss of bearer tokens */
    EVP_PKEY *aad_key;             /* bearer token signing key (public part used) */
    X509 *ca_cert;                 /* issuer of the release-signing certificates */
    EVP_PKEY *ca_key;              /* its private key */
    struct shd_http_client *http;  /* OIDC discovery; ownership moves to the service */
};

/*
 * The plug-in for serve.c: Key Vault (AEMU_SVC_AKV) or Managed HSM (AEMU_SVC_MHSM, when
 * managed_hsm). Reads st (which must outlive the service), creates its own HTTP client with
 * aemu_http_client_new and a fresh RSA-2048 release-signing key. *ret: aemu_service_free.
 */
SHD_RESULT aemu_akv_service_new(const struct aemu_state *st, bool managed_hsm,
                                struct aemu_service **ret);

/*
 * The same from explicit settings. On success cfg->http is taken (set to NULL); on failure the
 * caller still owns it.
 */
SHD_RESULT aemu_akv_service_new_config(struct aemu_akv_config *cfg, struct aemu_service **ret);

/*
 * The handler behind the service's single route (every path under /keys and the not-found
 * fallback); exposed for serve.c setups that mount it directly. ctx is the service's ctx.
 */
SHD_RESULT aemu_akv_handle(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp);
