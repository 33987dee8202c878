/*
 * keyproc_msg_fuzz.c - fuzz target for the messages between skr-proxy's network process and its
 * key process (proxy/src/keyproc_msg.c). Each side treats the other's datagrams as untrusted:
 * the key process decodes requests, the network process decodes replies.
 *
 * Target Functions: proxy_keyproc_request_decode, proxy_keyproc_reply_decode,
 *                   proxy_keyproc_request_encode, proxy_keyproc_reply_encode
 *
 * Input: one selector byte, then the datagram.
 *   bit 0 clear: the datagram is decoded as a request;
 *   bit 0 set: it is decoded as the reply to a request chosen by bits 1-2 (READY, PUBLIC_KEY,
 *     UNWRAP, UNWRAP), the UNWRAP request asking for at most 1 + 32 * (bits 3-7) bytes.
 * Properties checked:
 *   - failures use the documented codes only (SHD_ERR_TRUNCATED, SHD_ERR_INPUT,
 *     SHD_ERR_TOO_LARGE), and the cause chain renders;
 *   - a decoded message borrows from the datagram and stays within it;
 *   - a decoded reply has its request's type (with the reply bit) or is ERROR; an UNWRAP reply
 *     is no longer than the cap asked for; an ERROR to an UNWRAP is a bare SHD_ERR_DECRYPT;
 *   - the encoding is canonical: encoding a decoded message gives back the datagram exactly.
 */
#include "../shared/fuzz_common.h"
#include "keyproc_msg.h"
#include "shd/errors.h"
#include "shd/mem.h"

static void check_borrow(const struct proxy_keyproc_msg *m, const uint8_t *dgram, size_t n)
{
    FUZZ_ASSERT(m->len <= n);
    if (m->len > 0) {
        FUZZ_ASSERT(m->data >= dgram && m->data + m->len <= dgram + n);
    }
}

static void check_request(const uint8_t *dgram, size_t n)
{
    struct proxy_keyproc_msg m;
    shd_result r = proxy_keyproc_request_decode(dgram, n, &m);

    FUZZ_OK_OR(r, SHD_ERR_TRUNCATED, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        fuzz_error_reset();
        return;
    }
    check_borrow(&m, dgram, n);
    FUZZ_ASSERT(m.type == PROXY_KEYPROC_READY || m.type == PROXY_KEYPROC_PUBLIC_KEY ||
                m.type == PROXY_KEYPROC_UNWRAP);
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    size_t len = 0;
    FUZZ_ASSERT(shd_is_ok(proxy_keyproc_request_encode(&m, out, sizeof(out), &len)));
    FUZZ_ASSERT(len == n && shd_memcmp(out, dgram, n) == 0);
}

static void check_reply(uint8_t sel, const uint8_t *dgram, size_t n)
{
    static const uint8_t types[] = {PROXY_KEYPROC_READY, PROXY_KEYPROC_PUBLIC_KEY,
                                    PROXY_KEYPROC_UNWRAP, PROXY_KEYPROC_UNWRAP};
    static const uint8_t ciphertext[256] = {0};
    struct proxy_keyproc_msg req = {.type = types[(sel >> 1) & 3u]};

    if (req.type == PROXY_KEYPROC_UNWRAP) {
        req.cap = (uint16_t)(1u + 32u * (unsigned)(sel >> 3));
        req.data = ciphertext;
        req.len = sizeof(ciphertext);
    }
    struct proxy_keyproc_msg m;
    shd_result r = proxy_keyproc_reply_decode(&req, dgram, n, &m);

    FUZZ_OK_OR(r, SHD_ERR_TRUNCATED, SHD_ERR_INPUT, SHD_ERR_TOO_LARGE);
    if (shd_is_err(r)) {
        fuzz_error_reset();
        return;
    }
    check_borrow(&m, dgram, n);
    if (m.type == PROXY_KEYPROC_ERROR) {
        if (req.type == PROXY_KEYPROC_UNWRAP) {
            /* One opaque failure for every decryption problem (STYLE rule 20). */
            FUZZ_ASSERT(m.code == (uint32_t)SHD_ERR_DECRYPT && m.len == 0);
        }
    } else {
        FUZZ_ASSERT((unsigned)m.type == ((unsigned)req.type | PROXY_KEYPROC_REPLY_BIT));
        if (req.type == PROXY_KEYPROC_UNWRAP) {
            FUZZ_ASSERT(m.len <= req.cap);
        }
    }
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    size_t len = 0;
    FUZZ_ASSERT(shd_is_ok(proxy_keyproc_reply_encode(&m, out, sizeof(out), &len)));
    FUZZ_ASSERT(len == n && shd_memcmp(out, dgram, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    uint8_t sel = data[0];
    if ((sel & 1u) == 0) {
        check_request(data + 1, size - 1);
    } else {
        check_reply(sel, data + 1, size - 1);
    }
    return 0;
}
