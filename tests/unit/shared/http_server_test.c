/*
 * http_server_test.c - the HTTP server against raw sockets: routes, fallbacks, caps, Unix socket
 * modes, SO_PEERCRED allow-lists (with a real other uid when running as root), the drain on stop
 * and the SIGTERM path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

/* ---- raw client ---- */

static int tcp_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    shd_memcpy(sa.sun_path, path, strlen(path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Sends req (plus body), reads until EOF into out (NUL-terminated). Returns the status or -1. */
static int raw_exchange(int fd, const char *req, const void *body, size_t body_len, char *out,
                        size_t out_len)
{
    size_t got = 0;

    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
        (void)close(fd);
        return -1;
    }
    for (size_t sent = 0; sent < body_len;) {
        ssize_t n = send(fd, (const char *)body + sent, body_len - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            break; /* the server may close early; read what it answered */
        }
        sent += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, out + got, out_len - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        if (got == out_len - 1) {
            break;
        }
    }
    out[got] = '\0';
    (void)close(fd);
    int status = -1;
    if (got > 12 && strncmp(out, "HTTP/1.1 ", 9) == 0) {
        status = (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
    }
    return status;
}

static const char *body_of(const char *raw)
{
    const char *p = strstr(raw, "\r\n\r\n");
    return p != NULL ? p + 4 : "";
}

/* ---- handlers ---- */

struct fixture {
    atomic_int calls;
    atomic_bool in_handler;
    char dir[64];
    char sock[128];
};

static shd_result h_status(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;

    atomic_fetch_add(&f->calls, 1);
    const char *q = shd_http_req_query(req, "q");
    const char *h = shd_http_req_header(req, "x-test");
    char buf[256];
    (void)snprintf(buf, sizeof(buf), "{\"path\":\"%s\",\"q\":\"%s\",\"h\":\"%s\"}",
                   shd_http_req_path(req), q != NULL ? q : "<none>", h != NULL ? h : "<none>");
    SHD_GUARD(shd_http_resp_header("X-Reply", "yes", resp));
    return shd_http_resp_json(200, buf, resp);
}

static shd_result h_echo(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    uint8_t *copy = shd_alloc(len + 1);

    (void)ctx;
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_memcpy(copy, body, len);
    shd_http_resp_body_take(200, "application/octet-stream", copy, len, len + 1, resp);
    return SHD_OK;
}

static shd_result h_peer(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    uid_t uid = 0;
    gid_t gid = 0;
    char buf[64];

    (void)ctx;
    if (!shd_http_req_peer(req, &uid, &gid)) {
        return shd_http_resp_text(200, "no peer", resp);
    }
    (void)snprintf(buf, sizeof(buf), "uid=%u gid=%u", (unsigned)uid, (unsigned)gid);
    return shd_http_resp_text(200, buf, resp);
}

static shd_result h_fail(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    SHD_GUARD(shd_http_resp_json(200, "{\"secret\":\"must not leak\"}", resp));
    SHD_BAIL_MSG(SHD_ERR_INTERNAL, "handler broke");
}

static shd_result h_slow(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};

    (void)req;
    atomic_store(&f->in_handler, true);
    (void)nanosleep(&ts, NULL);
    return shd_http_resp_json(200, "{\"slow\":true}", resp);
}

static shd_result h_skr_404(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return shd_http_resp_text(404, "404 page not found\n", resp);
}

static const struct shd_http_route routes[] = {
    {"GET", "/status", h_status, SHD_HTTP_ROUTE_EXACT},
    {"POST", "/echo", h_echo, SHD_HTTP_ROUTE_EXACT},
    {"PUT", "/echo", h_echo, SHD_HTTP_ROUTE_EXACT},
    {"GET", "/keys/", h_status, SHD_HTTP_ROUTE_PREFIX},
    {NULL, "/peer", h_peer, SHD_HTTP_ROUTE_EXACT},
    {"GET", "/fail", h_fail, SHD_HTTP_ROUTE_EXACT},
    {"GET", "/slow", h_slow, SHD_HTTP_ROUTE_EXACT},
};

static struct shd_http_server *server_new(struct fixture *f, size_t max_body, size_t max_header,
                                          shd_http_handler_fn not_found, uint16_t *ret_port)
{
    struct shd_http_server_options o = {
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .ctx = f,
        .not_found = not_found,
        .max_body_bytes = max_body,
        .max_header_bytes = max_header,
        .timeout_s = 5,
    };
    struct shd_http_server *s = NULL;

    EXPECT_OK(shd_http_server_create(&o, &s));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, s, ret_port));
    assert_true(*ret_port > 0);
    return s;
}

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));

    assert_non_null(f);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/shd-http-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->sock, sizeof(f->sock), "%s/s.sock", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    (void)unlink(f->sock);
    (void)rmdir(f->dir);
    shd_free(f);
    return 0;
}

