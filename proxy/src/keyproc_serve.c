/*
 * keyproc_serve.c - the key process (keyproc_serve.h): the request table and its session, one
 * serving thread per socket, and the process's main.
 *
 * Why threads here (STYLE.md rule 32 prefers processes): the key must stay in one process, and
 * the network process runs one thread per connection so that both cores do RSA at once; one
 * thread per socket keeps that parallelism (and lets per-request KMS calls overlap) without a
 * second copy of the key. The threads share only the immutable holder and two atomics.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/harden.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keyholder.h"
#include "keyproc_msg.h"
#include "keyproc_serve.h"
#include "proxy_log.h"

struct proxy_keyproc_session {
    struct proxy_keyholder *holder;
    int fail_code; /* 0: no failure recorded */
    char fail_text[PROXY_KEYPROC_TEXT_MAX + 1];
    atomic_uint answered; /* bit (1 << type) of every one-shot request already answered */
    atomic_bool ready_ok; /* READY was answered with the key */
};

/* ---- the request table (STYLE.md rule 4; OpenSSH's MON_ONCE) ---- */

typedef shd_result (*serve_fn)(struct proxy_keyproc_session *s, const struct proxy_keyproc_msg *req,
                               uint8_t *reply, size_t cap, size_t *ret_len);

#define SERVE_ONCE (1u << 0)        /* answered at most once per key process */
#define SERVE_AFTER_READY (1u << 1) /* only after READY was answered with the key */

static shd_result reply_error(int code, const char *text, uint8_t *reply, size_t cap,
                              size_t *ret_len)
{
    const struct proxy_keyproc_msg rep = {
        .type = PROXY_KEYPROC_ERROR,
        .code = (uint32_t)code,
        .data = (const uint8_t *)text,
        .len = strlen(text),
    };
    return proxy_keyproc_reply_encode(&rep, reply, cap, ret_len);
}

static shd_result serve_ready(struct proxy_keyproc_session *s, const struct proxy_keyproc_msg *req,
                              uint8_t *reply, size_t cap, size_t *ret_len)
{
    (void)req;
    if (proxy_keyholder_ready(s->holder)) {
        const struct proxy_keyproc_msg rep = {.type =
                                                  PROXY_KEYPROC_READY | PROXY_KEYPROC_REPLY_BIT};
        SHD_GUARD(proxy_keyproc_reply_encode(&rep, reply, cap, ret_len));
        atomic_store(&s->ready_ok, true);
        return SHD_OK;
    }
    if (s->fail_code != 0) {
        return reply_error(s->fail_code, s->fail_text, reply, cap, ret_len);
    }
    return reply_error(SHD_ERR_UNAVAILABLE, "the key is not ready", reply, cap, ret_len);
}

static shd_result serve_public_key(struct proxy_keyproc_session *s,
                                   const struct proxy_keyproc_msg *req, uint8_t *reply, size_t cap,
                                   size_t *ret_len)
{
    const char *pem = NULL;
    size_t len = 0;

    (void)req;
    SHD_GUARD(proxy_keyholder_public_pem(s->holder, &pem, &len));
    const struct proxy_keyproc_msg rep = {
        .type = PROXY_KEYPROC_PUBLIC_KEY | PROXY_KEYPROC_REPLY_BIT,
        .data = (const uint8_t *)pem,
        .len = len,
    };
    return proxy_keyproc_reply_encode(&rep, reply, cap, ret_len);
}

static shd_result serve_unwrap(struct proxy_keyproc_session *s, const struct proxy_keyproc_msg *req,
                               uint8_t *reply, size_t cap, size_t *ret_len)
{
    uint8_t plain[PROXY_KEYPROC_PLAIN_MAX];
    size_t len = 0;
    SHD_CLEANUP_ERASE(plain);

    /* req->cap <= sizeof(plain): the decoder bounds it. */
    if (shd_is_err(proxy_keyholder_unwrap(s->holder, req->data, req->len, plain, req->cap, &len))) {
        /* Rule 20: one opaque failure; the network process logs the rejected request. */
        shd_error_clear();
        return reply_error(SHD_ERR_DECRYPT, "", reply, cap, ret_len);
    }
    const struct proxy_keyproc_msg rep = {
        .type = PROXY_KEYPROC_UNWRAP | PROXY_KEYPROC_REPLY_BIT,
        .data = plain,
        .len = len,
    };
    return proxy_keyproc_reply_encode(&rep, reply, cap, ret_len);
}

