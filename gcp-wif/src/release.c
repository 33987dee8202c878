/*
 * release.c - KMS plaintext -> released JWK text (skr-sidecar.md 5.6).
 */
#include "release.h"

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"

shd_result wif_release_jwk(const struct shd_secret *plain, const json_t *key_ops, char **ret_json,
                           size_t *ret_len)
{
    SHD_ENSURE_REF(plain);
    SHD_ENSURE_REF(ret_json);
    SHD_ENSURE_REF(ret_len);
    if (key_ops != NULL) {
        SHD_GUARD(shd_jwk_key_ops_check(key_ops));
    }
    size_t len = shd_secret_len(plain);
    SHD_ENSURE_MSG(len > 0, SHD_ERR_BAD_KEY, "the unwrapped key is empty");
    if (len <= SHD_JWK_OCT_MAX) {
        return shd_jwk_released_oct_write(shd_secret_data(plain), len, key_ops, ret_json, ret_len);
    }
    /* shd_crypto_privkey_load wipes its input: give it a secret copy. */
    struct shd_secret *copy = NULL;
    SHD_GUARD(shd_secret_from(shd_secret_data(plain), len, &copy));
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pkey = NULL;
    shd_result r = shd_crypto_privkey_load(shd_secret_ptr(copy), len, &pkey);
    shd_secret_free(&copy);
    if (shd_is_err(r)) {
        shd_error_wrap("the unwrapped key is neither a 1..%u-byte symmetric key nor a PKCS#8 "
                       "RSA/EC private key",
                       (unsigned)SHD_JWK_OCT_MAX);
        return r;
    }
    return shd_jwk_released_write(pkey, key_ops, ret_json, ret_len);
}

shd_result wif_release_body(const struct shd_secret *plain, const json_t *key_ops, char **ret,
                            size_t *ret_len)
{
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    char *jwk = NULL;
    size_t jwk_len = 0;
    SHD_GUARD(wif_release_jwk(plain, key_ops, &jwk, &jwk_len));
    const struct shd_json_go_field f = {"key", jwk, jwk_len};
    shd_result r = shd_json_go_dump_strings(&f, 1, ret, ret_len);
    shd_free_wipe(jwk, jwk_len + 1);
    return r;
}
