/*
 * keyproc.c - the network process's side of the key process (keyproc.h): fork, a pool of
 * socket pairs with one request in flight on each, strict reply parsing, and the "gone" state.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "keyholder.h"
#include "keyproc.h"
#include "keyproc_msg.h"
#include "keyproc_serve.h"
#include "keystore.h"
#include "proxy_log.h"

/* How often wait_ready asks its wait hook whether to give up. */
#define READY_POLL_MS 100

struct proxy_keyproc {
    pid_t pid;
    size_t nfds;
    int *fds; /* our ends of the pairs; -1 once closed */
    /* The pool: indexes of idle sockets. lock guards idle/nidle; cond signals a returned one. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t *idle;
    size_t nidle;
    atomic_bool ready;
    atomic_bool gone;
    /* Written by wait_ready before `ready` is released; read-only afterwards. */
    char *public_pem;
    size_t public_pem_len;
    size_t modulus_len;
    bool closed;
    int close_err;
};

static size_t sockets_default(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 0 ? (size_t)cpus * PROXY_KEYPROC_SOCKETS_PER_CPU : PROXY_KEYPROC_SOCKETS_MIN;
    if (n < PROXY_KEYPROC_SOCKETS_MIN) {
        return PROXY_KEYPROC_SOCKETS_MIN;
    }
    return n > PROXY_KEYPROC_SOCKETS_MAX ? PROXY_KEYPROC_SOCKETS_MAX : n;
}

/* Frees the memory only: no socket is closed, no process reaped. */
static void kp_memory_free(struct proxy_keyproc *kp)
{
    (void)pthread_cond_destroy(&kp->cond);
    (void)pthread_mutex_destroy(&kp->lock);
    shd_free(kp->public_pem);
    shd_free(kp->idle);
    shd_free(kp->fds);
    shd_free(kp);
}

static void fds_close(int *fds, size_t n)
{
    for (size_t i = 0; fds != NULL && i < n; i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
            fds[i] = -1;
        }
    }
}

/* Our ends in kp->fds, the key process's in child; all SOCK_CLOEXEC. */
static shd_result pairs_create(struct proxy_keyproc *kp, int *child)
{
    for (size_t i = 0; i < kp->nfds; i++) {
        int pair[2];
        SHD_GUARD_POSIX(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair));
        kp->fds[i] = pair[0];
        child[i] = pair[1];
        kp->idle[i] = i;
    }
    kp->nidle = kp->nfds;
    return SHD_OK;
}

static shd_result kp_alloc(size_t n, struct proxy_keyproc **ret)
{
    struct proxy_keyproc *kp = shd_alloc(sizeof(*kp));
    SHD_ENSURE(kp != NULL, SHD_ERR_NOMEM);
    kp->nfds = n;
    if (pthread_mutex_init(&kp->lock, NULL) != 0) {
        shd_free(kp);
        SHD_BAIL_MSG(SHD_ERR_INTERNAL, "key process pool lock");
    }
    if (pthread_cond_init(&kp->cond, NULL) != 0) {
        (void)pthread_mutex_destroy(&kp->lock);
        shd_free(kp);
        SHD_BAIL_MSG(SHD_ERR_INTERNAL, "key process pool lock");
    }
    kp->fds = shd_alloc_array(n, sizeof(*kp->fds));
    kp->idle = shd_alloc_array(n, sizeof(*kp->idle));
    if (kp->fds == NULL || kp->idle == NULL) {
        kp_memory_free(kp);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        kp->fds[i] = -1;
    }
    atomic_init(&kp->ready, false);
    atomic_init(&kp->gone, false);
    *ret = kp;
    return SHD_OK;
}

/*
 * The key process's side of the fork. Its main returns its exit status. _exit, not exit: the
 * atexit handlers are the network process's (OpenSSL's, a sanitizer's, a test harness's) and
 * not the key process's to run; valgrind still checks it when it ends.
 */
