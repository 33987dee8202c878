/*
 * maa_test.c - the MAA emulator's evidence verification (maa_verify.c, maa_cose.c) and request
 * parsing (maa_request.c), through the functions the /attest/SevSnpVm endpoint calls:
 *   - real hardware reports (virtee Milan VCEK, trustee Milan VLEK) verify against AMD's roots
 *     built into the emulator (runtime binding skipped: their REPORT_DATA is arbitrary), and one
 *     flipped bit in the report, its signature, the VCEK or the ASK is rejected;
 *   - simulator reports verify with runtime-data binding and the UVM endorsement; TCB, CHIP_ID,
 *     measurement and root mismatches are rejected;
 *   - the built-in roots equal the PEM files in tests/emulators/azure/trust/ byte for byte;
 *   - request bodies: both base64 flavours, nonce as a string or a bare uint64, negatives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "init.h"
#include "maa_cose.h"
#include "maa_request.h"
#include "maa_verify.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_x509.h"
#include "shd/mem.h"
#include "shd_test.h"
#include "snpsim.h"

struct fx {
    char dir[64];
    STACK_OF(X509) * amd; /* built-in ARKs only */
    STACK_OF(X509) * all; /* plus the simulator's ARK */
    X509 *ca;             /* state CA: UVM endorsement root */
    char *sim_chain;      /* PEM VCEK + ASK + ARK of the simulator */
    uint8_t *cose;
    size_t cose_len;
};

static char *path_of(const char *dir, const char *name)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static STACK_OF(X509) * builtin_roots(void)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    size_t n = 0;
    const struct aemu_maa_root *r = aemu_maa_amd_roots(&n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        X509 *c = NULL;
        EXPECT_OK(shd_crypto_x509_load((const uint8_t *)r[i].pem, r[i].len, &c));
        assert_true(sk_X509_push(s, c) > 0);
    }
    return s;
}

static X509 *load_cert_file(const char *path)
{
    size_t n = 0;
    uint8_t *pem = shd_test_read_file(path, &n);
    X509 *c = NULL;
    EXPECT_OK(shd_crypto_x509_load(pem, n, &c));
    shd_free(pem);
    return c;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *out = shd_alloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s%s%s", a, b, c);
    return out;
}

static char *cert_pem(X509 *c)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, c), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = shd_strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static char *der_file_pem(const char *rel)
{
    size_t n = 0;
    uint8_t *der = shd_test_read_file(shd_test_vector_path(rel), &n);
    X509 *c = NULL;
    EXPECT_OK(shd_crypto_x509_load(der, n, &c));
    char *pem = cert_pem(c);
    X509_free(c);
    shd_free(der);
    return pem;
}

