/*
 * mds.h - the GCE metadata server emulator (plain HTTP; gcp-identity.md 7.5, 3.5;
 * real-clients.md 1.5). Every /computeMetadata/ request needs "Metadata-Flavor: Google" (else
 * 403) and every answer, errors included, carries "Metadata-Flavor: Google" (gcp-metadata
 * rejects answers without it). Unknown paths are 404 (gcp-metadata reads that as "not GCE").
 *
 *   /computeMetadata/v1/project/project-id, project/numeric-project-id
 *   /computeMetadata/v1/instance (probe), instance/id, instance/name, instance/zone
 *     ("projects/<number>/zones/<zone>"), instance/attributes/ (empty; "{}" with recursive=true)
 *   /computeMetadata/v1/instance/service-accounts/{default|<email>}/email
 *   .../token[?scopes=..]   {"access_token","expires_in","token_type":"Bearer"} for the VM's
 *                           service account (an access token of tokens.h)
 *   .../identity?audience=A[&format=standard|full][&licenses=TRUE]   a Google-signed RS256 ID
 *                           token (fake accounts.google.com key) with email claims and, for
 *                           format=full, google.compute_engine{...}
 *
 * Emulator extras on the same listener (no Metadata-Flavor needed):
 *   GET GEMU_AK_INTERMEDIATE_PATH, GEMU_AK_ROOT_PATH   AK CA certificates (DER), the AIA target
 *   GET GEMU_EVENTLOG_PATH                              DIR/GEMU_EVENTLOG_FILE when it exists
 *   POST/GET/DELETE /emu/faults                         fault rules (faults.h)
 */
#pragma once

#include "gemu.h"
#include "shd/result.h"

#define GEMU_MDS_TOKEN_LIFETIME_S 3599
#define GEMU_MDS_ID_TOKEN_LIFETIME_S 3600
#define GEMU_MDS_AUDIENCE_MAX 2048u

/* The MDS service; borrows st. *ret: gemu_service_free. */
SHD_RESULT gemu_mds_service_new(struct gemu_state *st, struct gemu_service **ret);

/*
 * Builds the VM identity token the MDS serves (gcp-identity.md 3.5), signed with st->google_key:
 * iss https://accounts.google.com, aud, azp/sub = the VM account's unique id, email,
 * email_verified, iat = now, exp = now + 1 h; with full, google.compute_engine{
 * instance_creation_timestamp, instance_id, instance_name, project_id, project_number, zone}
 * (and license_id [] with licenses). *ret: shd_free.
 */
SHD_RESULT gemu_mds_identity_token(const struct gemu_state *st, const char *audience, bool full,
                                   bool licenses, int64_t now, char **ret);
