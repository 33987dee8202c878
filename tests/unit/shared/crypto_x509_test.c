/*
 * crypto_x509_test.c - certificate loading and chain verification: the AMD VCEK/VLEK chains of
 * ../shared/vectors (RSASSA-PSS ARK/ASK) and a test CA for host names, with wrong roots, bad
 * signatures, expiry and malformed input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/mem.h"
#include "shd_test.h"

/* 2025-06-01T00:00:00Z: inside the validity of every AMD certificate used here, so the chain
 * tests do not depend on today's date (the VLEK expired on 2025-12-10). */
#define AMD_CHECK_TIME 1748736000

static uint8_t *fixture(const char *name, size_t *ret_len)
{
    char path[4096];
    const char *dir = getenv("SHD_SOURCE_DIR");

    assert_non_null(dir);
    int n = snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    return shd_test_read_file(path, ret_len);
}

static X509 *load_cert(uint8_t *buf, size_t len)
{
    X509 *cert = NULL;

    EXPECT_OK(shd_crypto_x509_load(buf, len, &cert));
    shd_free(buf);
    return cert;
}

static X509 *vector_cert(const char *rel)
{
    size_t len = 0;
    uint8_t *buf = shd_test_read_file(shd_test_vector_path(rel), &len);
    return load_cert(buf, len);
}

static X509 *fixture_cert(const char *name)
{
    size_t len = 0;
    uint8_t *buf = fixture(name, &len);
    return load_cert(buf, len);
}

static STACK_OF(X509) * load_chain(uint8_t *buf, size_t len)
{
    STACK_OF(X509) *chain = NULL;

    EXPECT_OK(shd_crypto_x509_chain_load(buf, len, &chain));
    shd_free(buf);
    return chain;
}

/* An AMD bundle (ASK first, then ARK) split into its intermediate and its root. */
struct amd_chain {
    STACK_OF(X509) * ask;
    STACK_OF(X509) * ark;
};

static void amd_chain_load(const char *rel, struct amd_chain *c)
{
    size_t len = 0;
    uint8_t *buf = shd_test_read_file(shd_test_vector_path(rel), &len);
    STACK_OF(X509) *all = load_chain(buf, len);

    assert_int_equal(sk_X509_num(all), 2);
    c->ark = sk_X509_new_null();
    assert_non_null(c->ark);
    assert_true(sk_X509_push(c->ark, sk_X509_pop(all)) > 0);
    c->ask = all;
}

static void amd_chain_free(struct amd_chain *c)
{
    shd_crypto_x509_chain_free(c->ask);
    shd_crypto_x509_chain_free(c->ark);
}

static const struct shd_crypto_x509_verify_opts amd_opts = {.check_time = AMD_CHECK_TIME};

