/*
 * http_listen.c - listening sockets for the HTTP server: loopback TCP and Unix-domain sockets
 * (created by us because libmicrohttpd has no socket-path option, real-clients.md 3.5), and the
 * SO_PEERCRED check of a connected Unix peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "http_server_int.h"

#define LISTEN_BACKLOG 128

static shd_result errno_fail(int code, const char *what, const char *subject)
{
    int e = errno;
    shd_result r = shd_error_set_errno(code, e, __FILE__, __LINE__);

    shd_error_wrap("%s %s", what, subject);
    return r;
}

shd_result shd_http_listen_tcp_open(const char *host, uint16_t port, int *ret_fd,
                                    uint16_t *ret_port)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int one = 1;

    SHD_ENSURE_REF(host);
    shd_memzero(&ss, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        sslen = sizeof(*in4);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        sslen = sizeof(*in6);
    } else {
        SHD_BAIL_MSG(SHD_ERR_CONFIG, "listen address %s is not an IP literal", host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno_fail(SHD_ERR_IO, "socket for", host);
    }
    /* SO_REUSEADDR only skips TIME_WAIT leftovers of a previous run; it does not allow two
     * live listeners on one port on Linux. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        shd_result r = errno_fail(SHD_ERR_IO, "binding", host);

        (void)close(fd);
        return r;
    }
    sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        shd_result r = errno_fail(SHD_ERR_IO, "getsockname", host);

        (void)close(fd);
        return r;
    }
    *ret_port = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
    *ret_fd = fd;
    return SHD_OK;
}

/* Removes a stale socket at path; refuses to touch anything else. */
static shd_result unlink_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return SHD_OK;
        }
        return errno_fail(SHD_ERR_IO, "stat", path);
    }
    SHD_ENSURE_MSG(S_ISSOCK(st.st_mode), SHD_ERR_CONFIG,
                   "%s exists and is not a socket; not removing it", path);
    if (unlink(path) != 0 && errno != ENOENT) {
        return errno_fail(SHD_ERR_IO, "removing stale socket", path);
    }
    return SHD_OK;
}

shd_result shd_http_listen_unix_open(const char *path, mode_t mode, int *ret_fd, dev_t *ret_dev,
                                     ino_t *ret_ino)
{
    struct sockaddr_un sa;
    struct stat st;

    SHD_ENSURE_REF(path);
    shd_memzero(&sa, sizeof(sa));
    size_t len = strlen(path);
    SHD_ENSURE_MSG(len > 0 && len < sizeof(sa.sun_path), SHD_ERR_CONFIG,
                   "unix socket path length %zu not in 1..%zu", len, sizeof(sa.sun_path) - 1);
    SHD_ENSURE_MSG((mode & ~(mode_t)0777) == 0 && (mode & 0007) == 0, SHD_ERR_CONFIG,
                   "unix socket mode %04o gives access to others", (unsigned)mode);
    sa.sun_family = AF_UNIX;
    shd_memcpy(sa.sun_path, path, len);
    SHD_GUARD(unlink_stale(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno_fail(SHD_ERR_IO, "socket for", path);
    }
    /* The socket file appears at bind with the umask applied; 0177 keeps it owner-only until the
     * chmod below, so no peer can connect in between with looser rights than asked for. */
    mode_t old_umask = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, (socklen_t)sizeof(sa));
    int bind_errno = errno;
    (void)umask(old_umask);
    if (rc != 0) {
        errno = bind_errno;
        shd_result r = errno_fail(SHD_ERR_IO, "binding", path);

        (void)close(fd);
        return r;
    }
    if (chmod(path, mode) != 0 || listen(fd, LISTEN_BACKLOG) != 0 || lstat(path, &st) != 0) {
        shd_result r = errno_fail(SHD_ERR_IO, "setting up", path);

        (void)unlink(path);
        (void)close(fd);
        return r;
    }
    *ret_dev = st.st_dev;
    *ret_ino = st.st_ino;
    *ret_fd = fd;
    return SHD_OK;
}

void shd_http_listen_unix_remove(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;

    /* Only our own socket: a newer instance may already have replaced it. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino) {
        (void)unlink(path);
    }
}

shd_result shd_http_listen_fd_family(int fd, int *ret_family)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0;
    socklen_t tlen = sizeof(type);
    int acc = 0;
    socklen_t alen = sizeof(acc);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0) {
        return errno_fail(SHD_ERR_CONFIG, "inspecting", "listen fd");
    }
    SHD_ENSURE_MSG(type == SOCK_STREAM && acc == 1, SHD_ERR_CONFIG,
                   "listen fd is not a listening stream socket");
    *ret_family = ss.ss_family;
    return SHD_OK;
}

bool shd_http_peer_read(int fd, uid_t *ret_uid, gid_t *ret_gid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
        return false;
    }
    *ret_uid = cred.uid;
    *ret_gid = cred.gid;
    return true;
}

bool shd_http_peer_allowed(const struct shd_http_allow_list *allow, uid_t uid, gid_t gid)
{
    if (allow->nuids == 0 && allow->ngids == 0) {
        return true;
    }
    for (size_t i = 0; i < allow->nuids; i++) {
        if (allow->uids[i] == uid) {
            return true;
        }
    }
    for (size_t i = 0; i < allow->ngids; i++) {
        if (allow->gids[i] == gid) {
            return true;
        }
    }
    return false;
}
