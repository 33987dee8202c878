/*
 * snp_report_test.c - SEV-SNP report parser/serializer against real hardware reports
 * (../shared/vectors, see its README) plus negative cases.
 */
#include <string.h>

#include "shd/mem.h"
#include "shd/snp_report.h"
#include "shd_test.h"

static uint8_t *load_milan(void)
{
    size_t hex_len = 0;
    uint8_t *hex =
        shd_test_read_file(shd_test_vector_path("snp-milan-virtee/report.hex"), &hex_len);
    size_t len = 0;
    uint8_t *bin = shd_test_unhex((const char *)hex, &len);
    shd_free(hex);
    assert_int_equal(len, SHD_SNP_REPORT_LEN);
    return bin;
}

static uint8_t *load_vlek(void)
{
    size_t len = 0;
    uint8_t *bin = shd_test_read_file(shd_test_vector_path("snp-vlek-trustee/report.bin"), &len);
    assert_int_equal(len, SHD_SNP_REPORT_LEN);
    return bin;
}

static void expect_hex(const uint8_t *got, size_t n, const char *hex)
{
    size_t len = 0;
    uint8_t *want = shd_test_unhex(hex, &len);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    shd_free(want);
}

static void test_milan_v2_fields(void **state)
{
    (void)state;
    uint8_t *bin = load_milan();
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r));
    assert_int_equal(r.version, 2);
    assert_int_equal(r.guest_svn, 0);
    assert_int_equal(r.policy, 0x30000);
    assert_int_equal(r.vmpl, 0);
    assert_int_equal(r.signature_algo, 1);
    assert_int_equal(r.current_tcb, 0x7308000000000003ull);
    assert_int_equal(r.reported_tcb, 0x7308000000000003ull);
    assert_int_equal(r.committed_tcb, 0x7308000000000003ull);
    assert_int_equal(r.launch_tcb, 0x7308000000000003ull);
    assert_int_equal(r.platform_info, 0x1);
    assert_int_equal(r.signer_info, 0);
    assert_int_equal(shd_snp_report_signing_key(&r), SHD_SNP_SIGNING_KEY_VCEK);
    assert_false(shd_snp_report_mask_chip_key(&r));
    assert_false(shd_snp_report_author_key_en(&r));
    assert_int_equal(r.cpuid_fam_id, 0);
    assert_int_equal(r.current_build, 4);
    assert_int_equal(r.current_minor, 0x34);
    assert_int_equal(r.current_major, 1);
    assert_int_equal(r.committed_build, 4);
    assert_int_equal(r.committed_minor, 0x34);
    assert_int_equal(r.committed_major, 1);
    expect_hex(r.report_data, 64,
               "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581"
               "0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd");
    expect_hex(r.measurement, 48,
               "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
               "3e1a0dc39b2c60bd95b9c480cd81841f");
    expect_hex(r.report_id, 32, "92b3b47d59f0a2a10a74c5678868a80238cf593c01a82f3cffb878e904c28d5b");
    expect_hex(r.chip_id, 64,
               "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc"
               "15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6");
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(r.report_id_ma[i], 0xff);
        assert_int_equal(r.host_data[i], 0);
    }
    assert_memory_equal(r.signature_r, bin + 0x2A0, 72);
    assert_memory_equal(r.signature_s, bin + 0x2E8, 72);
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_UNKNOWN);

    struct shd_snp_tcb t;
    EXPECT_OK(shd_snp_tcb_decode(r.reported_tcb, SHD_SNP_PRODUCT_MILAN, &t));
    assert_int_equal(t.boot_loader, 3);
    assert_int_equal(t.tee, 0);
    assert_int_equal(t.snp, 8);
    assert_int_equal(t.microcode, 0x73);
    assert_int_equal(t.fmc, 0);
    uint64_t back = 0;
    EXPECT_OK(shd_snp_tcb_encode(&t, SHD_SNP_PRODUCT_MILAN, &back));
    assert_int_equal(back, 0x7308000000000003ull);
    shd_free(bin);
}

