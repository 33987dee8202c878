/*
 * http_client_test.c - the HTTP client against our own server in-process (TCP and Unix socket)
 * and against a real TLS peer from tests/testlib/tls_server.c: statuses as data, timeouts,
 * retries with recorded delays, exhausted retries, caps, connect-to, and certificate checks that
 * cannot be switched off.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../../shared/src/http_int.h"
#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd_test.h"
#include "tls_server.h"

struct fixture {
    struct shd_http_server *server;
    uint16_t port;
    char dir[64];
    char sock[128];
    atomic_int hits;
    int fail_first; /* /flaky answers 503 this many times */
    char last_host[256];
    char last_ua[256];
    /* recorded by the hooks */
    uint32_t delays[16];
    size_t ndelays;
    time_t now;
};

/* ---- server side ---- */

static shd_result h_hello(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;
    const char *host = shd_http_req_header(req, "Host");
    const char *ua = shd_http_req_header(req, "User-Agent");

    (void)snprintf(f->last_host, sizeof(f->last_host), "%s", host != NULL ? host : "");
    (void)snprintf(f->last_ua, sizeof(f->last_ua), "%s", ua != NULL ? ua : "");
    return shd_http_resp_json(200, "{\"hello\":\"world\"}", resp);
}

static shd_result h_echo(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    const char *ct = shd_http_req_header(req, "Content-Type");
    char tag[320];

    (void)ctx;
    (void)snprintf(tag, sizeof(tag), "%s|%s|%s", shd_http_req_method(req),
                   ct != NULL ? ct : "<none>",
                   shd_http_req_header(req, "Expect") != NULL ? "expect" : "no-expect");
    SHD_GUARD(shd_http_resp_header("X-Tag", tag, resp));
    return shd_http_resp_body(201, "text/plain", body, len, resp);
}

static shd_result h_sleep(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};

    (void)ctx;
    (void)req;
    (void)nanosleep(&ts, NULL);
    return shd_http_resp_json(200, "{}", resp);
}

static shd_result h_flaky(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;
    int n = atomic_fetch_add(&f->hits, 1);

    (void)req;
    if (n < f->fail_first) {
        return shd_http_resp_text(503, "busy", resp);
    }
    return shd_http_resp_json(200, "{\"ok\":true}", resp);
}

static shd_result h_limited(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct fixture *f = ctx;
    const char *after = shd_http_req_query(req, "after");

    if (atomic_fetch_add(&f->hits, 1) == 0) {
        SHD_GUARD(shd_http_resp_header("Retry-After", after, resp));
        return shd_http_resp_json_error(429, "slow down", resp);
    }
    return shd_http_resp_json(200, "{}", resp);
}

static shd_result h_status(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const char *code = shd_http_req_query(req, "code");
    unsigned status = 0;

    (void)ctx;
    for (const char *p = code; p != NULL && *p >= '0' && *p <= '9'; p++) {
        status = status * 10 + (unsigned)(*p - '0');
    }
    if (status == 302) {
        SHD_GUARD(shd_http_resp_header("Location", "http://127.0.0.1:1/elsewhere", resp));
    }
    return shd_http_resp_text(status, "upstream says no", resp);
}

static shd_result h_big(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const char *n_str = shd_http_req_query(req, "n");
    size_t n = 0;

    (void)ctx;
    for (const char *p = n_str; p != NULL && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (size_t)(*p - '0');
    }
    uint8_t *body = shd_alloc(n + 1);
    SHD_ENSURE(body != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        body[i] = 'x';
    }
    shd_http_resp_body_take(200, "text/plain", body, n, n + 1, resp);
    return SHD_OK;
}

