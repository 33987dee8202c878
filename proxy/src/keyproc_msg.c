/*
 * keyproc_msg.c - encoding and strict decoding of the key-process messages (keyproc_msg.h). The
 * rules of each type are one row of a table (STYLE.md rule 4); encoding checks its own output
 * with the decoder, so nothing the decoder would refuse is ever sent. Sending and receiving one
 * datagram live here too (STYLE.md rule 5).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keyproc_msg.h"

/* What the payload holds after its fixed fields. */
enum msg_content {
    CONTENT_NONE,  /* empty payload */
    CONTENT_BYTES, /* opaque bytes (ciphertext, plaintext) */
    CONTENT_PEM,   /* printable ASCII and '\n' */
    CONTENT_TEXT,  /* printable ASCII */
};

struct msg_rule {
    uint8_t type;
    bool request;
    size_t fixed; /* bytes of fixed fields at the start of the payload (cap, code) */
    size_t min;   /* bounds of the content after them */
    size_t max;
    enum msg_content content;
};

static const struct msg_rule RULES[] = {
    {PROXY_KEYPROC_READY, true, 0, 0, 0, CONTENT_NONE},
    {PROXY_KEYPROC_PUBLIC_KEY, true, 0, 0, 0, CONTENT_NONE},
    {PROXY_KEYPROC_UNWRAP, true, 2, 1, PROXY_KEYPROC_CIPHERTEXT_MAX, CONTENT_BYTES},
    {PROXY_KEYPROC_READY | PROXY_KEYPROC_REPLY_BIT, false, 0, 0, 0, CONTENT_NONE},
    {PROXY_KEYPROC_PUBLIC_KEY | PROXY_KEYPROC_REPLY_BIT, false, 0, 1, PROXY_KEYPROC_PEM_MAX,
     CONTENT_PEM},
    {PROXY_KEYPROC_UNWRAP | PROXY_KEYPROC_REPLY_BIT, false, 0, 0, PROXY_KEYPROC_PLAIN_MAX,
     CONTENT_BYTES},
    {PROXY_KEYPROC_ERROR, false, 4, 0, PROXY_KEYPROC_TEXT_MAX, CONTENT_TEXT},
};

static const struct msg_rule *rule_find(uint8_t type, bool request)
{
    for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++) {
        if (RULES[i].type == type && RULES[i].request == request) {
            return &RULES[i];
        }
    }
    return NULL;
}

#define CODE_CASE(name, type, n, text) case name:
static bool code_known(uint32_t code)
{
    if (code > (uint32_t)INT32_MAX) {
        return false;
    }
    switch ((int)code) {
        SHD_ERROR_TABLE(CODE_CASE)
        return true;
    default:
        return false;
    }
}
#undef CODE_CASE

