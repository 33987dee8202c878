/*
 * keyholder.h - the holder of the proxy's key (STYLE.md rules 3 and 30): runs a key source with
 * bounded retries, keeps what it returns (a private key in OpenSSL's secure heap, or a
 * remote-decrypt callback) and offers the two operations of keystore.h, unwrap and public PEM.
 *
 * It lives in the key process (keyproc_serve.c) by default, and in the network process only
 * with --key-process=off. keystore.c is the front the rest of the proxy calls.
 *
 * Threads: after proxy_keyholder_obtain succeeded the holder is immutable and
 * proxy_keyholder_unwrap may run on any number of threads at once (each call uses its own
 * EVP_PKEY_CTX; a remote source must be thread-safe).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

#include "keystore.h"

struct proxy_keyholder;

/* Waits ms between attempts; returns true when start-up should be abandoned. */
typedef bool (*proxy_keyholder_wait_fn)(void *ctx, uint32_t ms);

/*
 * Checks the options (secure heap size: SHD_ERR_CONFIG) and runs the source's configure step
 * (SHD_ERR_CONFIG for missing or bad settings). Creates no key and no secure heap, so it may run
 * in the network process before the key process is forked. opts->wait and opts->in_process are
 * not used here. Free with proxy_keyholder_free.
 */
SHD_RESULT proxy_keyholder_create(const struct proxy_keystore_options *opts,
                                  struct proxy_keyholder **ret_h);

/*
 * Sets up OpenSSL's secure heap (before any private key exists, rule 30), then obtains the key
 * (up to max_attempts attempts with full-jitter exponential backoff, calling wait between them;
 * NULL: a plain sleep), derives and caches the public PEM, and marks the holder ready. Call
 * once, from one thread. Errors: SHD_ERR_PERMISSION (the secure heap could not be locked),
 * SHD_ERR_RETRY_EXHAUSTED (cause chain of the last attempt), SHD_ERR_UNAVAILABLE when wait
 * abandoned, or the source's error when it is not retryable.
 */
SHD_RESULT proxy_keyholder_obtain(struct proxy_keyholder *h, proxy_keyholder_wait_fn wait,
                                  void *wait_ctx);

/* True once proxy_keyholder_obtain has succeeded (acquire). */
bool proxy_keyholder_ready(const struct proxy_keyholder *h);

/*
 * RSA-OAEP-SHA256 (MGF1-SHA256, empty label) decryption of in[0..n) into out[0..cap), with the
 * signature of proxy_envelope_unwrap_fn (ctx is the holder). SHD_ERR_DECRYPT (out wiped) on any
 * failure; SHD_ERR_UNAVAILABLE before the holder is ready.
 */
SHD_RESULT proxy_keyholder_unwrap(void *h, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                  size_t *ret_len);

/*
 * The public key as SPKI PEM, ending with a newline. *ret_pem is borrowed: valid until
 * proxy_keyholder_free. SHD_ERR_UNAVAILABLE before the holder is ready. ret_len may be NULL.
 */
SHD_RESULT proxy_keyholder_public_pem(const struct proxy_keyholder *h, const char **ret_pem,
                                      size_t *ret_len);

/* Frees the key (OpenSSL clears the secure-heap numbers), the remote context and the source
 * state (wiping its secrets). NULL is fine. */
void proxy_keyholder_free(struct proxy_keyholder *h);