static const struct shd_http_route routes[] = {
    {"GET", "/hello", h_hello, 0},     {NULL, "/echo", h_echo, 0},
    {"GET", "/sleep", h_sleep, 0},     {"GET", "/flaky", h_flaky, 0},
    {"GET", "/limited", h_limited, 0}, {"GET", "/status", h_status, 0},
    {"GET", "/big", h_big, 0},
};

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    struct shd_http_server_options o = {
        .routes = routes, .nroutes = sizeof(routes) / sizeof(routes[0]), .timeout_s = 5};

    assert_non_null(f);
    o.ctx = f;
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/shd-httpc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->sock, sizeof(f->sock), "%s/c.sock", f->dir);
    EXPECT_OK(shd_http_server_create(&o, &f->server));
    EXPECT_OK(shd_http_server_listen_tcp("127.0.0.1", 0, f->server, &f->port));
    EXPECT_OK(shd_http_server_listen_unix(f->sock, 0600, NULL, f->server));
    EXPECT_OK(shd_http_server_start(f->server));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    shd_http_server_free(f->server);
    (void)rmdir(f->dir);
    shd_free(f);
    return 0;
}

/* ---- hooks ---- */

static void rec_sleep(void *ctx, uint32_t ms)
{
    struct fixture *f = ctx;

    if (f->ndelays < 16) {
        f->delays[f->ndelays++] = ms;
    }
}

static uint32_t max_random(void *ctx)
{
    (void)ctx;
    return UINT32_MAX;
}

static time_t fixed_now(void *ctx)
{
    return ((struct fixture *)ctx)->now;
}

static struct shd_http_client *client_new(struct fixture *f, struct shd_http_client_options *o)
{
    static struct shd_http_client_hooks hooks;
    struct shd_http_client *c = NULL;

    hooks = (struct shd_http_client_hooks){
        .sleep_ms = rec_sleep, .random_u32 = max_random, .now = fixed_now, .ctx = f};
    o->hooks = &hooks;
    EXPECT_OK(shd_http_client_create(o, &c));
    return c;
}

static void url(char *out, size_t n, uint16_t port, const char *path)
{
    (void)snprintf(out, n, "http://127.0.0.1:%u%s", (unsigned)port, path);
}

static void render(char *buf, size_t n)
{
    (void)shd_error_render(buf, n);
}

/* ---- tests ---- */

static void test_get_and_post_tcp(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {.user_agent = "shd-test/1"};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    char u[128];
    size_t len = 0;

    url(u, sizeof(u), f->port, "/hello");
    struct shd_http_request get = {.method = "GET", .url = u};
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal((const char *)shd_http_response_body(resp, &len), "{\"hello\":\"world\"}");
    assert_int_equal(len, 17);
    assert_string_equal(shd_http_response_header(resp, "content-type"), "application/json");
    assert_null(shd_http_response_header(resp, "X-Missing"));
    assert_int_equal(shd_http_response_attempts(resp), 1);
    assert_string_equal(f->last_ua, "shd-test/1");
    shd_http_response_free(resp);

    /* POST: body as is, caller's Content-Type, no Expect round trip. */
    url(u, sizeof(u), f->port, "/echo");
    static const uint8_t secret[] = "{\"access_token\":\"t0k3n\"}";
    const struct shd_http_header hdrs[] = {{"Content-Type", "application/json"},
                                           {"Authorization", "Bearer t0k3n"}};
    struct shd_http_request post = {.method = "POST",
                                    .url = u,
                                    .headers = hdrs,
                                    .nheaders = 2,
                                    .body = secret,
                                    .body_len = sizeof(secret) - 1};
    EXPECT_OK(shd_http_client_do(c, &post, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 201);
    assert_string_equal((const char *)shd_http_response_body(resp, NULL), (const char *)secret);
    assert_string_equal(shd_http_response_header(resp, "X-Tag"), "POST|application/json|no-expect");
    shd_http_response_free(resp);

    /* No Content-Type given: none is sent (not libcurl's form type); PUT with empty body. */
    struct shd_http_request put = {.method = "PUT", .url = u};
    EXPECT_OK(shd_http_client_do(c, &put, &resp, NULL));
    assert_string_equal(shd_http_response_header(resp, "x-tag"), "PUT|<none>|no-expect");
    assert_string_equal((const char *)shd_http_response_body(resp, &len), "");
    assert_int_equal(len, 0);
    shd_http_response_free(resp);
    shd_http_client_free(c);
}

static void test_unix_socket(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {.unix_socket_path = f->sock};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;

    struct shd_http_request get = {.method = "GET", .url = "http://localhost/hello"};
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal(f->last_host, "localhost");
    shd_http_response_free(resp);
    shd_http_client_free(c);
}

static void test_timeout(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {.timeout_ms = 200};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    struct timespec t0;
    struct timespec t1;
    char u[128];

    url(u, sizeof(u), f->port, "/sleep");
    struct shd_http_request get = {.method = "GET", .url = u};
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, NULL), SHD_ERR_TIMEOUT);
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 190 && ms < 900);
    assert_null(resp);
    unsigned long foreign = 0;
    assert_int_equal(shd_error_foreign(&foreign), SHD_FOREIGN_CURL);
    assert_int_equal(foreign, 28); /* CURLE_OPERATION_TIMEDOUT */
    shd_http_client_free(c);
}