static void test_amd_chains_verify(void **state)
{
    static const struct {
        const char *leaf, *bundle;
    } cases[] = {
        {"snp-milan-virtee/vcek.der", "amd/ask_ark_milan.pem"},
        {"snp-milan-virtee/vcek.der", "snp-milan-virtee/cert_chain.pem"},
        /* The VLEK is issued by SEV-VLEK-Milan: the Milan VLEK chain. */
        {"snp-vlek-trustee/vlek.der", "amd/ask_ark_milan_vlek.pem"},
        {"snp-turin-chain/vcek.der", "amd/ask_ark_turin_vcek.pem"},
        {"snp-turin-chain/vcek.der", "snp-turin-chain/cert_chain.pem"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SHD_CLEANUP(X509_free_p) X509 *leaf = vector_cert(cases[i].leaf);
        struct amd_chain c;

        amd_chain_load(cases[i].bundle, &c);
        EXPECT_OK(shd_crypto_x509_verify(leaf, c.ask, c.ark, &amd_opts));
        /* Without the ASK there is no path. */
        EXPECT_ERR(shd_crypto_x509_verify(leaf, NULL, c.ark, &amd_opts), SHD_ERR_BAD_CERT);
        amd_chain_free(&c);
    }
}

static void test_amd_wrong_roots(void **state)
{
    SHD_CLEANUP(X509_free_p) X509 *vcek = vector_cert("snp-milan-virtee/vcek.der");
    SHD_CLEANUP(X509_free_p) X509 *vlek = vector_cert("snp-vlek-trustee/vlek.der");
    struct amd_chain genoa, milan_vlek, milan;
    char buf[512];
    (void)state;

    amd_chain_load("amd/ask_ark_genoa.pem", &genoa);
    amd_chain_load("amd/ask_ark_milan_vlek.pem", &milan_vlek);
    amd_chain_load("amd/ask_ark_milan.pem", &milan);
    /* Genoa roots for a Milan VCEK. */
    EXPECT_ERR(shd_crypto_x509_verify(vcek, genoa.ask, genoa.ark, &amd_opts), SHD_ERR_BAD_CERT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_non_null(strstr(buf, "certificate verify failed at depth 0"));
    assert_non_null(strstr(buf, "CN=SEV-VCEK"));
    assert_non_null(strstr(buf, "unable to get local issuer certificate"));
    /* VCEK against the VLEK chain (same ARK, other ASK) and the reverse. */
    EXPECT_ERR(shd_crypto_x509_verify(vcek, milan_vlek.ask, milan_vlek.ark, &amd_opts),
               SHD_ERR_BAD_CERT);
    EXPECT_ERR(shd_crypto_x509_verify(vlek, milan.ask, milan.ark, &amd_opts), SHD_ERR_BAD_CERT);
    /* The ASK offered as a root is not a self-signed anchor: no partial chains. */
    EXPECT_ERR(shd_crypto_x509_verify(vcek, NULL, milan.ask, &amd_opts), SHD_ERR_BAD_CERT);
    /* The trusted ARK of another product next to the right ASK. */
    EXPECT_ERR(shd_crypto_x509_verify(vcek, milan.ask, genoa.ark, &amd_opts), SHD_ERR_BAD_CERT);
    amd_chain_free(&genoa);
    amd_chain_free(&milan_vlek);
    amd_chain_free(&milan);
}

static void test_amd_tampered_certs(void **state)
{
    size_t len = 0;
    uint8_t *der = shd_test_read_file(shd_test_vector_path("snp-milan-virtee/vcek.der"), &len);
    struct amd_chain milan;
    char buf[512];
    (void)state;

    amd_chain_load("amd/ask_ark_milan.pem", &milan);
    /* Flip a bit in the signature (the last byte) and in the signed body (the hwID area). */
    const size_t offsets[] = {len - 1, len / 2};
    for (size_t i = 0; i < 2; i++) {
        der[offsets[i]] ^= 0x01;
        X509 *cert = NULL;
        shd_result r = shd_crypto_x509_load(der, len, &cert);
        if (shd_is_ok(r)) {
            EXPECT_ERR(shd_crypto_x509_verify(cert, milan.ask, milan.ark, &amd_opts),
                       SHD_ERR_BAD_CERT);
            (void)shd_error_render(buf, sizeof(buf));
            assert_non_null(strstr(buf, "certificate signature failure"));
            X509_free(cert);
        } else {
            assert_int_equal(r.err, SHD_ERR_INPUT);
        }
        der[offsets[i]] ^= 0x01;
    }
    /* A tampered ASK fails at depth 1. */
    size_t bundle_len = 0;
    uint8_t *bundle =
        shd_test_read_file(shd_test_vector_path("amd/ask_ark_milan.pem"), &bundle_len);
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *ask = NULL;
    EXPECT_OK(shd_crypto_x509_chain_load(bundle, bundle_len, &ask));
    uint8_t *ask_der = NULL;
    size_t ask_len = 0;
    EXPECT_OK(shd_crypto_x509_export_der(sk_X509_value(ask, 0), &ask_der, &ask_len));
    ask_der[ask_len - 1] ^= 0x01;
    SHD_CLEANUP(X509_free_p) X509 *bad_ask = NULL;
    EXPECT_OK(shd_crypto_x509_load(ask_der, ask_len, &bad_ask));
    SHD_CLEANUP(X509_free_p) X509 *vcek = NULL;
    EXPECT_OK(shd_crypto_x509_load(der, len, &vcek));
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *untrusted = sk_X509_new_null();
    assert_non_null(untrusted);
    assert_true(X509_up_ref(bad_ask) == 1 && sk_X509_push(untrusted, bad_ask) > 0);
    EXPECT_ERR(shd_crypto_x509_verify(vcek, untrusted, milan.ark, &amd_opts), SHD_ERR_BAD_CERT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_non_null(strstr(buf, "at depth 1 (CN=SEV-Milan"));
    shd_free(ask_der);
    shd_free(bundle);
    shd_free(der);
    amd_chain_free(&milan);
}

static void test_time_checks(void **state)
{
    SHD_CLEANUP(X509_free_p) X509 *vlek = vector_cert("snp-vlek-trustee/vlek.der");
    struct amd_chain c;
    struct shd_crypto_x509_verify_opts opts = {0};
    char buf[512];
    (void)state;

    amd_chain_load("amd/ask_ark_milan_vlek.pem", &c);
    /* The VLEK expired on 2025-12-10: after that it fails... */
    opts.check_time = 1767225600; /* 2026-01-01 */
    EXPECT_ERR(shd_crypto_x509_verify(vlek, c.ask, c.ark, &opts), SHD_ERR_BAD_CERT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "certificate verify failed at depth 0 (CN=SEV-VLEK,O=Advanced Micro "
                             "Devices,ST=CA,L=Santa Clara,C=US,OU=Engineering): certificate has "
                             "expired");
    /* ...before its notBefore (2024-12-10) it is not yet valid... */
    opts.check_time = 1700000000; /* 2023-11-14 */
    EXPECT_ERR(shd_crypto_x509_verify(vlek, c.ask, c.ark, &opts), SHD_ERR_BAD_CERT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_non_null(strstr(buf, "certificate is not yet valid"));
    /* ...and with time checks switched off the dates do not matter. */
    opts.flags = SHD_CRYPTO_X509_NO_TIME_CHECK;
    EXPECT_OK(shd_crypto_x509_verify(vlek, c.ask, c.ark, &opts));
    /* Default: now. The VLEK is expired today, the ARK is not. */
    if (time(NULL) > 1765411200) {
        EXPECT_ERR(shd_crypto_x509_verify(vlek, c.ask, c.ark, NULL), SHD_ERR_BAD_CERT);
    }
    opts.flags = 0;
    opts.check_time = -5;
    EXPECT_ERR(shd_crypto_x509_verify(vlek, c.ask, c.ark, &opts), SHD_ERR_USAGE);
    amd_chain_free(&c);
}

static void test_host_names(void **state)
{
    SHD_CLEANUP(X509_free_p) X509 *server = fixture_cert("server.pem");
    size_t len = 0;
    uint8_t *pem = fixture("ca.pem", &len);
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *roots = load_chain(pem, len);
    pem = fixture("other_ca.pem", &len);
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *other = load_chain(pem, len);
    struct shd_crypto_x509_verify_opts opts = {.host = "test.example.com"};
    char buf[512];
    (void)state;

    EXPECT_OK(shd_crypto_x509_verify(server, NULL, roots, NULL));
    EXPECT_OK(shd_crypto_x509_verify(server, NULL, roots, &opts));
    opts.host = "TEST.example.com";
    EXPECT_OK(shd_crypto_x509_verify(server, NULL, roots, &opts));
    opts.host = "evil.example.com";
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, roots, &opts), SHD_ERR_BAD_CERT);
    (void)shd_error_render(buf, sizeof(buf));
    assert_non_null(strstr(buf, "hostname mismatch"));
    opts.host = "example.com";
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, roots, &opts), SHD_ERR_BAD_CERT);
    opts.host = "test.example.com.evil";
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, roots, &opts), SHD_ERR_BAD_CERT);
    opts.host = "";
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, roots, &opts), SHD_ERR_USAGE);
    /* Wrong root. */
    opts.host = "test.example.com";
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, other, &opts), SHD_ERR_BAD_CERT);
    /* Both roots: the right one is found. */
    X509 *ca = sk_X509_value(roots, 0);
    assert_true(X509_up_ref(ca) == 1 && sk_X509_push(other, ca) > 0);
    EXPECT_OK(shd_crypto_x509_verify(server, NULL, other, &opts));
    /* No roots at all is misuse. */
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *none = sk_X509_new_null();
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, none, &opts), SHD_ERR_USAGE);
    EXPECT_ERR(shd_crypto_x509_verify(server, NULL, NULL, &opts), SHD_ERR_NULL);
}