struct serve_rule {
    uint8_t type;
    serve_fn fn;
    unsigned flags;
};

static const struct serve_rule SERVE[] = {
    {PROXY_KEYPROC_READY, serve_ready, SERVE_ONCE},
    {PROXY_KEYPROC_PUBLIC_KEY, serve_public_key, SERVE_ONCE | SERVE_AFTER_READY},
    {PROXY_KEYPROC_UNWRAP, serve_unwrap, SERVE_AFTER_READY},
};

shd_result proxy_keyproc_session_create(struct proxy_keyholder *holder,
                                        struct proxy_keyproc_session **ret_s)
{
    SHD_ENSURE(holder != NULL && ret_s != NULL, SHD_ERR_NULL);
    struct proxy_keyproc_session *s = shd_alloc(sizeof(*s));
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    s->holder = holder;
    atomic_init(&s->answered, 0u);
    atomic_init(&s->ready_ok, false);
    *ret_s = s;
    return SHD_OK;
}

void proxy_keyproc_session_fail(int code, struct proxy_keyproc_session *s)
{
    if (s == NULL) {
        return;
    }
    s->fail_code = code != 0 ? code : SHD_ERR_INTERNAL;
    (void)shd_error_render(s->fail_text, sizeof(s->fail_text));
    /* The text crosses the socket as printable ASCII only (a service's reply may be UTF-8). */
    for (char *p = s->fail_text; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        *p = c >= 0x20 && c < 0x7f ? *p : '?';
    }
}

