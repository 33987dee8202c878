/*
 * http_server_abort_test.c - shd_http_resp_abort (http_server.c, http_server_msg.c): a handler
 * that aborts gets its connection closed with no byte sent, on TCP and on a Unix socket, also
 * after reading a request body, also when it set a body first or returned an error; a kept-alive
 * connection gets its earlier answer and then EOF; shd_http_client sees an empty reply
 * (SHD_ERR_IO, CURLE_GOT_NOTHING) and retries it under an on_transport policy; the server keeps
 * serving afterwards and its stop does not wait for aborted requests. Plus the getter on a
 * standalone response.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"

struct fixture {
    atomic_uint drops; /* requests aborted so far */
    atomic_uint flaky; /* /flaky: how many of the next requests to drop */
    atomic_uint oks;   /* requests answered by /ok */
    char dir[64];
    char sock[128];
    struct shd_http_server *srv;
    uint16_t port;
};

/* ---- handlers ---- */

static shd_result h_ok(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;

    (void)req;
    atomic_fetch_add(&f->oks, 1u);
    return shd_http_resp_json(200, "{\"ok\":true}", resp);
}

/* Builds a full answer first (with a "secret" body and a header), then drops the connection. */
static shd_result h_drop(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;

    (void)req;
    SHD_GUARD(shd_http_resp_header("X-Must-Not-Appear", "1", resp));
    SHD_GUARD(shd_http_resp_json(200, "{\"secret\":\"must not leak\"}", resp));
    atomic_fetch_add(&f->drops, 1u);
    shd_http_resp_abort(resp);
    return SHD_OK;
}

/* Aborts, then sets a status and body anyway and fails: the abort still wins. */
static shd_result h_drop_err(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;

    (void)req;
    atomic_fetch_add(&f->drops, 1u);
    shd_http_resp_abort(resp);
    SHD_GUARD(shd_http_resp_text(503, "late", resp));
    SHD_BAIL_MSG(SHD_ERR_INTERNAL, "handler broke after the abort");
}

/* Reads the request body, then drops: the body was consumed, still no answer. */
static shd_result h_drop_post(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;
    size_t len = 0;

    (void)shd_http_req_body(req, &len);
    SHD_ENSURE(len == 4096, SHD_ERR_INTERNAL);
    atomic_fetch_add(&f->drops, 1u);
    shd_http_resp_abort(resp);
    return SHD_OK;
}

/* Drops while f->flaky > 0, then answers. */
static shd_result h_flaky(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;
    unsigned left = atomic_load(&f->flaky);

    while (left > 0 && !atomic_compare_exchange_weak(&f->flaky, &left, left - 1)) {
    }
    if (left > 0) {
        atomic_fetch_add(&f->drops, 1u);
        shd_http_resp_abort(resp);
        return SHD_OK;
    }
    return h_ok(ctx, req, resp);
}

static const struct shd_http_route routes[] = {
    {"GET", "/ok", h_ok, SHD_HTTP_ROUTE_EXACT},
    {"GET", "/drop", h_drop, SHD_HTTP_ROUTE_EXACT},
    {"GET", "/drop-err", h_drop_err, SHD_HTTP_ROUTE_EXACT},
    {"POST", "/drop", h_drop_post, SHD_HTTP_ROUTE_EXACT},
    {"GET", "/flaky", h_flaky, SHD_HTTP_ROUTE_EXACT},
};

/* ---- raw clients ---- */

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

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    shd_memcpy(sa.sun_path, path, strlen(path));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/*
 * Sends head and body on fd, then reads until the server closes. Returns how many bytes came
 * back (out gets them, NUL-terminated) and closes fd. A read error (a reset) ends the read like
 * EOF does: either way the connection is gone.
 */
