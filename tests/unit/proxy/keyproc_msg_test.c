/*
 * keyproc_msg_test.c - the key-process messages: exact bytes, round trips of every type, and
 * the decoder's refusals on both ends: truncated, oversized, trailing bytes, wrong or forged
 * types, replies that do not answer the request (another type, too long for the cap, a
 * non-opaque unwrap failure, an unknown error code, bytes outside printable ASCII); then one
 * datagram over a real SOCK_SEQPACKET pair: too long, timeout, peer gone.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keyproc_msg.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

#define REPLY(t) ((uint8_t)((t) | PROXY_KEYPROC_REPLY_BIT))

/* A raw datagram: head with the given length field, then payload[0..n). */
static size_t dg(uint8_t type, uint8_t reserved, uint16_t len_field, const uint8_t *payload,
                 size_t n, uint8_t *out)
{
    out[0] = type;
    out[1] = reserved;
    out[2] = (uint8_t)(len_field >> 8);
    out[3] = (uint8_t)len_field;
    shd_memcpy(out + 4, payload, n);
    return 4 + n;
}

static const struct proxy_keyproc_msg UNWRAP_REQ = {
    .type = PROXY_KEYPROC_UNWRAP, .cap = 32, .data = (const uint8_t *)"abc", .len = 3};

static void test_exact_bytes(void **state)
{
    (void)state;
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    size_t n = 0;
    EXPECT_OK(proxy_keyproc_request_encode(&UNWRAP_REQ, out, sizeof(out), &n));
    const uint8_t want[] = {0x03, 0x00, 0x00, 0x05, 0x00, 0x20, 'a', 'b', 'c'};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));

    const struct proxy_keyproc_msg err = {.type = PROXY_KEYPROC_ERROR,
                                          .code = (uint32_t)SHD_ERR_RETRY_EXHAUSTED,
                                          .data = (const uint8_t *)"no",
                                          .len = 2};
    EXPECT_OK(proxy_keyproc_reply_encode(&err, out, sizeof(out), &n));
    const uint8_t want_err[] = {0xff, 0x00, 0x00, 0x06, 0x00, 0x03, 0x00, 0x04, 'n', 'o'};
    assert_int_equal(n, sizeof(want_err));
    assert_memory_equal(out, want_err, sizeof(want_err));

    const struct proxy_keyproc_msg ready = {.type = PROXY_KEYPROC_READY};
    EXPECT_OK(proxy_keyproc_request_encode(&ready, out, sizeof(out), &n));
    const uint8_t want_ready[] = {0x01, 0x00, 0x00, 0x00};
    assert_int_equal(n, sizeof(want_ready));
    assert_memory_equal(out, want_ready, sizeof(want_ready));
}

