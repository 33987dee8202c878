/*
 * emu_pki_test.c - the test PKI: keys, names, certificates with fixed and random serials,
 * extensions (CA flags, SANs, raw private extensions), the three signature schemes verified
 * with OpenSSL, PEM round trips and the file modes of keys and certificates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "emu_files.h"
#include "emu_pki.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

static X509_NAME *name_of(const char *cn)
{
    const struct emu_pki_rdn rdns[] = {{"O", "emu-common"}, {"OU", "tests"}, {"CN", cn}};
    X509_NAME *n = NULL;
    EXPECT_OK(emu_pki_name(rdns, 3, &n));
    return n;
}

/* A self-signed CA: the issuer of the leaf certificates below. */
static X509 *make_ca(EVP_PKEY *key, X509_NAME *name)
{
    const uint64_t serial = 1;
    X509 *ca = NULL;
    EXPECT_OK(emu_pki_cert_new(name, name, key, &serial, 30, &ca));
    EXPECT_OK(emu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE", NULL, ca));
    EXPECT_OK(emu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign", NULL, ca));
    EXPECT_OK(emu_pki_cert_add_ext(NID_subject_key_identifier, "hash", NULL, ca));
    EXPECT_OK(emu_pki_cert_sign(key, EMU_PKI_SIG_SHA256, ca));
    return ca;
}

static void test_names(void **state)
{
    (void)state;
    X509_NAME *n = name_of("leaf");
    char buf[256];
    X509_NAME_oneline(n, buf, sizeof(buf));
    assert_string_equal(buf, "/O=emu-common/OU=tests/CN=leaf");
    X509_NAME_free(n);
    const struct emu_pki_rdn bad[] = {{"NOT-A-FIELD", "x"}};
    n = NULL;
    EXPECT_ERR(emu_pki_name(bad, 1, &n), SHD_ERR_CRYPTO);
    shd_error_clear();
    assert_null(n);
    const struct emu_pki_rdn null_value[] = {{"CN", NULL}};
    EXPECT_ERR(emu_pki_name(null_value, 1, &n), SHD_ERR_NULL);
    shd_error_clear();
}

static void test_ec_chain(void **state)
{
    (void)state;
    EVP_PKEY *ca_key = NULL;
    EXPECT_OK(emu_pki_ec_new("P-256", &ca_key));
    X509_NAME *ca_name = name_of("ca");
    X509 *ca = make_ca(ca_key, ca_name);
    assert_int_equal(X509_check_ca(ca), 1);
    const ASN1_INTEGER *sn = X509_get0_serialNumber(ca);
    assert_int_equal(ASN1_INTEGER_get(sn), 1);

    EVP_PKEY *key = NULL;
    EXPECT_OK(emu_pki_ec_new("P-384", &key));
    X509_NAME *name = name_of("localhost");
    X509 *leaf = NULL;
    EXPECT_OK(emu_pki_cert_new(name, ca_name, key, NULL, 825, &leaf));
    EXPECT_OK(emu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:FALSE", ca, leaf));
    EXPECT_OK(emu_pki_cert_add_ext(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1", ca, leaf));
    EXPECT_OK(emu_pki_cert_add_ext(NID_authority_key_identifier, "keyid:always", ca, leaf));
    EXPECT_OK(emu_pki_cert_sign(ca_key, EMU_PKI_SIG_SHA384, leaf));
    assert_int_equal(X509_verify(leaf, ca_key), 1);
    assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA384);
    assert_int_equal(X509_check_ca(leaf), 0);
    assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(leaf, "example.com", 0, 0, NULL), 0);
    /* Random serial: positive, at most 127 bits. */
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_true(BN_num_bits(bn) <= 127 && BN_num_bits(bn) > 64);
    BN_free(bn);
    /* Validity: back-dated, ending after now. */
    assert_true(X509_cmp_current_time(X509_get0_notBefore(leaf)) < 0);
    assert_true(X509_cmp_current_time(X509_get0_notAfter(leaf)) > 0);
    /* Bad extension text. */
    EXPECT_ERR(emu_pki_cert_add_ext(NID_basic_constraints, "bogus-value", ca, leaf),
               SHD_ERR_CRYPTO);
    shd_error_clear();
    X509_free(leaf);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
    X509_free(ca);
    X509_NAME_free(ca_name);
    EVP_PKEY_free(ca_key);
}

static void test_rsa_pss_and_raw_ext(void **state)
{
    (void)state;
    EVP_PKEY *key = NULL;
    EXPECT_OK(emu_pki_rsa_new(2048, &key));
    assert_int_equal(EVP_PKEY_get_bits(key), 2048);
    X509_NAME *name = name_of("ark");
    const uint64_t serial = 0;
    X509 *cert = NULL;
    EXPECT_OK(emu_pki_cert_new(name, name, key, &serial, 1, &cert));
    const uint8_t der[] = {0x02, 0x01, 0x07}; /* INTEGER 7 */
    EXPECT_OK(emu_pki_cert_add_raw_ext("1.3.6.1.4.1.3704.1.3.1", der, sizeof(der), cert));
    EXPECT_OK(emu_pki_cert_sign(key, EMU_PKI_SIG_PSS_SHA384, cert));
    assert_int_equal(X509_get_signature_nid(cert), NID_rsassaPss);
    assert_int_equal(X509_verify(cert, key), 1);
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(cert)), 0);
    /* The raw extension carries exactly our bytes. */
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.3704.1.3.1", 1);
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    ASN1_OBJECT_free(obj);
    assert_true(idx >= 0);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    assert_int_equal(ASN1_STRING_length(v), sizeof(der));
    assert_memory_equal(ASN1_STRING_get0_data(v), der, sizeof(der));
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cert, idx)), 0);
    /* Negative: bad OID, oversized value, unknown scheme, NULLs. */
    EXPECT_ERR(emu_pki_cert_add_raw_ext("not an oid", der, sizeof(der), cert), SHD_ERR_USAGE);
    shd_error_clear();
    uint8_t *big = shd_alloc(4097);
    assert_non_null(big);
    EXPECT_ERR(emu_pki_cert_add_raw_ext("1.2.3", big, 4097, cert), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    shd_free(big);
    EXPECT_ERR(emu_pki_cert_sign(key, (enum emu_pki_sig)7, cert), SHD_ERR_USAGE);
    shd_error_clear();
    EXPECT_ERR(emu_pki_cert_sign(NULL, EMU_PKI_SIG_SHA256, cert), SHD_ERR_NULL);
    shd_error_clear();
    EXPECT_ERR(emu_pki_ec_new("no-such-curve", &key), SHD_ERR_CRYPTO);
    shd_error_clear();
    X509_free(cert);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
}