static void test_vlek_v3_fields(void **state)
{
    (void)state;
    uint8_t *bin = load_vlek();
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r));
    assert_int_equal(r.version, 3);
    assert_int_equal(r.vmpl, 1);
    assert_int_equal(r.policy, 0x30000);
    assert_int_equal(r.signer_info, 0x4);
    assert_int_equal(shd_snp_report_signing_key(&r), SHD_SNP_SIGNING_KEY_VLEK);
    assert_int_equal(r.reported_tcb, 0xd918000000000004ull);
    assert_int_equal(r.current_tcb, 0xdc18000000000004ull);
    assert_int_equal(r.committed_tcb, 0xdb18000000000004ull);
    assert_int_equal(r.launch_tcb, 0xdb18000000000004ull);
    assert_int_equal(r.platform_info, 0x27);
    assert_int_equal(r.cpuid_fam_id, 0x19);
    assert_int_equal(r.cpuid_mod_id, 0x01);
    assert_int_equal(r.cpuid_step, 0x01);
    assert_int_equal(r.current_build, 0x1d);
    assert_int_equal(r.current_minor, 0x37);
    assert_int_equal(r.current_major, 1);
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_MILAN);
    expect_hex(r.measurement, 48,
               "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4"
               "e8c9af857f5ceeb5a493df2a570d7bf0");

    /* microcode 0xd9 >= 0x80: the case the sidecar's "byte [2]" shortcut gets wrong. */
    struct shd_snp_tcb t;
    EXPECT_OK(shd_snp_tcb_decode(r.reported_tcb, SHD_SNP_PRODUCT_MILAN, &t));
    assert_int_equal(t.boot_loader, 4);
    assert_int_equal(t.snp, 0x18);
    assert_int_equal(t.microcode, 0xd9);
    shd_free(bin);
}

static void roundtrip(uint8_t *bin)
{
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r));
    uint8_t out[SHD_SNP_REPORT_LEN];
    memset(out, 0xaa, sizeof(out));
    EXPECT_OK(shd_snp_report_serialize(&r, out));
    assert_memory_equal(out, bin, SHD_SNP_REPORT_LEN);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t *milan = load_milan();
    uint8_t *vlek = load_vlek();
    roundtrip(milan);
    roundtrip(vlek);
    shd_free(milan);
    shd_free(vlek);
}

static void test_v5_mitigation_vectors(void **state)
{
    (void)state;
    uint8_t *bin = load_vlek();
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r));
    r.version = 5;
    r.launch_mit_vector = 0x0102030405060708ull;
    r.current_mit_vector = 0x1ull;
    uint8_t out[SHD_SNP_REPORT_LEN];
    EXPECT_OK(shd_snp_report_serialize(&r, out));
    assert_int_equal(out[0x1F8], 0x08);
    assert_int_equal(out[0x1FF], 0x01);
    assert_int_equal(out[0x200], 0x01);
    struct shd_snp_report back;
    EXPECT_OK(shd_snp_report_parse(out, sizeof(out), &back));
    assert_int_equal(back.launch_mit_vector, 0x0102030405060708ull);
    assert_int_equal(back.current_mit_vector, 1);
    /* The same vector in a v3 report is a non-zero reserved field. */
    out[0] = 3;
    EXPECT_ERR(shd_snp_report_parse(out, sizeof(out), &back), SHD_ERR_INPUT);
    r.version = 3;
    EXPECT_ERR(shd_snp_report_serialize(&r, out), SHD_ERR_INPUT);
    shd_free(bin);
}

static void test_wrong_size(void **state)
{
    (void)state;
    uint8_t *bin = load_milan();
    struct shd_snp_report r;
    memset(&r, 0x5c, sizeof(r));
    EXPECT_ERR(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN - 1, &r), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_snp_report_parse(bin, 0, &r), SHD_ERR_TRUNCATED);
    uint8_t big[SHD_SNP_REPORT_LEN + 1] = {0};
    shd_memcpy(big, bin, SHD_SNP_REPORT_LEN);
    EXPECT_ERR(shd_snp_report_parse(big, sizeof(big), &r), SHD_ERR_TOO_LARGE);
    EXPECT_ERR(shd_snp_report_parse(NULL, SHD_SNP_REPORT_LEN, &r), SHD_ERR_NULL);
    /* Output untouched on failure. */
    assert_int_equal(r.version, 0x5c5c5c5c);
    shd_free(bin);
}

