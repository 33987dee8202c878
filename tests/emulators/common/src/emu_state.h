/*
 * emu_state.h - loading files from an emulator's state directory (the one `<tool> init` wrote
 * and `<tool> serve` reads): bounded reads with a hint to run init, private keys that must be
 * owner-only, certificates, and the key/certificate match check.
 *
 * The emulators keep their own struct of loaded state; these helpers only know the directory.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/result.h"

/* Largest state file read (keys, certificates, config.json, thim.json). */
#define EMU_STATE_MAX_FILE (1024u * 1024u)

/* A state directory (strings borrowed). */
struct emu_state_dir {
    const char *path;    /* the directory */
    const char *tool;    /* "azure-emu", "gcp-emu": named in the "run init first?" hint */
    unsigned read_flags; /* enum emu_file_flags for every read (EMU_FILE_NOFOLLOW or 0) */
};

/*
 * Reads "<dir>/<rel>" (at most EMU_STATE_MAX_FILE bytes) into a fresh NUL-terminated buffer;
 * *ret_len may be NULL. Errors as emu_file_read, wrapped with "reading <path> (run '<tool> init
 * --state <dir>' first?)". The caller frees *ret (shd_free_wipe for a secret).
 */
SHD_RESULT emu_state_read(const struct emu_state_dir *d, const char *rel, uint8_t **ret,
                          size_t *ret_len);

/* emu_file_check_private on "<dir>/<rel>" (SHD_ERR_PERMISSION when group or others have access). */
SHD_RESULT emu_state_check_private(const struct emu_state_dir *d, const char *rel);

/*
 * Loads an owner-only PEM private key (emu_state_check_private first); the PEM text is wiped.
 * Errors name rel. *ret: EVP_PKEY_free.
 */
SHD_RESULT emu_state_load_key(const struct emu_state_dir *d, const char *rel, EVP_PKEY **ret);

/* Loads a PEM certificate (the first of the file). Errors name rel. *ret: X509_free. */
SHD_RESULT emu_state_load_cert(const struct emu_state_dir *d, const char *rel, X509 **ret);

/*
 * SHD_OK when key is the private half of cert's public key; SHD_ERR_BAD_KEY "<key_rel> does not
 * match <cert_rel>" otherwise.
 */
SHD_RESULT emu_state_check_pair(X509 *cert, EVP_PKEY *key, const char *cert_rel,
                                const char *key_rel);