static void test_round_trips(void **state)
{
    (void)state;
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    size_t n = 0;
    struct proxy_keyproc_msg m;

    EXPECT_OK(proxy_keyproc_request_encode(&UNWRAP_REQ, out, sizeof(out), &n));
    EXPECT_OK(proxy_keyproc_request_decode(out, n, &m));
    assert_int_equal(m.type, PROXY_KEYPROC_UNWRAP);
    assert_int_equal(m.cap, 32);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.data, "abc", 3);

    /* The largest ciphertext (RSA-8192) and the largest cap. */
    uint8_t big[PROXY_KEYPROC_CIPHERTEXT_MAX];
    memset(big, 0xa5, sizeof(big));
    const struct proxy_keyproc_msg big_req = {.type = PROXY_KEYPROC_UNWRAP,
                                              .cap = PROXY_KEYPROC_PLAIN_MAX,
                                              .data = big,
                                              .len = sizeof(big)};
    EXPECT_OK(proxy_keyproc_request_encode(&big_req, out, sizeof(out), &n));
    EXPECT_OK(proxy_keyproc_request_decode(out, n, &m));
    assert_int_equal(m.len, sizeof(big));

    const uint8_t key[32] = {1, 2, 3};
    const struct proxy_keyproc_msg plain = {
        .type = REPLY(PROXY_KEYPROC_UNWRAP), .data = key, .len = sizeof(key)};
    EXPECT_OK(proxy_keyproc_reply_encode(&plain, out, sizeof(out), &n));
    EXPECT_OK(proxy_keyproc_reply_decode(&UNWRAP_REQ, out, n, &m));
    assert_int_equal(m.type, REPLY(PROXY_KEYPROC_UNWRAP));
    assert_int_equal(m.len, 32);
    assert_memory_equal(m.data, key, 32);

    const char pem[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    const struct proxy_keyproc_msg pk_req = {.type = PROXY_KEYPROC_PUBLIC_KEY};
    const struct proxy_keyproc_msg pk = {.type = REPLY(PROXY_KEYPROC_PUBLIC_KEY),
                                         .data = (const uint8_t *)pem,
                                         .len = sizeof(pem) - 1};
    EXPECT_OK(proxy_keyproc_reply_encode(&pk, out, sizeof(out), &n));
    EXPECT_OK(proxy_keyproc_reply_decode(&pk_req, out, n, &m));
    assert_int_equal(m.len, sizeof(pem) - 1);

    /* An opaque unwrap failure, and a READY failure with its cause. */
    const struct proxy_keyproc_msg fail = {.type = PROXY_KEYPROC_ERROR,
                                           .code = (uint32_t)SHD_ERR_DECRYPT};
    EXPECT_OK(proxy_keyproc_reply_encode(&fail, out, sizeof(out), &n));
    EXPECT_OK(proxy_keyproc_reply_decode(&UNWRAP_REQ, out, n, &m));
    assert_int_equal(m.type, PROXY_KEYPROC_ERROR);
    assert_int_equal(m.code, SHD_ERR_DECRYPT);
    assert_int_equal(m.len, 0);
    const struct proxy_keyproc_msg ready_req = {.type = PROXY_KEYPROC_READY};
    const struct proxy_keyproc_msg why = {.type = PROXY_KEYPROC_ERROR,
                                          .code = (uint32_t)SHD_ERR_PERMISSION,
                                          .data = (const uint8_t *)"answered 403",
                                          .len = 12};
    EXPECT_OK(proxy_keyproc_reply_encode(&why, out, sizeof(out), &n));
    EXPECT_OK(proxy_keyproc_reply_decode(&ready_req, out, n, &m));
    assert_int_equal(m.code, SHD_ERR_PERMISSION);
    assert_memory_equal(m.data, "answered 403", 12);
}

static void test_truncated(void **state)
{
    (void)state;
    uint8_t b[64];
    struct proxy_keyproc_msg m;
    const uint8_t head[4] = {0x01, 0x00, 0x00, 0x00};
    for (size_t n = 0; n < 4; n++) {
        EXPECT_ERR(proxy_keyproc_request_decode(head, n, &m), SHD_ERR_TRUNCATED);
    }
    /* The head promises 10 bytes, 5 follow. */
    const uint8_t five[5] = {0, 32, 1, 2, 3};
    size_t n = dg(PROXY_KEYPROC_UNWRAP, 0, 10, five, sizeof(five), b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_TRUNCATED);
    /* UNWRAP: half a cap; a cap and no ciphertext. */
    n = dg(PROXY_KEYPROC_UNWRAP, 0, 1, five, 1, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_TRUNCATED);
    n = dg(PROXY_KEYPROC_UNWRAP, 0, 2, five, 2, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_TRUNCATED);
    /* ERROR: three bytes of a four-byte code; PUBLIC_KEY: an empty PEM. */
    const uint8_t code[3] = {0x00, 0x04, 0x00};
    n = dg(PROXY_KEYPROC_ERROR, 0, 3, code, sizeof(code), b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_TRUNCATED);
    const struct proxy_keyproc_msg pk_req = {.type = PROXY_KEYPROC_PUBLIC_KEY};
    n = dg(REPLY(PROXY_KEYPROC_PUBLIC_KEY), 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&pk_req, b, n, &m), SHD_ERR_TRUNCATED);
    /* NULL with a length is a caller bug. */
    EXPECT_ERR(proxy_keyproc_request_decode(NULL, 4, &m), SHD_ERR_NULL);
}