static void test_retry_503_then_success(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {
        .retry = {.max_attempts = 4, .base_delay_ms = 100, .max_delay_ms = 1000, .on_5xx = true}};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    char u[128];

    f->fail_first = 2;
    url(u, sizeof(u), f->port, "/flaky");
    struct shd_http_request get = {.method = "GET", .url = u};
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_int_equal(shd_http_response_attempts(resp), 3);
    assert_int_equal(atomic_load(&f->hits), 3);
    /* Full jitter at its top (random = max): 100, then 200. */
    assert_int_equal(f->ndelays, 2);
    assert_int_equal(f->delays[0], 100);
    assert_int_equal(f->delays[1], 200);
    shd_http_response_free(resp);
    shd_http_client_free(c);
}

static void test_retry_exhausted(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {
        .retry = {.max_attempts = 3, .base_delay_ms = 10, .max_delay_ms = 40, .on_5xx = true}};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    struct shd_http_response *last = NULL;
    char u[128];
    char want[256];
    char got[512];

    f->fail_first = 100;
    url(u, sizeof(u), f->port, "/flaky?sig=SECRET");
    struct shd_http_request get = {.method = "GET", .url = u};
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, &last), SHD_ERR_RETRY_EXHAUSTED);
    render(got, sizeof(got));
    (void)snprintf(want, sizeof(want),
                   "giving up after 3 attempts: GET http://127.0.0.1:%u/flaky: http response "
                   "status 503 Service Unavailable",
                   (unsigned)f->port);
    assert_string_equal(got, want);
    assert_null(resp);
    assert_non_null(last);
    assert_int_equal(shd_http_response_status(last), 503);
    assert_int_equal(shd_http_response_attempts(last), 3);
    assert_string_equal((const char *)shd_http_response_body(last, NULL), "busy");
    shd_http_response_free(last);
    assert_int_equal(shd_error_type_of(SHD_ERR_RETRY_EXHAUSTED), SHD_ERR_T_RETRY);

    /* Without reterr_resp the error is the same and nothing leaks. */
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, NULL), SHD_ERR_RETRY_EXHAUSTED);
    shd_http_client_free(c);

    /* A single attempt: the 503 is data. */
    struct shd_http_client_options once = {.retry = {.max_attempts = 1, .on_5xx = true}};
    c = client_new(f, &once);
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 503);
    shd_http_response_free(resp);
    shd_http_client_free(c);
}

