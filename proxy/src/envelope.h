/*
 * envelope.h - the Polaris encryption envelope (polaris-protocol.md §2.1), shared by skr-proxy
 * and skr-proxy-client:
 *
 *   BE32 H || H bytes of JSON {"wrappedKey":b64,"wrappedIV":b64,"authTag":b64} || ciphertext
 *
 * wrappedKey and wrappedIV are RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) of a fresh 32-byte
 * AES-256 key and of the GCM IV (12 bytes from WebCrypto, 16 from Node); authTag is the 16-byte
 * GCM tag; the ciphertext has the plaintext's length; no AAD. Base64 is standard and padded on
 * output and read leniently (either alphabet, optional padding) on input.
 *
 * Where we are stricter than Polaris (§6): the length prefix must fit the input exactly (Node
 * clamps silently), the tag must be exactly 16 bytes, the unwrapped key exactly 32 bytes, the IV
 * 12 or 16 bytes, and every size is bounded by the caller's limits.
 *
 * Failure reporting (STYLE.md rule 20): every cryptographic failure (either RSA unwrap, a wrong
 * unwrapped length, the GCM tag) is SHD_ERR_DECRYPT with the same message, and an unwrap failure
 * still runs the GCM decryption under a random key so the work done does not tell which step
 * failed. Framing errors (length prefix, JSON, base64, sizes) are SHD_ERR_INPUT /
 * SHD_ERR_TRUNCATED / SHD_ERR_TOO_LARGE / SHD_ERR_ENCODING: they depend only on public bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/result.h"

/* Bounds of one envelope's parts. RSA up to 8192 bits: a wrapped value is at most 1024 bytes. */
#define PROXY_ENVELOPE_WRAPPED_MAX 1024u
#define PROXY_ENVELOPE_HEADER_MAX 8192u
#define PROXY_ENVELOPE_KEY_LEN 32u
#define PROXY_ENVELOPE_TAG_LEN 16u

/* The one message of every cryptographic failure; it is the text Node prints for a bad GCM tag
 * (polaris-protocol.md §1.5), so clients that match on it keep working. */
#define PROXY_ENVELOPE_DECRYPT_MSG "Unsupported state or unable to authenticate data"

/*
 * RSA-OAEP-SHA256 unwrap of one wrapped value into out[0..cap): the private-key operation, done
 * by whoever holds the key (the proxy's keystore, or the client's own key). Returns SHD_OK with
 * *ret_len set, or SHD_ERR_DECRYPT (out wiped). Must be safe to call from several threads.
 */
typedef shd_result (*proxy_envelope_unwrap_fn)(void *ctx, const uint8_t *wrapped, size_t n,
                                               uint8_t *out, size_t cap, size_t *ret_len);

/*
 * Opens an envelope in[0..n). The plaintext may hold at most max_plain bytes (SHD_ERR_TOO_LARGE
 * otherwise, checked before any private-key operation). On success *ret_plain is a fresh
 * shd_alloc block of *ret_len + 1 bytes (the plaintext and a NUL) that the caller frees with
 * shd_free_wipe(p, len + 1): it is secret. Errors: see the header comment.
 */
SHD_RESULT proxy_envelope_open(const uint8_t *in, size_t n, size_t max_plain,
                               proxy_envelope_unwrap_fn unwrap, void *unwrap_ctx,
                               uint8_t **ret_plain, size_t *ret_len);

/*
 * Like proxy_envelope_open for an envelope carried as base64 text (the polaris-url and
 * polaris-secure headers, an encrypted response body): text[0..n) is decoded leniently (either
 * alphabet, padding optional, ASCII white space ignored). SHD_ERR_ENCODING for bad base64.
 */
SHD_RESULT proxy_envelope_open_b64(const char *text, size_t n, size_t max_plain,
                                   proxy_envelope_unwrap_fn unwrap, void *unwrap_ctx,
                                   uint8_t **ret_plain, size_t *ret_len);

/*
 * Seals plain[0..n) (plain may be NULL when n == 0) to the RSA public key `recipient` with a
 * fresh random key and an IV of iv_len bytes (12 or 16; SHD_ERR_USAGE otherwise). *ret_env gets
 * a fresh shd_alloc block of *ret_len bytes (public: free with shd_free). SHD_ERR_BAD_KEY when
 * recipient is not an RSA key; SHD_ERR_TOO_LARGE past SHD_CRYPTO_AEAD_MAX_LEN.
 */
SHD_RESULT proxy_envelope_seal(const uint8_t *plain, size_t n, EVP_PKEY *recipient, size_t iv_len,
                               uint8_t **ret_env, size_t *ret_len);

/*
 * proxy_envelope_seal followed by standard padded base64: *ret_text is a fresh NUL-terminated
 * string (shd_free) of *ret_len characters.
 */
SHD_RESULT proxy_envelope_seal_b64(const uint8_t *plain, size_t n, EVP_PKEY *recipient,
                                   size_t iv_len, char **ret_text, size_t *ret_len);

/*
 * Loads a recipient public key given as PEM (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY", the
 * forms Node's publicEncrypt accepts in practice) and checks it is RSA of 2048..8192 bits.
 * SHD_ERR_BAD_KEY otherwise. The caller owns *ret_key.
 */
SHD_RESULT proxy_envelope_recipient_load(const char *pem, size_t n, EVP_PKEY **ret_key);