__attribute__((noreturn)) static void child_run(struct proxy_keyproc *kp, int *child,
                                                struct proxy_keyholder *holder, pid_t parent)
{
    size_t n = kp->nfds;
    fds_close(kp->fds, n);
    int status = proxy_keyproc_child_main(holder, child, n, parent);
    fds_close(child, n);
    shd_free(child);
    kp_memory_free(kp);
    _exit(status);
}

static shd_result fork_child(struct proxy_keyproc *kp, int *child, struct proxy_keyholder *holder)
{
    pid_t parent = getpid();
    /* Nothing buffered now may be written twice (the key process logs with write(2)). */
    (void)fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        child_run(kp, child, holder, parent);
    }
    if (pid < 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("fork of the key process");
        return r;
    }
    kp->pid = pid;
    return SHD_OK;
}

shd_result proxy_keyproc_spawn(struct proxy_keyholder *holder, size_t nsockets,
                               struct proxy_keyproc **ret_kp)
{
    if (holder == NULL || ret_kp == NULL) {
        proxy_keyholder_free(holder);
        SHD_BAIL(SHD_ERR_NULL);
    }
    size_t n = nsockets != 0 ? nsockets : sockets_default();
    struct proxy_keyproc *kp = NULL;
    int *child = shd_alloc_array(n, sizeof(*child));
    shd_result r =
        child != NULL ? kp_alloc(n, &kp) : shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    for (size_t i = 0; child != NULL && i < n; i++) {
        child[i] = -1;
    }
    if (shd_is_ok(r)) {
        r = pairs_create(kp, child);
    }
    if (shd_is_ok(r)) {
        r = fork_child(kp, child, holder);
    }
    fds_close(child, n);
    shd_free(child);
    /* This process's copy of the source settings (an access token, say) is wiped here. */
    proxy_keyholder_free(holder);
    if (shd_is_err(r)) {
        if (kp != NULL) {
            fds_close(kp->fds, n);
            kp_memory_free(kp);
        }
        return r;
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, PROXY_LOG_KEY, "key process started",
               SHD_LOG_INT("pid", (long long)kp->pid), SHD_LOG_UINT("sockets", n));
    *ret_kp = kp;
    return SHD_OK;
}

/*
 * The key process is gone (dead, silent or misbehaving): once, log it, kill it if it still
 * runs (it must not linger half-broken) and wake every thread queued for a socket.
 */
static shd_result kp_gone(struct proxy_keyproc *kp, shd_result why, const char *doing)
{
    if (!atomic_exchange(&kp->gone, true)) {
        atomic_store(&kp->ready, false);
        (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, PROXY_LOG_KEY, why,
                             "the key process (pid %lld) is gone (%s): requests that need the key "
                             "now get 503 and the proxy stops",
                             (long long)kp->pid, doing);
        (void)kill(kp->pid, SIGKILL);
        (void)pthread_mutex_lock(&kp->lock);
        (void)pthread_cond_broadcast(&kp->cond);
        (void)pthread_mutex_unlock(&kp->lock);
    }
    SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "the key process is gone");
}

static shd_result pool_take(struct proxy_keyproc *kp, size_t *ret_i)
{
    (void)pthread_mutex_lock(&kp->lock);
    while (kp->nidle == 0 && !atomic_load(&kp->gone)) {
        (void)pthread_cond_wait(&kp->cond, &kp->lock);
    }
    bool gone = atomic_load(&kp->gone);
    if (!gone) {
        *ret_i = kp->idle[--kp->nidle];
    }
    (void)pthread_mutex_unlock(&kp->lock);
    SHD_ENSURE_MSG(!gone, SHD_ERR_UNAVAILABLE, "the key process is gone");
    return SHD_OK;
}

static void pool_give(struct proxy_keyproc *kp, size_t i)
{
    (void)pthread_mutex_lock(&kp->lock);
    kp->idle[kp->nidle++] = i;
    (void)pthread_cond_signal(&kp->cond);
    (void)pthread_mutex_unlock(&kp->lock);
}