static void test_oversized(void **state)
{
    (void)state;
    static uint8_t b[PROXY_KEYPROC_MSG_MAX + 64];
    static uint8_t payload[PROXY_KEYPROC_MSG_MAX + 32];
    struct proxy_keyproc_msg m;

    /* A ciphertext one byte over RSA-8192's modulus. */
    payload[0] = 0;
    payload[1] = 32;
    size_t n = dg(PROXY_KEYPROC_UNWRAP, 0, 2 + PROXY_KEYPROC_CIPHERTEXT_MAX + 1, payload,
                  2 + PROXY_KEYPROC_CIPHERTEXT_MAX + 1, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_TOO_LARGE);
    /* READY and PUBLIC_KEY requests carry nothing. */
    n = dg(PROXY_KEYPROC_READY, 0, 1, payload, 1, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_TOO_LARGE);
    n = dg(PROXY_KEYPROC_PUBLIC_KEY, 0, 1, payload, 1, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_TOO_LARGE);
    /* A PEM over 4096 bytes; a READY reply with a payload; error text over the bound. */
    memset(payload, 'A', sizeof(payload));
    const struct proxy_keyproc_msg pk_req = {.type = PROXY_KEYPROC_PUBLIC_KEY};
    n = dg(REPLY(PROXY_KEYPROC_PUBLIC_KEY), 0, PROXY_KEYPROC_PEM_MAX + 1, payload,
           PROXY_KEYPROC_PEM_MAX + 1, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&pk_req, b, n, &m), SHD_ERR_TOO_LARGE);
    const struct proxy_keyproc_msg ready_req = {.type = PROXY_KEYPROC_READY};
    n = dg(REPLY(PROXY_KEYPROC_READY), 0, 1, payload, 1, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&ready_req, b, n, &m), SHD_ERR_TOO_LARGE);
    payload[0] = 0x00;
    payload[1] = 0x04;
    payload[2] = 0x00;
    payload[3] = 0x03;
    n = dg(PROXY_KEYPROC_ERROR, 0, 4 + PROXY_KEYPROC_TEXT_MAX + 1, payload,
           4 + PROXY_KEYPROC_TEXT_MAX + 1, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&ready_req, b, n, &m), SHD_ERR_TOO_LARGE);
    /* Bytes after the payload the head announces. */
    const uint8_t ready_plus[5] = {0x01, 0x00, 0x00, 0x00, 0x00};
    EXPECT_ERR(proxy_keyproc_request_decode(ready_plus, sizeof(ready_plus), &m), SHD_ERR_INPUT);

    /* The encoder refuses what the decoder would, and a buffer that is too small. */
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    size_t len = 0;
    const struct proxy_keyproc_msg big_req = {.type = PROXY_KEYPROC_UNWRAP,
                                              .cap = 32,
                                              .data = payload,
                                              .len = PROXY_KEYPROC_CIPHERTEXT_MAX + 1};
    EXPECT_ERR(proxy_keyproc_request_encode(&big_req, out, sizeof(out), &len), SHD_ERR_USAGE);
    EXPECT_ERR(proxy_keyproc_request_encode(&UNWRAP_REQ, out, 8, &len), SHD_ERR_TOO_LARGE);
    const struct proxy_keyproc_msg no_cap = {
        .type = PROXY_KEYPROC_UNWRAP, .cap = 0, .data = payload, .len = 4};
    EXPECT_ERR(proxy_keyproc_request_encode(&no_cap, out, sizeof(out), &len), SHD_ERR_USAGE);
}

