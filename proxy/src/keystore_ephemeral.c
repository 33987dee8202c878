/*
 * keystore_ephemeral.c - the `ephemeral` key source (polaris-protocol.md §3.1): RSA-4096,
 * e = 65537, generated in process after the secure heap exists, so that OpenSSL allocates its
 * private numbers there (locked, excluded from core dumps, cleared when freed).
 */
#include <stddef.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/safety.h"

#include "keystore.h"

#define EPHEMERAL_BITS 4096u

shd_result proxy_key_ephemeral_obtain(void *state, struct proxy_key_material *ret)
{
    EVP_PKEY *key = NULL;

    (void)state;
    SHD_ENSURE_REF(ret);
    SHD_GUARD_CTX(shd_crypto_rsa_generate(EPHEMERAL_BITS, &key), "generating the ephemeral key");
    *ret = (struct proxy_key_material){.private_key = key};
    return SHD_OK;
}