static int setup(void **state)
{
    struct fx *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/aemu-maa-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct aemu_init_opts o = {.state_dir = f->dir, .root_rsa_bits = 2048};
    EXPECT_OK(aemu_init_run(&o));
    f->amd = builtin_roots();
    f->all = builtin_roots();
    assert_true(sk_X509_push(f->all, load_cert_file(path_of(f->dir, "snp/ark.pem"))) > 0);
    f->ca = load_cert_file(path_of(f->dir, "ca.pem"));
    size_t n = 0;
    char *vcek = (char *)shd_test_read_file(path_of(f->dir, "snp/vcek.pem"), &n);
    char *chain = (char *)shd_test_read_file(path_of(f->dir, "snp/cert_chain.pem"), &n);
    f->sim_chain = cat3(vcek, chain, "");
    shd_free(vcek);
    shd_free(chain);
    uint8_t *b64 =
        shd_test_read_file(path_of(f->dir, "security-context/reference-info-base64"), &n);
    EXPECT_OK(shd_b64_decode((const char *)b64, n, SHD_B64_STD_PAD, &f->cose, &f->cose_len));
    shd_free(b64);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    shd_crypto_x509_chain_free(f->amd);
    shd_crypto_x509_chain_free(f->all);
    X509_free(f->ca);
    shd_free(f->sim_chain);
    shd_free(f->cose);
    shd_free(f);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Built-in roots                                                                              */

static void test_roots_equal_trust_files(void **state)
{
    (void)state;
    const char *src = getenv("SHD_SOURCE_DIR");
    assert_non_null(src);
    size_t n = 0;
    const struct aemu_maa_root *r = aemu_maa_amd_roots(&n);
    static const char *const cns[] = {"ARK-Milan", "ARK-Genoa", "ARK-Turin"};
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/tests/emulators/azure/trust/%s", src, r[i].name);
        size_t len = 0;
        uint8_t *file = shd_test_read_file(path, &len);
        assert_int_equal(len, r[i].len);
        assert_memory_equal(file, r[i].pem, len);
        shd_free(file);
        X509 *c = NULL;
        EXPECT_OK(shd_crypto_x509_load((const uint8_t *)r[i].pem, r[i].len, &c));
        char cn[32];
        X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
        assert_string_equal(cn, cns[i]);
        X509_free(c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Real reports                                                                                */

struct vec {
    uint8_t *report;
    size_t report_len;
    char *chain;
};

static struct vec milan_vec(void)
{
    struct vec v;
    size_t n = 0;
    char *hex = (char *)shd_test_read_file(shd_test_vector_path("snp-milan-virtee/report.hex"), &n);
    v.report = shd_test_unhex(hex, &v.report_len);
    shd_free(hex);
    char *vcek = der_file_pem("snp-milan-virtee/vcek.der");
    char *askark =
        (char *)shd_test_read_file(shd_test_vector_path("snp-milan-virtee/cert_chain.pem"), &n);
    v.chain = cat3(vcek, askark, "");
    shd_free(vcek);
    shd_free(askark);
    return v;
}

static struct vec vlek_vec(void)
{
    struct vec v;
    v.report =
        shd_test_read_file(shd_test_vector_path("snp-vlek-trustee/report.bin"), &v.report_len);
    char *vlek = der_file_pem("snp-vlek-trustee/vlek.der");
    size_t n = 0;
    char *asvk = (char *)shd_test_read_file(shd_test_vector_path("amd/ask_ark_milan_vlek.pem"), &n);
    v.chain = cat3(vlek, asvk, "");
    shd_free(vlek);
    shd_free(asvk);
    return v;
}

static void vec_free(struct vec *v)
{
    shd_free(v->report);
    shd_free(v->chain);
}

static shd_result verify_with(STACK_OF(X509) * roots, X509 *uvm_root, const uint8_t *report,
                              size_t report_len, const char *chain, unsigned flags,
                              struct aemu_maa_verified *ret)
{
    struct aemu_maa_trust t = {.amd_roots = roots, .uvm_root = uvm_root};
    struct aemu_maa_evidence ev = {
        .report = report,
        .report_len = report_len,
        .cert_chain = (const uint8_t *)chain,
        .cert_chain_len = strlen(chain),
    };
    return aemu_maa_evidence_verify(&t, &ev, flags, ret);
}

static void test_real_vcek_report(void **state)
{
    struct fx *f = *state;
    struct vec v = milan_vec();
    struct aemu_maa_verified out = {0};
    EXPECT_OK(
        verify_with(f->amd, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out));
    assert_int_equal(out.product, SHD_SNP_PRODUCT_MILAN);
    assert_int_equal(out.tcb.boot_loader, 3);
    assert_int_equal(out.tcb.tee, 0);
    assert_int_equal(out.tcb.snp, 8);
    assert_int_equal(out.tcb.microcode, 0x73);
    assert_false(out.runtime_bound);
    assert_null(out.uvm_payload);
    aemu_maa_verified_clear(&out);

    /* Without the AMD roots (only the simulator's ARK) the same evidence is refused. */
    STACK_OF(X509) *sim_only = sk_X509_new_null();
    assert_true(sk_X509_push(sim_only, sk_X509_value(f->all, 3)) > 0);
    EXPECT_ERR(
        verify_with(sim_only, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out),
        SHD_ERR_BAD_CERT);
    sk_X509_free(sim_only);
    vec_free(&v);
}

static void test_real_vlek_report(void **state)
{
    struct fx *f = *state;
    struct vec v = vlek_vec();
    struct aemu_maa_verified out = {0};
    EXPECT_OK(
        verify_with(f->amd, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out));
    assert_int_equal(out.product, SHD_SNP_PRODUCT_MILAN);
    /* 0xd918000000000004: ucode 0xd9 is DER 02 02 00 d9 in the VLEK (§3.2 pitfall). */
    assert_int_equal(out.tcb.boot_loader, 4);
    assert_int_equal(out.tcb.snp, 0x18);
    assert_int_equal(out.tcb.microcode, 0xd9);
    aemu_maa_verified_clear(&out);

    /* A VLEK-signed report with a VCEK chain names no usable signer. */
    struct vec m = milan_vec();
    EXPECT_ERR(
        verify_with(f->amd, NULL, v.report, v.report_len, m.chain, AEMU_MAA_SKIP_BINDING, &out),
        SHD_ERR_INPUT);
    vec_free(&m);
    vec_free(&v);
}

static void test_real_report_bit_flips(void **state)
{
    struct fx *f = *state;
    struct vec v = milan_vec();
    struct aemu_maa_verified out = {0};
    /* Signed bytes: MEASUREMENT, and REPORT_DATA. */
    static const size_t offs[] = {0x90, 0x50, 0x1a0};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        v.report[offs[i]] ^= 0x01;
        EXPECT_ERR(
            verify_with(f->amd, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out),
            SHD_ERR_BAD_SIGNATURE);
        v.report[offs[i]] ^= 0x01;
    }
    /* The signature's R and S. */
    v.report[0x2a0] ^= 0x80;
    EXPECT_ERR(
        verify_with(f->amd, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out),
        SHD_ERR_BAD_SIGNATURE);
    v.report[0x2a0] ^= 0x80;
    v.report[0x2e8 + 5] ^= 0x10;
    EXPECT_ERR(
        verify_with(f->amd, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out),
        SHD_ERR_BAD_SIGNATURE);
    v.report[0x2e8 + 5] ^= 0x10;
    /* Truncated report. */
    EXPECT_ERR(
        verify_with(f->amd, NULL, v.report, v.report_len - 1, v.chain, AEMU_MAA_SKIP_BINDING, &out),
        SHD_ERR_TRUNCATED);
    /* Unchanged again: still fine. */
    EXPECT_OK(
        verify_with(f->amd, NULL, v.report, v.report_len, v.chain, AEMU_MAA_SKIP_BINDING, &out));
    aemu_maa_verified_clear(&out);
    vec_free(&v);
}

/* The chain with a bit flipped in the last byte (signature) of certificate idx. */
static char *chain_flip(const char *chain, int idx)
{
    STACK_OF(X509) *certs = NULL;
    EXPECT_OK(shd_crypto_x509_chain_load((const uint8_t *)chain, strlen(chain), &certs));
    char *out = shd_strdup("");
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (i == idx) {
            uint8_t *der = NULL;
            size_t n = 0;
            EXPECT_OK(shd_crypto_x509_export_der(c, &der, &n));
            der[n - 1] ^= 0x01;
            X509 *bad = NULL;
            EXPECT_OK(shd_crypto_x509_load(der, n, &bad));
            shd_free(der);
            c = bad;
        }
        char *pem = cert_pem(c);
        char *next = cat3(out, pem, "");
        shd_free(pem);
        shd_free(out);
        out = next;
        if (i == idx) {
            X509_free(c);
        }
    }
    shd_crypto_x509_chain_free(certs);
    return out;
}

static void test_real_chain_bit_flips(void **state)
{
    struct fx *f = *state;
    struct vec v = milan_vec();
    struct aemu_maa_verified out = {0};
    for (int idx = 0; idx < 2; idx++) { /* VCEK, ASK */
        char *bad = chain_flip(v.chain, idx);
        EXPECT_ERR(
            verify_with(f->amd, NULL, v.report, v.report_len, bad, AEMU_MAA_SKIP_BINDING, &out),
            SHD_ERR_BAD_CERT);
        shd_free(bad);
    }
    /* Without the ASK nothing leads to the ARK. */
    char *vcek = der_file_pem("snp-milan-virtee/vcek.der");
    EXPECT_ERR(verify_with(f->amd, NULL, v.report, v.report_len, vcek, AEMU_MAA_SKIP_BINDING, &out),
               SHD_ERR_BAD_CERT);
    shd_free(vcek);
    /* Another chip's (Turin) valid VCEK chain does not verify this report. */
    char *turin = der_file_pem("snp-turin-chain/vcek.der");
    size_t n = 0;
    char *tchain =
        (char *)shd_test_read_file(shd_test_vector_path("snp-turin-chain/cert_chain.pem"), &n);
    char *full = cat3(turin, tchain, "");
    EXPECT_ERR(verify_with(f->amd, NULL, v.report, v.report_len, full, AEMU_MAA_SKIP_BINDING, &out),
               SHD_ERR_BAD_SIGNATURE);
    shd_free(turin);
    shd_free(tchain);
    shd_free(full);
    /* Garbage instead of PEM. */
    EXPECT_ERR(verify_with(f->amd, NULL, v.report, v.report_len, "not a certificate",
                           AEMU_MAA_SKIP_BINDING, &out),
               SHD_ERR_INPUT);
    vec_free(&v);
}

/* ------------------------------------------------------------------------------------------ */
/* Simulator reports: binding, TCB, CHIP_ID, UVM endorsement                                   */

#define RUNTIME "{\"keys\":[{\"e\":\"AQAB\",\"kid\":\"k1\",\"kty\":\"RSA\",\"n\":\"xyz\"}]}"

static void sim_report(const struct fx *f, const char *runtime, uint8_t out[static 1184])
{
    struct snpsim *sim = NULL;
    EXPECT_OK(snpsim_open(f->dir, &sim));
    uint8_t rd[64] = {0};
    SHA256((const uint8_t *)runtime, strlen(runtime), rd);
    EXPECT_OK(snpsim_get_report(sim, rd, 3, out));
    snpsim_free(&sim);
}

/* Changes bytes of a simulator report and signs it again with the chip's VCEK key. */
static void sim_resign(const struct fx *f, uint8_t report[static 1184])
{
    size_t n = 0;
    uint8_t *pem = shd_test_read_file(path_of(f->dir, "snp/vcek.key"), &n);
    EVP_PKEY *key = NULL;
    EXPECT_OK(shd_crypto_privkey_load(pem, n, &key));
    shd_free(pem);
    EXPECT_OK(shd_crypto_snp_sign_report(key, report, 1184));
    EVP_PKEY_free(key);
}

static shd_result sim_verify(const struct fx *f, const uint8_t *report, const char *runtime,
                             const uint8_t *cose, size_t cose_len, X509 *uvm_root,
                             struct aemu_maa_verified *ret)
{
    struct aemu_maa_trust t = {.amd_roots = f->all, .uvm_root = uvm_root};
    struct aemu_maa_evidence ev = {
        .report = report,
        .report_len = 1184,
        .cert_chain = (const uint8_t *)f->sim_chain,
        .cert_chain_len = strlen(f->sim_chain),
        .runtime_data = (const uint8_t *)runtime,
        .runtime_data_len = runtime != NULL ? strlen(runtime) : 0,
        .uvm_endorsement = cose,
        .uvm_endorsement_len = cose_len,
    };
    return aemu_maa_evidence_verify(&t, &ev, 0, ret);
}

static void test_sim_binding(void **state)
{
    struct fx *f = *state;
    uint8_t report[1184];
    sim_report(f, RUNTIME, report);
    struct aemu_maa_verified out = {0};
    EXPECT_OK(sim_verify(f, report, RUNTIME, NULL, 0, f->ca, &out));
    assert_true(out.runtime_bound);
    aemu_maa_verified_clear(&out);

    char flipped[] = RUNTIME;
    flipped[3] ^= 0x01;
    EXPECT_ERR(sim_verify(f, report, flipped, NULL, 0, f->ca, &out), SHD_ERR_POLICY);
    char msg[256];
    shd_error_render(msg, sizeof(msg));
    assert_string_equal(msg, "REPORT_DATA does not hold the SHA-256 of runtimeData");

    /* Not in the trust store: the simulator ARK. */
    struct aemu_maa_trust t = {.amd_roots = f->amd};
    struct aemu_maa_evidence ev = {.report = report,
                                   .report_len = sizeof(report),
                                   .cert_chain = (const uint8_t *)f->sim_chain,
                                   .cert_chain_len = strlen(f->sim_chain)};
    EXPECT_ERR(aemu_maa_evidence_verify(&t, &ev, 0, &out), SHD_ERR_BAD_CERT);
}

static void test_sim_tcb_and_chip_id(void **state)
{
    struct fx *f = *state;
    uint8_t report[1184];
    struct aemu_maa_verified out = {0};
    /* REPORTED_TCB no longer the VCEK's: microcode byte 7 of 0x180. */
    sim_report(f, RUNTIME, report);
    report[0x187] ^= 0x01;
    sim_resign(f, report);
    EXPECT_ERR(sim_verify(f, report, RUNTIME, NULL, 0, f->ca, &out), SHD_ERR_POLICY);
    /* Another CHIP_ID. */
    sim_report(f, RUNTIME, report);
    report[0x1a0] ^= 0x01;
    sim_resign(f, report);
    EXPECT_ERR(sim_verify(f, report, RUNTIME, NULL, 0, f->ca, &out), SHD_ERR_POLICY);
    /* MASK_CHIP_KEY set: CHIP_ID is not compared (it would be zero on hardware). */
    report[0x48] |= 0x02;
    sim_resign(f, report);
    EXPECT_OK(sim_verify(f, report, RUNTIME, NULL, 0, f->ca, &out));
    aemu_maa_verified_clear(&out);
    /* SIGNING_KEY 7: unsigned. */
    report[0x48] = 0x1c;
    sim_resign(f, report);
    EXPECT_ERR(sim_verify(f, report, RUNTIME, NULL, 0, f->ca, &out), SHD_ERR_POLICY);
}

static void test_sim_uvm_endorsement(void **state)
{
    struct fx *f = *state;
    uint8_t report[1184];
    sim_report(f, RUNTIME, report);
    struct aemu_maa_verified out = {0};
    EXPECT_OK(sim_verify(f, report, RUNTIME, f->cose, f->cose_len, f->ca, &out));
    const char *svn = json_string_value(json_object_get(out.uvm_payload, "x-ms-sevsnpvm-guestsvn"));
    assert_string_equal(svn, "0");
    assert_string_equal(json_string_value(json_object_get(out.uvm_headers, "feed")),
                        "ContainerPlat-AMD-UVM");
    aemu_maa_verified_clear(&out);

    /* Last byte = end of the ES384 signature. */
    uint8_t *bad = shd_memdup(f->cose, f->cose_len);
    bad[f->cose_len - 1] ^= 0x01;
    EXPECT_ERR(sim_verify(f, report, RUNTIME, bad, f->cose_len, f->ca, &out),
               SHD_ERR_BAD_SIGNATURE);
    /* Truncated and trailing bytes. */
    EXPECT_ERR(sim_verify(f, report, RUNTIME, f->cose, f->cose_len - 1, f->ca, &out),
               SHD_ERR_INPUT);
    shd_free(bad);
    uint8_t *longer = shd_alloc(f->cose_len + 1);
    shd_memcpy(longer, f->cose, f->cose_len);
    EXPECT_ERR(sim_verify(f, report, RUNTIME, longer, f->cose_len + 1, f->ca, &out), SHD_ERR_INPUT);
    shd_free(longer);
    /* A signer that does not chain to the trusted UVM root. */
    X509 *other = sk_X509_value(f->all, 3);
    EXPECT_ERR(sim_verify(f, report, RUNTIME, f->cose, f->cose_len, other, &out), SHD_ERR_BAD_CERT);
    /* No UVM root configured: refused rather than ignored. */
    EXPECT_ERR(sim_verify(f, report, RUNTIME, f->cose, f->cose_len, NULL, &out),
               SHD_ERR_UNSUPPORTED);
    /* The endorsement is for another launch measurement. */
    report[0x90] ^= 0x01;
    sim_resign(f, report);
    EXPECT_ERR(sim_verify(f, report, RUNTIME, f->cose, f->cose_len, f->ca, &out), SHD_ERR_POLICY);
}

/* ------------------------------------------------------------------------------------------ */
/* Request bodies                                                                              */

static char *b64(const void *p, size_t n, unsigned flags)
{
    char *s = NULL;
    EXPECT_OK(shd_b64_encode(p, n, flags, &s, NULL));
    return s;
}

/* A body around the Milan vector; fmt gets report b64 and runtime b64 and the nonce text. */
static char *request_body(unsigned flags, const char *nonce_member, bool endorse,
                          const struct fx *f)
{
    struct vec v = milan_vec();
    char *r = b64(v.report, v.report_len, flags);
    char *c = b64(v.chain, strlen(v.chain), flags);
    char inner[16384];
    char *uvm = NULL;
    if (endorse) {
        char *cose = b64(f->cose, f->cose_len, flags);
        char e[4096];
        snprintf(e, sizeof(e), "{\"Uvm\":[\"%s\"]}", cose);
        uvm = b64(e, strlen(e), flags);
        shd_free(cose);
    }
    snprintf(inner, sizeof(inner), "{\"SnpReport\" : \"%s\", \"VcekCertChain\":\"%s\"%s%s%s}", r, c,
             uvm != NULL ? ",\"Endorsements\":\"" : "", uvm != NULL ? uvm : "",
             uvm != NULL ? "\"" : "");
    char *rep = b64(inner, strlen(inner), flags);
    char *rt = b64(RUNTIME, strlen(RUNTIME), flags);
    size_t n = strlen(rep) + strlen(rt) + 512;
    char *body = shd_alloc(n);
    snprintf(body, n,
             "{\"report\":\"%s\",\"runtimeData\":{\"data\":\"%s\",\"dataType\":\"JSON\"},"
             "\"initTimeData\":{\"data\":\"\",\"dataType\":\"\"}%s}",
             rep, rt, nonce_member);
    shd_free(r);
    shd_free(c);
    shd_free(uvm);
    shd_free(rep);
    shd_free(rt);
    vec_free(&v);
    return body;
}

static shd_result parse(const char *body, struct aemu_maa_request *rq)
{
    return aemu_maa_request_parse((const uint8_t *)body, strlen(body), rq);
}

static void test_request_flavours(void **state)
{
    struct fx *f = *state;
    /* The sidecar: padded base64url, a bare uint64 nonce above 2^63, empty initTimeData. */
    char *body = request_body(SHD_B64_URL_PAD, ",\"nonce\":18446744073709551615", true, f);
    struct aemu_maa_request rq = {0};
    EXPECT_OK(parse(body, &rq));
    assert_string_equal(rq.nonce, "18446744073709551615");
    assert_int_equal(rq.report_len, 1184);
    assert_non_null(rq.runtime_json);
    assert_int_equal(rq.runtime_len, strlen(RUNTIME));
    assert_null(rq.inittime);
    assert_int_equal(rq.uvm_len, f->cose_len);
    assert_memory_equal(rq.uvm, f->cose, f->cose_len);
    struct aemu_maa_evidence ev;
    aemu_maa_request_evidence(&rq, &ev);
    assert_ptr_equal(ev.report, rq.report);
    assert_ptr_equal(ev.uvm_endorsement, rq.uvm);
    aemu_maa_request_clear(&rq);
    shd_free(body);
    /* The REST example: unpadded, string nonce; standard alphabet works too. */
    static const unsigned flavours[] = {SHD_B64_URL_NOPAD, SHD_B64_STD_PAD};
    for (size_t i = 0; i < 2; i++) {
        body = request_body(flavours[i], ", \"nonce\" : \"abc 123\"", false, f);
        EXPECT_OK(parse(body, &rq));
        assert_string_equal(rq.nonce, "abc 123");
        assert_null(rq.uvm);
        aemu_maa_request_clear(&rq);
        shd_free(body);
    }
    /* No nonce; a number elsewhere named nonce inside runtime JSON is not touched. */
    body = request_body(SHD_B64_URL_PAD, ",\"x\":{\"nonce\":1.5}", false, f);
    EXPECT_OK(parse(body, &rq));
    assert_null(rq.nonce);
    aemu_maa_request_clear(&rq);
    shd_free(body);
}

static void test_request_negative(void **state)
{
    struct fx *f = *state;
    struct aemu_maa_request rq = {0};
    static const struct {
        const char *nonce;
        int code;
    } bad_nonces[] = {
        {",\"nonce\":-1", SHD_ERR_INPUT},
        {",\"nonce\":1.5", SHD_ERR_INPUT},
        {",\"nonce\":123456789012345678901", SHD_ERR_INPUT},
        {",\"nonce\":01", SHD_ERR_INPUT},
        {",\"nonce\":true", SHD_ERR_INPUT},
        {",\"nonce\":1,\"nonce\":2", SHD_ERR_JSON},
        {",\"draftPolicyForAttestation\":\"version=1.0;\"", SHD_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(bad_nonces) / sizeof(bad_nonces[0]); i++) {
        char *body = request_body(SHD_B64_URL_PAD, bad_nonces[i].nonce, false, f);
        EXPECT_ERR(parse(body, &rq), bad_nonces[i].code);
        shd_free(body);
    }
    /* Truncated JSON. */
    char *body = request_body(SHD_B64_URL_PAD, "", false, f);
    EXPECT_OK(aemu_maa_request_parse((const uint8_t *)body, strlen(body), &rq));
    aemu_maa_request_clear(&rq);
    EXPECT_ERR(aemu_maa_request_parse((const uint8_t *)body, strlen(body) - 1, &rq), SHD_ERR_JSON);
    shd_free(body);

    static const struct {
        const char *body;
        int code;
    } bad[] = {
        {"[]", SHD_ERR_INPUT},
        {"{}", SHD_ERR_INPUT},
        {"{\"report\":\"\"}", SHD_ERR_INPUT},
        {"{\"report\":\"!!!!\"}", SHD_ERR_ENCODING},
        {"{\"report\":\"e30\"}", SHD_ERR_INPUT}, /* {} : no SnpReport */
        /* {"SnpReport":"AAAA","VcekCertChain":"x"}: 3 bytes, not 1184 */
        {"{\"report\":\"eyJTbnBSZXBvcnQiOiJBQUFBIiwiVmNla0NlcnRDaGFpbiI6IngifQ\"}", SHD_ERR_INPUT},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(parse(bad[i].body, &rq), bad[i].code);
    }
    /* Oversized body. */
    size_t big = 1024u * 1024u + 1u;
    uint8_t *huge = shd_alloc(big);
    EXPECT_ERR(aemu_maa_request_parse(huge, big, &rq), SHD_ERR_TOO_LARGE);
    shd_free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roots_equal_trust_files),
        cmocka_unit_test(test_real_vcek_report),
        cmocka_unit_test(test_real_vlek_report),
        cmocka_unit_test(test_real_report_bit_flips),
        cmocka_unit_test(test_real_chain_bit_flips),
        cmocka_unit_test(test_sim_binding),
        cmocka_unit_test(test_sim_tcb_and_chip_id),
        cmocka_unit_test(test_sim_uvm_endorsement),
        cmocka_unit_test(test_request_flavours),
        cmocka_unit_test(test_request_negative),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