/* Sends the encoded request on fd and decodes the reply into reply[0..cap) / *ret. */
static shd_result exchange(int fd, const struct proxy_keyproc_msg *req, int timeout_ms,
                           uint8_t *reply, size_t cap, struct proxy_keyproc_msg *ret)
{
    uint8_t out[PROXY_KEYPROC_MSG_MAX];
    size_t len = 0;
    size_t n = 0;
    SHD_GUARD(proxy_keyproc_request_encode(req, out, sizeof(out), &len));
    SHD_GUARD(proxy_keyproc_send(fd, out, len));
    SHD_GUARD(proxy_keyproc_recv(fd, timeout_ms, reply, cap, &n));
    return proxy_keyproc_reply_decode(req, reply, n, ret);
}

/* One exchange on an idle socket of the pool. A failure of any kind means the key process is
 * gone: the socket may now hold a late reply, so it is never used again. */
static shd_result call(struct proxy_keyproc *kp, const struct proxy_keyproc_msg *req,
                       uint8_t *reply, size_t cap, struct proxy_keyproc_msg *ret)
{
    size_t i = 0;
    SHD_GUARD(pool_take(kp, &i));
    shd_result r = exchange(kp->fds[i], req, PROXY_KEYPROC_REPLY_TIMEOUT_MS, reply, cap, ret);
    if (shd_is_err(r)) {
        return kp_gone(kp, r, "no valid reply");
    }
    pool_give(kp, i);
    return SHD_OK;
}

/* The key process's ERROR reply as our error: its code (a known one) and its cause chain. */
static shd_result error_from_reply(const struct proxy_keyproc_msg *rep)
{
    shd_result r = shd_error_setf((int)rep->code, __FILE__, __LINE__, "%.*s", (int)rep->len,
                                  (const char *)rep->data);
    shd_error_wrap("key process");
    return r;
}

/* Checks the PEM the key process sent: an RSA public key in range, encoded as we would. */
static shd_result public_key_adopt(const struct proxy_keyproc_msg *rep, struct proxy_keyproc *kp)
{
    EVP_PKEY *key = NULL;
    SHD_GUARD_CTX(shd_crypto_pubkey_load(rep->data, rep->len, &key), "key process public key");
    int bits = EVP_PKEY_get_bits(key);
    shd_result r = SHD_OK;
    if (shd_crypto_key_kind(key) != SHD_CRYPTO_KEY_RSA || shd_crypto_key_is_private(key) ||
        bits < (int)PROXY_KEYSTORE_MIN_BITS || bits > (int)PROXY_KEYSTORE_MAX_BITS) {
        r = shd_error_setf(SHD_ERR_BAD_KEY, __FILE__, __LINE__,
                           "key process public key: not an RSA public key of %u..%u bits",
                           PROXY_KEYSTORE_MIN_BITS, PROXY_KEYSTORE_MAX_BITS);
    }
    char *pem = NULL;
    size_t len = 0;
    if (shd_is_ok(r)) {
        r = shd_crypto_pubkey_export_spki_pem(key, &pem, &len);
    }
    EVP_PKEY_free(key);
    SHD_GUARD(r);
    if (len != rep->len || shd_memcmp(pem, rep->data, len) != 0) {
        shd_free(pem);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "key process public key: not in canonical SPKI PEM");
    }
    kp->public_pem = pem;
    kp->public_pem_len = len;
    kp->modulus_len = ((size_t)bits + 7u) / 8u;
    return SHD_OK;
}

