/*
 * imds.h - the Azure Instance Metadata Service emulator (plain HTTP, like the real one at
 * 169.254.169.254), azure-formats.md §3.4, §5.6 and real-clients.md §1.2:
 *
 *   GET /metadata/identity/oauth2/token[/]?api-version=..&resource=..[&client_id=..]
 *       [&object_id=..]   header Metadata: true
 *       -> 200 {"access_token","refresh_token":"","client_id","expires_in","expires_on",
 *               "ext_expires_in","not_before","resource","token_type":"Bearer"} (all strings)
 *       -> 400 {"error":"invalid_request","error_description":".."}
 *   GET /metadata/THIM/amd/certification   header Metadata: true
 *       -> 200 {"vcekCert","tcbm","certificateChain","cacheControl"} of the simulated chip
 *
 * and the emulator's own control endpoints (faults.h): POST, GET, DELETE /emu/faults.
 *
 * access_token is an RS256 JWT from the AAD issuer key (state dir aad-issuer.key), header
 * {alg, kid, typ}, claims aud (= resource), iss and idp ("https://sts.windows.net/<tenant>/"),
 * iat, nbf, exp (iat + 86399), appid (= client id), appidacr "2", oid = sub, tid, uti,
 * ver "1.0", xms_az_rid (the emulated container group).
 */
#pragma once

#include "emu.h"
#include "shd/result.h"

/* Client id of the emulated system-assigned identity (used when the request names none). */
#define AEMU_IMDS_DEFAULT_CLIENT_ID "5f0b4c1e-8a3d-4e6f-9b2a-7c1d0e3f4a5b"
/* Token lifetime, as IMDS reports it (expires_in "86399"). */
#define AEMU_IMDS_TOKEN_LIFETIME_S 86399
/* The resource id the emulated identity is attached to. */
#define AEMU_IMDS_RESOURCE_ID                                                                      \
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/azure-emu/providers/"      \
    "Microsoft.ContainerInstance/containerGroups/azure-emu"

/* Creates the IMDS service over st (borrowed; must outlive the service). */
SHD_RESULT aemu_imds_service_new(const struct aemu_state *st, struct aemu_service **ret);