static bool content_ok(enum msg_content content, const uint8_t *p, size_t n)
{
    if (content != CONTENT_PEM && content != CONTENT_TEXT) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = (p[i] >= 0x20 && p[i] < 0x7f) || (content == CONTENT_PEM && p[i] == '\n');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The fixed fields of the payload: the UNWRAP request's cap, the ERROR reply's code. */
static shd_result fixed_parse(const struct msg_rule *rule, struct shd_cursor *cur,
                              struct proxy_keyproc_msg *m)
{
    if (rule->type == PROXY_KEYPROC_UNWRAP) {
        SHD_GUARD(shd_cursor_read_u16be(cur, &m->cap));
        SHD_ENSURE_MSG(m->cap >= 1 && m->cap <= PROXY_KEYPROC_PLAIN_MAX, SHD_ERR_INPUT,
                       "key process: unwrap cap %u outside 1..%u", m->cap, PROXY_KEYPROC_PLAIN_MAX);
    }
    if (rule->type == PROXY_KEYPROC_ERROR) {
        SHD_GUARD(shd_cursor_read_u32be(cur, &m->code));
        SHD_ENSURE_MSG(code_known(m->code), SHD_ERR_INPUT, "key process: unknown error code %u",
                       m->code);
    }
    return SHD_OK;
}

/* Head, type, bounds and content of one datagram; request chooses the direction. */
static shd_result msg_parse(const uint8_t *dgram, size_t n, bool request,
                            struct proxy_keyproc_msg *ret)
{
    struct shd_cursor cur;
    uint8_t type = 0;
    uint8_t reserved = 0;
    uint16_t len = 0;

    SHD_ENSURE(dgram != NULL || n == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret);
    shd_cursor_init(dgram, n, &cur);
    SHD_ENSURE_MSG(n >= PROXY_KEYPROC_HEAD_LEN, SHD_ERR_TRUNCATED,
                   "key process: message of %zu bytes, shorter than its head", n);
    SHD_GUARD(shd_cursor_read_u8(&cur, &type));
    SHD_GUARD(shd_cursor_read_u8(&cur, &reserved));
    SHD_GUARD(shd_cursor_read_u16be(&cur, &len));
    SHD_ENSURE_MSG(reserved == 0, SHD_ERR_INPUT, "key process: reserved byte is %u", reserved);
    size_t rest = shd_cursor_remaining(&cur);
    SHD_ENSURE_MSG(rest >= len, SHD_ERR_TRUNCATED,
                   "key process: payload of %zu bytes, the head says %u", rest, len);
    SHD_ENSURE_MSG(rest == len, SHD_ERR_INPUT, "key process: %zu bytes after a payload of %u",
                   rest - len, len);
    const struct msg_rule *rule = rule_find(type, request);
    SHD_ENSURE_MSG(rule != NULL, SHD_ERR_INPUT, "key process: type 0x%02x is not a %s", type,
                   request ? "request" : "reply");
    SHD_ENSURE_MSG(len >= rule->fixed, SHD_ERR_TRUNCATED,
                   "key process: type 0x%02x payload of %u bytes", type, len);
    size_t content = len - rule->fixed;
    SHD_ENSURE_MSG(content <= rule->max, SHD_ERR_TOO_LARGE,
                   "key process: type 0x%02x carries %zu bytes (at most %zu)", type, content,
                   rule->max);
    SHD_ENSURE_MSG(content >= rule->min, SHD_ERR_TRUNCATED,
                   "key process: type 0x%02x carries %zu bytes (at least %zu)", type, content,
                   rule->min);
    struct proxy_keyproc_msg m = {.type = type};
    SHD_GUARD(fixed_parse(rule, &cur, &m));
    m.len = content;
    SHD_GUARD(shd_cursor_take(content, &cur, &m.data));
    SHD_ENSURE_MSG(content_ok(rule->content, m.data, m.len), SHD_ERR_INPUT,
                   "key process: type 0x%02x carries a byte outside printable ASCII", type);
    *ret = m;
    return SHD_OK;
}

static void put_be(uint64_t v, size_t width, uint8_t *out)
{
    for (size_t i = 0; i < width; i++) {
        out[i] = (uint8_t)(v >> (8u * (width - 1u - i)));
    }
}

static shd_result msg_encode(const struct proxy_keyproc_msg *m, bool request, uint8_t *out,
                             size_t cap, size_t *ret_len)
{
    SHD_ENSURE(m != NULL && out != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_ENSURE(m->data != NULL || m->len == 0, SHD_ERR_NULL);
    const struct msg_rule *rule = rule_find(m->type, request);
    SHD_ENSURE_MSG(rule != NULL, SHD_ERR_USAGE, "key process: type 0x%02x is not a %s", m->type,
                   request ? "request" : "reply");
    SHD_ENSURE_MSG(m->len <= rule->max, SHD_ERR_USAGE,
                   "key process: type 0x%02x cannot carry %zu bytes", m->type, m->len);
    size_t payload = rule->fixed + m->len;
    size_t total = PROXY_KEYPROC_HEAD_LEN + payload;
    SHD_ENSURE_MSG(total <= cap, SHD_ERR_TOO_LARGE, "key process: message of %zu bytes", total);
    out[0] = m->type;
    out[1] = 0;
    put_be(payload, 2, out + 2);
    if (rule->type == PROXY_KEYPROC_UNWRAP) {
        put_be(m->cap, 2, out + PROXY_KEYPROC_HEAD_LEN);
    }
    if (rule->type == PROXY_KEYPROC_ERROR) {
        put_be(m->code, 4, out + PROXY_KEYPROC_HEAD_LEN);
    }
    shd_memcpy(out + PROXY_KEYPROC_HEAD_LEN + rule->fixed, m->data, m->len);
    struct proxy_keyproc_msg check;
    if (shd_is_err(msg_parse(out, total, request, &check))) {
        shd_memzero(out, total);
        shd_error_wrap("encoding a key-process message");
        SHD_BAIL_MSG(SHD_ERR_USAGE, "key process: message type 0x%02x breaks its own rules",
                     m->type);
    }
    *ret_len = total;
    return SHD_OK;
}

shd_result proxy_keyproc_request_encode(const struct proxy_keyproc_msg *req, uint8_t *out,
                                        size_t cap, size_t *ret_len)
{
    return msg_encode(req, true, out, cap, ret_len);
}

shd_result proxy_keyproc_request_decode(const uint8_t *dgram, size_t n,
                                        struct proxy_keyproc_msg *ret)
{
    return msg_parse(dgram, n, true, ret);
}

shd_result proxy_keyproc_reply_encode(const struct proxy_keyproc_msg *rep, uint8_t *out, size_t cap,
                                      size_t *ret_len)
{
    return msg_encode(rep, false, out, cap, ret_len);
}

shd_result proxy_keyproc_reply_decode(const struct proxy_keyproc_msg *req, const uint8_t *dgram,
                                      size_t n, struct proxy_keyproc_msg *ret)
{
    struct proxy_keyproc_msg m;

    SHD_ENSURE(req != NULL && ret != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(rule_find(req->type, true) != NULL, SHD_ERR_USAGE,
                   "key process: 0x%02x is not a request", req->type);
    SHD_GUARD(msg_parse(dgram, n, false, &m));
    SHD_ENSURE_MSG(m.type == PROXY_KEYPROC_ERROR ||
                       m.type == (uint8_t)(req->type | PROXY_KEYPROC_REPLY_BIT),
                   SHD_ERR_INPUT, "key process: reply 0x%02x to request 0x%02x", m.type, req->type);
    SHD_ENSURE_MSG(m.type != (PROXY_KEYPROC_UNWRAP | PROXY_KEYPROC_REPLY_BIT) || m.len <= req->cap,
                   SHD_ERR_INPUT, "key process: %zu bytes of plaintext, %u asked for at most",
                   m.len, req->cap);
    /* Rule 20: the network process must not learn more about a failed unwrap than "failed". */
    SHD_ENSURE_MSG(m.type != PROXY_KEYPROC_ERROR || req->type != PROXY_KEYPROC_UNWRAP ||
                       (m.code == (uint32_t)SHD_ERR_DECRYPT && m.len == 0),
                   SHD_ERR_INPUT, "key process: an unwrap failure that is not opaque");
    *ret = m;
    return SHD_OK;
}

shd_result proxy_keyproc_send(int fd, const uint8_t *dgram, size_t n)
{
    SHD_ENSURE(dgram != NULL && n > 0, SHD_ERR_NULL);
    for (;;) {
        ssize_t w = send(fd, dgram, n, MSG_NOSIGNAL);
        if (w >= 0) {
            /* A SOCK_SEQPACKET send is all or nothing; anything else is a broken socket. */
            SHD_ENSURE_MSG((size_t)w == n, SHD_ERR_IO, "key process: sent %zd of %zu bytes", w, n);
            return SHD_OK;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            return shd_error_set_errno(SHD_ERR_UNAVAILABLE, errno, __FILE__, __LINE__);
        }
        return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable (or hung up): SHD_ERR_TIMEOUT after timeout_ms (< 0: never). */
static shd_result readable_wait(int fd, int timeout_ms)
{
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        int left = -1;
        if (timeout_ms >= 0) {
            int64_t d = deadline - now_ms();
            left = d > 0 ? (int)d : 0;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, left);
        if (rc > 0) {
            return SHD_OK;
        }
        if (rc == 0) {
            SHD_BAIL_MSG(SHD_ERR_TIMEOUT, "key process: no message within %d ms", timeout_ms);
        }
        if (errno != EINTR) {
            return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        }
    }
}

shd_result proxy_keyproc_recv(int fd, int timeout_ms, uint8_t *buf, size_t cap, size_t *ret_len)
{
    SHD_ENSURE(buf != NULL && cap > 0 && ret_len != NULL, SHD_ERR_NULL);
    SHD_GUARD(readable_wait(fd, timeout_ms));
    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = cap};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n > 0) {
            /* MSG_TRUNC: the datagram did not fit and its tail is lost; never parse a part. */
            SHD_ENSURE_MSG((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0, SHD_ERR_TOO_LARGE,
                           "key process: a message longer than %zu bytes", cap);
            *ret_len = (size_t)n;
            return SHD_OK;
        }
        if (n == 0) {
            SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "key process: the other end closed the socket");
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == ECONNRESET) {
            return shd_error_set_errno(SHD_ERR_UNAVAILABLE, errno, __FILE__, __LINE__);
        }
        return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
}