static void test_429_retry_after(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {
        .retry = {.max_attempts = 2, .base_delay_ms = 10, .max_delay_ms = 5000, .on_429 = true}};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    char u[160];
    const char *cases[] = {"/limited?after=2", "/limited?after=100",
                           "/limited?after=Sun,%2006%20Nov%201994%2008:49:40%20GMT",
                           "/limited?after=soon"};
    const uint32_t want[] = {2000, 5000, 3000, 10};

    f->now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT: the date is 3 s ahead */
    for (size_t i = 0; i < 4; i++) {
        atomic_store(&f->hits, 0);
        f->ndelays = 0;
        url(u, sizeof(u), f->port, cases[i]);
        struct shd_http_request get = {.method = "GET", .url = u};
        EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
        assert_int_equal(shd_http_response_status(resp), 200);
        assert_int_equal(shd_http_response_attempts(resp), 2);
        assert_int_equal(f->ndelays, 1);
        assert_int_equal(f->delays[0], want[i]);
        shd_http_response_free(resp);
    }
    shd_http_client_free(c);
}

static void test_statuses_are_data(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {.retry = SHD_HTTP_RETRY_DEFAULT};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    char u[128];

    /* 403 is not retried: the caller gets status and body to quote. */
    url(u, sizeof(u), f->port, "/status?code=403");
    struct shd_http_request get = {.method = "GET", .url = u};
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 403);
    assert_int_equal(shd_http_response_attempts(resp), 1);
    assert_string_equal((const char *)shd_http_response_body(resp, NULL), "upstream says no");
    shd_http_response_free(resp);
    assert_int_equal(f->ndelays, 0);
    /* Redirects are not followed. */
    url(u, sizeof(u), f->port, "/status?code=302");
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 302);
    assert_string_equal(shd_http_response_header(resp, "Location"), "http://127.0.0.1:1/elsewhere");
    shd_http_response_free(resp);
    shd_http_client_free(c);
}

static void test_response_cap(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {.max_response_bytes = 1000,
                                        .retry = SHD_HTTP_RETRY_DEFAULT};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    char u[128];
    size_t len = 0;

    url(u, sizeof(u), f->port, "/big?n=1000");
    struct shd_http_request get = {.method = "GET", .url = u};
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_non_null(shd_http_response_body(resp, &len));
    assert_int_equal(len, 1000);
    shd_http_response_free(resp);
    url(u, sizeof(u), f->port, "/big?n=1001");
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, NULL), SHD_ERR_TOO_LARGE);
    url(u, sizeof(u), f->port, "/big?n=300000");
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, NULL), SHD_ERR_TOO_LARGE);
    assert_int_equal(f->ndelays, 0); /* never retried */
    shd_http_client_free(c);
}

static uint16_t closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    (void)close(fd); /* bound, never listening: connects are refused */
    return ntohs(sa.sin_port);
}

static void test_connect_refused(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {0};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_response *resp = NULL;
    char u[160];
    char got[512];
    uint16_t port = closed_port();

    (void)snprintf(u, sizeof(u), "http://user:pw@127.0.0.1:%u/x?sig=SECRET#frag", (unsigned)port);
    struct shd_http_request get = {.method = "GET", .url = u};
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, NULL), SHD_ERR_CONNECT);
    render(got, sizeof(got));
    char prefix[128];
    (void)snprintf(prefix, sizeof(prefix), "GET http://127.0.0.1:%u/x: ", (unsigned)port);
    assert_int_equal(strncmp(got, prefix, strlen(prefix)), 0);
    assert_null(strstr(got, "SECRET"));
    assert_null(strstr(got, "pw"));
    shd_http_client_free(c);

    /* With transport retries: exhausted, the cause kept. */
    struct shd_http_client_options r = {
        .retry = {.max_attempts = 2, .base_delay_ms = 1, .max_delay_ms = 1, .on_transport = true}};
    c = client_new(f, &r);
    EXPECT_ERR(shd_http_client_do(c, &get, &resp, NULL), SHD_ERR_RETRY_EXHAUSTED);
    render(got, sizeof(got));
    assert_int_equal(strncmp(got, "giving up after 2 attempts: GET http://127.0.0.1:", 49), 0);
    (void)snprintf(prefix, sizeof(prefix), "Failed to connect to 127.0.0.1 port %u after ",
                   (unsigned)port);
    assert_non_null(strstr(got, prefix));
    unsigned long foreign = 0;
    assert_int_equal(shd_error_foreign(&foreign), SHD_FOREIGN_CURL);
    assert_int_equal(foreign, 7); /* CURLE_COULDNT_CONNECT */
    assert_int_equal(f->ndelays, 1);
    shd_http_client_free(c);
}

