/*
 * eventlog.c - reading, checking and replaying the TCG crypto-agile event log (eventlog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "eventlog.h"

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define EV_NO_ACTION 0x00000003u
#define SPEC_ID_SIG "Spec ID Event03"          /* 15 characters and a NUL: 16 bytes */
#define STARTUP_LOCALITY_SIG "StartupLocality" /* likewise, then one locality byte */
#define SIG_LEN 16u
#define SHA1_LEN 20u
#define EVENT_DATA_MAX ((size_t)1024 * 1024)

struct ev_alg {
    uint16_t id;
    uint16_t size;
};

struct ev_header {
    struct ev_alg algs[WIF_EVENTLOG_MAX_ALGS];
    uint32_t nalgs;
};

/* A replay target: NULL md means "only check". */
struct ev_replay {
    const EVP_MD *md;
    uint16_t alg;
    size_t dlen;
    uint8_t (*pcrs)[WIF_EVENTLOG_DIGEST_MAX];
    uint32_t touched;
};

static uint16_t ev_known_size(uint16_t alg)
{
    switch (alg) {
    case 0x0004: /* SHA-1 */
        return 20;
    case 0x000B: /* SHA-256 */
    case 0x0012: /* SM3-256 */
        return 32;
    case 0x000C: /* SHA-384 */
        return 48;
    case 0x000D: /* SHA-512 */
        return 64;
    default:
        return 0;
    }
}

static const EVP_MD *ev_md(uint16_t alg)
{
    switch (alg) {
    case 0x0004:
        return EVP_sha1();
    case 0x000B:
        return EVP_sha256();
    case 0x000C:
        return EVP_sha384();
    case 0x000D:
        return EVP_sha512();
    default:
        return NULL;
    }
}

#define EV_FAIL(cur, err, what)                                                                    \
    SHD_BAIL_MSG((err), "event log: %s at offset %zu", (what), shd_cursor_pos(cur))
#define EV_READ(call, cur)                                                                         \
    do {                                                                                           \
        if (shd_is_err(call)) {                                                                    \
            EV_FAIL((cur), SHD_ERR_TRUNCATED, "truncated record");                                 \
        }                                                                                          \
    } while (0)

/* The first record and its TCG_EfiSpecIDEvent (PFP section 10.4.5.1). */
static shd_result ev_parse_header(struct shd_cursor *cur, struct ev_header *h)
{
    uint32_t pcr = 0;
    uint32_t type = 0;
    uint32_t size = 0;
    const uint8_t *digest = NULL;
    EV_READ(shd_cursor_read_u32le(cur, &pcr), cur);
    EV_READ(shd_cursor_read_u32le(cur, &type), cur);
    EV_READ(shd_cursor_take(SHA1_LEN, cur, &digest), cur);
    EV_READ(shd_cursor_read_u32le(cur, &size), cur);
    if (pcr != 0 || type != EV_NO_ACTION) {
        EV_FAIL(cur, SHD_ERR_INPUT, "first record is not the Spec ID event");
    }
    const uint8_t *ev = NULL;
    EV_READ(shd_cursor_take(size, cur, &ev), cur);

    struct shd_cursor s;
    shd_cursor_init(ev, size, &s);
    const uint8_t *sig = NULL;
    uint32_t platform = 0;
    uint8_t ver[4] = {0};
    EV_READ(shd_cursor_take(SIG_LEN, &s, &sig), cur);
    if (shd_memcmp(sig, SPEC_ID_SIG, SIG_LEN) != 0) {
        EV_FAIL(cur, SHD_ERR_INPUT, "not a crypto-agile log (no Spec ID Event03)");
    }
    EV_READ(shd_cursor_read_u32le(&s, &platform), cur);
    EV_READ(shd_cursor_read_bytes(4, &s, ver), cur);
    EV_READ(shd_cursor_read_u32le(&s, &h->nalgs), cur);
    if (ver[1] != 2 || h->nalgs == 0 || h->nalgs > WIF_EVENTLOG_MAX_ALGS) {
        EV_FAIL(cur, SHD_ERR_INPUT, "bad Spec ID event");
    }
    for (uint32_t i = 0; i < h->nalgs; i++) {
        EV_READ(shd_cursor_read_u16le(&s, &h->algs[i].id), cur);
        EV_READ(shd_cursor_read_u16le(&s, &h->algs[i].size), cur);
        if (ev_known_size(h->algs[i].id) != h->algs[i].size) {
            EV_FAIL(cur, SHD_ERR_INPUT, "unknown algorithm or digest size in Spec ID event");
        }
        for (uint32_t j = 0; j < i; j++) {
            if (h->algs[j].id == h->algs[i].id) {
                EV_FAIL(cur, SHD_ERR_INPUT, "duplicate algorithm in Spec ID event");
            }
        }
    }
    uint8_t vendor = 0;
    EV_READ(shd_cursor_read_u8(&s, &vendor), cur);
    EV_READ(shd_cursor_skip(vendor, &s), cur);
    if (!shd_cursor_at_end(&s)) {
        EV_FAIL(cur, SHD_ERR_INPUT, "trailing bytes in Spec ID event");
    }
    return SHD_OK;
}