static void test_wrong_types(void **state)
{
    (void)state;
    uint8_t b[64];
    struct proxy_keyproc_msg m;
    const uint8_t cap_ct[4] = {0x00, 0x20, 0x01, 0x02};

    /* Requests: a reply type, ERROR, an unknown type, a reserved byte that is not 0. */
    size_t n = dg(REPLY(PROXY_KEYPROC_UNWRAP), 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    n = dg(PROXY_KEYPROC_ERROR, 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    n = dg(0x42, 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    n = dg(0x00, 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    n = dg(PROXY_KEYPROC_UNWRAP, 1, sizeof(cap_ct), cap_ct, sizeof(cap_ct), b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    /* Caps outside 1..1024. */
    const uint8_t cap0[3] = {0x00, 0x00, 0x01};
    n = dg(PROXY_KEYPROC_UNWRAP, 0, sizeof(cap0), cap0, sizeof(cap0), b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    const uint8_t cap_big[3] = {0x04, 0x01, 0x01};
    n = dg(PROXY_KEYPROC_UNWRAP, 0, sizeof(cap_big), cap_big, sizeof(cap_big), b);
    EXPECT_ERR(proxy_keyproc_request_decode(b, n, &m), SHD_ERR_INPUT);
    /* Replies: a request type where a reply belongs. */
    n = dg(PROXY_KEYPROC_UNWRAP, 0, sizeof(cap_ct), cap_ct, sizeof(cap_ct), b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_INPUT);
    /* The encoders refuse the other direction's types. */
    uint8_t out[64];
    size_t len = 0;
    const struct proxy_keyproc_msg ready_rep = {.type = REPLY(PROXY_KEYPROC_READY)};
    EXPECT_ERR(proxy_keyproc_request_encode(&ready_rep, out, sizeof(out), &len), SHD_ERR_USAGE);
    EXPECT_ERR(proxy_keyproc_reply_encode(&UNWRAP_REQ, out, sizeof(out), &len), SHD_ERR_USAGE);
}

static void test_forged_replies(void **state)
{
    (void)state;
    uint8_t b[128];
    struct proxy_keyproc_msg m;
    const struct proxy_keyproc_msg ready_req = {.type = PROXY_KEYPROC_READY};
    const struct proxy_keyproc_msg pk_req = {.type = PROXY_KEYPROC_PUBLIC_KEY};

    /* Well-formed replies to another request. */
    const uint8_t pem[] = "PEM\n";
    size_t n = dg(REPLY(PROXY_KEYPROC_PUBLIC_KEY), 0, 4, pem, 4, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_INPUT);
    EXPECT_OK(proxy_keyproc_reply_decode(&pk_req, b, n, &m));
    n = dg(REPLY(PROXY_KEYPROC_READY), 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&pk_req, b, n, &m), SHD_ERR_INPUT);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_INPUT);
    /* An unwrap reply longer than the cap asked for (32): 33 bytes. */
    uint8_t plain[33] = {0};
    n = dg(REPLY(PROXY_KEYPROC_UNWRAP), 0, sizeof(plain), plain, sizeof(plain), b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_INPUT);
    n = dg(REPLY(PROXY_KEYPROC_UNWRAP), 0, 32, plain, 32, b);
    EXPECT_OK(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m));
    /* An unwrap failure that says more than "failed": another code, or text. */
    const uint8_t not_decrypt[4] = {0x00, 0x04, 0x00, 0x01}; /* SHD_ERR_INPUT */
    n = dg(PROXY_KEYPROC_ERROR, 0, 4, not_decrypt, 4, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_INPUT);
    EXPECT_OK(proxy_keyproc_reply_decode(&ready_req, b, n, &m));
    const uint8_t decrypt_text[6] = {0x00, 0x05, 0x00, 0x05, 'p', 'd'}; /* SHD_ERR_DECRYPT */
    n = dg(PROXY_KEYPROC_ERROR, 0, 6, decrypt_text, 6, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&UNWRAP_REQ, b, n, &m), SHD_ERR_INPUT);
    /* Unknown error codes: a made-up one, 0, one above INT32_MAX. */
    const uint8_t codes[3][4] = {{0x00, 0x04, 0x00, 0x63}, {0, 0, 0, 0}, {0x80, 0, 0, 0x01}};
    for (size_t i = 0; i < 3; i++) {
        n = dg(PROXY_KEYPROC_ERROR, 0, 4, codes[i], 4, b);
        EXPECT_ERR(proxy_keyproc_reply_decode(&ready_req, b, n, &m), SHD_ERR_INPUT);
    }
    /* Text with a control byte; a PEM with a NUL or a byte above 0x7e. */
    const uint8_t ctl[6] = {0x00, 0x03, 0x00, 0x04, 'a', 0x1b};
    n = dg(PROXY_KEYPROC_ERROR, 0, 6, ctl, 6, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&ready_req, b, n, &m), SHD_ERR_INPUT);
    const uint8_t nul_pem[3] = {'A', 0x00, '\n'};
    n = dg(REPLY(PROXY_KEYPROC_PUBLIC_KEY), 0, 3, nul_pem, 3, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&pk_req, b, n, &m), SHD_ERR_INPUT);
    const uint8_t high_pem[2] = {'A', 0xc3};
    n = dg(REPLY(PROXY_KEYPROC_PUBLIC_KEY), 0, 2, high_pem, 2, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&pk_req, b, n, &m), SHD_ERR_INPUT);
    /* A reply decoded against something that is not a request is our own bug. */
    const struct proxy_keyproc_msg not_req = {.type = REPLY(PROXY_KEYPROC_READY)};
    n = dg(REPLY(PROXY_KEYPROC_READY), 0, 0, NULL, 0, b);
    EXPECT_ERR(proxy_keyproc_reply_decode(&not_req, b, n, &m), SHD_ERR_USAGE);
}

