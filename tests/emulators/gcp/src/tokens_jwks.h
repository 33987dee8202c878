/*
 * tokens_jwks.h - the OIDC documents the verifier listener serves besides the verifier's own
 * routes (gcp-identity.md 3.7, 3.5): the attestation issuer's discovery document, its JWKS and
 * the fake accounts.google.com JWKS. Token minting helpers are declared in gemu.h
 * (gemu_jwt_sign, gemu_jwks_new).
 */
#pragma once

#include "gemu.h"
#include "shd/result.h"

/*
 * A service answering GET GEMU_DISCOVERY_PATH (issuer GEMU_VERIFIER_ISSUER, jwks_uri
 * GEMU_VERIFIER_JWKS_URI), GET GEMU_VERIFIER_JWKS_PATH and GET GEMU_GOOGLE_CERTS_PATH. Borrows
 * st. serve.c tries it before the verifier's own table. *ret: gemu_service_free.
 */
SHD_RESULT gemu_wellknown_service_new(struct gemu_state *st, struct gemu_service **ret);

/* True when path is one of the routes above (serve.c's choice between the two services). */
bool gemu_wellknown_path(const char *path);
