/*
 * chip_test.c - `azure-emu init`: the AMD-like PKI (chain, PSS parameters, VCEK extensions
 * compared with a real AMD VCEK), the TLS and service keys, the security-context files, and
 * option handling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd.h"
#include "init.h"
#include "secctx.h"
#include "shd/mem.h"
#include "shd_test.h"

struct fixture {
    char milan[64];
    char genoa[64];
};

static char *path_of(const char *dir, const char *name)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static X509 *load_cert(const char *dir, const char *name)
{
    FILE *f = fopen(path_of(dir, name), "r");
    assert_non_null(f);
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(c);
    return c;
}

static X509 *load_der(const char *path)
{
    size_t len = 0;
    uint8_t *der = shd_test_read_file(path, &len);
    const uint8_t *p = der;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    shd_free(der);
    assert_non_null(c);
    return c;
}

/* Decodes standard base64 (the security-context files). */
static uint8_t *unb64(const uint8_t *in, size_t n, size_t *ret_len)
{
    uint8_t *out = shd_alloc(n + 1);
    assert_non_null(out);
    int len = EVP_DecodeBlock(out, in, (int)n);
    assert_true(len >= 0);
    size_t pad = (size_t)(n > 0 && in[n - 1] == '=') + (size_t)(n > 1 && in[n - 2] == '=');
    *ret_len = (size_t)len - pad;
    out[*ret_len] = 0;
    return out;
}

static void rm_rf(const char *dir)
{
    char cmd[256];
    int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->milan, sizeof(f->milan), "/tmp/aemu-chip-XXXXXX");
    snprintf(f->genoa, sizeof(f->genoa), "/tmp/aemu-chip-XXXXXX");
    assert_non_null(mkdtemp(f->milan));
    assert_non_null(mkdtemp(f->genoa));
    /* The real configuration: RSA-4096 ARK/ASK, Milan defaults. */
    struct aemu_init_opts o = {.state_dir = f->milan, .product = SHD_SNP_PRODUCT_MILAN};
    EXPECT_OK(aemu_init_run(&o));
    /* Genoa over a non-empty directory with --force; ucode 0xd1 >= 0x80; small roots. */
    FILE *junk = fopen(path_of(f->genoa, "junk"), "w");
    assert_non_null(junk);
    fclose(junk);
    struct aemu_init_opts g = {.state_dir = f->genoa,
                               .product = SHD_SNP_PRODUCT_GENOA,
                               .has_tcb = true,
                               .reported_tcb = 0xd11700000000000aull,
                               .force = true,
                               .root_rsa_bits = 2048};
    EXPECT_OK(aemu_init_run(&g));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_rf(f->milan);
    rm_rf(f->genoa);
    shd_free(f);
    return 0;
}

static int verify_chain(X509 *ark, X509 *ask, X509 *leaf)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_true(store && untrusted && ctx);
    assert_int_equal(X509_STORE_add_cert(store, ark), 1);
    if (ask != NULL) {
        assert_true(sk_X509_push(untrusted, ask) > 0);
    }
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
    int ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return ok;
}

