/*
 * wrapkey.h - `gcp-wif wrap-key`: wraps a key with Cloud KMS :encrypt under the broker's own
 * credentials, producing the blob that POST /key/release later unwraps (release.h):
 *
 *   gcp-wif wrap-key --kms-key projects/P/locations/L/keyRings/R/cryptoKeys/K \
 *                    --in key.pem --out key.blob [--raw] [--base64] [any serve option]
 *
 * Without --raw, --in holds a private key (PEM or DER, PKCS#8 or traditional, RSA or EC) and the
 * plaintext sent to KMS is its PKCS#8 DER. With --raw, --in holds a raw symmetric key of 1..64
 * bytes, sent as is. --out gets the ciphertext bytes (or their standard base64 with --base64, no
 * newline), written atomically with mode 0644 (a KMS ciphertext is not secret).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "shd/result.h"

struct shd_secret;

/* Largest --in file. */
#define WIF_WRAPKEY_IN_MAX ((size_t)64 * 1024)

/* The subcommand's own options, for wif_config_load. */
extern const struct wif_config_extra WIF_WRAPKEY_OPTIONS[];

/*
 * The plaintext to wrap, from the bytes of --in: see above. in is WIPED on every path.
 * SHD_ERR_BAD_KEY for an unparsable key or a raw key outside 1..64 bytes.
 */
SHD_RESULT wif_wrapkey_plaintext(uint8_t *in, size_t n, bool raw, struct shd_secret **ret);

/* Runs the subcommand with the loaded configuration and its own options ("name=value" list from
 * wif_config_load). Errors carry the cause chain; main prints it. */
SHD_RESULT wif_wrapkey_run(const struct wif_config *cfg, char *const *extra);

/* Usage lines of the subcommand. */
void wif_wrapkey_usage(FILE *out);