static shd_result ev_extend(struct ev_replay *rp, uint32_t pcr, const uint8_t *digest)
{
    uint8_t in[2 * WIF_EVENTLOG_DIGEST_MAX];
    unsigned out_len = 0;

    shd_memcpy(in, rp->pcrs[pcr], rp->dlen);
    shd_memcpy(in + rp->dlen, digest, rp->dlen);
    SHD_GUARD_OSSL(EVP_Digest(in, 2 * rp->dlen, rp->pcrs[pcr], &out_len, rp->md, NULL),
                   SHD_ERR_CRYPTO);
    rp->touched |= 1u << pcr;
    return SHD_OK;
}

/* StartupLocality (PFP section 10.4.5.3): PCR 0 starts at 0...0<locality>. */
static void ev_startup_locality(const uint8_t *ev, uint32_t size, struct ev_replay *rp)
{
    if (size == SIG_LEN + 1 && shd_memcmp(ev, STARTUP_LOCALITY_SIG, SIG_LEN) == 0 &&
        (rp->touched & 1u) == 0) {
        shd_memzero(rp->pcrs[0], rp->dlen);
        rp->pcrs[0][rp->dlen - 1] = ev[SIG_LEN];
    }
}

/* One TCG_PCR_EVENT2. */
static shd_result ev_parse_event(const struct ev_header *h, struct shd_cursor *cur,
                                 struct ev_replay *rp)
{
    uint32_t pcr = 0;
    uint32_t type = 0;
    uint32_t count = 0;
    EV_READ(shd_cursor_read_u32le(cur, &pcr), cur);
    EV_READ(shd_cursor_read_u32le(cur, &type), cur);
    EV_READ(shd_cursor_read_u32le(cur, &count), cur);
    if (pcr >= WIF_EVENTLOG_PCRS) {
        EV_FAIL(cur, SHD_ERR_INPUT, "PCR index out of range");
    }
    if (count != h->nalgs) {
        EV_FAIL(cur, SHD_ERR_INPUT, "digest count differs from the Spec ID event");
    }
    const uint8_t *mine = NULL;
    for (uint32_t i = 0; i < count; i++) {
        uint16_t alg = 0;
        const uint8_t *d = NULL;
        EV_READ(shd_cursor_read_u16le(cur, &alg), cur);
        if (alg != h->algs[i].id) {
            EV_FAIL(cur, SHD_ERR_INPUT, "digest algorithm differs from the Spec ID event");
        }
        EV_READ(shd_cursor_take(h->algs[i].size, cur, &d), cur);
        if (rp->md != NULL && alg == rp->alg) {
            mine = d;
        }
    }
    uint32_t size = 0;
    const uint8_t *ev = NULL;
    EV_READ(shd_cursor_read_u32le(cur, &size), cur);
    if (size > EVENT_DATA_MAX) {
        EV_FAIL(cur, SHD_ERR_TOO_LARGE, "event data too large");
    }
    EV_READ(shd_cursor_take(size, cur, &ev), cur);
    if (rp->md == NULL) {
        return SHD_OK;
    }
    if (type == EV_NO_ACTION) {
        ev_startup_locality(ev, size, rp);
        return SHD_OK;
    }
    return ev_extend(rp, pcr, mine);
}

