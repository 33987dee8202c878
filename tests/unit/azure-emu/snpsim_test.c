/*
 * snpsim_test.c - the SEV-SNP simulator: reports parse with our parser, carry the caller's
 * REPORT_DATA and HOST_DATA = SHA-256(policy), and verify with the VCEK public key (checked
 * here with OpenSSL directly, independently of the simulator's code); tampering breaks them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "init.h"
#include "secctx.h"
#include "shd/crypto_ecdsa.h"
#include "shd/mem.h"
#include "shd/snp_report.h"
#include "shd_test.h"
#include "snpsim.h"

#define TEST_POLICY "package policy\n\napi_version := \"0.10.0\"\n"

struct fixture {
    char dir[64];   /* defaults */
    char debug[64]; /* --debug --vmpl 2 --measurement --security-policy */
    char policy_file[96];
    uint8_t measurement[48];
};

static char *path_of(const char *dir, const char *name)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/aemu-snpsim-XXXXXX");
    snprintf(f->debug, sizeof(f->debug), "/tmp/aemu-snpsim-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(mkdtemp(f->debug));
    /* The simulator does not care about the root key size: keep the test fast. */
    struct aemu_init_opts o = {.state_dir = f->dir, .root_rsa_bits = 2048};
    EXPECT_OK(aemu_init_run(&o));

    snprintf(f->policy_file, sizeof(f->policy_file), "%s.rego", f->debug);
    FILE *p = fopen(f->policy_file, "w");
    assert_non_null(p);
    assert_int_equal(fputs(TEST_POLICY, p) >= 0, 1);
    fclose(p);
    for (size_t i = 0; i < sizeof(f->measurement); i++) {
        f->measurement[i] = (uint8_t)(0xa0 + i);
    }
    struct aemu_init_opts d = {.state_dir = f->debug,
                               .product = SHD_SNP_PRODUCT_GENOA,
                               .debug = true,
                               .vmpl = 2,
                               .has_measurement = true,
                               .security_policy_path = f->policy_file,
                               .root_rsa_bits = 2048};
    shd_memcpy(d.measurement, f->measurement, sizeof(d.measurement));
    EXPECT_OK(aemu_init_run(&d));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", f->dir, f->debug, f->policy_file);
    assert_int_equal(system(cmd), 0);
    shd_free(f);
    return 0;
}

static EVP_PKEY *vcek_pub(const char *dir)
{
    FILE *fp = fopen(path_of(dir, "snp/vcek.pem"), "r");
    assert_non_null(fp);
    X509 *c = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(c);
    EVP_PKEY *k = X509_get_pubkey(c);
    X509_free(c);
    assert_non_null(k);
    return k;
}

/* Independent check of §1.2: SHA-384 over 0x000..0x29F, r/s 72-byte little-endian. */
static int verify_report(const uint8_t *rep, EVP_PKEY *key)
{
    uint8_t be[72];
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    for (size_t i = 0; i < 72; i++) {
        be[i] = rep[0x2A0 + 71 - i];
    }
    r = BN_bin2bn(be, 72, NULL);
    for (size_t i = 0; i < 72; i++) {
        be[i] = rep[0x2E8 + 71 - i];
    }
    s = BN_bin2bn(be, 72, NULL);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    assert_true(r && s && sig);
    assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
    uint8_t *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    assert_true(der_len > 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key), 1);
    int ok = EVP_DigestVerify(md, der, (size_t)der_len, rep, 0x2A0);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return ok;
}

static json_t *load_chip(const char *dir)
{
    size_t len = 0;
    uint8_t *txt = shd_test_read_file(path_of(dir, "snp/chip.json"), &len);
    json_t *j = json_loadb((const char *)txt, len, 0, NULL);
    shd_free(txt);
    assert_non_null(j);
    return j;
}

static void expect_hex_field(const json_t *chip, const char *key, const uint8_t *got, size_t n)
{
    size_t len = 0;
    uint8_t *want = shd_test_unhex(json_string_value(json_object_get(chip, key)), &len);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    shd_free(want);
}

