/*
 * tokenfile.h - keeps the attestation token in a file for external_account credentials with a
 * file credential_source (gcp-identity.md 7.1, 7.2, 3.8): the file holds exactly the JWT, no
 * trailing newline (Google's clients use the content verbatim), is replaced atomically (temporary
 * file + rename, so a reader never sees half a token) and has mode 0600 (the token is a bearer
 * credential for STS; the workload reading it runs as the same user or gets a group-readable
 * copy through its own means).
 */
#pragma once

#include <stddef.h>

#include "shd/result.h"

#define WIF_TOKENFILE_MODE 0600

/* Replaces path with the len bytes of token, mode WIF_TOKENFILE_MODE. Errors as
 * shd_file_write_atomic (shd/file.h). */
SHD_RESULT wif_tokenfile_write(const char *path, const char *token, size_t len);

/* A wif_creds on_attestation callback: ctx is the path (a NUL-terminated string that outlives
 * the creds). Failures are logged (the next refresh tries again), never returned. */
void wif_tokenfile_on_attestation(void *ctx, const char *token, size_t len);