static size_t raw_exchange(int fd, const char *head, const void *body, size_t body_len, char *out,
                           size_t out_len)
{
    size_t got = 0;

    assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    for (size_t sent = 0; sent < body_len;) {
        ssize_t n = send(fd, (const char *)body + sent, body_len - sent, MSG_NOSIGNAL);
        assert_true(n > 0);
        sent += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, out + got, out_len - 1 - got, 0);
        if (n <= 0 || (got += (size_t)n) == out_len - 1) {
            break;
        }
    }
    out[got] = '\0';
    (void)close(fd);
    return got;
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    struct shd_http_server_options o = {
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .ctx = f,
        .timeout_s = 30,
        /* Long: a stop that waited for a request aborted without on_completed would show. */
        .drain_ms = 20000,
    };

    assert_non_null(f);
    atomic_init(&f->drops, 0u);
    atomic_init(&f->flaky, 0u);
    atomic_init(&f->oks, 0u);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/shd-abort-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->sock, sizeof(f->sock), "%s/s.sock", f->dir);
    EXPECT_OK(shd_http_server_create(&o, &f->srv));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->srv, &f->port));
    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0600, NULL, f->srv));
    EXPECT_OK(shd_http_server_start(f->srv));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    shd_http_server_free(f->srv);
    (void)unlink(f->sock);
    (void)rmdir(f->dir);
    shd_free(f);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"
/* For answered requests read to EOF (else the read waits for the idle timeout). */
#define GET_CLOSE(path) "GET " path " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define OK_ANSWER "{\"ok\":true}"

/* ---- tests ---- */

static void test_abort_sends_nothing_tcp_and_unix(void **state)
{
    struct fixture *f = *state;
    char out[4096];

    /* The handler had a full answer ready: not one byte of it is sent, on either listener. */
    assert_int_equal(raw_exchange(tcp_connect(f->port), GET("/drop"), NULL, 0, out, sizeof(out)),
                     0);
    assert_int_equal(raw_exchange(unix_connect(f->sock), GET("/drop"), NULL, 0, out, sizeof(out)),
                     0);
    /* An error after the abort does not turn into a 500: still nothing. */
    assert_int_equal(
        raw_exchange(tcp_connect(f->port), GET("/drop-err"), NULL, 0, out, sizeof(out)), 0);
    assert_int_equal(atomic_load(&f->drops), 3u);

    /* The server goes on serving, on both listeners. */
    assert_true(raw_exchange(tcp_connect(f->port), GET_CLOSE("/ok"), NULL, 0, out, sizeof(out)) >
                0);
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(out, "\r\n\r\n" OK_ANSWER));
    assert_true(raw_exchange(unix_connect(f->sock), GET_CLOSE("/ok"), NULL, 0, out, sizeof(out)) >
                0);
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    assert_int_equal(atomic_load(&f->oks), 2u);
}

static void test_abort_after_body(void **state)
{
    struct fixture *f = *state;
    static uint8_t body[4096];
    char out[4096];

    memset(body, 'a', sizeof(body));
    assert_int_equal(raw_exchange(unix_connect(f->sock),
                                  "POST /drop HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n",
                                  body, sizeof(body), out, sizeof(out)),
                     0);
    assert_int_equal(atomic_load(&f->drops), 1u);
}

static void test_abort_on_kept_alive_connection(void **state)
{
    struct fixture *f = *state;
    char out[4096];

    /* Two pipelined requests on one connection: the first is answered in full, the second is
     * dropped, so the peer reads exactly one response and then EOF. */
    size_t n =
        raw_exchange(tcp_connect(f->port), GET("/ok") GET("/drop"), NULL, 0, out, sizeof(out));
    assert_true(n > 0);
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    const char *end = strstr(out, "\r\n\r\n");
    assert_non_null(end);
    assert_string_equal(end + 4, OK_ANSWER);
    assert_null(strstr(out, "secret"));
    assert_int_equal(atomic_load(&f->oks), 1u);
    assert_int_equal(atomic_load(&f->drops), 1u);
}

static void test_client_sees_empty_reply(void **state)
{
    struct fixture *f = *state;
    char url[64];
    struct shd_http_response *resp = NULL;
    struct shd_http_client *c = NULL;
    struct shd_http_client_options o = {.timeout_ms = 60000};
    unsigned long code = 0;

    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/drop", (unsigned)f->port);
    struct shd_http_request req = {.method = "GET", .url = url};
    EXPECT_OK(shd_http_client_create(&o, &c));
    EXPECT_ERR(shd_http_client_do(c, &req, &resp, NULL), SHD_ERR_IO);
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_CURL);
    assert_int_equal(code, (unsigned long)CURLE_GOT_NOTHING);
    assert_null(resp);
    shd_http_client_free(c);

    /* Over the Unix socket too. */
    o.unix_socket_path = f->sock;
    EXPECT_OK(shd_http_client_create(&o, &c));
    req.url = "http://localhost/drop";
    EXPECT_ERR(shd_http_client_do(c, &req, &resp, NULL), SHD_ERR_IO);
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_CURL);
    assert_int_equal(code, (unsigned long)CURLE_GOT_NOTHING);
    req.url = "http://localhost/ok";
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal((const char *)shd_http_response_body(resp, NULL), OK_ANSWER);
    shd_http_response_free(resp);
    shd_http_client_free(c);
    assert_int_equal(atomic_load(&f->drops), 2u);
}

