/*
 * aad.h - the Key Vault / Managed HSM side of Azure AD bearer tokens: the 401 challenge the
 * real services send, and the check of the tokens the emulated AAD (IMDS) issues.
 *
 * Challenge (azure-formats.md §5.3, real recordings; real-clients.md §1.3 for how
 * @azure/keyvault-keys parses it: every value double-quoted, the tenant is the path of
 * `authorization`, the scope is `resource` + "/.default"):
 *   Key Vault:   Bearer authorization="https://login.windows.net/<tenant>",
 *                resource="https://vault.azure.net"
 *   Managed HSM: Bearer authorization="https://login.microsoftonline.com/<tenant>",
 *                resource="https://managedhsm.azure.net"
 * (one line each, ", " between the pairs; the authority hosts are those of the recordings).
 *
 * Token check: RS256 pinned, signature by the state's AAD issuer key, iss exactly the state's
 * issuer, aud the service's resource with or without one trailing '/' (string or array), exp
 * required, exp/nbf/iat with SHD_JWT_SKEW_DEFAULT seconds of skew.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/result.h"

#define AEMU_AAD_RESOURCE_VAULT "https://vault.azure.net"
#define AEMU_AAD_RESOURCE_MHSM "https://managedhsm.azure.net"
#define AEMU_AAD_AUTHORITY_VAULT "https://login.windows.net/"
#define AEMU_AAD_AUTHORITY_MHSM "https://login.microsoftonline.com/"

/* Longest bearer token accepted (bytes of the compact JWS). */
#define AEMU_AAD_TOKEN_MAX (16u * 1024u)
/* Room for a challenge header value and for a rejection message. */
#define AEMU_AAD_CHALLENGE_MAX 256u
#define AEMU_AAD_MSG_MAX 256u

/* Outcome of a bearer check. */
enum aemu_aad_outcome {
    AEMU_AAD_OK = 0,
    AEMU_AAD_MISSING, /* no "Authorization: Bearer ..." at all */
    AEMU_AAD_INVALID, /* a bearer token that fails a check (message says which) */
};

/*
 * Writes the WWW-Authenticate value for the service into out (cap bytes, NUL-terminated).
 * tenant must be a GUID-like token ([0-9A-Za-z-], 1..64). SHD_ERR_TOO_LARGE when it does not fit.
 */
SHD_RESULT aemu_aad_challenge(bool managed_hsm, const char *tenant, char *out, size_t cap);

/* What a bearer check needs; every pointer is borrowed. */
struct aemu_aad_verifier {
    EVP_PKEY *issuer_key; /* the AAD signing key (its public part is used) */
    const char *issuer;   /* exact "iss", e.g. "https://sts.windows.net/<tenant>/" */
    const char *resource; /* AEMU_AAD_RESOURCE_VAULT or _MHSM */
    int64_t now;          /* 0: the current time */
};

/*
 * Checks an Authorization header value (NULL when the request had none). *ret_outcome gets the
 * verdict and, for AEMU_AAD_INVALID, msg (msg_cap bytes) the reason shown to the client, e.g.
 * "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://x/." A denial is
 * not an error: errors are only SHD_ERR_NULL and SHD_ERR_NOMEM.
 */
SHD_RESULT aemu_aad_check(const struct aemu_aad_verifier *ver, const char *authorization,
                          enum aemu_aad_outcome *ret_outcome, char *msg, size_t msg_cap);
