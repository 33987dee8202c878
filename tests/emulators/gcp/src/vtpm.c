/*
 * vtpm.c - the swtpm child process (vtpm.h): free ports, spawn, readiness, stop; and the small
 * file helper the provisioning uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "vtpm.h"
#include "vtpm_int.h"

#include "shd/cleanup.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define SPAWN_ATTEMPTS 5
#define READY_TIMEOUT_MS 10000
#define STOP_GRACE_MS 3000

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Binds a loopback TCP socket to port (0: any); returns the fd or -1. */
static int bind_loopback(uint16_t port, uint16_t *ret_port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    shd_memzero(&sa, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *ret_port = ntohs(sa.sin_port);
    return fd;
}

/*
 * Finds P such that P and P+1 are free on loopback (swtpm's TCTI wants the control port at
 * P+1). The ports are released again before swtpm binds them, so a race is possible; the
 * caller retries when swtpm fails to start.
 */
static shd_result pick_ports(uint16_t *ret_port)
{
    for (int i = 0; i < 64; i++) {
        uint16_t p = 0, p2 = 0;
        int fd = bind_loopback(0, &p);
        int fd2 = -1;

        if (fd < 0) {
            return shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        }
        if (p < UINT16_MAX) {
            fd2 = bind_loopback((uint16_t)(p + 1), &p2);
        }
        close(fd);
        if (fd2 >= 0) {
            close(fd2);
            *ret_port = p;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_IO, "no pair of free loopback ports");
}

static bool port_accepts(uint16_t port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0) {
        return false;
    }
    shd_memzero(&sa, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Absolute path of `name` from PATH (no shell), into out. */
static shd_result find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = secure_getenv("PATH");

    if (path == NULL || path[0] == '\0') {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t dlen = end == NULL ? strlen(path) : (size_t)(end - path);
        int n = snprintf(out, cap, "%.*s/%s", (int)dlen, path, name);

        if (dlen > 0 && n > 0 && (size_t)n < cap && access(out, X_OK) == 0) {
            return SHD_OK;
        }
        path += dlen;
        if (*path == ':') {
            path++;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_NOT_FOUND, "%s not found in PATH", name);
}

static void child_exec(const char *exe, char *const argv[])
{
    sigset_t none;

    /* The parent may block SIGTERM/SIGINT for sigwait (shd_http_signals_block); the mask is
     * inherited across exec and swtpm must see SIGTERM. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execv(exe, argv);
    _exit(127);
}

static void stop_child(pid_t pid)
{
    int64_t deadline;
    int status = 0;

    if (pid <= 0) {
        return;
    }
    kill(pid, SIGTERM);
    deadline = now_ms() + STOP_GRACE_MS;
    while (now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid || (r < 0 && errno != EINTR)) {
            return;
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

/* One attempt: spawn on port/port+1 and wait until both listen. SHD_ERR_UNAVAILABLE when the
 * child died early (probably lost the ports), so the caller retries. */
static shd_result spawn_once(const char *exe, const char *dir, uint16_t port, pid_t *ret_pid)
{
    char state[PATH_MAX + 16], log[PATH_MAX + 32], server[64], ctrl[64];
    /* execv wants char *const[]; local arrays avoid casting away the const of literals. */
    char a_swtpm[] = "swtpm", a_socket[] = "socket", a_tpm2[] = "--tpm2";
    char a_state[] = "--tpmstate", a_server[] = "--server", a_ctrl[] = "--ctrl";
    char a_flags[] = "--flags", a_flagv[] = "not-need-init,startup-clear", a_log[] = "--log";
    char *argv[] = {a_swtpm, a_socket, a_tpm2,  a_state, state, a_server, server,
                    a_ctrl,  ctrl,     a_flags, a_flagv, a_log, log,      NULL};
    int64_t deadline;
    pid_t pid;

    SHD_ENSURE(snprintf(state, sizeof(state), "dir=%s", dir) < (int)sizeof(state),
               SHD_ERR_TOO_LARGE);
    SHD_ENSURE(snprintf(log, sizeof(log), "file=%s/swtpm.log,level=1", dir) < (int)sizeof(log),
               SHD_ERR_TOO_LARGE);
    SHD_ENSURE(snprintf(server, sizeof(server), "type=tcp,port=%u,bindaddr=127.0.0.1",
                        (unsigned)port) < (int)sizeof(server),
               SHD_ERR_INTERNAL);
    SHD_ENSURE(snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%u,bindaddr=127.0.0.1",
                        (unsigned)port + 1u) < (int)sizeof(ctrl),
               SHD_ERR_INTERNAL);
    pid = fork();
    SHD_GUARD_POSIX(pid);
    if (pid == 0) {
        child_exec(exe, argv);
    }
    deadline = now_ms() + READY_TIMEOUT_MS;
    for (;;) {
        int status = 0;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            SHD_BAIL_MSG(SHD_ERR_UNAVAILABLE, "swtpm exited during start-up (status 0x%x)",
                         (unsigned)status);
        }
        if (port_accepts((uint16_t)(port + 1)) && port_accepts(port)) {
            break;
        }
        if (now_ms() >= deadline) {
            stop_child(pid);
            SHD_BAIL_MSG(SHD_ERR_TIMEOUT, "swtpm did not listen on port %u within %d ms",
                         (unsigned)port, READY_TIMEOUT_MS);
        }
        sleep_ms(20);
    }
    *ret_pid = pid;
    return SHD_OK;
}

shd_result gemu_vtpm_start(const char *tpmstate_dir, struct gemu_vtpm **ret)
{
    char exe[PATH_MAX];
    struct gemu_vtpm *v = NULL;
    shd_result r = SHD_OK;
    struct stat st;

    SHD_ENSURE_REF(tpmstate_dir);
    SHD_ENSURE_REF(ret);
    SHD_ENSURE_MSG(stat(tpmstate_dir, &st) == 0 && S_ISDIR(st.st_mode), SHD_ERR_CONFIG,
                   "vTPM state directory %s does not exist", tpmstate_dir);
    SHD_GUARD(find_in_path("swtpm", exe, sizeof(exe)));
    v = shd_alloc(sizeof(*v));
    SHD_ENSURE(v != NULL, SHD_ERR_NOMEM);
    for (int attempt = 0; attempt < SPAWN_ATTEMPTS; attempt++) {
        uint16_t port = 0;

        r = pick_ports(&port);
        if (shd_is_ok(r)) {
            r = spawn_once(exe, tpmstate_dir, port, &v->pid);
        }
        if (shd_is_ok(r)) {
            v->port = port;
            break;
        }
        if (r.err != SHD_ERR_UNAVAILABLE) {
            break;
        }
    }
    if (shd_is_err(r)) {
        shd_free(v);
        return r;
    }
    snprintf(v->tcti, sizeof(v->tcti), "swtpm:host=127.0.0.1,port=%u", (unsigned)v->port);
    *ret = v;
    return SHD_OK;
}

void gemu_vtpm_free(struct gemu_vtpm *vtpm)
{
    if (vtpm == NULL) {
        return;
    }
    stop_child(vtpm->pid);
    shd_free(vtpm);
}

const char *gemu_vtpm_tcti(const struct gemu_vtpm *vtpm)
{
    return vtpm->tcti;
}

uint16_t gemu_vtpm_port(const struct gemu_vtpm *vtpm)
{
    return vtpm->port;
}

uint16_t gemu_vtpm_ctrl_port(const struct gemu_vtpm *vtpm)
{
    return (uint16_t)(vtpm->port + 1u);
}

int gemu_vtpm_pid(const struct gemu_vtpm *vtpm)
{
    return (int)vtpm->pid;
}

shd_result gemu_write_file_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd;
    size_t off = 0;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    SHD_ENSURE(n > 0 && (size_t)n < sizeof(tmp), SHD_ERR_TOO_LARGE);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    SHD_GUARD_POSIX(fd);
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int e = errno;

            close(fd);
            unlink(tmp);
            return shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
        }
        off += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        int e = errno;

        close(fd);
        unlink(tmp);
        return shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;

        unlink(tmp);
        return shd_error_set_errno(SHD_ERR_IO, e, __FILE__, __LINE__);
    }
    return SHD_OK;
}
