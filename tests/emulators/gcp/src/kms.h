/*
 * kms.h - the Cloud KMS emulator (gcp-identity.md 6, real-clients.md 1.6): key rings, crypto
 * keys and versions; RSA_DECRYPT_OAEP_{2048,3072,4096}_SHA256 and GOOGLE_SYMMETRIC_ENCRYPTION;
 * getPublicKey, asymmetricDecrypt, encrypt, decrypt with CRC32C in both directions; per-key
 * IAM (policies on the key, its key ring and the project, config.json "iamPolicy");
 * keyRings.create and cryptoKeys.create over REST.
 *
 * Key material lives in the state directory (0600 files, directories 0700):
 *   kms/<location>/<ring>/<key>/<version>.pem   RSA private key, PKCS#8 PEM
 *   kms/<location>/<ring>/<key>/<version>.aes   32 raw bytes (AES-256-GCM key)
 * Keys created over REST live in memory only, for the life of the serve process.
 *
 * Symmetric ciphertext format (ours; KMS's real format is opaque, gcp-identity.md 6):
 *   "GKMS" | 0x01 | version u32 big-endian | IV (12) | tag (16) | AES-256-GCM ciphertext
 * with GCM AAD = crypto key resource name | 0x00 | additionalAuthenticatedData, so a
 * ciphertext decrypts only under the key (and AAD) it was made for, with whichever version
 * made it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gemu.h"
#include "shd/result.h"

/* CryptoKeyVersionAlgorithm numbers (google/cloud/kms/v1/resources.proto). */
enum gemu_kms_alg {
    GEMU_KMS_ALG_SYMMETRIC = 1,     /* GOOGLE_SYMMETRIC_ENCRYPTION */
    GEMU_KMS_ALG_RSA_OAEP_2048 = 8, /* RSA_DECRYPT_OAEP_2048_SHA256 */
    GEMU_KMS_ALG_RSA_OAEP_3072 = 9, /* RSA_DECRYPT_OAEP_3072_SHA256 */
    GEMU_KMS_ALG_RSA_OAEP_4096 = 10 /* RSA_DECRYPT_OAEP_4096_SHA256 */
};

/* CryptoKeyPurpose numbers. */
enum gemu_kms_purpose {
    GEMU_KMS_PURPOSE_ENCRYPT_DECRYPT = 1,
    GEMU_KMS_PURPOSE_ASYMMETRIC_DECRYPT = 6
};

#define GEMU_KMS_AES_KEY_LEN 32u
#define GEMU_KMS_MAX_VERSIONS 64u
/* Google's limits: 64 KiB plaintext for encrypt, 64 KiB AAD. */
#define GEMU_KMS_MAX_PLAINTEXT (64u * 1024u)
#define GEMU_KMS_MAX_AAD (64u * 1024u)
/* Resource ids: [a-zA-Z0-9_-]{1,63} (KMS key ring and key ids). */
#define GEMU_KMS_ID_MAX 63u

/* Name <-> number of the algorithms above; parse accepts the name or the decimal number.
 * name: NULL for anything else; parse: SHD_ERR_INPUT. */
const char *gemu_kms_alg_name(enum gemu_kms_alg alg);
SHD_RESULT gemu_kms_alg_parse(const char *s, enum gemu_kms_alg *ret);

/* The purpose an algorithm belongs to, and its name ("ENCRYPT_DECRYPT"). */
enum gemu_kms_purpose gemu_kms_alg_purpose(enum gemu_kms_alg alg);
const char *gemu_kms_purpose_name(enum gemu_kms_purpose p);

/* True when id is a valid key ring / crypto key id. */
bool gemu_kms_id_ok(const char *id);

/*
 * Creates the key material of version `version` of the crypto key `key_name`
 * ("projects/P/locations/L/keyRings/R/cryptoKeys/K") and writes it under DIR/kms (see above),
 * creating the directories. Used by `gcp-emu init`.
 */
SHD_RESULT gemu_kms_material_create(const char *state_dir, const char *key_name,
                                    enum gemu_kms_alg alg, uint32_t version);

/*
 * The KMS service. Loads config.json "kms" and the key material from st's directory; borrows
 * st. *ret: gemu_service_free.
 */
SHD_RESULT gemu_kms_service_new(struct gemu_state *st, struct gemu_service **ret);