/* ---- tests ---- */

static void test_routes_query_headers(void **state)
{
    struct fixture *f = *state;
    char out[8192];
    uint16_t port = 0;
    struct shd_http_server *s = server_new(f, 0, 0, NULL, &port);

    EXPECT_OK(shd_http_server_start(s));
    int st = raw_exchange(tcp_connect(port),
                          "GET /status?q=a%20b HTTP/1.1\r\nHost: x\r\nX-Test: hi\r\n"
                          "Connection: close\r\n\r\n",
                          NULL, 0, out, sizeof(out));
    assert_int_equal(st, 200);
    assert_non_null(strstr(out, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(out, "\r\nX-Reply: yes\r\n"));
    assert_string_equal(body_of(out), "{\"path\":\"/status\",\"q\":\"a b\",\"h\":\"hi\"}");

    st = raw_exchange(tcp_connect(port),
                      "GET /keys/k1?q HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n",
                      NULL, 0, out, sizeof(out));
    assert_int_equal(st, 200);
    assert_string_equal(body_of(out), "{\"path\":\"/keys/k1\",\"q\":\"\",\"h\":\"<none>\"}");

    static const char payload[] = "{\"kid\":\"k\"}";
    st = raw_exchange(tcp_connect(port),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                      "Connection: close\r\n\r\n",
                      payload, 11, out, sizeof(out));
    assert_int_equal(st, 200);
    assert_string_equal(body_of(out), payload);
    /* Exact matching: a longer path is not /status, a prefix route needs its prefix. */
    st = raw_exchange(tcp_connect(port),
                      "GET /status/x HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n",
                      NULL, 0, out, sizeof(out));
    assert_int_equal(st, 404);
    assert_int_equal(atomic_load(&f->calls), 2);
    shd_http_server_free(s);
}

static void test_not_found_and_wrong_method(void **state)
{
    struct fixture *f = *state;
    char out[8192];
    uint16_t port = 0;
    struct shd_http_server *s = server_new(f, 0, 0, NULL, &port);

    EXPECT_OK(shd_http_server_start(s));
    int st = raw_exchange(tcp_connect(port),
                          "GET /nope HTTP/1.1\r\nHost: x\r\n"
                          "Connection: close\r\n\r\n",
                          NULL, 0, out, sizeof(out));
    assert_int_equal(st, 404);
    assert_string_equal(body_of(out), "{\"error\":\"not found\"}");
    st = raw_exchange(tcp_connect(port),
                      "DELETE /echo HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n",
                      NULL, 0, out, sizeof(out));
    assert_int_equal(st, 405);
    assert_non_null(strstr(out, "\r\nAllow: POST, PUT\r\n"));
    assert_string_equal(body_of(out), "{\"error\":\"method not allowed\"}");
    shd_http_server_free(s);

    /* skr's fallback: Go's exact "404 page not found" in text/plain. */
    s = server_new(f, 0, 0, h_skr_404, &port);
    EXPECT_OK(shd_http_server_start(s));
    st = raw_exchange(tcp_connect(port),
                      "GET /nope HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n",
                      NULL, 0, out, sizeof(out));
    assert_int_equal(st, 404);
    assert_non_null(strstr(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert_string_equal(body_of(out), "404 page not found\n");
    shd_http_server_free(s);
}

static void test_handler_error_is_generic_500(void **state)
{
    struct fixture *f = *state;
    char out[8192];
    uint16_t port = 0;
    struct shd_http_server *s = server_new(f, 0, 0, NULL, &port);

    EXPECT_OK(shd_http_server_start(s));
    int st = raw_exchange(tcp_connect(port),
                          "GET /fail HTTP/1.1\r\nHost: x\r\n"
                          "Connection: close\r\n\r\n",
                          NULL, 0, out, sizeof(out));
    assert_int_equal(st, 500);
    assert_string_equal(body_of(out), "{\"error\":\"internal server error\"}");
    assert_null(strstr(out, "must not leak"));
    shd_http_server_free(s);
}

static void test_body_cap_413(void **state)
{
    struct fixture *f = *state;
    char out[8192];
    uint16_t port = 0;
    struct shd_http_server *s = server_new(f, 1024, 0, NULL, &port);
    char head[256];
    uint8_t *big = shd_alloc(100000);

    assert_non_null(big);
    shd_memzero(big, 100000);
    EXPECT_OK(shd_http_server_start(s));
    /* At the cap: accepted. */
    (void)snprintf(head, sizeof(head),
                   "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024"
                   "\r\nConnection: close\r\n\r\n");
    assert_int_equal(raw_exchange(tcp_connect(port), head, big, 1024, out, sizeof(out)), 200);
    /* One over, and far over: a well-formed 413, never a dropped connection. */
    const size_t sizes[] = {1025, 100000};
    for (size_t i = 0; i < 2; i++) {
        (void)snprintf(head, sizeof(head),
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       "%zu\r\nConnection: close\r\n\r\n",
                       sizes[i]);
        assert_int_equal(raw_exchange(tcp_connect(port), head, big, sizes[i], out, sizeof(out)),
                         413);
        assert_string_equal(body_of(out), "{\"error\":\"request body too large\"}");
    }
    /* Chunked upload over the cap. */
    static const char chunked[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                                  "\r\nConnection: close\r\n\r\n";
    char chunks[4096];
    size_t o = 0;
    for (int i = 0; i < 3; i++) {
        o += (size_t)snprintf(chunks + o, sizeof(chunks) - o, "200\r\n");
        shd_memzero(chunks + o, 512);
        for (size_t k = 0; k < 512; k++) {
            chunks[o + k] = 'a';
        }
        o += 512;
        o += (size_t)snprintf(chunks + o, sizeof(chunks) - o, "\r\n");
    }
    o += (size_t)snprintf(chunks + o, sizeof(chunks) - o, "0\r\n\r\n");
    assert_int_equal(raw_exchange(tcp_connect(port), chunked, chunks, o, out, sizeof(out)), 413);
    /* A declared length far beyond what we would drain is answered at once. */
    assert_int_equal(raw_exchange(tcp_connect(port),
                                  "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999"
                                  "\r\nConnection: close\r\n\r\n",
                                  NULL, 0, out, sizeof(out)),
                     413);
    shd_free(big);
    shd_http_server_free(s);
}

static void test_header_cap(void **state)
{
    struct fixture *f = *state;
    char out[8192];
    uint16_t port = 0;
    struct shd_http_server *s = server_new(f, 0, 4096, NULL, &port);
    size_t n = 20000;
    char *req = shd_alloc(n + 256);

    assert_non_null(req);
    EXPECT_OK(shd_http_server_start(s));
    int o = snprintf(req, 256, "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ");
    for (size_t i = 0; i < n; i++) {
        req[(size_t)o + i] = 'b';
    }
    (void)snprintf(req + (size_t)o + n, 64, "\r\nConnection: close\r\n\r\n");
    assert_int_equal(raw_exchange(tcp_connect(port), req, NULL, 0, out, sizeof(out)), 431);
    /* A normal request still works afterwards. */
    assert_int_equal(raw_exchange(tcp_connect(port),
                                  "GET /status HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n",
                                  NULL, 0, out, sizeof(out)),
                     200);
    shd_free(req);
    shd_http_server_free(s);
}

static void test_unix_socket_modes(void **state)
{
    struct fixture *f = *state;
    struct shd_http_server_options o = {.routes = routes, .nroutes = 5, .ctx = f};
    struct shd_http_server *s = NULL;
    struct stat st;
    char out[4096];

    EXPECT_OK(shd_http_server_create(&o, &s));
    /* Others may get nothing. */
    EXPECT_ERR(shd_http_server_listen_unix(f->sock, 0666, NULL, s), SHD_ERR_CONFIG);
    EXPECT_ERR(shd_http_server_listen_unix(f->sock, 01660, NULL, s), SHD_ERR_CONFIG);
    /* A regular file in the way is not removed. */
    FILE *fp = fopen(f->sock, "w");
    assert_non_null(fp);
    (void)fclose(fp);
    EXPECT_ERR(shd_http_server_listen_unix(f->sock, 0660, NULL, s), SHD_ERR_CONFIG);
    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(unlink(f->sock), 0);
    /* A stale socket is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    shd_memcpy(sa.sun_path, f->sock, strlen(f->sock));
    assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
    (void)close(stale);

    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0660, NULL, s));
    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
    EXPECT_OK(shd_http_server_start(s));
    EXPECT_ERR(shd_http_server_listen_tcp("127.0.0.1", 0, s, NULL), SHD_ERR_USAGE);
    int status = raw_exchange(unix_connect(f->sock),
                              "GET /peer HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n",
                              NULL, 0, out, sizeof(out));
    assert_int_equal(status, 200);
    char expect[64];
    (void)snprintf(expect, sizeof(expect), "uid=%u gid=%u", (unsigned)getuid(), (unsigned)getgid());
    assert_string_equal(body_of(out), expect);
    shd_http_server_stop(s);
    assert_int_equal(lstat(f->sock, &st), -1); /* unlinked at stop */
    assert_int_equal(errno, ENOENT);
    shd_http_server_free(s);
}

static void test_listen_validation(void **state)
{
    struct fixture *f = *state;
    struct shd_http_server_options o = {.routes = routes, .nroutes = 1};
    struct shd_http_server *s = NULL;
    const struct shd_http_route bad[] = {{"GET", "status", h_status, 0}};
    const struct shd_http_route bad_method[] = {{"GE T", "/status", h_status, 0}};
    const struct shd_http_route no_handler[] = {{"GET", "/status", NULL, 0}};
    struct shd_http_server_options ob = {.routes = bad, .nroutes = 1};

    (void)f;
    EXPECT_ERR(shd_http_server_create(&ob, &s), SHD_ERR_CONFIG);
    ob.routes = bad_method;
    EXPECT_ERR(shd_http_server_create(&ob, &s), SHD_ERR_CONFIG);
    ob.routes = no_handler;
    EXPECT_ERR(shd_http_server_create(&ob, &s), SHD_ERR_CONFIG);
    assert_null(s);
    EXPECT_OK(shd_http_server_create(&o, &s));
    EXPECT_ERR(shd_http_server_listen_tcp("localhost", 0, s, NULL), SHD_ERR_CONFIG);
    EXPECT_ERR(shd_http_server_start(s), SHD_ERR_CONFIG); /* no listener */
    /* A caller-provided TCP fd cannot carry an allow-list. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    EXPECT_ERR(shd_http_server_listen_fd(fd, NULL, s), SHD_ERR_CONFIG); /* not listening */
    assert_int_equal(listen(fd, 4), 0);
    uid_t me = getuid();
    struct shd_http_peer_allow allow = {.uids = &me, .nuids = 1};
    EXPECT_ERR(shd_http_server_listen_fd(fd, &allow, s), SHD_ERR_CONFIG);
    EXPECT_OK(shd_http_server_listen_fd(fd, NULL, s)); /* the server owns fd now */
    EXPECT_OK(shd_http_server_start(s));
    EXPECT_ERR(shd_http_server_start(s), SHD_ERR_USAGE);
    shd_http_server_free(s);
}

static struct shd_http_server *unix_server(struct fixture *f,
                                           const struct shd_http_peer_allow *allow)
{
    struct shd_http_server_options o = {.routes = routes, .nroutes = 5, .ctx = f};
    struct shd_http_server *s = NULL;

    EXPECT_OK(shd_http_server_create(&o, &s));
    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0660, allow, s));
    EXPECT_OK(shd_http_server_start(s));
    return s;
}

static void test_peercred_allow_list(void **state)
{
    struct fixture *f = *state;
    char out[4096];
    uid_t me = getuid();
    uid_t other = me + 4242;
    gid_t my_gid = getgid();

    /* Our uid listed: allowed. */
    struct shd_http_peer_allow allow = {.uids = &me, .nuids = 1};
    struct shd_http_server *s = unix_server(f, &allow);
    assert_int_equal(raw_exchange(unix_connect(f->sock),
                                  "GET /peer HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n",
                                  NULL, 0, out, sizeof(out)),
                     200);
    shd_http_server_free(s);

    /* Only another uid listed: refused with 403 even with a body, no handler runs. */
    struct shd_http_peer_allow deny = {.uids = &other, .nuids = 1};
    s = unix_server(f, &deny);
    atomic_store(&f->calls, 0);
    assert_int_equal(raw_exchange(unix_connect(f->sock),
                                  "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                  "Connection: close\r\n\r\n",
                                  "hello", 5, out, sizeof(out)),
                     403);
    assert_string_equal(body_of(out), "{\"error\":\"forbidden\"}");
    assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
    shd_http_server_free(s);

    /* Our gid listed: allowed through the group. */
    struct shd_http_peer_allow by_gid = {.uids = &other, .nuids = 1, .gids = &my_gid, .ngids = 1};
    s = unix_server(f, &by_gid);
    assert_int_equal(raw_exchange(unix_connect(f->sock),
                                  "GET /peer HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n",
                                  NULL, 0, out, sizeof(out)),
                     200);
    shd_http_server_free(s);
}

/* In a child that became uid 65534 (keeping gid 0 so the 0660 socket is reachable): 0 when the
 * response status equals want. The child is forked before the server starts, so it holds no
 * server state (and valgrind sees no leak in it); it waits for a byte on go_fd. */
static int child_request(int go_fd, const char *path, int want)
{
    char out[4096];
    char go = 0;

    if (setgroups(0, NULL) != 0 || setgid(0) != 0 || setuid(65534) != 0) {
        return 2;
    }
    if (read(go_fd, &go, 1) != 1) {
        return 6;
    }
    int fd = unix_connect(path);
    if (fd < 0) {
        return 3;
    }
    int st = raw_exchange(fd, "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", NULL, 0,
                          out, sizeof(out));
    if (st != want) {
        return 4;
    }
    if (want == 200 && strcmp(body_of(out), "uid=65534 gid=0") != 0) {
        return 5;
    }
    return 0;
}

static void run_child(struct fixture *f, const struct shd_http_peer_allow *allow, int want)
{
    int go[2];
    int wstatus = 0;

    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(go[1]);
        _exit(child_request(go[0], f->sock, want));
    }
    (void)close(go[0]);
    struct shd_http_server *s = unix_server(f, allow);
    assert_int_equal(write(go[1], "g", 1), 1);
    (void)close(go[1]);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    shd_http_server_free(s);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
}

static void test_peercred_other_uid(void **state)
{
    struct fixture *f = *state;

    if (getuid() != 0) {
        skip();
    }
    assert_int_equal(chmod(f->dir, 0750), 0); /* gid 0 may traverse */
    uid_t root = 0;
    uid_t nobody = 65534;
    struct shd_http_peer_allow only_root = {.uids = &root, .nuids = 1};
    run_child(f, &only_root, 403);
    struct shd_http_peer_allow with_nobody = {.uids = &nobody, .nuids = 1};
    run_child(f, &with_nobody, 200);
}

struct client_arg {
    uint16_t port;
    int status;
};

static void *slow_client(void *p)
{
    struct client_arg *a = p;
    char out[4096];

    a->status = raw_exchange(tcp_connect(a->port),
                             "GET /slow HTTP/1.1\r\nHost: x\r\n"
                             "Connection: close\r\n\r\n",
                             NULL, 0, out, sizeof(out));
    return NULL;
}

static void test_stop_drains_in_flight(void **state)
{
    struct fixture *f = *state;
    uint16_t port = 0;
    struct shd_http_server *s = server_new(f, 0, 0, NULL, &port);
    struct client_arg arg = {.port = port, .status = -1};
    pthread_t t;

    EXPECT_OK(shd_http_server_start(s));
    atomic_store(&f->in_handler, false);
    assert_int_equal(pthread_create(&t, NULL, slow_client, &arg), 0);
    while (!atomic_load(&f->in_handler)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    shd_http_server_stop(s);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(arg.status, 200);
    /* No new connections after the stop. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
    (void)close(fd);
    shd_http_server_free(s);
}

struct signal_arg {
    struct shd_http_server *s;
    int sig;
    shd_result r;
    atomic_bool ready;
};

static void *signal_runner(void *p)
{
    struct signal_arg *a = p;

    EXPECT_OK(shd_http_signals_block());
    atomic_store(&a->ready, true);
    a->r = shd_http_server_run_until_signal(a->s, &a->sig);
    return NULL;
}

static void test_run_until_signal(void **state)
{
    struct fixture *f = *state;
    struct shd_http_server_options o = {.routes = routes, .nroutes = 5, .ctx = f};
    struct signal_arg arg = {.sig = 0};
    struct stat st;
    pthread_t t;

    EXPECT_OK(shd_http_server_create(&o, &arg.s));
    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0600, NULL, arg.s));
    atomic_init(&arg.ready, false);
    assert_int_equal(pthread_create(&t, NULL, signal_runner, &arg), 0);
    while (!atomic_load(&arg.ready)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    /* Directed at the runner, which has SIGTERM blocked and waits for it synchronously. */
    assert_int_equal(pthread_kill(t, SIGTERM), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    EXPECT_OK(arg.r);
    assert_int_equal(arg.sig, SIGTERM);
    assert_int_equal(lstat(f->sock, &st), -1);
    shd_http_server_free(arg.s);
}

static void test_response_builders(void **state)
{
    struct shd_http_resp *resp = NULL;
    char *esc = NULL;
    size_t len = 0;
    (void)state;

    EXPECT_OK(shd_http_resp_new(&resp));
    assert_int_equal(shd_http_resp_get_status(resp), 0);
    shd_http_resp_status(204, resp);
    assert_int_equal(shd_http_resp_get_status(resp), 204);
    assert_null(shd_http_resp_get_body(resp, NULL));
    /* Header injection and server-owned headers are refused. */
    EXPECT_ERR(shd_http_resp_header("X-A", "v\r\nSet-Cookie: x", resp), SHD_ERR_USAGE);
    EXPECT_ERR(shd_http_resp_header("X A", "v", resp), SHD_ERR_USAGE);
    EXPECT_ERR(shd_http_resp_header("content-length", "1", resp), SHD_ERR_USAGE);
    EXPECT_ERR(shd_http_resp_body(200, "text/plain\r\nX: y", "a", 1, resp), SHD_ERR_USAGE);
    for (unsigned i = 0; i < SHD_HTTP_RESP_MAX_HEADERS; i++) {
        EXPECT_OK(shd_http_resp_header("X-N", "1", resp));
    }
    EXPECT_ERR(shd_http_resp_header("X-N", "1", resp), SHD_ERR_USAGE);
    assert_string_equal(shd_http_resp_get_header(resp, "x-n"), "1");
    EXPECT_OK(shd_http_resp_json_error(400, "bad \"kid\"\n\x01", resp));
    assert_int_equal(shd_http_resp_get_status(resp), 400);
    assert_string_equal(shd_http_resp_get_content_type(resp), "application/json");
    const uint8_t *body = shd_http_resp_get_body(resp, &len);
    assert_int_equal(len, strlen("{\"error\":\"bad \\\"kid\\\"\\n\\u0001\"}"));
    assert_memory_equal(body, "{\"error\":\"bad \\\"kid\\\"\\n\\u0001\"}", len);
    shd_http_resp_free(resp);

    EXPECT_OK(shd_http_json_escape("a\"b\\c\n\t\x1f\x7f\xc3\xa9\xe2\x82", &esc));
    assert_string_equal(esc, "a\\\"b\\\\c\\n\\t\\u001f\\u007f\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
    shd_free(esc);
    EXPECT_OK(shd_http_json_escape("\xed\xa0\x80", &esc)); /* a surrogate is not UTF-8 */
    assert_string_equal(esc, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    shd_free(esc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes_query_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_wrong_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_error_is_generic_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_cap_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peercred_allow_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peercred_other_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_until_signal, setup, teardown),
        cmocka_unit_test(test_response_builders),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
