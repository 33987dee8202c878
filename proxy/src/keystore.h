/*
 * keystore.h - the proxy's private key behind one narrow API (STYLE.md rule 3).
 *
 * The rest of the proxy can ask for two things only: "unwrap these RSA-OAEP-SHA256 bytes" and
 * "give me the public key as PEM". No function hands out private key bytes.
 *
 * Step 2 of rule 3: by default the key lives in a separate key process, forked at
 * proxy_keystore_create (keyproc.h, docs/internals/PROXY_KEYPROC.md); this process, which reads
 * the network, only holds the public key and asks the key process for each unwrap over a
 * socket pair. For debugging, in_process keeps the key holder (keyholder.h) in this process.
 *
 * Key sources are rows of a table (STYLE.md rule 4). A source either hands over a private key
 * (an EVP_PKEY created after the secure heap exists, so OpenSSL keeps its secret numbers in
 * locked, non-dumpable memory) or a remote-decrypt callback plus the public key (a KMS that never
 * releases its key). Sources are configured at start (missing settings fail fast, in this
 * process) and obtain the key once, in the key holder, with bounded retries and exponential
 * backoff; until then the keystore is not ready and callers answer 503.
 *
 * Threads: after proxy_keystore_obtain succeeded proxy_keystore_unwrap may run on any number of
 * threads at once. proxy_keystore_ready is a lock-free acquire load. proxy_keystore_close and
 * proxy_keystore_free only after every user has stopped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "shd/result.h"

struct proxy_keystore;

/* Environment lookup: secure_getenv in production, a table in tests. */
typedef const char *(*proxy_getenv_fn)(const char *name);

/* A private-key operation done elsewhere (RSA-OAEP-SHA256 decrypt); same contract as
 * proxy_envelope_unwrap_fn. Must be thread-safe. */
typedef shd_result (*proxy_key_remote_decrypt_fn)(void *ctx, const uint8_t *in, size_t n,
                                                  uint8_t *out, size_t cap, size_t *ret_len);

/*
 * What a source's obtain hands to the keystore (ownership moves with it on success). Exactly one
 * of private_key and remote_decrypt is set. public_key is required with remote_decrypt and
 * optional with private_key (derived from it when NULL).
 */
struct proxy_key_material {
    EVP_PKEY *private_key;
    EVP_PKEY *public_key;
    proxy_key_remote_decrypt_fn remote_decrypt;
    void *remote_ctx;
    void (*remote_free)(void *remote_ctx); /* may be NULL */
};

/*
 * One key source. name is our --key-source value; polaris_name the POLARIS_CONTAINER_KEY_TYPE
 * value it answers to (NULL: none). configure (may be NULL) reads the source's settings through
 * getenv into a state the source owns; obtain fetches the key (it may block; a failure is
 * retried when retryable is true); state_free (may be NULL) releases the state, wiping secrets.
 */
struct proxy_key_source {
    const char *name;
    const char *polaris_name;
    const char *summary; /* one line for --help */
    bool retryable;
    shd_result (*configure)(proxy_getenv_fn getenv, void **ret_state);
    shd_result (*obtain)(void *state, struct proxy_key_material *ret);
    void (*state_free)(void *state);
};

/* The source whose name or polaris_name equals name (exact); NULL when none. */
const struct proxy_key_source *proxy_key_source_find(const char *name);

/* The i-th row of the table (for --help); NULL past the end. */
const struct proxy_key_source *proxy_key_source_at(size_t i);

/* Defaults of the start-up retry loop and of the secure heap. */
#define PROXY_KEYSTORE_DEFAULT_ATTEMPTS 5u
#define PROXY_KEYSTORE_DEFAULT_RETRY_BASE_MS 1000u
#define PROXY_KEYSTORE_DEFAULT_RETRY_MAX_MS 60000u
#define PROXY_KEYSTORE_DEFAULT_SECURE_HEAP ((size_t)2 * 1024 * 1024)
/* RSA sizes a source may hand over. */
#define PROXY_KEYSTORE_MIN_BITS 2048u
#define PROXY_KEYSTORE_MAX_BITS 8192u