static void no_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    (void)ms;
}

static void test_client_retries_a_drop(void **state)
{
    struct fixture *f = *state;
    static const struct shd_http_client_hooks hooks = {.sleep_ms = no_sleep};
    struct shd_http_client_options o = {
        .timeout_ms = 60000,
        .retry = {.max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 1, .on_transport = true},
        .hooks = &hooks,
    };
    struct shd_http_client *c = NULL;
    struct shd_http_response *resp = NULL;
    char url[64];
    char chain[SHD_ERROR_FRAME_LEN];

    EXPECT_OK(shd_http_client_create(&o, &c));
    /* Dropped once, answered on the second attempt. */
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/flaky", (unsigned)f->port);
    struct shd_http_request req = {.method = "GET", .url = url};
    atomic_store(&f->flaky, 1u);
    EXPECT_OK(shd_http_client_do(c, &req, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_int_equal(shd_http_response_attempts(resp), 2);
    shd_http_response_free(resp);
    resp = NULL;
    assert_int_equal(atomic_load(&f->drops), 1u);

    /* Dropped every time: the policy gives up after exactly three attempts. */
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/drop", (unsigned)f->port);
    EXPECT_ERR(shd_http_client_do(c, &req, &resp, NULL), SHD_ERR_RETRY_EXHAUSTED);
    assert_null(resp);
    assert_int_equal(atomic_load(&f->drops), 4u);
    (void)shd_error_render(chain, sizeof(chain));
    assert_non_null(strstr(chain, "giving up after 3 attempts"));
    shd_http_client_free(c);
}

static void test_stop_does_not_wait_for_aborted(void **state)
{
    struct fixture *f = *state;
    char out[256];

    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            raw_exchange(tcp_connect(f->port), GET("/drop"), NULL, 0, out, sizeof(out)), 0);
    }
    /* Every aborted request was completed (in-flight count back to 0): the stop does not sit
     * out its 20 s drain. */
    uint64_t t0 = now_ms();
    shd_http_server_stop(f->srv);
    assert_true(now_ms() - t0 < 5000);
}

static void test_resp_abort_getter(void **state)
{
    struct shd_http_resp *resp = NULL;
    size_t len = 1;

    (void)state;
    EXPECT_OK(shd_http_resp_new(&resp));
    assert_false(shd_http_resp_is_aborted(resp));
    EXPECT_OK(shd_http_resp_header("X-A", "1", resp));
    EXPECT_OK(shd_http_resp_json(201, "{\"k\":\"secret\"}", resp));
    assert_false(shd_http_resp_is_aborted(resp));
    shd_http_resp_abort(resp);
    assert_true(shd_http_resp_is_aborted(resp));
    /* Everything it held is gone. */
    assert_int_equal(shd_http_resp_get_status(resp), 0);
    assert_null(shd_http_resp_get_body(resp, &len));
    assert_int_equal(len, 0);
    assert_null(shd_http_resp_get_content_type(resp));
    assert_null(shd_http_resp_get_header(resp, "X-A"));
    /* Final: setting an answer afterwards does not undo it. */
    EXPECT_OK(shd_http_resp_text(200, "late", resp));
    assert_true(shd_http_resp_is_aborted(resp));
    shd_http_resp_abort(resp); /* twice is fine */
    assert_true(shd_http_resp_is_aborted(resp));
    shd_http_resp_free(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_abort_sends_nothing_tcp_and_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_after_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_on_kept_alive_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_sees_empty_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_retries_a_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_does_not_wait_for_aborted, setup, teardown),
        cmocka_unit_test(test_resp_abort_getter),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