static void test_report_v2_and_v3(void **state)
{
    struct fixture *f = *state;
    struct snpsim *sim = NULL;
    EXPECT_OK(snpsim_open(f->dir, &sim));
    EVP_PKEY *pub = vcek_pub(f->dir);
    json_t *chip = load_chip(f->dir);
    uint8_t rd[64];
    for (size_t i = 0; i < sizeof(rd); i++) {
        rd[i] = (uint8_t)(i * 7 + 1);
    }
    uint8_t policy_hash[32];
    SHA256((const uint8_t *)aemu_secctx_default_policy(), strlen(aemu_secctx_default_policy()),
           policy_hash);

    for (uint32_t version = 2; version <= 3; version++) {
        uint8_t out[SNPSIM_REPORT_LEN];
        EXPECT_OK(snpsim_get_report(sim, rd, version, out));
        struct shd_snp_report r;
        EXPECT_OK(shd_snp_report_parse(out, sizeof(out), &r));
        assert_int_equal(r.version, version);
        assert_memory_equal(r.report_data, rd, 64);
        assert_memory_equal(r.host_data, policy_hash, 32);
        assert_int_equal(r.policy, 0x3001f);
        assert_false(shd_snp_policy_debug_allowed(r.policy));
        assert_int_equal(r.vmpl, 0);
        assert_int_equal(r.signature_algo, 1);
        assert_int_equal(shd_snp_report_signing_key(&r), SHD_SNP_SIGNING_KEY_VCEK);
        assert_int_equal(r.reported_tcb, 0x7308000000000003ull);
        assert_int_equal(r.current_tcb, r.reported_tcb);
        assert_int_equal(r.committed_tcb, r.reported_tcb);
        assert_int_equal(r.launch_tcb, r.reported_tcb);
        expect_hex_field(chip, "chip_id", r.chip_id, 64);
        expect_hex_field(chip, "measurement", r.measurement, 48);
        expect_hex_field(chip, "report_id", r.report_id, 32);
        for (size_t i = 0; i < 32; i++) {
            assert_int_equal(r.report_id_ma[i], 0xff);
        }
        if (version == 3) {
            assert_int_equal(r.cpuid_fam_id, 0x19);
            assert_int_equal(r.cpuid_mod_id, 0x01);
            assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_MILAN);
        } else {
            assert_int_equal(r.cpuid_fam_id, 0);
        }
        assert_int_equal(verify_report(out, pub), 1);
        EXPECT_OK(shd_crypto_snp_verify_report_sig(out, sizeof(out), pub));

        /* A flipped REPORT_DATA bit, a flipped signature bit: no longer valid. */
        out[0x50] ^= 0x01;
        assert_int_not_equal(verify_report(out, pub), 1);
        EXPECT_ERR(shd_crypto_snp_verify_report_sig(out, sizeof(out), pub), SHD_ERR_BAD_SIGNATURE);
        out[0x50] ^= 0x01;
        out[0x2A0] ^= 0x80;
        assert_int_not_equal(verify_report(out, pub), 1);
        out[0x2A0] ^= 0x80;
        assert_int_equal(verify_report(out, pub), 1);
    }
    /* ECDSA is randomised: two reports over the same data differ only in the signature. */
    uint8_t a[SNPSIM_REPORT_LEN];
    uint8_t b[SNPSIM_REPORT_LEN];
    EXPECT_OK(snpsim_get_report(sim, rd, 3, a));
    EXPECT_OK(snpsim_get_report(sim, rd, 3, b));
    assert_memory_equal(a, b, 0x2A0);
    assert_memory_not_equal(a + 0x2A0, b + 0x2A0, 144);

    EXPECT_ERR(snpsim_get_report(sim, rd, 4, a), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(snpsim_get_report(sim, rd, 1, a), SHD_ERR_UNSUPPORTED);
    json_decref(chip);
    EVP_PKEY_free(pub);
    snpsim_free(&sim);
    assert_null(sim);
    snpsim_free(&sim);
    snpsim_free(NULL);
}