/* READY on socket 0 (the one the key process answers while it has no key), waiting in slices. */
static shd_result ready_wait(struct proxy_keyproc *kp, bool (*wait)(void *, uint32_t),
                             void *wait_ctx, uint8_t *reply, size_t cap,
                             struct proxy_keyproc_msg *ret)
{
    const struct proxy_keyproc_msg req = {.type = PROXY_KEYPROC_READY};
    uint8_t out[PROXY_KEYPROC_HEAD_LEN];
    size_t len = 0;
    size_t n = 0;
    SHD_GUARD(proxy_keyproc_request_encode(&req, out, sizeof(out), &len));
    shd_result r = proxy_keyproc_send(kp->fds[0], out, len);
    for (;;) {
        if (shd_is_err(r)) {
            return kp_gone(kp, r, "waiting for the key");
        }
        r = proxy_keyproc_recv(kp->fds[0], READY_POLL_MS, reply, cap, &n);
        if (r.err != SHD_ERR_TIMEOUT) {
            break;
        }
        shd_error_clear();
        r = SHD_OK;
        if (wait != NULL && wait(wait_ctx, 0)) {
            SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "start-up abandoned while the key process waits "
                                              "for the key");
        }
    }
    if (shd_is_ok(r)) {
        r = proxy_keyproc_reply_decode(&req, reply, n, ret);
    }
    if (shd_is_err(r)) {
        return kp_gone(kp, r, "waiting for the key");
    }
    return SHD_OK;
}

shd_result proxy_keyproc_wait_ready(struct proxy_keyproc *kp, bool (*wait)(void *, uint32_t),
                                    void *wait_ctx)
{
    uint8_t reply[PROXY_KEYPROC_MSG_MAX];
    struct proxy_keyproc_msg rep;

    SHD_ENSURE_REF(kp);
    if (atomic_load(&kp->ready) || kp->closed) {
        shd_misuse("proxy_keyproc_wait_ready called twice or after close");
    }
    SHD_ENSURE_MSG(!atomic_load(&kp->gone), SHD_ERR_UNAVAILABLE, "the key process is gone");
    SHD_GUARD(ready_wait(kp, wait, wait_ctx, reply, sizeof(reply), &rep));
    if (rep.type == PROXY_KEYPROC_ERROR) {
        return error_from_reply(&rep);
    }
    const struct proxy_keyproc_msg req = {.type = PROXY_KEYPROC_PUBLIC_KEY};
    SHD_GUARD(call(kp, &req, reply, sizeof(reply), &rep));
    if (rep.type == PROXY_KEYPROC_ERROR) {
        return kp_gone(kp, error_from_reply(&rep), "no public key");
    }
    shd_result r = public_key_adopt(&rep, kp);
    if (shd_is_err(r)) {
        return kp_gone(kp, r, "a bad public key");
    }
    atomic_store(&kp->ready, true);
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, PROXY_LOG_KEY, "key process ready",
               SHD_LOG_INT("pid", (long long)kp->pid), SHD_LOG_UINT("sockets", kp->nfds),
               SHD_LOG_UINT("bits", kp->modulus_len * 8u));
    return SHD_OK;
}

bool proxy_keyproc_ready(const struct proxy_keyproc *kp)
{
    return kp != NULL && atomic_load(&kp->ready);
}

shd_result proxy_keyproc_unwrap(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                size_t *ret_len)
{
    struct proxy_keyproc *kp = ctx;
    uint8_t reply[PROXY_KEYPROC_MSG_MAX];
    struct proxy_keyproc_msg rep;
    SHD_CLEANUP_ERASE(reply);

    SHD_ENSURE(kp != NULL && out != NULL && ret_len != NULL, SHD_ERR_NULL);
    shd_memzero(out, cap);
    SHD_ENSURE_MSG(proxy_keyproc_ready(kp), SHD_ERR_UNAVAILABLE, "the key is not ready");
    size_t want = cap < PROXY_KEYPROC_PLAIN_MAX ? cap : PROXY_KEYPROC_PLAIN_MAX;
    /* RSA-OAEP ciphertexts are the modulus size; larger never reaches the key process. */
    SHD_ENSURE_MSG(in != NULL && n > 0 && n <= kp->modulus_len && want > 0, SHD_ERR_DECRYPT,
                   "unwrap failed");
    const struct proxy_keyproc_msg req = {
        .type = PROXY_KEYPROC_UNWRAP, .cap = (uint16_t)want, .data = in, .len = n};
    SHD_GUARD(call(kp, &req, reply, sizeof(reply), &rep));
    SHD_ENSURE_MSG(rep.type != PROXY_KEYPROC_ERROR, SHD_ERR_DECRYPT, "unwrap failed");
    /* rep.len <= want <= cap: the decoder checked it against the request. */
    shd_memcpy(out, rep.data, rep.len);
    *ret_len = rep.len;
    return SHD_OK;
}

