/*
 * tokenfile.c - the atomic token file.
 */
#include "tokenfile.h"

#include "shd/errors.h"
#include "shd/file.h"
#include "shd/log.h"
#include "shd/safety.h"
#include "wif.h"

shd_result wif_tokenfile_write(const char *path, const char *token, size_t len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(token);
    SHD_ENSURE_MSG(len > 0, SHD_ERR_USAGE, "empty token");
    return shd_file_write_atomic(path, token, len, WIF_TOKENFILE_MODE);
}

void wif_tokenfile_on_attestation(void *ctx, const char *token, size_t len)
{
    const char *path = ctx;
    shd_result r = wif_tokenfile_write(path, token, len);
    if (shd_is_err(r)) {
        (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, WIF_LOG_CREDS, r, "token file not updated");
        shd_error_clear();
        return;
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, WIF_LOG_CREDS, "token file updated", SHD_LOG_STR("path", path));
}
