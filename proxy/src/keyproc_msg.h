/*
 * keyproc_msg.h - the messages between the network process and the key process (STYLE.md
 * rule 3 step 2, docs/internals/PROXY_KEYPROC.md). One SOCK_SEQPACKET datagram per message, one
 * request and its reply per exchange; both ends parse what they receive strictly, because each
 * treats the other as untrusted (the key process does not trust the process that reads the
 * network; the network process does not trust replies it did not ask for).
 *
 * A datagram is a 4-byte head and a payload, nothing before or after:
 *
 *   u8 type | u8 0 | u16 BE payload length | payload
 *
 *   requests (network -> key process)            replies (key process -> network)
 *   READY      0x01  empty                       READY      0x81  empty
 *   PUBLIC_KEY 0x02  empty                       PUBLIC_KEY 0x82  SPKI PEM, 1..4096 bytes of
 *                                                                 printable ASCII and '\n'
 *   UNWRAP     0x03  u16 BE cap (1..1024) |      UNWRAP     0x83  plaintext, 0..cap bytes
 *                    ciphertext (1..1024 bytes)
 *                                                ERROR      0xff  u32 BE shd error code (a known
 *                                                                 one) | text, 0..2048 bytes of
 *                                                                 printable ASCII
 *
 * A reply is READY, PUBLIC_KEY or UNWRAP only to the request of the same type, or ERROR. An
 * ERROR to an UNWRAP carries SHD_ERR_DECRYPT and no text (STYLE.md rule 20: one opaque failure);
 * an ERROR to READY says why the key could not be obtained (the cause chain, for the log).
 * The 1024-byte ciphertext bound is RSA-8192's modulus; the holder checks the exact size.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

enum proxy_keyproc_type {
    PROXY_KEYPROC_READY = 0x01,
    PROXY_KEYPROC_PUBLIC_KEY = 0x02,
    PROXY_KEYPROC_UNWRAP = 0x03,
    PROXY_KEYPROC_ERROR = 0xff,
};

/* A reply's type is its request's type with this bit (ERROR aside). */
#define PROXY_KEYPROC_REPLY_BIT 0x80u

#define PROXY_KEYPROC_HEAD_LEN 4u
#define PROXY_KEYPROC_CIPHERTEXT_MAX 1024u
#define PROXY_KEYPROC_PLAIN_MAX 1024u
#define PROXY_KEYPROC_PEM_MAX 4096u
#define PROXY_KEYPROC_TEXT_MAX 2048u
/* The largest datagram of either direction (a PUBLIC_KEY reply), and a buffer that holds it. */
#define PROXY_KEYPROC_MSG_MAX (PROXY_KEYPROC_HEAD_LEN + PROXY_KEYPROC_PEM_MAX)

/*
 * One message, decoded or to encode. data points into the datagram it was decoded from
 * (borrowed: valid while that buffer is), or at the caller's bytes when encoding.
 */
struct proxy_keyproc_msg {
    uint8_t type;        /* enum proxy_keyproc_type, with PROXY_KEYPROC_REPLY_BIT for replies */
    uint16_t cap;        /* UNWRAP request: the largest plaintext the sender accepts */
    uint32_t code;       /* ERROR reply: the shd error code */
    const uint8_t *data; /* ciphertext, PEM, plaintext or error text */
    size_t len;
};

/*
 * Encodes a request into out[0..cap) (PROXY_KEYPROC_MSG_MAX always fits) and sets *ret_len. A
 * message that breaks the table above is SHD_ERR_USAGE (our own bug: nothing is sent);
 * SHD_ERR_TOO_LARGE when cap is too small.
 */
SHD_RESULT proxy_keyproc_request_encode(const struct proxy_keyproc_msg *req, uint8_t *out,
                                        size_t cap, size_t *ret_len);

/*
 * Decodes a request datagram dgram[0..n) into *ret (which then borrows from dgram). Errors:
 * SHD_ERR_TRUNCATED (shorter than the head, or than its length field says), SHD_ERR_INPUT
 * (bytes after the payload, a reserved byte not 0, a type that is not a request, a bad cap),
 * SHD_ERR_TOO_LARGE (payload over the type's bound).
 */
SHD_RESULT proxy_keyproc_request_decode(const uint8_t *dgram, size_t n,
                                        struct proxy_keyproc_msg *ret);

/* Like proxy_keyproc_request_encode, for a reply (any reply type, ERROR included). */
SHD_RESULT proxy_keyproc_reply_encode(const struct proxy_keyproc_msg *rep, uint8_t *out, size_t cap,
                                      size_t *ret_len);

/*
 * Decodes the reply dgram[0..n) to the request req (the one sent, as given to encode). Errors
 * as proxy_keyproc_request_decode, and SHD_ERR_INPUT for a reply of another type than req's or
 * ERROR, an UNWRAP plaintext longer than req->cap, an ERROR to an UNWRAP that is not a bare
 * SHD_ERR_DECRYPT, an ERROR with an unknown code, or text or PEM with bytes outside printable
 * ASCII.
 */
SHD_RESULT proxy_keyproc_reply_decode(const struct proxy_keyproc_msg *req, const uint8_t *dgram,
                                      size_t n, struct proxy_keyproc_msg *ret);

/*
 * Sends one datagram dgram[0..n) on the SOCK_SEQPACKET socket fd (MSG_NOSIGNAL: no SIGPIPE).
 * SHD_ERR_UNAVAILABLE when the peer has gone (EPIPE, ECONNRESET), SHD_ERR_IO otherwise.
 */
SHD_RESULT proxy_keyproc_send(int fd, const uint8_t *dgram, size_t n);

/*
 * Receives one datagram from fd into buf[0..cap), waiting at most timeout_ms (negative: no
 * limit; EINTR does not cut the wait short). *ret_len gets its length. Errors:
 * SHD_ERR_UNAVAILABLE (the peer closed its end), SHD_ERR_TIMEOUT, SHD_ERR_TOO_LARGE (a datagram
 * longer than cap, which the kernel has discarded), SHD_ERR_IO.
 */
SHD_RESULT proxy_keyproc_recv(int fd, int timeout_ms, uint8_t *buf, size_t cap, size_t *ret_len);