static void test_vcek_chains_to_ark(void **state)
{
    struct fixture *f = *state;
    X509 *ark = load_cert(f->milan, "snp/ark.pem");
    X509 *ask = load_cert(f->milan, "snp/ask.pem");
    X509 *vcek = load_cert(f->milan, "snp/vcek.pem");
    assert_int_equal(verify_chain(ark, ask, vcek), 1);
    /* Without the ASK there is no path. */
    assert_int_not_equal(verify_chain(ark, NULL, vcek), 1);
    /* A different chip's ARK does not anchor this VCEK. */
    X509 *other = load_cert(f->genoa, "snp/ark.pem");
    assert_int_not_equal(verify_chain(other, ask, vcek), 1);
    /* The signature AlgorithmIdentifier: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48. AMD's
     * own encoding also spells out the DEFAULT trailerField 1 ([3] INTEGER 1), which DER
     * omits and OpenSSL will not emit; verifiers read both the same. */
    const X509_ALGOR *a = NULL;
    X509_get0_signature(NULL, &a, vcek);
    uint8_t *da = NULL;
    int la = i2d_X509_ALGOR(a, &da);
    size_t want_len = 0;
    uint8_t *want = shd_test_unhex("3041"
                                   "06092a864886f70d01010a"
                                   "3034"
                                   "a00f300d06096086480165030402020500"
                                   "a11c301a06092a864886f70d010108300d06096086480165030402020500"
                                   "a203020130",
                                   &want_len);
    assert_int_equal((size_t)la, want_len);
    assert_memory_equal(da, want, want_len);
    shd_free(want);
    OPENSSL_free(da);
    X509 *real = load_der(shd_test_vector_path("snp-milan-virtee/vcek.der"));
    X509_get0_signature(NULL, &a, ask);
    assert_int_equal(OBJ_obj2nid(a->algorithm), NID_rsassaPss);
    /* Names as AMD writes them. */
    char cn[64];
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(ark), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "ARK-Milan");
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(vcek), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "SEV-VCEK");
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(real), X509_get_issuer_name(vcek)), 0);
    EVP_PKEY *ark_pub = X509_get0_pubkey(ark);
    assert_int_equal(EVP_PKEY_get_bits(ark_pub), 4096);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(vcek)), 384);
    X509_free(real);
    X509_free(other);
    X509_free(ark);
    X509_free(ask);
    X509_free(vcek);
}

static const uint8_t *ext_value(X509 *cert, const char *oid, int *ret_len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    assert_non_null(obj);
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    ASN1_OBJECT_free(obj);
    assert_true(idx >= 0);
    X509_EXTENSION *ext = X509_get_ext(cert, idx);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 0);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    *ret_len = ASN1_STRING_length(v);
    return ASN1_STRING_get0_data(v);
}

static void expect_ext(X509 *cert, const char *oid, const char *hex)
{
    size_t want_len = 0;
    uint8_t *want = shd_test_unhex(hex, &want_len);
    int len = 0;
    const uint8_t *got = ext_value(cert, oid, &len);
    assert_int_equal((size_t)len, want_len);
    assert_memory_equal(got, want, want_len);
    shd_free(want);
}

static void test_vcek_extensions(void **state)
{
    struct fixture *f = *state;
    X509 *vcek = load_cert(f->milan, "snp/vcek.pem");
    X509 *real = load_der(shd_test_vector_path("snp-milan-virtee/vcek.der"));
    /* Same extensions in the same order as the real Milan VCEK. */
    assert_int_equal(X509_get_ext_count(vcek), X509_get_ext_count(real));
    for (int i = 0; i < X509_get_ext_count(real); i++) {
        assert_int_equal(OBJ_cmp(X509_EXTENSION_get_object(X509_get_ext(vcek, i)),
                                 X509_EXTENSION_get_object(X509_get_ext(real, i))),
                         0);
    }
    /* Default Milan TCB 0x7308000000000003: the values (and encodings) of the real one. */
    const char *same[] = {"1", "2", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char oid[64];
        int n = snprintf(oid, sizeof(oid), "1.3.6.1.4.1.3704.1.%s", same[i]);
        assert_true(n > 0);
        int la = 0;
        int lb = 0;
        const uint8_t *a = ext_value(vcek, oid, &la);
        const uint8_t *b = ext_value(real, oid, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, (size_t)la);
    }
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.2", "16084d696c616e2d4230"); /* IA5 "Milan-B0" */
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.3.8", "020173");
    /* hwID: the raw 64 CHIP_ID bytes, equal to chip.json's chip_id. */
    size_t len = 0;
    uint8_t *json = shd_test_read_file(path_of(f->milan, "snp/chip.json"), &len);
    json_t *chip = json_loadb((const char *)json, len, 0, NULL);
    assert_non_null(chip);
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.4", json_string_value(json_object_get(chip, "chip_id")));
    assert_string_equal(json_string_value(json_object_get(chip, "reported_tcb")),
                        "7308000000000003");
    assert_int_equal(json_integer_value(json_object_get(chip, "policy")), 0x3001f);
    json_decref(chip);
    shd_free(json);
    X509_free(real);
    X509_free(vcek);
}