static unsigned mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 0777);
}

static void test_pem_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/emu-pki-XXXXXX";
    assert_non_null(mkdtemp(dir));
    EVP_PKEY *key = NULL;
    EXPECT_OK(emu_pki_ec_new("P-256", &key));
    X509_NAME *name = name_of("ca");
    X509 *ca = make_ca(key, name);

    /* Two certificates appended: one PEM text with both. */
    char *pem = NULL;
    size_t len = 0;
    EXPECT_OK(emu_pki_cert_pem_append(ca, &pem, &len));
    size_t one = len;
    assert_int_equal(strlen(pem), one);
    assert_int_equal(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28), 0);
    EXPECT_OK(emu_pki_cert_pem_append(ca, &pem, &len));
    assert_int_equal(len, 2 * one);
    assert_memory_equal(pem, pem + one, one);

    char path[EMU_PATH_MAX];
    X509 *certs[2] = {ca, ca};
    EXPECT_OK(emu_path_join(dir, "chain.pem", path, sizeof(path)));
    EXPECT_OK(emu_pki_write_certs(path, certs, 2, 0));
    assert_int_equal(mode_of(path), 0644);
    uint8_t *back = NULL;
    size_t back_len = 0;
    EXPECT_OK(emu_file_read(path, 65536, 0, &back, &back_len));
    assert_int_equal(back_len, len);
    assert_memory_equal(back, pem, len);
    shd_free(back);
    EXPECT_OK(emu_pki_write_certs(path, certs, 1, EMU_FILE_ATOMIC));
    EXPECT_OK(emu_file_read(path, 65536, 0, &back, &back_len));
    assert_int_equal(back_len, one);
    shd_free(back);
    shd_free(pem);

    /* The key: PKCS#8 PEM, owner-only, and it loads back as the same key. */
    EXPECT_OK(emu_path_join(dir, "ca.key", path, sizeof(path)));
    EXPECT_OK(emu_pki_write_key(path, key, EMU_FILE_ATOMIC));
    assert_int_equal(mode_of(path), 0600);
    EXPECT_OK(emu_file_check_private(path));
    EXPECT_OK(emu_file_read(path, 65536, 0, &back, &back_len));
    assert_int_equal(strncmp((const char *)back, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
    EVP_PKEY *loaded = NULL;
    EXPECT_OK(shd_crypto_privkey_load(back, back_len, &loaded));
    shd_free_wipe(back, back_len + 1);
    assert_int_equal(EVP_PKEY_eq(loaded, key), 1);
    EVP_PKEY_free(loaded);
    EXPECT_OK(emu_pki_write_key(path, key, 0));
    assert_int_equal(mode_of(path), 0600);

    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    X509_free(ca);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_ec_chain),
        cmocka_unit_test(test_rsa_pss_and_raw_ext),
        cmocka_unit_test(test_pem_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
