/*
 * maa.h - the Microsoft Azure Attestation emulator service (azure-formats.md §4, §7):
 *
 *   POST /attest/SevSnpVm?api-version=2020-10-01|2022-08-01|2025-06-01   (path case-insensitive)
 *        -> 200 {"token":"<RS256 JWS>"} | 400 {"error":{"code":..,"message":..}}
 *   GET  /certs                             -> JWKS {"keys":[{"kid","kty":"RSA","x5c":[..]}]}
 *   GET  /.well-known/openid-configuration  -> issuer, jwks_uri, ...
 *
 * The service answers to any *.attest.azure.net host (and localhost, 127.0.0.1, [::1]); the
 * token's iss is "https://" + the Host the client used, lower-cased, and jku = iss + "/certs".
 */
#pragma once

#include "emu.h"
#include "shd/result.h"

/* Supported api-version values of the attest call. */
#define AEMU_MAA_API_VERSIONS "2020-10-01, 2022-08-01, 2025-06-01"

/* Creates the MAA service over st (borrowed; must outlive the service). */
SHD_RESULT aemu_maa_service_new(const struct aemu_state *st, struct aemu_service **ret);