struct proxy_keystore_options {
    const struct proxy_key_source *source; /* required */
    proxy_getenv_fn getenv;                /* NULL: secure_getenv */
    unsigned max_attempts;                 /* 0: default; 1: no retry */
    uint32_t retry_base_ms;                /* first backoff; 0: default */
    uint32_t retry_max_ms;                 /* backoff cap; 0: default */
    size_t secure_heap_bytes;              /* power of two; 0: default */
    /*
     * Returns true when start-up should be abandoned (a signal arrived). With the key holder in
     * this process it also does the waiting: ms between attempts (NULL: a plain sleep that never
     * abandons). With a key process, which waits between attempts itself, it is called with
     * ms 0 every 100 ms while the key is awaited (NULL: never abandon).
     */
    bool (*wait)(void *ctx, uint32_t ms);
    void *wait_ctx;
    /*
     * Debugging only (--key-process=off): keep the key in this process instead of a forked key
     * process. false, the default, forks: call proxy_keystore_create before any thread starts.
     */
    bool in_process;
};

/*
 * Creates a keystore that is not ready yet: runs the source's configure step here, then (unless
 * in_process) forks the key process, which takes the configured source over; this process's
 * copy of the source settings is wiped. Errors: SHD_ERR_CONFIG (missing or bad source settings,
 * a secure heap size that is not a power of two), SHD_ERR_IO (socketpair or fork).
 */
SHD_RESULT proxy_keystore_create(const struct proxy_keystore_options *opts,
                                 struct proxy_keystore **ret_ks);

/*
 * Obtains the key in the key holder (up to max_attempts attempts with full-jitter exponential
 * backoff between them; OpenSSL's secure heap is set up first) and caches the public PEM, then
 * marks the keystore ready. Call once, from one thread. SHD_ERR_RETRY_EXHAUSTED (cause chain of
 * the last attempt), SHD_ERR_PERMISSION (the secure heap could not be locked),
 * SHD_ERR_UNAVAILABLE when the wait hook abandoned or the key process is gone, or the source's
 * error when it is not retryable. With a key process, the code and the cause chain are the ones
 * it reported.
 */
SHD_RESULT proxy_keystore_obtain(struct proxy_keystore *ks);

/* True once proxy_keystore_obtain has succeeded, until the key process is gone (acquire). */
bool proxy_keystore_ready(const struct proxy_keystore *ks);

/*
 * RSA-OAEP-SHA256 (MGF1-SHA256, empty label) decryption of in[0..n) into out[0..cap) with the
 * held key; has the signature of proxy_envelope_unwrap_fn (ctx is the keystore). SHD_ERR_DECRYPT
 * (out wiped) on any failure; SHD_ERR_UNAVAILABLE before the keystore is ready or once the key
 * process is gone.
 */
SHD_RESULT proxy_keystore_unwrap(void *ks, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                 size_t *ret_len);

/*
 * The public key as SPKI PEM ("-----BEGIN PUBLIC KEY-----", ending with a newline like Node's
 * export). *ret_pem is borrowed: valid until proxy_keystore_free. SHD_ERR_UNAVAILABLE before
 * the keystore is ready and once the key process is gone. ret_len may be NULL.
 */
SHD_RESULT proxy_keystore_public_pem(const struct proxy_keystore *ks, const char **ret_pem,
                                     size_t *ret_len);

/* Name of the configured source. */
const char *proxy_keystore_source_name(const struct proxy_keystore *ks);

/*
 * True when this process holds key material: an in_process keystore after obtain. Always false
 * with a key process, whose private key (or KMS access) never enters this process.
 */
bool proxy_keystore_holds_key(const struct proxy_keystore *ks);

/* The key process's pid; 0 for an in_process keystore. */
pid_t proxy_keystore_key_pid(const struct proxy_keystore *ks);

/*
 * Stops the key process (closes its sockets, reaps it). SHD_ERR_INTERNAL when it did not exit
 * with status 0 (it died, was killed, or its exit found a fault); SHD_OK for an in_process
 * keystore. Once every user has stopped; unwrap then fails with SHD_ERR_UNAVAILABLE.
 */
SHD_RESULT proxy_keystore_close(struct proxy_keystore *ks);

/* Closes if needed, then frees the key (OpenSSL clears the secure-heap numbers), the remote
 * context and the source state. NULL is fine. */
void proxy_keystore_free(struct proxy_keystore *ks);

/* ---- sources (one file each; the table lives in keystore_sources.c) ---- */

/* `ephemeral`: a fresh RSA-4096 key generated in process (Polaris non-Pro mode, §3.1). */
SHD_RESULT proxy_key_ephemeral_obtain(void *state, struct proxy_key_material *ret);