static void test_debug_vmpl_policy_file(void **state)
{
    struct fixture *f = *state;
    struct snpsim *sim = NULL;
    EXPECT_OK(snpsim_open(f->debug, &sim));
    EVP_PKEY *pub = vcek_pub(f->debug);
    uint8_t rd[64] = {0};
    uint8_t out[SNPSIM_REPORT_LEN];
    EXPECT_OK(snpsim_get_report(sim, rd, 3, out));
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(out, sizeof(out), &r));
    assert_true(shd_snp_policy_debug_allowed(r.policy));
    assert_int_equal(r.policy, 0x3001f | SHD_SNP_POLICY_DEBUG);
    assert_int_equal(r.vmpl, 2);
    assert_memory_equal(r.measurement, f->measurement, 48);
    uint8_t h[32];
    SHA256((const uint8_t *)TEST_POLICY, strlen(TEST_POLICY), h);
    assert_memory_equal(r.host_data, h, 32);
    assert_int_equal(r.reported_tcb, 0x541700000000000aull);
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_GENOA);
    assert_int_equal(verify_report(out, pub), 1);
    /* The other chip's VCEK does not verify this report. */
    EVP_PKEY *other = vcek_pub(f->dir);
    assert_int_not_equal(verify_report(out, other), 1);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub);
    snpsim_free(&sim);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    uint8_t *data = shd_test_read_file(from, &len);
    FILE *fp = fopen(to, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    shd_free(data);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct snpsim *sim = NULL;
    EXPECT_ERR(snpsim_open("/nonexistent-aemu-state", &sim), SHD_ERR_NOT_FOUND);
    EXPECT_ERR(snpsim_open(NULL, &sim), SHD_ERR_NULL);

    /* A key readable by others is refused. */
    char key[4096];
    snprintf(key, sizeof(key), "%s", path_of(f->dir, "snp/vcek.key"));
    assert_int_equal(chmod(key, 0644), 0);
    EXPECT_ERR(snpsim_open(f->dir, &sim), SHD_ERR_PERMISSION);
    assert_int_equal(chmod(key, 0600), 0);

    /* The other chip's key does not match this VCEK certificate. */
    char saved[4200];
    snprintf(saved, sizeof(saved), "%s.saved", key);
    copy_file(key, saved);
    copy_file(path_of(f->debug, "snp/vcek.key"), key);
    assert_int_equal(chmod(key, 0600), 0);
    EXPECT_ERR(snpsim_open(f->dir, &sim), SHD_ERR_BAD_KEY);
    copy_file(saved, key);
    assert_int_equal(unlink(saved), 0);

    /* chip.json whose debug flag contradicts its policy. */
    char chip[4096];
    snprintf(chip, sizeof(chip), "%s", path_of(f->dir, "snp/chip.json"));
    snprintf(saved, sizeof(saved), "%s.saved", chip);
    copy_file(chip, saved);
    json_t *j = load_chip(f->dir);
    assert_int_equal(json_object_set_new(j, "debug", json_true()), 0);
    assert_int_equal(json_dump_file(j, chip, 0), 0);
    EXPECT_ERR(snpsim_open(f->dir, &sim), SHD_ERR_CONFIG);
    assert_int_equal(json_object_set_new(j, "debug", json_false()), 0);
    assert_int_equal(json_object_set_new(j, "chip_id", json_string("abcd")), 0);
    assert_int_equal(json_dump_file(j, chip, 0), 0);
    EXPECT_ERR(snpsim_open(f->dir, &sim), SHD_ERR_CONFIG);
    json_decref(j);
    FILE *fp = fopen(chip, "w");
    assert_non_null(fp);
    fputs("{\"product\":", fp);
    fclose(fp);
    EXPECT_ERR(snpsim_open(f->dir, &sim), SHD_ERR_CONFIG);
    copy_file(saved, chip);
    assert_int_equal(unlink(saved), 0);
    assert_null(sim);

    EXPECT_OK(snpsim_open(f->dir, &sim));
    snpsim_free(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_v2_and_v3),
        cmocka_unit_test(test_debug_vmpl_policy_file),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