shd_result proxy_keyproc_session_handle(struct proxy_keyproc_session *s, const uint8_t *req,
                                        size_t n, uint8_t *reply, size_t cap, size_t *ret_len)
{
    struct proxy_keyproc_msg m;

    SHD_ENSURE(s != NULL && reply != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_GUARD_CTX(proxy_keyproc_request_decode(req, n, &m), "protocol violation");
    const struct serve_rule *rule = NULL;
    for (size_t i = 0; i < sizeof(SERVE) / sizeof(SERVE[0]); i++) {
        if (SERVE[i].type == m.type) {
            rule = &SERVE[i];
        }
    }
    SHD_ENSURE_MSG(rule != NULL, SHD_ERR_INPUT, "protocol violation: request 0x%02x has no row",
                   m.type);
    SHD_ENSURE_MSG((rule->flags & SERVE_AFTER_READY) == 0 || atomic_load(&s->ready_ok),
                   SHD_ERR_INPUT, "protocol violation: request 0x%02x before READY", m.type);
    if ((rule->flags & SERVE_ONCE) != 0) {
        unsigned bit = 1u << m.type;
        SHD_ENSURE_MSG((atomic_fetch_or(&s->answered, bit) & bit) == 0, SHD_ERR_INPUT,
                       "protocol violation: request 0x%02x repeated", m.type);
    }
    return rule->fn(s, &m, reply, cap, ret_len);
}

void proxy_keyproc_session_free(struct proxy_keyproc_session *s)
{
    shd_free_wipe(s, s != NULL ? sizeof(*s) : 0);
}

/* ---- serving the sockets ---- */

struct serve_ctx {
    struct proxy_keyproc_session *s;
    const int *fds;
    size_t nfds;
    atomic_int status; /* PROXY_KEYPROC_EXIT_* */
};

struct serve_arg {
    struct serve_ctx *ctx;
    size_t i;
};

/* Ends every serving loop (their recv returns 0) and shows the network process an EOF. */
static void serve_stop_all(int status, struct serve_ctx *c)
{
    int ok = PROXY_KEYPROC_EXIT_OK;
    (void)atomic_compare_exchange_strong(&c->status, &ok, status);
    for (size_t i = 0; i < c->nfds; i++) {
        (void)shutdown(c->fds[i], SHUT_RDWR);
    }
}

/* One socket: receive a request, answer it, until the network process closes its end. */
static void serve_socket(struct serve_ctx *c, size_t i)
{
    uint8_t in[PROXY_KEYPROC_MSG_MAX];
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    SHD_CLEANUP_ERASE(out);

    for (;;) {
        size_t n = 0;
        size_t len = 0;
        shd_result r = proxy_keyproc_recv(c->fds[i], -1, in, sizeof(in), &n);
        if (shd_is_ok(r)) {
            r = proxy_keyproc_session_handle(c->s, in, n, out, sizeof(out), &len);
        }
        if (shd_is_ok(r)) {
            r = proxy_keyproc_send(c->fds[i], out, len);
            shd_memzero(out, len);
        }
        if (r.err == SHD_ERR_UNAVAILABLE) {
            return; /* the network process closed this socket: done */
        }
        if (shd_is_err(r)) {
            bool io = r.err == SHD_ERR_IO;
            (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, PROXY_LOG_KEY, r,
                                 "key process: socket %zu: %s; stopping", i,
                                 io ? "i/o error" : "refused the network process's request");
            serve_stop_all(io ? PROXY_KEYPROC_EXIT_INTERNAL : PROXY_KEYPROC_EXIT_VIOLATION, c);
            return;
        }
    }
}

static void *serve_thread(void *arg)
{
    struct serve_arg *a = arg;
    serve_socket(a->ctx, a->i);
    return NULL;
}

/* Socket 0 on this thread, every other socket on a thread of its own; returns when all end. */
static int serve_all(struct serve_ctx *c)
{
    pthread_t *t = shd_alloc_array(c->nfds, sizeof(*t));
    struct serve_arg *args = shd_alloc_array(c->nfds, sizeof(*args));
    size_t started = 1;
    if (t == NULL || args == NULL) {
        serve_stop_all(PROXY_KEYPROC_EXIT_INTERNAL, c);
    }
    for (size_t i = 1; t != NULL && args != NULL && i < c->nfds; i++) {
        args[i] = (struct serve_arg){.ctx = c, .i = i};
        if (pthread_create(&t[i], NULL, serve_thread, &args[i]) != 0) {
            SHD_LOG_ERROR(PROXY_LOG_KEY, "key process: cannot start a serving thread");
            serve_stop_all(PROXY_KEYPROC_EXIT_INTERNAL, c);
            break;
        }
        started++;
    }
    serve_socket(c, 0);
    for (size_t i = 1; i < started; i++) {
        (void)pthread_join(t[i], NULL);
    }
    shd_free(t);
    shd_free(args);
    return atomic_load(&c->status);
}

/* ---- the process ---- */

/* The key process's wait between attempts: true (abandon) once the network process has gone. */
static bool wait_parent(void *ctx, uint32_t ms)
{
    const int *fd = ctx;
    struct timespec start;
    (void)clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t spent =
            (int64_t)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= (int64_t)ms) {
            return false;
        }
        /* No events asked for: poll reports only POLLHUP/POLLERR, i.e. the other end closed. */
        struct pollfd p = {.fd = *fd, .events = 0};
        int rc = poll(&p, 1, (int)((int64_t)ms - spent));
        if (rc > 0) {
            return true;
        }
        if (rc < 0 && errno != EINTR) {
            return true;
        }
    }
}

/* The decimal file name of /proc/self/fd/N; -1 for anything else. */
static int fd_name_parse(const char *name)
{
    int fd = 0;
    if (name[0] == '\0') {
        return -1;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || fd > (INT_MAX - 9) / 10) {
            return -1;
        }
        fd = fd * 10 + (*p - '0');
    }
    return fd;
}

static bool fd_kept(int fd, const int *keep, size_t nkeep)
{
    for (size_t i = 0; i < nkeep; i++) {
        if (keep[i] == fd) {
            return true;
        }
    }
    return false;
}