static void expect_mutation_rejected(size_t off, uint8_t value, int code)
{
    uint8_t *bin = load_milan();
    bin[off] = value;
    struct shd_snp_report r;
    EXPECT_ERR(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r), code);
    shd_free(bin);
}

static void test_bad_version(void **state)
{
    (void)state;
    expect_mutation_rejected(0x000, 0, SHD_ERR_UNSUPPORTED);
    expect_mutation_rejected(0x000, 1, SHD_ERR_UNSUPPORTED);
    expect_mutation_rejected(0x000, 6, SHD_ERR_UNSUPPORTED);
    expect_mutation_rejected(0x003, 0x01, SHD_ERR_UNSUPPORTED); /* 0x01000002 */
}

static void test_bad_signature_algo(void **state)
{
    (void)state;
    expect_mutation_rejected(0x034, 0, SHD_ERR_UNSUPPORTED);
    expect_mutation_rejected(0x034, 2, SHD_ERR_UNSUPPORTED);
    expect_mutation_rejected(0x037, 0x80, SHD_ERR_UNSUPPORTED);
}

static void test_reserved_fields(void **state)
{
    (void)state;
    expect_mutation_rejected(0x048, 0x20, SHD_ERR_INPUT); /* signer info b5 */
    expect_mutation_rejected(0x04B, 0x80, SHD_ERR_INPUT); /* signer info b31 */
    expect_mutation_rejected(0x048, 0x08, SHD_ERR_INPUT); /* SIGNING_KEY 2 */
    expect_mutation_rejected(0x04C, 0x01, SHD_ERR_INPUT); /* 0x04C MBZ */
    expect_mutation_rejected(0x188, 0x19, SHD_ERR_INPUT); /* CPUID in a v2 report */
    expect_mutation_rejected(0x19F, 0x01, SHD_ERR_INPUT);
    expect_mutation_rejected(0x1EB, 0x01, SHD_ERR_INPUT);
    expect_mutation_rejected(0x1EF, 0x01, SHD_ERR_INPUT);
    expect_mutation_rejected(0x1F8, 0x01, SHD_ERR_INPUT);
    expect_mutation_rejected(0x29F, 0x01, SHD_ERR_INPUT);
    expect_mutation_rejected(0x2A0 + 48, 0x01, SHD_ERR_INPUT); /* r wider than 384 bits */
    expect_mutation_rejected(0x2E8 + 71, 0x01, SHD_ERR_INPUT); /* s wider than 384 bits */
    expect_mutation_rejected(0x330, 0x01, SHD_ERR_INPUT);
    expect_mutation_rejected(0x49F, 0x01, SHD_ERR_INPUT);
}

static void test_signing_key_none_accepted(void **state)
{
    (void)state;
    uint8_t *bin = load_milan();
    bin[0x048] = 0x1c; /* SIGNING_KEY 7 */
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r));
    assert_int_equal(shd_snp_report_signing_key(&r), SHD_SNP_SIGNING_KEY_NONE);
    shd_free(bin);
}

static void test_serialize_rejects(void **state)
{
    (void)state;
    uint8_t *bin = load_milan();
    struct shd_snp_report r;
    EXPECT_OK(shd_snp_report_parse(bin, SHD_SNP_REPORT_LEN, &r));
    uint8_t out[SHD_SNP_REPORT_LEN];
    memset(out, 0x77, sizeof(out));
    struct shd_snp_report bad = r;
    bad.version = 1;
    EXPECT_ERR(shd_snp_report_serialize(&bad, out), SHD_ERR_UNSUPPORTED);
    bad = r;
    bad.signature_algo = 2;
    EXPECT_ERR(shd_snp_report_serialize(&bad, out), SHD_ERR_UNSUPPORTED);
    bad = r;
    bad.cpuid_fam_id = 0x19; /* v2 has no CPUID fields */
    EXPECT_ERR(shd_snp_report_serialize(&bad, out), SHD_ERR_INPUT);
    bad = r;
    bad.signer_info = 0x10; /* SIGNING_KEY 4 */
    EXPECT_ERR(shd_snp_report_serialize(&bad, out), SHD_ERR_INPUT);
    bad = r;
    bad.signature_s[60] = 1;
    EXPECT_ERR(shd_snp_report_serialize(&bad, out), SHD_ERR_INPUT);
    assert_int_equal(out[0], 0x77);
    shd_free(bin);
}

