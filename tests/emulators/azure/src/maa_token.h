/*
 * maa_token.h - what the MAA emulator issues and publishes (azure-formats.md §4.2, §4.3):
 * the SevSnpVm attestation token's claims, its RS256 signature with header {alg, jku, kid, typ},
 * the JWKS of /certs (kid, kty, x5c only, like the real service) and the OpenID configuration.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "maa_request.h"
#include "maa_verify.h"
#include "shd/result.h"

/* Token lifetime: exp = iat + 8 h in every public sample (§4.2). */
#define AEMU_MAA_TOKEN_LIFETIME_S 28800
/* The default shared-instance policy hash seen in real tokens (§4.2). */
#define AEMU_MAA_POLICY_HASH "9NY0VnTQ-IiBriBplVUpFbczcDaEBUwsiFYAzHu_gco"
#define AEMU_MAA_JTI_LEN 64

struct aemu_maa_claims_in {
    const char *issuer;            /* "https://<host the client used>" */
    const char *compliance_status; /* x-ms-compliance-status when a UVM endorsement verified */
    int64_t now;                   /* iat = nbf */
    const struct aemu_maa_verified *verified;
    const struct aemu_maa_request *request; /* nonce, runtime and init-time JSON */
};

/*
 * Builds the claims object (members in byte order of their names, as MAA emits them): exp,
 * iat, iss, jti (64 random hex), nbf, nonce (if given, as a string), x-ms-attestation-type
 * "sevsnpvm", x-ms-compliance-status (only with a verified UVM endorsement), x-ms-inittime and
 * x-ms-runtime (parsed JSON, when given as JSON), x-ms-policy-hash, every x-ms-sevsnpvm-* claim
 * of the report (TCB numbers from REPORTED_TCB), the UVM endorsement claims, x-ms-ver "1.0".
 * *ret is a new reference.
 */
SHD_RESULT aemu_maa_claims_build(const struct aemu_maa_claims_in *in, json_t **ret);

/*
 * Signs claims as a compact JWS (RS256; header alg, jku = issuer + "/certs", kid, typ "JWT").
 * *ret_token is shd_alloc'd and NUL-terminated (shd_free).
 */
SHD_RESULT aemu_maa_token_sign(const json_t *claims, const char *issuer, const char *kid,
                               EVP_PKEY *key, char **ret_token);

/* {"keys":[{"kid":kid,"kty":"RSA","x5c":["<std b64 DER>"]}]} into a shd_alloc'd string. */
SHD_RESULT aemu_maa_jwks(X509 *cert, const char *kid, char **ret, size_t *ret_len);

/* The OpenID configuration document of issuer (§4.3) into a shd_alloc'd string. */
SHD_RESULT aemu_maa_openid_config(const char *issuer, char **ret, size_t *ret_len);