static void test_load_malformed(void **state)
{
    size_t der_len = 0, pem_len = 0;
    uint8_t *der = shd_test_read_file(shd_test_vector_path("snp-milan-virtee/vcek.der"), &der_len);
    uint8_t *pem = fixture("server.pem", &pem_len);
    X509 *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    (void)state;

    /* Truncated DER, DER with a trailing byte, empty input, garbage. */
    EXPECT_ERR(shd_crypto_x509_load(der, der_len - 1, &cert), SHD_ERR_INPUT);
    EXPECT_ERR(shd_crypto_x509_load(der, 10, &cert), SHD_ERR_INPUT);
    uint8_t *longer = shd_alloc(der_len + 1);
    shd_memcpy(longer, der, der_len);
    EXPECT_ERR(shd_crypto_x509_load(longer, der_len + 1, &cert), SHD_ERR_INPUT);
    EXPECT_ERR(shd_crypto_x509_chain_load(longer, der_len + 1, &chain), SHD_ERR_INPUT);
    shd_free(longer);
    EXPECT_ERR(shd_crypto_x509_load(der, 0, &cert), SHD_ERR_INPUT);
    EXPECT_ERR(shd_crypto_x509_load((const uint8_t *)"hello", 5, &cert), SHD_ERR_INPUT);
    EXPECT_ERR(shd_crypto_x509_chain_load((const uint8_t *)"hello", 5, &chain), SHD_ERR_INPUT);
    /* Truncated PEM: the first block is cut. */
    EXPECT_ERR(shd_crypto_x509_load(pem, pem_len / 2, &cert), SHD_ERR_INPUT);
    EXPECT_ERR(shd_crypto_x509_chain_load(pem, pem_len / 2, &chain), SHD_ERR_INPUT);
    /* A damaged base64 body. */
    pem[100] = '!';
    EXPECT_ERR(shd_crypto_x509_chain_load(pem, pem_len, &chain), SHD_ERR_INPUT);
    assert_null(cert);
    assert_null(chain);
    /* A single DER certificate is a chain of one. */
    EXPECT_OK(shd_crypto_x509_chain_load(der, der_len, &chain));
    assert_int_equal(sk_X509_num(chain), 1);
    shd_crypto_x509_chain_free(chain);
    shd_crypto_x509_chain_free(NULL);
    shd_free(der);
    shd_free(pem);
}

