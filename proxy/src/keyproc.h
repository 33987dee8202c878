/*
 * keyproc.h - the network process's side of the key process (STYLE.md rule 3 step 2,
 * docs/internals/PROXY_KEYPROC.md): forks the key process (keyproc_serve.h) and talks to it
 * over a small pool of SOCK_SEQPACKET socket pairs, one request in flight per socket. Every
 * reply is parsed as untrusted input (keyproc_msg.h).
 *
 * Failure policy: a key process that dies, does not answer within the reply timeout, or sends
 * anything the decoder refuses is "gone" for good: it is killed (SIGKILL) if still running, the
 * error is logged once, proxy_keyproc_ready turns false, and every later call fails at once with
 * SHD_ERR_UNAVAILABLE (callers answer 503). The proxy's main loop sees the SIGCHLD and exits
 * non-zero, so that the supervisor restarts the whole proxy with a fresh key process.
 *
 * Threads: after proxy_keyproc_wait_ready succeeded, unwrap and public_pem may run on any number
 * of threads (they queue for a free socket). spawn, wait_ready and close run on one thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"

#include "keyholder.h"

struct proxy_keyproc;

/* How long a reply may take: a KMS decrypt behind gcp-wif is two 15 s attempts at worst. */
#define PROXY_KEYPROC_REPLY_TIMEOUT_MS 60000
/* How long close waits for the key process to exit before SIGKILL (valgrind's leak check at
 * exit takes seconds; the key process itself exits at once). */
#define PROXY_KEYPROC_EXIT_WAIT_MS 30000
/*
 * Sockets in the pool (and serving threads in the key process): PER_CPU per online CPU, within
 * these bounds. More than the CPUs, so that callers seldom queue for a socket (the queue is not
 * FIFO) and the kernel shares the CPUs among unwraps as it did among connection threads; an
 * idle socket costs a blocked thread.
 */
#define PROXY_KEYPROC_SOCKETS_PER_CPU 4u
#define PROXY_KEYPROC_SOCKETS_MIN 8u
#define PROXY_KEYPROC_SOCKETS_MAX 32u

/*
 * Forks the key process, which takes over holder (configured by proxy_keyholder_create, not
 * obtained yet). Call before the process starts any thread: the child gets only the calling
 * thread. holder is consumed on every path: this process's copy is freed (its source settings
 * wiped) right after the fork. nsockets 0: the default (see above). Errors: SHD_ERR_IO
 * (socketpair, fork), SHD_ERR_NOMEM.
 */
SHD_RESULT proxy_keyproc_spawn(struct proxy_keyholder *holder, size_t nsockets,
                               struct proxy_keyproc **ret_kp);

/*
 * Sends READY and waits for the key process to obtain the key, calling wait(wait_ctx, 0) every
 * 100 ms (true: give up with SHD_ERR_UNAVAILABLE; wait may be NULL), then fetches and checks the
 * public key (an RSA key of PROXY_KEYSTORE_MIN_BITS..MAX_BITS, re-encoded here byte for byte as
 * the key process sent it). Call once. Errors: the key process's own (the code and cause chain
 * it reported, e.g. SHD_ERR_RETRY_EXHAUSTED), SHD_ERR_UNAVAILABLE when it is gone or the wait
 * gave up, SHD_ERR_INPUT / SHD_ERR_BAD_KEY for a reply that breaks the protocol.
 */
SHD_RESULT proxy_keyproc_wait_ready(struct proxy_keyproc *kp, bool (*wait)(void *, uint32_t),
                                    void *wait_ctx);

/* True after wait_ready succeeded and until the key process is gone (acquire). */
bool proxy_keyproc_ready(const struct proxy_keyproc *kp);

/*
 * Unwrap through the key process (the signature of proxy_envelope_unwrap_fn; ctx is the
 * struct proxy_keyproc). The ciphertext must be 1..modulus-size bytes and at most
 * min(cap, PROXY_KEYPROC_PLAIN_MAX) bytes of plaintext are asked for. SHD_ERR_DECRYPT (out
 * wiped) for any failure the key process reports or a bad size; SHD_ERR_UNAVAILABLE before
 * ready or once the key process is gone.
 */
SHD_RESULT proxy_keyproc_unwrap(void *kp, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                size_t *ret_len);

/* The public key as SPKI PEM (borrowed until proxy_keyproc_free); SHD_ERR_UNAVAILABLE before
 * ready and once the key process is gone (clients should not seal to a proxy that stops).
 * ret_len may be NULL. */
SHD_RESULT proxy_keyproc_public_pem(const struct proxy_keyproc *kp, const char **ret_pem,
                                    size_t *ret_len);

/* The key process's pid (it stays valid, a zombie at worst, until close reaps it). */
pid_t proxy_keyproc_pid(const struct proxy_keyproc *kp);

/*
 * Closes the sockets (the key process then exits: its serving threads see EOF) and reaps it,
 * sending SIGKILL after PROXY_KEYPROC_EXIT_WAIT_MS. Only once every caller has stopped.
 * SHD_ERR_INTERNAL (and an error log line) unless it exited with status 0; repeated calls
 * return the first result.
 */
SHD_RESULT proxy_keyproc_close(struct proxy_keyproc *kp);

/* Closes if needed and frees. NULL is fine. */
void proxy_keyproc_free(struct proxy_keyproc *kp);