static void test_genoa_high_ucode(void **state)
{
    struct fixture *f = *state;
    X509 *vcek = load_cert(f->genoa, "snp/vcek.pem");
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.2", "160547656e6f61"); /* "Genoa" */
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.3.8", "020200d1");     /* 02 02 00 d1 (§3.2) */
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.3.1", "02010a");
    expect_ext(vcek, "1.3.6.1.4.1.3704.1.3.3", "020117");
    X509 *ark = load_cert(f->genoa, "snp/ark.pem");
    X509 *ask = load_cert(f->genoa, "snp/ask.pem");
    assert_int_equal(verify_chain(ark, ask, vcek), 1);
    char cn[64];
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(ask), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "SEV-Genoa");
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(ask)), 0x020002);
    X509_free(ark);
    X509_free(ask);
    X509_free(vcek);
}

static void test_key_modes(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {"ca.key",         "server.key",   "maa-signing.key",
                          "aad-issuer.key", "snp/vcek.key", "snp/ask.key"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct stat st;
        assert_int_equal(stat(path_of(f->milan, keys[i]), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        FILE *fp = fopen(path_of(f->milan, keys[i]), "r");
        assert_non_null(fp);
        EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
        fclose(fp);
        assert_non_null(k);
        EVP_PKEY_free(k);
    }
    struct stat st;
    assert_int_equal(stat(path_of(f->milan, "snp/ark.key"), &st), -1); /* never kept */
}

static void test_server_certificate(void **state)
{
    struct fixture *f = *state;
    X509 *ca = load_cert(f->milan, "ca.pem");
    X509 *srv = load_cert(f->milan, "server.pem");
    assert_int_equal(verify_chain(ca, NULL, srv), 1);
    const char *hosts[] = {"localhost",
                           "sharedeus.eus.attest.azure.net",
                           "myvault.vault.azure.net",
                           "sharedweu.weu.attest.azure.net",
                           "myattest.attest.azure.net",
                           "myhsm.managedhsm.azure.net"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        assert_int_equal(X509_check_host(srv, hosts[i], 0, 0, NULL), 1);
    }
    assert_int_equal(X509_check_host(srv, "login.example.com", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
    X509 *maa = load_cert(f->milan, "maa-signing.pem");
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(maa)), 2048);
    assert_int_equal(X509_verify(maa, X509_get0_pubkey(maa)), 1); /* self-signed */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(maa), X509_get_issuer_name(maa)), 0);
    X509_free(maa);
    X509_free(ca);
    X509_free(srv);
}

static uint8_t *read_b64_file(const char *dir, const char *name, size_t *ret_len)
{
    size_t n = 0;
    uint8_t *b64 = shd_test_read_file(path_of(dir, name), &n);
    uint8_t *out = unb64(b64, n, ret_len);
    shd_free(b64);
    return out;
}

static void test_security_context(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    uint8_t *thim = read_b64_file(f->milan, "security-context/host-amd-cert-base64", &len);
    json_t *j = json_loadb((const char *)thim, len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 4);
    assert_string_equal(json_string_value(json_object_get(j, "tcbm")), "7308000000000003");
    assert_string_equal(json_string_value(json_object_get(j, "cacheControl")), "86400");
    size_t vlen = 0;
    uint8_t *vcek = shd_test_read_file(path_of(f->milan, "snp/vcek.pem"), &vlen);
    assert_string_equal(json_string_value(json_object_get(j, "vcekCert")), (const char *)vcek);
    size_t clen = 0;
    uint8_t *chain = shd_test_read_file(path_of(f->milan, "snp/cert_chain.pem"), &clen);
    assert_string_equal(json_string_value(json_object_get(j, "certificateChain")),
                        (const char *)chain);
    json_decref(j);
    shd_free(vcek);
    shd_free(chain);
    shd_free(thim);

    uint8_t *policy = read_b64_file(f->milan, "security-context/security-policy-base64", &len);
    assert_int_equal(len, strlen(aemu_secctx_default_policy()));
    assert_memory_equal(policy, aemu_secctx_default_policy(), len);
    uint8_t digest[32];
    SHA256(policy, len, digest);
    char hex[65];
    for (size_t i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    size_t jl = 0;
    uint8_t *cj = shd_test_read_file(path_of(f->milan, "snp/chip.json"), &jl);
    json_t *chip = json_loadb((const char *)cj, jl, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(chip, "host_data")), hex);
    json_decref(chip);
    shd_free(cj);
    shd_free(policy);

    /* COSE_Sign1: tag 18 (0xd2), array of 4 (0x84), protected header bstr. */
    uint8_t *ref = read_b64_file(f->milan, "security-context/reference-info-base64", &len);
    assert_true(len > 200);
    assert_int_equal(ref[0], 0xd2);
    assert_int_equal(ref[1], 0x84);
    assert_int_equal(ref[2] >> 5, 2);
    assert_non_null(memmem(ref, len, "ContainerPlat-AMD-UVM", 21));
    assert_non_null(memmem(ref, len, "x-ms-sevsnpvm-launchmeasurement", 31));
    shd_free(ref);
}