static void test_bundle_limits(void **state)
{
    size_t one_len = 0;
    uint8_t *one = fixture("ca.pem", &one_len);
    size_t n = one_len * (SHD_CRYPTO_X509_CHAIN_MAX + 1);
    uint8_t *many = shd_alloc(n);
    STACK_OF(X509) *chain = NULL;
    (void)state;

    for (size_t i = 0; i <= SHD_CRYPTO_X509_CHAIN_MAX; i++) {
        shd_memcpy(many + i * one_len, one, one_len);
    }
    EXPECT_OK(shd_crypto_x509_chain_load(many, n - one_len, &chain));
    assert_int_equal(sk_X509_num(chain), SHD_CRYPTO_X509_CHAIN_MAX);
    shd_crypto_x509_chain_free(chain);
    chain = NULL;
    EXPECT_ERR(shd_crypto_x509_chain_load(many, n, &chain), SHD_ERR_TOO_LARGE);
    assert_null(chain);
    shd_free(many);
    shd_free(one);
}

static void test_extensions_and_export(void **state)
{
    SHD_CLEANUP(X509_free_p) X509 *vcek = vector_cert("snp-milan-virtee/vcek.der");
    SHD_CLEANUP(X509_free_p) X509 *turin = vector_cert("snp-turin-chain/vcek.der");
    size_t hex_len = 0, rep_len = 0, len = 0;
    uint8_t *hex =
        shd_test_read_file(shd_test_vector_path("snp-milan-virtee/report.hex"), &hex_len);
    uint8_t *report = shd_test_unhex((const char *)hex, &rep_len);
    const uint8_t *data = NULL;
    (void)state;

    /* hwID (azure-formats.md §3.2): raw 64 bytes equal to the report's CHIP_ID (0x1A0). */
    EXPECT_OK(shd_crypto_x509_ext_value(vcek, "1.3.6.1.4.1.3704.1.4", &data, &len));
    assert_int_equal(len, 64);
    assert_memory_equal(data, report + 0x1A0, 64);
    /* Turin: 8 bytes. */
    EXPECT_OK(shd_crypto_x509_ext_value(turin, "1.3.6.1.4.1.3704.1.4", &data, &len));
    assert_int_equal(len, 8);
    /* ucodeSPL 0x73 as a DER INTEGER. */
    EXPECT_OK(shd_crypto_x509_ext_value(vcek, "1.3.6.1.4.1.3704.1.3.8", &data, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(data, "\x02\x01\x73", 3);
    /* productName "Milan-B0" as IA5String. */
    EXPECT_OK(shd_crypto_x509_ext_value(vcek, "1.3.6.1.4.1.3704.1.2", &data, &len));
    assert_int_equal(len, 10);
    assert_memory_equal(data, "\x16\x08Milan-B0", 10);
    EXPECT_ERR(shd_crypto_x509_ext_value(vcek, "1.3.6.1.4.1.3704.1.5", &data, &len),
               SHD_ERR_NOT_FOUND);
    EXPECT_ERR(shd_crypto_x509_ext_value(vcek, "not an oid", &data, &len), SHD_ERR_INPUT);
    EXPECT_ERR(shd_crypto_x509_ext_value(vcek, "commonName", &data, &len), SHD_ERR_INPUT);
    /* DER export is the input byte for byte. */
    size_t der_len = 0;
    uint8_t *der = shd_test_read_file(shd_test_vector_path("snp-milan-virtee/vcek.der"), &der_len);
    uint8_t *out = NULL;
    EXPECT_OK(shd_crypto_x509_export_der(vcek, &out, &len));
    assert_int_equal(len, der_len);
    assert_memory_equal(out, der, der_len);
    shd_free(out);
    shd_free(der);
    shd_free(hex);
    shd_free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amd_chains_verify),  cmocka_unit_test(test_amd_wrong_roots),
        cmocka_unit_test(test_amd_tampered_certs), cmocka_unit_test(test_time_checks),
        cmocka_unit_test(test_host_names),         cmocka_unit_test(test_load_malformed),
        cmocka_unit_test(test_bundle_limits),      cmocka_unit_test(test_extensions_and_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
