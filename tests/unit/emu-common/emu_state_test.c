/*
 * emu_state_test.c - loading a state directory: keys and certificates that load, the "run
 * init first?" hint of a missing file, keys readable by others, garbage PEM, a key that does
 * not match its certificate, and symbolic links under EMU_FILE_NOFOLLOW.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "emu_files.h"
#include "emu_pki.h"
#include "emu_state.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

struct fx {
    char dir[64];
    EVP_PKEY *key;
    X509 *cert;
};

static void fx_write(const struct fx *f, const char *rel, const char *text, unsigned mode)
{
    char p[EMU_PATH_MAX];
    EXPECT_OK(emu_path_join(f->dir, rel, p, sizeof(p)));
    EXPECT_OK(emu_file_write(p, text, strlen(text), mode, 0));
}

static int fx_setup(void **state)
{
    struct fx *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/emu-state-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    EXPECT_OK(emu_pki_ec_new("P-256", &f->key));
    const struct emu_pki_rdn rdns[] = {{"CN", "state test"}};
    X509_NAME *name = NULL;
    EXPECT_OK(emu_pki_name(rdns, 1, &name));
    EXPECT_OK(emu_pki_cert_new(name, name, f->key, NULL, 1, &f->cert));
    X509_NAME_free(name);
    EXPECT_OK(emu_pki_cert_sign(f->key, EMU_PKI_SIG_SHA256, f->cert));
    char p[EMU_PATH_MAX];
    EXPECT_OK(emu_path_join(f->dir, "ca.key", p, sizeof(p)));
    EXPECT_OK(emu_pki_write_key(p, f->key, 0));
    EXPECT_OK(emu_path_join(f->dir, "ca.pem", p, sizeof(p)));
    EXPECT_OK(emu_pki_write_certs(p, &f->cert, 1, 0));
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    EVP_PKEY_free(f->key);
    X509_free(f->cert);
    shd_free(f);
    return 0;
}

static void expect_message(const char *part)
{
    char msg[1024];
    (void)shd_error_render(msg, sizeof(msg));
    if (strstr(msg, part) == NULL) {
        fail_msg("message '%s' lacks '%s'", msg, part);
    }
    shd_error_clear();
}

static void test_load(void **state)
{
    struct fx *f = *state;
    const struct emu_state_dir d = {.path = f->dir, .tool = "test-emu", .read_flags = 0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    EXPECT_OK(emu_state_load_key(&d, "ca.key", &key));
    EXPECT_OK(emu_state_load_cert(&d, "ca.pem", &cert));
    assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
    assert_int_equal(X509_cmp(cert, f->cert), 0);
    EXPECT_OK(emu_state_check_pair(cert, key, "ca.pem", "ca.key"));
    uint8_t *text = NULL;
    size_t len = 0;
    EXPECT_OK(emu_state_read(&d, "ca.pem", &text, &len));
    assert_int_equal(len, strlen((const char *)text));
    shd_free(text);
    EXPECT_OK(emu_state_check_private(&d, "ca.key"));
    /* Another key does not match the certificate. */
    EVP_PKEY *other = NULL;
    EXPECT_OK(emu_pki_ec_new("P-256", &other));
    EXPECT_ERR(emu_state_check_pair(cert, other, "ca.pem", "other.key"), SHD_ERR_BAD_KEY);
    expect_message("other.key does not match ca.pem");
    EVP_PKEY_free(other);
    EVP_PKEY_free(key);
    X509_free(cert);
}

static void test_refused(void **state)
{
    struct fx *f = *state;
    const struct emu_state_dir d = {.path = f->dir, .tool = "test-emu", .read_flags = 0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    /* Missing: the hint names the tool and the directory. */
    EXPECT_ERR(emu_state_load_cert(&d, "missing.pem", &cert), SHD_ERR_NOT_FOUND);
    char want[256];
    snprintf(want, sizeof(want), "(run 'test-emu init --state %s' first?)", f->dir);
    expect_message(want);
    EXPECT_ERR(emu_state_load_key(&d, "missing.key", &key), SHD_ERR_CONFIG);
    shd_error_clear();
    /* A key readable by others is refused before it is read. */
    fx_write(f, "open.key", "-----BEGIN PRIVATE KEY-----\n", 0644);
    EXPECT_ERR(emu_state_load_key(&d, "open.key", &key), SHD_ERR_PERMISSION);
    expect_message("is accessible by group or others (mode 644)");
    /* Garbage PEM. */
    fx_write(f, "bad.key", "not a key\n", 0600);
    shd_result r = emu_state_load_key(&d, "bad.key", &key);
    assert_true(shd_is_err(r));
    expect_message("loading bad.key");
    fx_write(f, "bad.pem", "not a certificate\n", 0644);
    r = emu_state_load_cert(&d, "bad.pem", &cert);
    assert_true(shd_is_err(r));
    expect_message("loading bad.pem");
    assert_null(key);
    assert_null(cert);
    /* Symbolic links: followed by default, refused with EMU_FILE_NOFOLLOW. */
    char target[EMU_PATH_MAX];
    char link[EMU_PATH_MAX];
    EXPECT_OK(emu_path_join(f->dir, "ca.pem", target, sizeof(target)));
    EXPECT_OK(emu_path_join(f->dir, "link.pem", link, sizeof(link)));
    assert_int_equal(symlink(target, link), 0);
    EXPECT_OK(emu_state_load_cert(&d, "link.pem", &cert));
    X509_free(cert);
    cert = NULL;
    const struct emu_state_dir strict = {
        .path = f->dir, .tool = "t", .read_flags = EMU_FILE_NOFOLLOW};
    EXPECT_ERR(emu_state_load_cert(&strict, "link.pem", &cert), SHD_ERR_IO);
    shd_error_clear();
    assert_null(cert);
    /* NULL directory. */
    EXPECT_ERR(emu_state_read(NULL, "ca.pem", NULL, NULL), SHD_ERR_NULL);
    shd_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
