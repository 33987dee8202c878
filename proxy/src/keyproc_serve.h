/*
 * keyproc_serve.h - the key process (STYLE.md rule 3 step 2, docs/internals/PROXY_KEYPROC.md):
 * the forked child that holds the proxy's key and answers the network process over a few
 * SOCK_SEQPACKET socket pairs, through a fixed table of requests with order and one-shot rules:
 *
 *   READY       once; the first request: "the key is here" (or why it is not)
 *   PUBLIC_KEY  once, after a successful READY: the SPKI PEM
 *   UNWRAP      after a successful READY: RSA-OAEP-SHA256 of one wrapped value, or one opaque
 *               failure
 *
 * Anything else (a malformed request, an unknown type, a request out of order or repeated) is a
 * protocol violation: the key process stops, which the network process sees as its death.
 *
 * A session is the table's state; it is separate from the sockets so that tests can drive it
 * with bytes. proxy_keyproc_child_main is the key process's main.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shd/result.h"

#include "keyholder.h"

struct proxy_keyproc_session;

/*
 * A session over holder (borrowed; it must outlive the session). While the holder is not ready
 * and no failure was recorded, READY is answered with SHD_ERR_UNAVAILABLE.
 */
SHD_RESULT proxy_keyproc_session_create(struct proxy_keyholder *holder,
                                        struct proxy_keyproc_session **ret_s);

/*
 * Records why the key could not be obtained: code and the current thread's cause chain (the
 * error state of shd_error_*), which READY then carries back. Call before serving.
 */
void proxy_keyproc_session_fail(int code, struct proxy_keyproc_session *s);

/*
 * Handles one request datagram req[0..n) and writes the reply datagram into
 * reply[0..cap) (PROXY_KEYPROC_MSG_MAX fits every reply), *ret_len its length. A failed unwrap
 * is an ERROR reply, not an error. Errors are protocol violations (the caller must stop
 * serving): SHD_ERR_TRUNCATED / SHD_ERR_INPUT / SHD_ERR_TOO_LARGE from the decoder, SHD_ERR_INPUT
 * for a request out of order or repeated. Thread-safe: every socket's thread calls it.
 * The reply may hold a session key: the caller wipes it after sending.
 */
SHD_RESULT proxy_keyproc_session_handle(struct proxy_keyproc_session *s, const uint8_t *req,
                                        size_t n, uint8_t *reply, size_t cap, size_t *ret_len);

/* Frees the session (not the holder). NULL is fine. */
void proxy_keyproc_session_free(struct proxy_keyproc_session *s);

/* Exit status of the key process. */
#define PROXY_KEYPROC_EXIT_OK 0        /* the network process closed its sockets */
#define PROXY_KEYPROC_EXIT_VIOLATION 2 /* a protocol violation from the network process */
#define PROXY_KEYPROC_EXIT_INTERNAL 3  /* out of memory or a broken socket */

/*
 * The key process's main, run right after fork() in the child (keyproc.c), which passes its
 * return value to exit(). It owns holder (configured, not ready) and fds[0..nfds) (its ends of
 * the socket pairs). It ignores SIGINT/SIGTERM/SIGHUP (the network process decides when to stop:
 * it closes the sockets), dies with parent (PR_SET_PDEATHSIG), closes every other socket it
 * inherited, sets no_new_privs, obtains the key (waiting between attempts on fds[0], so that a
 * parent that gives up ends the wait), answers READY on fds[0], then serves every socket on its
 * own thread until the network process closes them. Returns PROXY_KEYPROC_EXIT_*.
 */
int proxy_keyproc_child_main(struct proxy_keyholder *holder, const int *fds, size_t nfds,
                             pid_t parent);