static shd_result ev_walk(const uint8_t *log, size_t len, struct ev_replay *rp)
{
    SHD_ENSURE_REF(log);
    SHD_ENSURE_MSG(len <= WIF_EVENTLOG_MAX_BYTES, SHD_ERR_TOO_LARGE, "event log too large");
    struct shd_cursor cur;
    shd_cursor_init(log, len, &cur);
    struct ev_header h = {0};
    SHD_GUARD(ev_parse_header(&cur, &h));

    if (rp->md != NULL) {
        bool listed = false;
        for (uint32_t i = 0; i < h.nalgs; i++) {
            listed = listed || h.algs[i].id == rp->alg;
        }
        SHD_ENSURE_MSG(listed, SHD_ERR_NOT_FOUND, "event log has no bank 0x%04x", rp->alg);
    }
    size_t n = 0;
    while (!shd_cursor_at_end(&cur)) {
        if (++n > WIF_EVENTLOG_MAX_EVENTS) {
            EV_FAIL(&cur, SHD_ERR_TOO_LARGE, "too many events");
        }
        SHD_GUARD(ev_parse_event(&h, &cur, rp));
    }
    return SHD_OK;
}

SHD_RESULT wif_eventlog_check(const uint8_t *log, size_t len)
{
    struct ev_replay none = {0};
    return ev_walk(log, len, &none);
}

SHD_RESULT wif_eventlog_replay(const uint8_t *log, size_t len, uint16_t alg,
                               uint8_t pcrs[WIF_EVENTLOG_PCRS][WIF_EVENTLOG_DIGEST_MAX],
                               uint32_t *ret_touched)
{
    SHD_ENSURE_REF(pcrs);
    SHD_ENSURE_REF(ret_touched);
    const EVP_MD *md = ev_md(alg);
    SHD_ENSURE_MSG(md != NULL, SHD_ERR_UNSUPPORTED, "bank 0x%04x", alg);
    uint8_t tmp[WIF_EVENTLOG_PCRS][WIF_EVENTLOG_DIGEST_MAX] = {{0}};
    struct ev_replay rp = {.md = md, .alg = alg, .dlen = ev_known_size(alg), .pcrs = tmp};
    SHD_GUARD(ev_walk(log, len, &rp));
    shd_memcpy(pcrs, tmp, sizeof(tmp));
    *ret_touched = rp.touched;
    return SHD_OK;
}

SHD_RESULT wif_eventlog_read(const char *path, uint8_t **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_REF(ret_len);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        SHD_BAIL_MSG(SHD_ERR_NOT_FOUND, "event log %s does not exist", path);
    }
    SHD_GUARD_POSIX(fd);

    struct shd_buf b;
    shd_buf_init(WIF_EVENTLOG_MAX_BYTES, 0, &b);
    shd_result r = SHD_OK;
    for (;;) {
        uint8_t chunk[8192];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
            break;
        }
        if (n == 0) {
            break;
        }
        r = shd_buf_append(chunk, (size_t)n, &b);
        if (shd_is_err(r)) {
            break;
        }
    }
    (void)close(fd);
    if (shd_is_ok(r) && shd_buf_len(&b) == 0) {
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "event log %s is empty", path);
    }
    if (shd_is_ok(r)) {
        r = wif_eventlog_check(shd_buf_ptr(&b), shd_buf_len(&b));
    }
    uint8_t *out = NULL;
    size_t len = 0;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&b, &out, &len);
    }
    shd_buf_free(&b);
    SHD_GUARD_CTX(r, "event log %s", path);
    *ret = out;
    *ret_len = len;
    return SHD_OK;
}