static void test_request_validation(void **state)
{
    struct fixture *f = *state;
    struct shd_http_client_options o = {0};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_client *c2 = NULL;
    struct shd_http_response *resp = NULL;
    char u[128];

    url(u, sizeof(u), f->port, "/hello");
    const struct shd_http_header inject[] = {{"X-A", "v\r\nX-B: w"}};
    struct shd_http_request bad = {.method = "GET", .url = u, .headers = inject, .nheaders = 1};
    EXPECT_ERR(shd_http_client_do(c, &bad, &resp, NULL), SHD_ERR_USAGE);
    const struct shd_http_header badname[] = {{"X A", "v"}};
    bad.headers = badname;
    EXPECT_ERR(shd_http_client_do(c, &bad, &resp, NULL), SHD_ERR_USAGE);
    struct shd_http_request ftp = {.method = "GET", .url = "ftp://127.0.0.1/x"};
    EXPECT_ERR(shd_http_client_do(c, &ftp, &resp, NULL), SHD_ERR_USAGE);
    struct shd_http_request file = {.method = "GET", .url = "file:///etc/passwd"};
    EXPECT_ERR(shd_http_client_do(c, &file, &resp, NULL), SHD_ERR_USAGE);
    struct shd_http_request method = {.method = "GE T", .url = u};
    EXPECT_ERR(shd_http_client_do(c, &method, &resp, NULL), SHD_ERR_USAGE);
    static const uint8_t b[] = "x";
    struct shd_http_request get_body = {.method = "GET", .url = u, .body = b, .body_len = 1};
    EXPECT_ERR(shd_http_client_do(c, &get_body, &resp, NULL), SHD_ERR_USAGE);
    assert_null(resp);
    shd_http_client_free(c);

    struct shd_http_client_options bad_opts = {.retry = {.max_attempts = 17}};
    EXPECT_ERR(shd_http_client_create(&bad_opts, &c2), SHD_ERR_CONFIG);
    bad_opts.retry =
        (struct shd_http_retry_policy){.max_attempts = 2, .base_delay_ms = 10, .max_delay_ms = 5};
    EXPECT_ERR(shd_http_client_create(&bad_opts, &c2), SHD_ERR_CONFIG);
    struct shd_http_client_options no_ca = {.ca_file = "/nonexistent/ca.pem"};
    EXPECT_ERR(shd_http_client_create(&no_ca, &c2), SHD_ERR_CONFIG);
    struct shd_http_client_options bad_map = {.connect_to = "a:1:b"};
    EXPECT_ERR(shd_http_client_create(&bad_map, &c2), SHD_ERR_CONFIG);
    assert_null(c2);
}