/*
 * Closes every socket inherited from the network process except ours: the other ends of our
 * pairs, and whatever else the forking process had open (in production nothing: the key process
 * is forked before the listener exists; in tests, other proxies' sockets). A key process that
 * kept another pair's end open would stop that pair's EOF from ever arriving. Files and pipes
 * (stdio, the log file) stay.
 */
static shd_result sockets_close_inherited(const int *keep, size_t nkeep)
{
    DIR *d = opendir("/proc/self/fd");
    SHD_ENSURE_MSG(d != NULL, SHD_ERR_IO, "key process: cannot list /proc/self/fd");
    int self = dirfd(d);
    int found[256];
    size_t nfound = 0;
    bool more = false;
    const struct dirent *e = NULL;
    while ((e = readdir(d)) != NULL) {
        int fd = fd_name_parse(e->d_name);
        struct stat st;
        if (fd <= STDERR_FILENO || fd == self || fd_kept(fd, keep, nkeep) || fstat(fd, &st) != 0 ||
            !S_ISSOCK(st.st_mode)) {
            continue;
        }
        if (nfound == sizeof(found) / sizeof(found[0])) {
            more = true;
            break;
        }
        found[nfound++] = fd;
    }
    (void)closedir(d);
    /* Closed after the listing: closing while readdir runs could hide entries. */
    for (size_t i = 0; i < nfound; i++) {
        (void)close(found[i]);
    }
    return more ? sockets_close_inherited(keep, nkeep) : SHD_OK;
}

/* SIGINT/SIGTERM/SIGHUP reach the whole process group on ^C: the network process decides. */
static shd_result signals_ignore(void)
{
    static const int SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa = {.sa_handler = SIG_IGN};
    (void)sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(SIGNALS) / sizeof(SIGNALS[0]); i++) {
        SHD_GUARD_POSIX(sigaction(SIGNALS[i], &sa, NULL));
    }
    return SHD_OK;
}

/* Everything before the key: signals, parent death, inherited sockets, no_new_privs. */
static shd_result child_prepare(const int *fds, size_t nfds, pid_t parent)
{
    SHD_GUARD_CTX(signals_ignore(), "key process: signals");
    /* SIGKILL when the network process dies, even in the middle of a key-service call. */
    SHD_GUARD_POSIX(prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L));
    SHD_ENSURE_MSG(getppid() == parent, SHD_ERR_UNAVAILABLE,
                   "key process: the network process is already gone");
    SHD_GUARD(sockets_close_inherited(fds, nfds));
    /* Non-dumpable already (inherited from the network process); checked again here. */
    SHD_GUARD_CTX(shd_process_harden(SHD_HARDEN_NO_NEW_PRIVS), "key process: hardening");
    return SHD_OK;
}

int proxy_keyproc_child_main(struct proxy_keyholder *holder, const int *fds, size_t nfds,
                             pid_t parent)
{
    struct proxy_keyproc_session *s = NULL;
    if (holder == NULL || fds == NULL || nfds == 0 ||
        shd_is_err(proxy_keyproc_session_create(holder, &s))) {
        proxy_keyholder_free(holder);
        return PROXY_KEYPROC_EXIT_INTERNAL;
    }
    struct serve_ctx c = {.s = s, .fds = fds, .nfds = nfds};
    atomic_init(&c.status, PROXY_KEYPROC_EXIT_OK);
    int fd0 = fds[0];
    shd_result r = child_prepare(fds, nfds, parent);
    if (shd_is_ok(r)) {
        r = proxy_keyholder_obtain(holder, wait_parent, &fd0);
    }
    int status = PROXY_KEYPROC_EXIT_OK;
    if (shd_is_err(r)) {
        /* READY carries the cause to the network process, which logs it (once) and exits. */
        proxy_keyproc_session_fail(r.err, s);
        shd_error_clear();
        serve_socket(&c, 0);
        status = atomic_load(&c.status);
    } else {
        SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, PROXY_LOG_KEY, "key process serving",
                   SHD_LOG_INT("pid", (long long)getpid()), SHD_LOG_UINT("sockets", nfds));
        status = serve_all(&c);
    }
    proxy_keyproc_session_free(s);
    proxy_keyholder_free(holder);
    return status;
}