static void test_tcb_layouts(void **state)
{
    (void)state;
    struct shd_snp_tcb t = {.fmc = 1, .boot_loader = 2, .tee = 3, .snp = 4, .microcode = 5};
    uint64_t v = 0;
    EXPECT_OK(shd_snp_tcb_encode(&t, SHD_SNP_PRODUCT_TURIN, &v));
    assert_int_equal(v, 0x0500000004030201ull);
    struct shd_snp_tcb back;
    EXPECT_OK(shd_snp_tcb_decode(v, SHD_SNP_PRODUCT_TURIN, &back));
    assert_memory_equal(&back, &t, sizeof(t));
    /* FMC does not exist before Turin. */
    EXPECT_ERR(shd_snp_tcb_encode(&t, SHD_SNP_PRODUCT_GENOA, &v), SHD_ERR_INPUT);
    /* Reserved bytes are rejected per layout: byte 3 is SNP on Turin, reserved on Milan. */
    EXPECT_ERR(shd_snp_tcb_decode(0x0500000004030201ull, SHD_SNP_PRODUCT_MILAN, &back),
               SHD_ERR_INPUT);
    EXPECT_ERR(shd_snp_tcb_decode(0x7308000000000003ull, SHD_SNP_PRODUCT_TURIN, &back),
               SHD_ERR_INPUT);
    assert_string_equal(shd_snp_product_name(SHD_SNP_PRODUCT_GENOA), "Genoa");
    assert_null(shd_snp_product_name(SHD_SNP_PRODUCT_UNKNOWN));
}

static void test_product_detection(void **state)
{
    (void)state;
    struct shd_snp_report r = {.version = 3, .cpuid_fam_id = 0x19, .cpuid_mod_id = 0x11};
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_GENOA);
    r.cpuid_mod_id = 0xA0;
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_GENOA);
    r.cpuid_fam_id = 0x1A;
    r.cpuid_mod_id = 0x02;
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_TURIN);
    r.cpuid_mod_id = 0x12;
    assert_int_equal(shd_snp_report_product(&r), SHD_SNP_PRODUCT_UNKNOWN);
    struct shd_snp_report v2 = {.version = 2};
    v2.chip_id[0] = 1;
    assert_int_equal(shd_snp_report_product(&v2), SHD_SNP_PRODUCT_TURIN);
    v2.chip_id[8] = 1;
    assert_int_equal(shd_snp_report_product(&v2), SHD_SNP_PRODUCT_UNKNOWN);
}

static void test_policy_bits(void **state)
{
    (void)state;
    uint64_t azure = 0x3001f;
    assert_true(shd_snp_policy_is_valid(azure));
    assert_false(shd_snp_policy_debug_allowed(azure));
    assert_false(shd_snp_policy_migrate_ma_allowed(azure));
    assert_true(shd_snp_policy_smt_allowed(azure));
    assert_int_equal(shd_snp_policy_abi_minor(azure), 0x1f);
    assert_int_equal(shd_snp_policy_abi_major(azure), 0);
    assert_true(shd_snp_policy_debug_allowed(azure | SHD_SNP_POLICY_DEBUG));
    assert_false(shd_snp_policy_is_valid(0x1001f));              /* bit 17 clear */
    assert_false(shd_snp_policy_is_valid(azure | (1ull << 26))); /* MBZ */
    assert_true(shd_snp_policy_single_socket(azure | SHD_SNP_POLICY_SINGLE_SOCKET));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milan_v2_fields),
        cmocka_unit_test(test_vlek_v3_fields),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_v5_mitigation_vectors),
        cmocka_unit_test(test_wrong_size),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_signature_algo),
        cmocka_unit_test(test_reserved_fields),
        cmocka_unit_test(test_signing_key_none_accepted),
        cmocka_unit_test(test_serialize_rejects),
        cmocka_unit_test(test_tcb_layouts),
        cmocka_unit_test(test_product_detection),
        cmocka_unit_test(test_policy_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
