/*
 * launcher_test.c - mode A (launcher.c): the Confidential Space launcher's token file (read,
 * cached, re-read after an atomic replacement, rejected when missing, empty, oversized, forged,
 * expired or for another audience) and custom-audience tokens from a fake teeserver on a Unix
 * socket (exact request body, plain-text errors, tokens for the wrong audience). Tokens are
 * checked against the fake verifier's JWKS (attest_fixture.h).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "attest_fixture.h"

#include "attest.h"

enum tee_mode {
    TEE_OK = 0,
    TEE_400,
    TEE_500,
    TEE_WRONG_AUD,
};

struct l_state {
    struct fx f;
    char dir[64];
    char token_path[128];
    char sock_path[128];
    struct shd_http_server *tee;
    enum tee_mode mode;
    char last_body[600];
    atomic_int tee_calls;
    struct wif_attest *a;
};

static shd_result tee_handler(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct l_state *s = ctx;
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    atomic_fetch_add(&s->tee_calls, 1);
    (void)snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)len, (const char *)body);
    if (s->mode == TEE_400) {
        return shd_http_resp_text(400, "use GET request for the default identity token\n\x01",
                                  resp);
    }
    if (s->mode == TEE_500) {
        return shd_http_resp_text(500, "failed to attest", resp);
    }
    json_t *doc = json_loadb((const char *)body, len, 0, NULL);
    const char *aud = json_string_value(json_object_get(doc, "audience"));
    size_t tl = 0;
    char *tok =
        fx_mint(&s->f, s->mode == TEE_WRONG_AUD || aud == NULL ? "https://other" : aud, 3600, &tl);
    json_decref(doc);
    shd_http_resp_body_take(200, "text/html", (uint8_t *)tok, tl, tl + 1, resp);
    return SHD_OK;
}

/* Writes content to the token file the way the launcher does: temp file, then rename. */
static void write_token_file(struct l_state *s, const char *content, size_t n)
{
    char tmp[160];
    (void)snprintf(tmp, sizeof(tmp), "%s/.token.tmp", s->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    assert_int_equal(rename(tmp, s->token_path), 0);
}

static void write_minted(struct l_state *s, const char *aud, int64_t delta, bool newline)
{
    size_t n = 0;
    char *tok = fx_mint(&s->f, aud, delta, &n);
    char buf[4096];
    assert_true(n + 2 < sizeof(buf));
    (void)snprintf(buf, sizeof(buf), "%s%s", tok, newline ? "\n" : "");
    write_token_file(s, buf, strlen(buf));
    shd_free(tok);
}

static int setup(void **state)
{
    struct l_state *s = shd_alloc(sizeof(*s));
    assert_non_null(s);
    fx_start(&s->f);
    (void)snprintf(s->dir, sizeof(s->dir), "/tmp/wif-launcher-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    (void)snprintf(s->token_path, sizeof(s->token_path), "%s/attestation_verifier_claims_token",
                   s->dir);
    (void)snprintf(s->sock_path, sizeof(s->sock_path), "%s/teeserver.sock", s->dir);

    const struct shd_http_route routes[] = {{"POST", "/v1/token", tee_handler, 0}};
    struct shd_http_server_options o = {.routes = routes, .nroutes = 1, .ctx = s};
    EXPECT_OK(shd_http_server_create(&o, &s->tee));
    EXPECT_OK(shd_http_server_listen_unix(s->sock_path, 0600, NULL, s->tee));
    EXPECT_OK(shd_http_server_start(s->tee));

    struct wif_attest_config c = {.mode = WIF_ATTEST_MODE_LAUNCHER,
                                  .http = s->f.http,
                                  .launcher_token_path = s->token_path,
                                  .launcher_socket = s->sock_path};
    EXPECT_OK(wif_attest_new(&c, &s->a));
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct l_state *s = *state;
    wif_attest_free(&s->a);
    shd_http_server_free(s->tee);
    (void)unlink(s->token_path);
    char tmp[160];
    (void)snprintf(tmp, sizeof(tmp), "%s/.token.tmp", s->dir);
    (void)unlink(tmp);
    (void)rmdir(s->dir);
    fx_stop(&s->f);
    shd_free(s);
    return 0;
}

static void get_ok(struct l_state *s, const char *aud, char **tok, size_t *n, int64_t *exp)
{
    EXPECT_OK(wif_attest_token(aud, s->a, tok, n, exp));
    assert_int_equal(*n, strlen(*tok));
}

static void test_file_token(void **state)
{
    struct l_state *s = *state;
    EXPECT_ERR(wif_attest_probe(s->a), SHD_ERR_NOT_FOUND);
    write_minted(s, "https://sts.googleapis.com", 3600, true);
    EXPECT_OK(wif_attest_probe(s->a));
    size_t fl = 0;
    uint8_t *file = shd_test_read_file(s->token_path, &fl);

    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    get_ok(s, NULL, &tok, &n, &exp);
    assert_int_equal(n, fl - 1); /* the trailing newline is not part of the token */
    assert_memory_equal(tok, file, n);
    assert_true(exp > (int64_t)time(NULL) + 3500);
    shd_free_wipe(tok, n + 1);
    get_ok(s, "https://sts.googleapis.com", &tok, &n, &exp);
    assert_memory_equal(tok, file, n);
    shd_free_wipe(tok, n + 1);
    shd_free(file);

    /* The launcher replaces the file: the new token is served. */
    write_minted(s, "https://sts.googleapis.com", 1800, false);
    file = shd_test_read_file(s->token_path, &fl);
    get_ok(s, "", &tok, &n, &exp);
    assert_int_equal(n, fl);
    assert_memory_equal(tok, file, n);
    assert_true(exp <= (int64_t)time(NULL) + 1800);
    shd_free_wipe(tok, n + 1);
    shd_free(file);
    assert_int_equal(atomic_load(&s->tee_calls), 0);
    assert_int_equal(atomic_load(&s->f.jwks_fetches), 1);
}

static void expect_file_err(struct l_state *s, int code)
{
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    EXPECT_ERR(wif_attest_token(NULL, s->a, &tok, &n, &exp), code);
    assert_null(tok);
}

static void test_file_rejects(void **state)
{
    struct l_state *s = *state;
    expect_file_err(s, SHD_ERR_UNAVAILABLE); /* not written yet */
    write_token_file(s, "", 0);
    expect_file_err(s, SHD_ERR_UNAVAILABLE);
    write_token_file(s, "\n\n", 2);
    expect_file_err(s, SHD_ERR_INPUT);
    write_token_file(s, "not.a.jwt!", 10);
    expect_file_err(s, SHD_ERR_ENCODING);
    write_minted(s, "https://other.example", 3600, false);
    expect_file_err(s, SHD_ERR_TOKEN);
    write_minted(s, "https://sts.googleapis.com", -3600, false);
    expect_file_err(s, SHD_ERR_TOKEN);
    s->f.fault = FX_WRONG_KEY;
    write_minted(s, "https://sts.googleapis.com", 3600, false);
    expect_file_err(s, SHD_ERR_BAD_SIGNATURE);
    s->f.fault = FX_OK;

    char *big = shd_alloc(WIF_ATTEST_TOKEN_MAX + 2);
    memset(big, 'a', WIF_ATTEST_TOKEN_MAX + 1);
    write_token_file(s, big, WIF_ATTEST_TOKEN_MAX + 1);
    shd_free(big);
    expect_file_err(s, SHD_ERR_TOO_LARGE);

    assert_int_equal(unlink(s->token_path), 0);
    assert_int_equal(mkdir(s->token_path, 0700), 0);
    expect_file_err(s, SHD_ERR_IO);
    EXPECT_ERR(wif_attest_probe(s->a), SHD_ERR_IO);
    assert_int_equal(rmdir(s->token_path), 0);

    /* A good token again: the broken files left nothing behind. */
    write_minted(s, "https://sts.googleapis.com", 3600, false);
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    get_ok(s, NULL, &tok, &n, &exp);
    shd_free_wipe(tok, n + 1);
}

static void test_tee_custom_audience(void **state)
{
    struct l_state *s = *state;
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;
    get_ok(s, "https://my-service.example", &tok, &n, &exp);
    assert_string_equal(s->last_body, "{\"audience\":\"https://my-service.example\",\"nonces\":[],"
                                      "\"token_type\":\"OIDC\"}");
    assert_int_equal(atomic_load(&s->tee_calls), 1);
    assert_true(exp > (int64_t)time(NULL) + 3500);
    shd_free_wipe(tok, n + 1);

    /* Every custom-audience request goes to the teeserver (it attests afresh). */
    get_ok(s, "https://my-service.example", &tok, &n, &exp);
    assert_int_equal(atomic_load(&s->tee_calls), 2);
    shd_free_wipe(tok, n + 1);
}

static void test_tee_errors(void **state)
{
    struct l_state *s = *state;
    char *tok = NULL;
    size_t n = 0;
    int64_t exp = 0;

    s->mode = TEE_400;
    EXPECT_ERR(wif_attest_token("https://a.example", s->a, &tok, &n, &exp), SHD_ERR_HTTP_STATUS);
    char msg[512];
    (void)shd_error_render(msg, sizeof(msg));
    assert_non_null(strstr(msg, "teeserver: status 400: use GET request for the default "
                                "identity token??"));
    s->mode = TEE_WRONG_AUD;
    EXPECT_ERR(wif_attest_token("https://a.example", s->a, &tok, &n, &exp), SHD_ERR_TOKEN);
    s->mode = TEE_500;
    EXPECT_ERR(wif_attest_token("https://a.example", s->a, &tok, &n, &exp),
               SHD_ERR_RETRY_EXHAUSTED);
    assert_int_equal(atomic_load(&s->tee_calls), 2 + 3);
    assert_null(tok);

    /* No teeserver at all. */
    shd_http_server_stop(s->tee);
    EXPECT_ERR(wif_attest_token("https://a.example", s->a, &tok, &n, &exp),
               SHD_ERR_RETRY_EXHAUSTED);
    assert_null(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tee_custom_audience, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tee_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
