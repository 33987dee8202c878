/*
 * emu_state.c - state-directory loading helpers (emu_state.h).
 */
#include "emu_state.h"

#include "emu_files.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

shd_result emu_state_read(const struct emu_state_dir *d, const char *rel, uint8_t **ret,
                          size_t *ret_len)
{
    SHD_ENSURE_REF(d);
    SHD_ENSURE_REF(d->path);
    SHD_ENSURE_REF(d->tool);
    char path[EMU_PATH_MAX];
    SHD_GUARD_CTX(emu_path_join(d->path, rel, path, sizeof(path)), "state file %s", rel);
    shd_result r = emu_file_read(path, EMU_STATE_MAX_FILE, d->read_flags, ret, ret_len);
    if (shd_is_err(r)) {
        shd_error_wrap("reading %s (run '%s init --state %s' first?)", path, d->tool, d->path);
    }
    return r;
}

shd_result emu_state_check_private(const struct emu_state_dir *d, const char *rel)
{
    SHD_ENSURE_REF(d);
    SHD_ENSURE_REF(d->path);
    char path[EMU_PATH_MAX];
    SHD_GUARD_CTX(emu_path_join(d->path, rel, path, sizeof(path)), "state file %s", rel);
    return emu_file_check_private(path);
}

shd_result emu_state_load_key(const struct emu_state_dir *d, const char *rel, EVP_PKEY **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_GUARD(emu_state_check_private(d, rel));
    uint8_t *pem = NULL;
    size_t len = 0;
    SHD_GUARD(emu_state_read(d, rel, &pem, &len));
    /* shd_crypto_privkey_load wipes the PEM on every path; we wipe our copy too. */
    shd_result r = shd_crypto_privkey_load(pem, len, ret);
    shd_free_wipe(pem, len + 1);
    if (shd_is_err(r)) {
        shd_error_wrap("loading %s", rel);
    }
    return r;
}

shd_result emu_state_load_cert(const struct emu_state_dir *d, const char *rel, X509 **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_FREE uint8_t *pem = NULL;
    size_t len = 0;
    SHD_GUARD(emu_state_read(d, rel, &pem, &len));
    SHD_GUARD_CTX(shd_crypto_x509_load(pem, len, ret), "loading %s", rel);
    return SHD_OK;
}

shd_result emu_state_check_pair(X509 *cert, EVP_PKEY *key, const char *cert_rel,
                                const char *key_rel)
{
    SHD_ENSURE_REF(cert);
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(cert_rel);
    SHD_ENSURE_REF(key_rel);
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = NULL;
    SHD_GUARD(shd_crypto_x509_pubkey(cert, &pub));
    SHD_ENSURE_MSG(EVP_PKEY_eq(pub, key) == 1, SHD_ERR_BAD_KEY, "%s does not match %s", key_rel,
                   cert_rel);
    return SHD_OK;
}