shd_result proxy_keyproc_public_pem(const struct proxy_keyproc *kp, const char **ret_pem,
                                    size_t *ret_len)
{
    SHD_ENSURE(kp != NULL && ret_pem != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(proxy_keyproc_ready(kp), SHD_ERR_UNAVAILABLE, "the key is not ready");
    *ret_pem = kp->public_pem;
    if (ret_len != NULL) {
        *ret_len = kp->public_pem_len;
    }
    return SHD_OK;
}

pid_t proxy_keyproc_pid(const struct proxy_keyproc *kp)
{
    return kp != NULL ? kp->pid : 0;
}

/* waitpid with a deadline, then SIGKILL. */
static shd_result reap(pid_t pid, int *ret_status)
{
    const struct timespec step = {.tv_nsec = 10 * 1000 * 1000};
    for (int waited = 0;; waited += 10) {
        int st = 0;
        pid_t w = waitpid(pid, &st, waited < PROXY_KEYPROC_EXIT_WAIT_MS ? WNOHANG : 0);
        if (w == pid) {
            *ret_status = st;
            return SHD_OK;
        }
        if (w < 0 && errno != EINTR) {
            return shd_error_set_errno(SHD_ERR_INTERNAL, errno, __FILE__, __LINE__);
        }
        if (w == 0 && waited + 10 >= PROXY_KEYPROC_EXIT_WAIT_MS) {
            SHD_LOG_ERROR(PROXY_LOG_KEY,
                          "the key process (pid %lld) did not exit within %d ms: "
                          "SIGKILL",
                          (long long)pid, PROXY_KEYPROC_EXIT_WAIT_MS);
            (void)kill(pid, SIGKILL);
        }
        if (w == 0) {
            (void)nanosleep(&step, NULL);
        }
    }
}

shd_result proxy_keyproc_close(struct proxy_keyproc *kp)
{
    SHD_ENSURE_REF(kp);
    if (kp->closed) {
        return kp->close_err == 0 ? SHD_OK : shd_error_set(kp->close_err, __FILE__, __LINE__);
    }
    kp->closed = true;
    atomic_store(&kp->ready, false);
    (void)pthread_mutex_lock(&kp->lock);
    atomic_store(&kp->gone, true);
    (void)pthread_cond_broadcast(&kp->cond);
    (void)pthread_mutex_unlock(&kp->lock);
    /* EOF on every socket: each serving thread of the key process returns, then it exits. */
    fds_close(kp->fds, kp->nfds);
    int st = 0;
    shd_result r = reap(kp->pid, &st);
    if (shd_is_ok(r) && (!WIFEXITED(st) || WEXITSTATUS(st) != PROXY_KEYPROC_EXIT_OK)) {
        r = WIFEXITED(st) ? shd_error_setf(SHD_ERR_INTERNAL, __FILE__, __LINE__,
                                           "the key process exited with status %d", WEXITSTATUS(st))
                          : shd_error_setf(SHD_ERR_INTERNAL, __FILE__, __LINE__,
                                           "the key process was killed by signal %d",
                                           WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
    if (shd_is_err(r)) {
        (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_ERROR, PROXY_LOG_KEY, r, "key process (pid %lld)",
                             (long long)kp->pid);
        kp->close_err = r.err;
        return r;
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, PROXY_LOG_KEY, "key process exited",
               SHD_LOG_INT("pid", (long long)kp->pid));
    return SHD_OK;
}

void proxy_keyproc_free(struct proxy_keyproc *kp)
{
    if (kp == NULL) {
        return;
    }
    if (!kp->closed) {
        /* A key process that did not exit cleanly was logged by close. */
        shd_result r = proxy_keyproc_close(kp);
        (void)r;
    }
    kp_memory_free(kp);
}