static void test_socket(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    uint8_t buf[16];
    size_t n = 0;
    /* Nothing to read: a timeout. */
    EXPECT_ERR(proxy_keyproc_recv(sv[1], 20, buf, sizeof(buf), &n), SHD_ERR_TIMEOUT);
    /* One datagram arrives whole. */
    const uint8_t ready[4] = {0x01, 0x00, 0x00, 0x00};
    EXPECT_OK(proxy_keyproc_send(sv[0], ready, sizeof(ready)));
    EXPECT_OK(proxy_keyproc_recv(sv[1], 1000, buf, sizeof(buf), &n));
    assert_int_equal(n, 4);
    assert_memory_equal(buf, ready, 4);
    /* A datagram longer than the buffer is refused, not cut, and the next one is intact. */
    uint8_t big[17] = {0};
    EXPECT_OK(proxy_keyproc_send(sv[0], big, sizeof(big)));
    EXPECT_OK(proxy_keyproc_send(sv[0], ready, sizeof(ready)));
    EXPECT_ERR(proxy_keyproc_recv(sv[1], 1000, buf, sizeof(buf), &n), SHD_ERR_TOO_LARGE);
    EXPECT_OK(proxy_keyproc_recv(sv[1], 1000, buf, sizeof(buf), &n));
    assert_int_equal(n, 4);
    /* The peer closes: EOF for the reader, EPIPE (no SIGPIPE) for the writer. */
    assert_int_equal(close(sv[0]), 0);
    EXPECT_ERR(proxy_keyproc_recv(sv[1], -1, buf, sizeof(buf), &n), SHD_ERR_UNAVAILABLE);
    EXPECT_ERR(proxy_keyproc_send(sv[1], ready, sizeof(ready)), SHD_ERR_UNAVAILABLE);
    assert_int_equal(close(sv[1]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes), cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_truncated),   cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_wrong_types), cmocka_unit_test(test_forged_replies),
        cmocka_unit_test(test_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