static void test_connect_to_validate(void **state)
{
    size_t n = 0;
    (void)state;

    const char *good[] = {"myvault.vault.azure.net:443:127.0.0.1:18443",
                          "a.example:443:127.0.0.1:1,169.254.169.254:80:127.0.0.1:18080",
                          "::127.0.0.1:8080",
                          "[::1]:443:[fe80::1]:8443",
                          "host:443::",
                          "metadata.google.internal:80:localhost:65535"};
    const size_t counts[] = {1, 2, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        EXPECT_OK(shd_http_connect_to_validate(good[i], &n));
        assert_int_equal(n, counts[i]);
    }
    EXPECT_OK(shd_http_connect_to_validate("", &n));
    assert_int_equal(n, 0);
    EXPECT_OK(shd_http_connect_to_validate(NULL, &n));
    assert_int_equal(n, 0);

    const char *bad[] = {"a:1:b",          "a:1:b:2:3",    "a:1:b:2,",         ",a:1:b:2",
                         "a:0:b:2",        "a:65536:b:2",  "a:1:b:-2",         "a b:1:c:2",
                         "a:1:b:2 ",       "a..b:1:c:2",   ".a:1:c:2",         "[::1:1:c:2",
                         "[xyz]:1:c:2",    "a:1:b:123456", "a:1:b:2,,c:3:d:4", "a\n:1:b:2",
                         "a:1:b:2\r\nX: y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        EXPECT_ERR(shd_http_connect_to_validate(bad[i], &n), SHD_ERR_CONFIG);
        assert_int_equal(n, 99);
    }
    /* Oversized: too long, too many entries, an over-long label. */
    char *big = shd_alloc(SHD_HTTP_CONNECT_TO_MAX_LEN + 2);
    assert_non_null(big);
    for (size_t i = 0; i < SHD_HTTP_CONNECT_TO_MAX_LEN + 1; i++) {
        big[i] = 'a';
    }
    EXPECT_ERR(shd_http_connect_to_validate(big, &n), SHD_ERR_CONFIG);
    size_t o = 0;
    for (unsigned i = 0; i <= SHD_HTTP_CONNECT_TO_MAX_ENTRIES; i++) {
        o += (size_t)snprintf(big + o, SHD_HTTP_CONNECT_TO_MAX_LEN + 2 - o, "%sa:1:b:2",
                              i == 0 ? "" : ",");
    }
    EXPECT_ERR(shd_http_connect_to_validate(big, &n), SHD_ERR_CONFIG);
    shd_memzero(big, SHD_HTTP_CONNECT_TO_MAX_LEN + 2);
    for (size_t i = 0; i < 64; i++) {
        big[i] = 'l';
    }
    shd_memcpy(big + 64, ":1:b:2", 6);
    EXPECT_ERR(shd_http_connect_to_validate(big, &n), SHD_ERR_CONFIG);
    big[63] = '\0';
    shd_memcpy(big + 63, ":1:b:2", 7);
    EXPECT_OK(shd_http_connect_to_validate(big, &n));
    shd_free(big);
}

static void test_connect_to_plain_http(void **state)
{
    struct fixture *f = *state;
    char map[128];
    struct shd_http_response *resp = NULL;

    (void)snprintf(map, sizeof(map), "169.254.169.254:80:127.0.0.1:%u", (unsigned)f->port);
    struct shd_http_client_options o = {.connect_to = map};
    struct shd_http_client *c = client_new(f, &o);
    struct shd_http_request get = {.method = "GET", .url = "http://169.254.169.254/hello"};
    EXPECT_OK(shd_http_client_do(c, &get, &resp, NULL));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal(f->last_host, "169.254.169.254"); /* the URL's host, not the target */
    shd_http_response_free(resp);
    shd_http_client_free(c);
}