static void test_refuses_non_empty_dir(void **state)
{
    struct fixture *f = *state;
    struct aemu_init_opts o = {.state_dir = f->milan, .product = SHD_SNP_PRODUCT_MILAN};
    EXPECT_ERR(aemu_init_run(&o), SHD_ERR_CONFIG);
    struct aemu_init_opts bad = {.state_dir = "/tmp/aemu-never", .vmpl = 4};
    EXPECT_ERR(aemu_init_run(&bad), SHD_ERR_CONFIG);
    /* Milan has no TCB byte 3; the chip is refused before anything is written. */
    struct aemu_init_opts tcb = {.state_dir = "/tmp/aemu-never",
                                 .product = SHD_SNP_PRODUCT_MILAN,
                                 .has_tcb = true,
                                 .reported_tcb = 0x7308000001000003ull};
    EXPECT_ERR(aemu_init_run(&tcb), SHD_ERR_CONFIG);
    struct stat st;
    assert_int_equal(stat("/tmp/aemu-never", &st), -1);
}

/* Runs aemu_cmd_init on a writable copy of args (argv is char ** by convention). */
static int run_init(const char *const *args, int n)
{
    char *argv[8] = {0};
    assert_true(n < 8);
    for (int i = 0; i < n; i++) {
        argv[i] = shd_strdup(args[i]);
        assert_non_null(argv[i]);
    }
    int rc = aemu_cmd_init(n, argv);
    for (int i = 0; i < n; i++) {
        shd_free(argv[i]);
    }
    return rc;
}

#define RUN_INIT(...)                                                                              \
    run_init((const char *const[]){__VA_ARGS__},                                                   \
             (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

static void test_command_line(void **state)
{
    (void)state;
    const char *never = "/tmp/aemu-never";
    assert_int_equal(RUN_INIT("init", "--help"), 0);
    assert_int_equal(RUN_INIT("init", "--state", never, "--vmpl", "4"), 2);
    assert_int_equal(RUN_INIT("init", "--state=/tmp/aemu-never", "--tcb", "73080000000003"), 2);
    assert_int_equal(RUN_INIT("init", "--state", never, "--measurement", "zz"), 2);
    assert_int_equal(RUN_INIT("init", "--state", never, "--product", "Turin"), 2);
    assert_int_equal(RUN_INIT("init", "--state", never, "--bogus"), 2);
    assert_int_equal(RUN_INIT("init", "--debug"), 2);
    assert_int_equal(RUN_INIT("init", "--state"), 2);
    assert_int_equal(RUN_INIT("init", "--debug=1", "--state", never), 2);
    assert_int_equal(
        RUN_INIT("init", "--state", never, "--security-policy", "/nonexistent/policy.rego"), 1);
    struct stat st;
    assert_int_equal(stat(never, &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vcek_chains_to_ark),    cmocka_unit_test(test_vcek_extensions),
        cmocka_unit_test(test_genoa_high_ucode),      cmocka_unit_test(test_key_modes),
        cmocka_unit_test(test_server_certificate),    cmocka_unit_test(test_security_context),
        cmocka_unit_test(test_refuses_non_empty_dir), cmocka_unit_test(test_command_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
