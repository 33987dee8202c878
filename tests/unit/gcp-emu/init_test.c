/*
 * init_test.c - `gcp-emu init`: the files and their modes, the TLS certificate's names and
 * chain, the AK CA chain, option validation, the non-empty-directory guard, and the state
 * loader's refusal of readable private keys.
 */
#include <sys/stat.h>

#include <openssl/x509v3.h>

#include "gemu_fixture.h"
#include "shd/crypto_x509.h"

static void mode_is(const char *dir, const char *rel, unsigned mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if ((sb.st_mode & 0777) != mode) {
        fail_msg("%s has mode %03o, want %03o", rel, (unsigned)(sb.st_mode & 0777), mode);
    }
}

static X509 *load_cert(const char *dir, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    size_t len = 0;
    uint8_t *pem = shd_test_read_file(path, &len);
    X509 *c = NULL;
    fx_fail(shd_crypto_x509_load(pem, len, &c), rel);
    shd_free(pem);
    return c;
}

static void test_layout_and_pki(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    static const char *const secret[] = {"ca.key",
                                         "server.key",
                                         "verifier.key",
                                         "google.key",
                                         "ak/intermediate.key",
                                         "kms/global/gemu-ring/gemu-rsa/1.pem",
                                         "kms/global/gemu-ring/gemu-sym/1.aes"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        mode_is(f.dir, secret[i], 0600);
    }
    mode_is(f.dir, ".", 0700);
    mode_is(f.dir, "kms", 0700);
    mode_is(f.dir, "ca.pem", 0644);
    mode_is(f.dir, "config.json", 0644);

    X509 *leaf = load_cert(f.dir, "server.pem");
    static const char *const names[] = {"localhost",
                                        "sts.googleapis.com",
                                        "iamcredentials.googleapis.com",
                                        "cloudkms.googleapis.com",
                                        "confidentialcomputing.googleapis.com",
                                        "www.googleapis.com"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(X509_check_host(leaf, names[i], 0, 0, NULL), 1);
    }
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    assert_int_not_equal(X509_check_host(leaf, "a.b.googleapis.com", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_host(leaf, "example.com", 0, 0, NULL), 1);
    STACK_OF(X509) *roots = sk_X509_new_null();
    X509_up_ref(f.st->ca_cert);
    sk_X509_push(roots, f.st->ca_cert);
    struct shd_crypto_x509_verify_opts vo = {.host = "sts.googleapis.com"};
    fx_fail(shd_crypto_x509_verify(leaf, NULL, roots, &vo), "server chain");
    shd_crypto_x509_chain_free(roots);
    X509_free(leaf);

    /* The AK CA: intermediate under root, with the AIA URL the MDS serves. */
    roots = sk_X509_new_null();
    X509_up_ref(f.st->ak_root_cert);
    sk_X509_push(roots, f.st->ak_root_cert);
    fx_fail(shd_crypto_x509_verify(f.st->ak_ca_cert, NULL, roots, NULL), "ak chain");
    shd_crypto_x509_chain_free(roots);
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(f.st->ak_ca_cert, NID_info_access, NULL, NULL);
    assert_non_null(aia);
    ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
    assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
    const ASN1_IA5STRING *uri = ad->location->d.uniformResourceIdentifier;
    assert_string_equal((const char *)ASN1_STRING_get0_data(uri), GEMU_AK_ROOT_AIA_URL);
    AUTHORITY_INFO_ACCESS_free(aia);

    assert_string_equal(f.st->id.project_id, "gemu-project");
    assert_int_equal(strlen(f.st->verifier_kid), GEMU_KID_LEN);
    assert_string_not_equal(f.st->verifier_kid, f.st->google_kid);
    fx_free(&f);
}

static void test_options_and_guards(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/gemu-init-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct gemu_init_opts o = {.state_dir = dir};
    static const struct {
        const char *field;
        const char *value;
    } bad[] = {
        {"project_id", "X"},           {"project_id", "1abcdef"},
        {"project_id", "abc def-ghi"}, {"project_number", "0"},
        {"project_number", "12a"},     {"project_number", "99999999999999999999"},
        {"instance_id", "-5"},         {"instance_id", "9223372036854775808"},
        {"instance_name", "Upper"},    {"zone", "us/central"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gemu_init_opts b = o;
        if (strcmp(bad[i].field, "project_id") == 0) {
            b.project_id = bad[i].value;
        } else if (strcmp(bad[i].field, "project_number") == 0) {
            b.project_number = bad[i].value;
        } else if (strcmp(bad[i].field, "instance_id") == 0) {
            b.instance_id = bad[i].value;
        } else if (strcmp(bad[i].field, "instance_name") == 0) {
            b.instance_name = bad[i].value;
        } else {
            b.zone = bad[i].value;
        }
        EXPECT_ERR(gemu_init_run(&b), SHD_ERR_CONFIG);
    }
    struct gemu_init_opts none = {0};
    EXPECT_ERR(gemu_init_run(&none), SHD_ERR_CONFIG);

    /* Custom identity, then the non-empty guard and --force. */
    o.project_id = "my-proj-1";
    o.project_number = "42";
    o.small_keys = true;
    EXPECT_OK(gemu_init_run(&o));
    EXPECT_ERR(gemu_init_run(&o), SHD_ERR_CONFIG);
    o.force = true;
    EXPECT_OK(gemu_init_run(&o));

    struct gemu_state *st = NULL;
    struct gemu_state_options so = {.state_dir = dir};
    EXPECT_OK(gemu_state_load(&so, &st));
    assert_string_equal(st->id.project_number, "42");
    assert_string_equal(st->id.vm_service_account, "42-compute@developer.gserviceaccount.com");
    gemu_state_free(st);

    /* A private key readable by others is refused. */
    char path[512];
    snprintf(path, sizeof(path), "%s/verifier.key", dir);
    assert_int_equal(chmod(path, 0644), 0);
    EXPECT_ERR(gemu_state_load(&so, &st), SHD_ERR_PERMISSION);
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/config.json", dir);
    assert_int_equal(remove(path), 0);
    EXPECT_ERR(gemu_state_load(&so, &st), SHD_ERR_NOT_FOUND);
    shd_error_clear();
    (void)nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_pki),
        cmocka_unit_test(test_options_and_guards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
