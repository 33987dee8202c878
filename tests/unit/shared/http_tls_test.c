/*
 * http_tls_test.c - HTTPS listeners of the HTTP server, checked with our own verifying client:
 * the right CA and host name pass, another CA and another name fail, plain HTTP to the TLS
 * port fails, and the key copy does not outlive the server (valgrind/ASan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shd/http_client.h"
#include "shd/http_server.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "tls_server.h"

static shd_result hello(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return shd_http_resp_json(200, "{\"hello\":\"tls\"}", resp);
}

static const struct shd_http_route routes[] = {{"GET", "/hello", hello, SHD_HTTP_ROUTE_EXACT}};

struct fixture {
    struct shd_test_pki *pki;
    struct shd_test_pki *other;
    struct shd_http_server *server;
    uint16_t port;
    char dir[64];
    char ca_path[128];
    char other_ca_path[128];
};

static int setup(void **state)
{
    static const char *const names[] = {"localhost", "*.vault.azure.net"};
    struct fixture *f = shd_alloc(sizeof(*f));
    struct shd_http_server_options opts = {.routes = routes, .nroutes = 1};

    assert_non_null(f);
    f->pki = shd_test_pki_new("test CA", names, 2);
    f->other = shd_test_pki_new("other CA", names, 2);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/shd-tls-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->ca_path, sizeof(f->ca_path), "%s/ca.pem", f->dir);
    (void)snprintf(f->other_ca_path, sizeof(f->other_ca_path), "%s/other.pem", f->dir);
    shd_test_pki_write_ca(f->pki, f->ca_path);
    shd_test_pki_write_ca(f->other, f->other_ca_path);

    char *cert = shd_test_pki_leaf_cert_pem(f->pki);
    char *key = shd_test_pki_leaf_key_pem(f->pki);
    EXPECT_OK(shd_http_server_create(&opts, &f->server));
    EXPECT_OK(shd_http_server_listen_tls("127.0.0.1", 0, cert, key, f->server, &f->port));
    shd_free(cert);
    shd_free_wipe(key, strlen(key));
    EXPECT_OK(shd_http_server_start(f->server));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    shd_http_server_free(f->server);
    shd_test_pki_free(f->pki);
    shd_test_pki_free(f->other);
    (void)unlink(f->ca_path);
    (void)unlink(f->other_ca_path);
    (void)rmdir(f->dir);
    shd_free(f);
    return 0;
}

static shd_result get(const char *ca, const char *connect_to, const char *url,
                      struct shd_http_response **ret)
{
    struct shd_http_client_options o = {.ca_file = ca, .connect_to = connect_to,
                                        .timeout_ms = 5000};
    struct shd_http_client *c = NULL;
    struct shd_http_request req = {.method = "GET", .url = url};

    shd_result r = shd_http_client_create(&o, &c);
    if (shd_is_ok(r)) {
        r = shd_http_client_do(c, &req, ret, NULL);
    }
    shd_http_client_free(c);
    return r;
}

static void test_tls_with_right_ca(void **state)
{
    struct fixture *f = *state;
    struct shd_http_response *resp = NULL;
    char url[128];

    (void)snprintf(url, sizeof(url), "https://localhost:%u/hello", f->port);
    EXPECT_OK(get(f->ca_path, NULL, url, &resp));
    assert_int_equal(shd_http_response_status(resp), 200);
    assert_string_equal(shd_http_response_body(resp, NULL), "{\"hello\":\"tls\"}");
    shd_http_response_free(resp);
}

static void test_tls_real_host_name_via_connect_to(void **state)
{
    struct fixture *f = *state;
    struct shd_http_response *resp = NULL;
    char map[128];

    (void)snprintf(map, sizeof(map), "myvault.vault.azure.net:443:127.0.0.1:%u", f->port);
    EXPECT_OK(get(f->ca_path, map, "https://myvault.vault.azure.net/hello", &resp));
    assert_int_equal(shd_http_response_status(resp), 200);
    shd_http_response_free(resp);
}

static void test_tls_rejects_other_ca_and_other_name(void **state)
{
    struct fixture *f = *state;
    struct shd_http_response *resp = NULL;
    char url[128];
    char map[128];

    (void)snprintf(url, sizeof(url), "https://localhost:%u/hello", f->port);
    EXPECT_ERR(get(f->other_ca_path, NULL, url, &resp), SHD_ERR_BAD_CERT);
    (void)snprintf(map, sizeof(map), "evil.example.com:443:127.0.0.1:%u", f->port);
    EXPECT_ERR(get(f->ca_path, map, "https://evil.example.com/hello", &resp), SHD_ERR_BAD_CERT);
}

static void test_plain_http_to_tls_port_fails(void **state)
{
    struct fixture *f = *state;
    struct shd_http_response *resp = NULL;
    char url[128];

    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", f->port);
    shd_result r = get(f->ca_path, NULL, url, &resp);
    if (shd_is_ok(r)) {
        /* GnuTLS may answer a plaintext request with an alert the client reads as garbage;
         * what must never happen is a 200 with the body. */
        assert_int_not_equal(shd_http_response_status(resp), 200);
        shd_http_response_free(resp);
    }
}

static void test_listen_tls_rejects_missing_pem(void **state)
{
    struct shd_http_server *s = NULL;
    struct shd_http_server_options opts = {.routes = routes, .nroutes = 1};
    (void)state;

    EXPECT_OK(shd_http_server_create(&opts, &s));
    EXPECT_ERR(shd_http_server_listen_tls("127.0.0.1", 0, NULL, "k", s, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_http_server_listen_tls("127.0.0.1", 0, "c", NULL, s, NULL), SHD_ERR_NULL);
    EXPECT_ERR(shd_http_server_start(s), SHD_ERR_CONFIG); /* nothing was added */
    shd_http_server_free(s);
}

static void test_listen_tls_bad_pem_fails_at_start(void **state)
{
    struct shd_http_server *s = NULL;
    struct shd_http_server_options opts = {.routes = routes, .nroutes = 1};
    (void)state;

    EXPECT_OK(shd_http_server_create(&opts, &s));
    EXPECT_OK(shd_http_server_listen_tls("127.0.0.1", 0, "not a cert", "not a key", s, NULL));
    EXPECT_ERR(shd_http_server_start(s), SHD_ERR_IO);
    shd_http_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_with_right_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_real_host_name_via_connect_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_rejects_other_ca_and_other_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_to_tls_port_fails, setup, teardown),
        cmocka_unit_test(test_listen_tls_rejects_missing_pem),
        cmocka_unit_test(test_listen_tls_bad_pem_fails_at_start),
    };
    return cmocka_run_group_tests_name("http_tls", tests, NULL, NULL);
}