static void test_retry_math(void **state)
{
    const struct shd_http_retry_policy p = {
        .max_attempts = 8, .base_delay_ms = 100, .max_delay_ms = 1000};
    uint64_t ms = 0;
    (void)state;

    assert_int_equal(shd_http_retry_backoff_ms(&p, 1, UINT32_MAX), 100);
    assert_int_equal(shd_http_retry_backoff_ms(&p, 2, UINT32_MAX), 200);
    assert_int_equal(shd_http_retry_backoff_ms(&p, 4, UINT32_MAX), 800);
    assert_int_equal(shd_http_retry_backoff_ms(&p, 5, UINT32_MAX), 1000);
    assert_int_equal(shd_http_retry_backoff_ms(&p, 60, UINT32_MAX), 1000);
    assert_int_equal(shd_http_retry_backoff_ms(&p, 3, 0), 0);
    assert_int_equal(shd_http_retry_backoff_ms(&p, 3, 0x80000000u), 200);

    assert_true(shd_http_retry_after_parse("0", 0, &ms));
    assert_int_equal(ms, 0);
    assert_true(shd_http_retry_after_parse("120", 0, &ms));
    assert_int_equal(ms, 120000);
    assert_true(shd_http_retry_after_parse("99999999999", 0, &ms));
    assert_int_equal(ms, (uint64_t)SHD_HTTP_RETRY_AFTER_MAX_S * 1000);
    /* IMF-fixdate, RFC 850 and asctime forms; a past date means now. */
    assert_true(shd_http_retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", 784111777, &ms));
    assert_int_equal(ms, 10000);
    assert_true(shd_http_retry_after_parse("Sunday, 06-Nov-94 08:49:47 GMT", 784111777, &ms));
    assert_int_equal(ms, 10000);
    assert_true(shd_http_retry_after_parse("Sun Nov  6 08:49:47 1994", 784111777, &ms));
    assert_int_equal(ms, 10000);
    assert_true(shd_http_retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", 784111800, &ms));
    assert_int_equal(ms, 0);
    ms = 7;
    const char *bad[] = {"", "-1", "1.5", "12a", " 5", "1234567890123", "soon", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(shd_http_retry_after_parse(bad[i], 0, &ms));
    }
    assert_int_equal(ms, 7);

    const struct shd_http_retry_policy d = SHD_HTTP_RETRY_DEFAULT;
    assert_true(shd_http_retry_status(&d, 408));
    assert_true(shd_http_retry_status(&d, 429));
    assert_true(shd_http_retry_status(&d, 500));
    assert_true(shd_http_retry_status(&d, 599));
    assert_false(shd_http_retry_status(&d, 404));
    assert_false(shd_http_retry_status(&d, 200));
    assert_string_equal(shd_http_status_text(403), "Forbidden");
    assert_string_equal(shd_http_status_text(503), "Service Unavailable");
    assert_string_equal(shd_http_status_text(299), "");
}

/* ---- TLS ---- */

static const char tls_reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 11\r\nConnection: close\r\n\r\n{\"tls\":\"y\"}";

static shd_result tls_get(const char *ca, const char *map, const char *u,
                          struct shd_http_response **ret)
{
    struct shd_http_client_options o = {.ca_file = ca, .connect_to = map, .timeout_ms = 5000};
    struct shd_http_client *c = NULL;

    EXPECT_OK(shd_http_client_create(&o, &c));
    struct shd_http_request get = {.method = "GET", .url = u};
    shd_result r = shd_http_client_do(c, &get, ret, NULL);
    shd_http_client_free(c);
    return r;
}

static void test_tls(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"*.vault.azure.net", "localhost"};
    struct shd_test_pki *pki = shd_test_pki_new("test CA", names, 2);
    struct shd_test_pki *other = shd_test_pki_new("other CA", names, 2);
    struct shd_test_tls_server *srv = shd_test_tls_server_start(pki, tls_reply);
    struct shd_http_response *resp = NULL;
    char ca[160];
    char wrong_ca[160];
    char map[256];
    char u[160];
    unsigned port = shd_test_tls_server_port(srv);

    (void)snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
    (void)snprintf(wrong_ca, sizeof(wrong_ca), "%s/other.pem", f->dir);
    shd_test_pki_write_ca(pki, ca);
    shd_test_pki_write_ca(other, wrong_ca);

    /* Production URL, mapped to the test server: SNI and Host keep the real name. */
    (void)snprintf(map, sizeof(map),
                   "myvault.vault.azure.net:443:127.0.0.1:%u,"
                   "a.b.vault.azure.net:443:127.0.0.1:%u,other.example.com:443:127.0.0.1:%u",
                   port, port, port);
    EXPECT_OK(
        tls_get(ca, map, "https://myvault.vault.azure.net/keys/k/release?api-version=7.4", &resp));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal((const char *)shd_http_response_body(resp, NULL), "{\"tls\":\"y\"}");
    shd_http_response_free(resp);
    assert_string_equal(shd_test_tls_server_last_sni(srv), "myvault.vault.azure.net");
    assert_non_null(
        strstr(shd_test_tls_server_last_request(srv), "\r\nHost: myvault.vault.azure.net\r\n"));
    unsigned ok_requests = shd_test_tls_server_requests(srv);

    /* Another CA: refused. */
    EXPECT_ERR(tls_get(wrong_ca, map, "https://myvault.vault.azure.net/", &resp), SHD_ERR_BAD_CERT);
    /* A name outside the certificate, and two labels under a one-label wildcard: refused. */
    EXPECT_ERR(tls_get(ca, map, "https://other.example.com/", &resp), SHD_ERR_BAD_CERT);
    EXPECT_ERR(tls_get(ca, map, "https://a.b.vault.azure.net/", &resp), SHD_ERR_BAD_CERT);
    assert_int_equal(shd_test_tls_server_requests(srv), ok_requests);

    /* SSL_CERT_FILE is the default trust store when ca_file is not given. */
    char url_local[128];
    (void)snprintf(url_local, sizeof(url_local), "https://localhost:%u/", port);
    assert_int_equal(setenv("SSL_CERT_FILE", ca, 1), 0);
    EXPECT_OK(tls_get(NULL, NULL, url_local, &resp));
    shd_http_response_free(resp);
    assert_int_equal(setenv("SSL_CERT_FILE", wrong_ca, 1), 0);
    EXPECT_ERR(tls_get(NULL, NULL, url_local, &resp), SHD_ERR_BAD_CERT);
    assert_int_equal(unsetenv("SSL_CERT_FILE"), 0);
    /* The system store does not know our test CA: refused, there is no "insecure" switch. */
    EXPECT_ERR(tls_get(NULL, NULL, url_local, &resp), SHD_ERR_BAD_CERT);

    /* https to a plain-HTTP port fails the handshake. */
    (void)snprintf(u, sizeof(u), "https://127.0.0.1:%u/hello", (unsigned)f->port);
    resp = NULL;
    EXPECT_ERR(tls_get(ca, NULL, u, &resp), SHD_ERR_CONNECT);
    assert_null(resp);

    shd_test_tls_server_stop(srv);

    /* Too many response headers: refused, not stored without bound. */
    char *many = shd_alloc(4096);
    assert_non_null(many);
    size_t o = (size_t)snprintf(many, 4096, "HTTP/1.1 200 OK\r\nConnection: close\r\n");
    for (unsigned i = 0; i <= SHD_HTTP_CLIENT_MAX_HEADERS; i++) {
        o += (size_t)snprintf(many + o, 4096 - o, "X-%u: 1\r\n", i);
    }
    (void)snprintf(many + o, 4096 - o, "Content-Length: 0\r\n\r\n");
    srv = shd_test_tls_server_start(pki, many);
    (void)snprintf(url_local, sizeof(url_local), "https://localhost:%u/",
                   shd_test_tls_server_port(srv));
    EXPECT_ERR(tls_get(ca, NULL, url_local, &resp), SHD_ERR_TOO_LARGE);
    shd_test_tls_server_stop(srv);
    shd_free(many);

    shd_test_pki_free(pki);
    shd_test_pki_free(other);
    (void)unlink(ca);
    (void)unlink(wrong_ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_post_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_503_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statuses_are_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_validation, setup, teardown),
        cmocka_unit_test(test_connect_to_validate),
        cmocka_unit_test_setup_teardown(test_connect_to_plain_http, setup, teardown),
        cmocka_unit_test(test_retry_math),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
    };

    (void)unsetenv("SSL_CERT_FILE");
    /* A peer that closes first must not kill the test (daemons ignore SIGPIPE the same way). */
    (void)signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
