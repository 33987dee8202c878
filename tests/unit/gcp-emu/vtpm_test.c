/*
 * vtpm_test.c - the GCE-style vTPM on a real swtpm: start/stop, provisioning, and what a client
 * with tpm2-tools sees (NV contents and attributes, the AK template, PCRs = event log replay).
 * swtpm and tpm2-tools are required: `./run test` installs them, so a missing tool FAILS here.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "shd_test.h"

#include "eventlog.h"
#include "pki.h"
#include "tpm_akcert.h"
#include "tpm_templates.h"
#include "gemu.h"
#include "vtpm.h"
#include "vtpm_state.h"

#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/mem.h"

struct fixture {
    char dir[128];
    char tpmdir[192];
    char logpath[256];
    EVP_PKEY *root_key, *ca_key;
    X509 *root, *ca;
    struct gemu_instance_info info;
    struct gemu_vtpm *vtpm;
    struct gemu_vtpm_provisioned prov;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static X509 *make_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    struct gemu_pki_rdn rdns[] = {{"O", "Google LLC"}, {"OU", "Google Cloud"}, {"CN", cn}};
    X509_NAME *name = NULL;
    X509 *cert = NULL;

    EXPECT_OK(gemu_pki_name(rdns, 3, &name));
    EXPECT_OK(
        gemu_pki_cert_new(name, issuer ? X509_get_subject_name(issuer) : name, key, 365, &cert));
    EXPECT_OK(gemu_pki_cert_add_ext(NID_basic_constraints, "critical,CA:TRUE", issuer, cert));
    EXPECT_OK(gemu_pki_cert_add_ext(NID_key_usage, "critical,keyCertSign,cRLSign", issuer, cert));
    EXPECT_OK(gemu_pki_cert_add_ext(NID_subject_key_identifier, "hash", issuer, cert));
    EXPECT_OK(gemu_pki_cert_sign(issuer_key, cert));
    X509_NAME_free(name);
    return cert;
}

/* Runs a shell command with TPM2TOOLS_TCTI set; returns its exit status. */
static int run(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(struct fixture *f, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int n, st;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    assert_int_equal(setenv("TPM2TOOLS_TCTI", gemu_vtpm_tcti(f->vtpm), 1), 0);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void provision(struct fixture *f, struct gemu_vtpm_provisioned *out)
{
    struct gemu_vtpm_provision_opts o = {
        .instance = &f->info,
        .ca_cert = f->ca,
        .ca_key = f->ca_key,
        .aia_url = "http://aia.example/ak/intermediate.crt",
        .log = {.firmware_version = 1, .technology = GEMU_GCE_TECH_AMD_SEV, .secure_boot = true},
        .eventlog_path = f->logpath,
    };

    EXPECT_OK(gemu_vtpm_provision(&o, f->vtpm, out));
}

static int setup(void **state)
{
    struct fixture *f = shd_alloc(sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/gemu-vtpm-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->tpmdir, sizeof(f->tpmdir), "%s/vtpm", f->dir);
    snprintf(f->logpath, sizeof(f->logpath), "%s/vtpm/binary_bios_measurements", f->dir);
    assert_int_equal(mkdir(f->tpmdir, 0700), 0);
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &f->root_key));
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &f->ca_key));
    f->root = make_ca("EK/AK CA Root", f->root_key, NULL, f->root_key);
    f->ca = make_ca("EK/AK CA Intermediate", f->ca_key, f->root, f->root_key);
    EXPECT_OK(gemu_instance_info_from_text("us-central1-a", "gemu-project", "123456789012",
                                           "7333251546816446069", "gemu-cvm", &f->info));
    EXPECT_OK(gemu_vtpm_start(f->tpmdir, &f->vtpm));
    provision(f, &f->prov);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f == NULL) {
        return 0;
    }
    gemu_vtpm_free(f->vtpm);
    gemu_vtpm_provisioned_clear(&f->prov);
    X509_free(f->root);
    X509_free(f->ca);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->ca_key);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    shd_free(f);
    return 0;
}

static uint8_t *read_path(struct fixture *f, const char *name, size_t *len)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    return shd_test_read_file(path, len);
}

static void test_tcti_and_process(void **state)
{
    struct fixture *f = *state;
    char want[64];

    snprintf(want, sizeof(want), "swtpm:host=127.0.0.1,port=%u", gemu_vtpm_port(f->vtpm));
    assert_string_equal(gemu_vtpm_tcti(f->vtpm), want);
    assert_int_equal(gemu_vtpm_ctrl_port(f->vtpm), gemu_vtpm_port(f->vtpm) + 1);
    assert_int_equal(kill(gemu_vtpm_pid(f->vtpm), 0), 0);
    assert_int_equal(run(f, "tpm2_getrandom --hex 8 >/dev/null 2>&1"), 0);
}

static void test_nv_as_a_client_reads_it(void **state)
{
    struct fixture *f = *state;
    TPMT_PUBLIC tmpl;
    uint8_t want[sizeof(TPMT_PUBLIC)];
    size_t want_len = 0, len = 0, der_len = 0;
    uint8_t *got, *der = NULL;

    /* Templates: owner-readable TPMT_PUBLIC, exactly the GCE AK templates. */
    assert_int_equal(run(f, "tpm2_nvread 0x01c10001 -C o -o %s/t-rsa.bin 2>/dev/null", f->dir), 0);
    gemu_tpm_template_ak(false, &tmpl);
    EXPECT_OK(gemu_tpm_public_marshal(&tmpl, want, sizeof(want), &want_len));
    got = read_path(f, "t-rsa.bin", &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    shd_free(got);
    assert_int_equal(run(f, "tpm2_nvread 0x01c10003 -C o -o %s/t-ecc.bin 2>/dev/null", f->dir), 0);
    gemu_tpm_template_ak(true, &tmpl);
    EXPECT_OK(gemu_tpm_public_marshal(&tmpl, want, sizeof(want), &want_len));
    got = read_path(f, "t-ecc.bin", &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    shd_free(got);

    /* AK certificate: the DER the provisioning returned, with GCE's attributes. */
    assert_int_equal(run(f, "tpm2_nvread 0x01c10000 -C o -o %s/ak.der 2>/dev/null", f->dir), 0);
    got = read_path(f, "ak.der", &len);
    EXPECT_OK(shd_crypto_x509_export_der(f->prov.ak_cert_rsa, &der, &der_len));
    assert_int_equal(len, der_len);
    assert_memory_equal(got, der, len);
    shd_free(got);
    shd_free(der);
    assert_int_equal(run(f, "tpm2_nvreadpublic 0x01c10000 | grep -q 'value: 0x62072001'"), 0);
    assert_int_equal(run(f, "tpm2_nvreadpublic 0x01c10002 | grep -q 'value: 0x62072001'"), 0);
    assert_int_equal(run(f, "tpm2_nvreadpublic 0x01c00002 | grep -q 'value: 0x62072001'"), 0);
}

static void test_certificates(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *roots = sk_X509_new_null();
    STACK_OF(X509) *inter = sk_X509_new_null();
    struct gemu_instance_info got;
    AUTHORITY_INFO_ACCESS *aia;
    const ACCESS_DESCRIPTION *ad;

    assert_true(sk_X509_push(roots, f->root) > 0);
    assert_true(sk_X509_push(inter, f->ca) > 0);
    EXPECT_OK(shd_crypto_x509_verify(f->prov.ak_cert_rsa, inter, roots, NULL));
    EXPECT_OK(shd_crypto_x509_verify(f->prov.ak_cert_ecc, inter, roots, NULL));
    EXPECT_OK(shd_crypto_x509_verify(f->prov.ek_cert_rsa, inter, roots, NULL));
    sk_X509_free(roots);
    sk_X509_free(inter);

    EXPECT_OK(gemu_akcert_instance_info(f->prov.ak_cert_ecc, &got));
    assert_true(gemu_instance_info_equal(&got, &f->info));
    assert_string_equal(got.zone, "us-central1-a");
    assert_true(got.project_number == 123456789012LL);
    assert_true(got.instance_id == 7333251546816446069LL);
    assert_true(got.is_production);
    assert_int_equal(shd_crypto_key_kind(X509_get0_pubkey(f->prov.ak_cert_rsa)),
                     SHD_CRYPTO_KEY_RSA);
    assert_int_equal(shd_crypto_key_kind(X509_get0_pubkey(f->prov.ak_cert_ecc)),
                     SHD_CRYPTO_KEY_EC_P256);
    EXPECT_ERR(gemu_akcert_instance_info(f->prov.ek_cert_rsa, &got), SHD_ERR_NOT_FOUND);

    aia = X509_get_ext_d2i(f->prov.ak_cert_rsa, NID_info_access, NULL, NULL);
    assert_non_null(aia);
    assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 1);
    ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
    assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
    assert_int_equal(ad->location->type, GEN_URI);
    assert_string_equal(
        (const char *)ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier),
        "http://aia.example/ak/intermediate.crt");
    AUTHORITY_INFO_ACCESS_free(aia);
}

/* The GCE recipe with tpm2-tools builds the same AK as the one certified. */
static void test_ak_from_template_with_tools(void **state)
{
    struct fixture *f = *state;
    size_t len = 0, want_len = 0;
    uint8_t *got, *pem;
    TPMT_PUBLIC tmpl;
    uint8_t want[sizeof(TPMT_PUBLIC)];
    EVP_PKEY *pub = NULL;

    assert_int_equal(run(f,
                         "tpm2_createprimary -C e -G rsa2048:rsassa-sha256:null -g sha256 "
                         "-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|"
                         "sign' -c %s/ak.ctx --template-data %s/tmpl.bin -f pem -o %s/ak.pem "
                         ">/dev/null && tpm2_flushcontext -t",
                         f->dir, f->dir, f->dir),
                     0);
    got = read_path(f, "tmpl.bin", &len);
    gemu_tpm_template_ak(false, &tmpl);
    EXPECT_OK(gemu_tpm_public_marshal(&tmpl, want, sizeof(want), &want_len));
    /* --template-data holds the marshalled TPMT_PUBLIC, byte for byte what NV 0x01C10001 has
     * (the man page's "TPM2B_PUBLIC" is not what tpm2-tools 5.4 writes). */
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, want_len);
    shd_free(got);
    pem = read_path(f, "ak.pem", &len);
    EXPECT_OK(shd_crypto_pubkey_load(pem, len, &pub));
    assert_int_equal(EVP_PKEY_eq(pub, X509_get0_pubkey(f->prov.ak_cert_rsa)), 1);
    EVP_PKEY_free(pub);
    shd_free(pem);
}

static void expect_pcrs_match_log(struct fixture *f)
{
    size_t len = 0, log_len = 0;
    uint8_t *log = shd_test_read_file(f->logpath, &log_len);
    uint8_t *pcrs;
    struct gemu_eventlog *el = NULL;
    struct gemu_pcr_bank bank;

    assert_int_equal(log_len, f->prov.eventlog_len);
    assert_memory_equal(log, f->prov.eventlog, log_len);
    assert_int_equal(
        run(f, "tpm2_pcrread sha256:0,1,2,3,4,5,6,7 -o %s/pcrs.bin >/dev/null", f->dir), 0);
    pcrs = read_path(f, "pcrs.bin", &len);
    assert_int_equal(len, 8 * 32);
    EXPECT_OK(gemu_eventlog_parse(log, log_len, &el));
    EXPECT_OK(gemu_eventlog_replay(el, GEMU_ALG_SHA256, &bank));
    assert_int_equal(bank.touched, 0xff);
    for (size_t i = 0; i < 8; i++) {
        assert_memory_equal(pcrs + 32 * i, bank.pcr[i], 32);
    }
    gemu_eventlog_free(el);
    shd_free(pcrs);
    shd_free(log);
}

static void test_pcrs_are_the_log_replay(void **state)
{
    expect_pcrs_match_log(*state);
}

static void test_provision_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct gemu_vtpm_provisioned again = {0};

    provision(f, &again);
    assert_int_equal(X509_cmp(again.ak_cert_rsa, f->prov.ak_cert_rsa), 0);
    assert_int_equal(X509_cmp(again.ak_cert_ecc, f->prov.ak_cert_ecc), 0);
    assert_int_equal(X509_cmp(again.ek_cert_rsa, f->prov.ek_cert_rsa), 0);
    gemu_vtpm_provisioned_clear(&again);
    expect_pcrs_match_log(f);
}

static void test_restart_keeps_certificates(void **state)
{
    struct fixture *f = *state;
    struct gemu_vtpm_provisioned again = {0};
    int old_pid = gemu_vtpm_pid(f->vtpm);

    gemu_vtpm_free(f->vtpm);
    f->vtpm = NULL;
    assert_int_equal(kill(old_pid, 0), -1);
    EXPECT_OK(gemu_vtpm_start(f->tpmdir, &f->vtpm));
    provision(f, &again);
    assert_int_equal(X509_cmp(again.ak_cert_rsa, f->prov.ak_cert_rsa), 0);
    assert_int_equal(X509_cmp(again.ak_cert_ecc, f->prov.ak_cert_ecc), 0);
    gemu_vtpm_provisioned_clear(&again);
    expect_pcrs_match_log(f);
}

static void test_foreign_measurement_is_refused(void **state)
{
    struct fixture *f = *state;
    struct gemu_vtpm_provision_opts o = {
        .instance = &f->info,
        .ca_cert = f->ca,
        .ca_key = f->ca_key,
        .aia_url = "http://aia.example/ak/intermediate.crt",
        .log = {.firmware_version = 1, .technology = GEMU_GCE_TECH_AMD_SEV, .secure_boot = true},
        .eventlog_path = f->logpath,
    };

    assert_int_equal(run(f, "tpm2_pcrextend 0:sha256=%064d", 7), 0);
    EXPECT_ERR(gemu_vtpm_provision(&o, f->vtpm, NULL), SHD_ERR_TPM);
}

static void test_start_needs_state_dir(void **state)
{
    struct gemu_vtpm *v = NULL;

    (void)state;
    EXPECT_ERR(gemu_vtpm_start("/nonexistent/gemu-vtpm", &v), SHD_ERR_CONFIG);
    assert_null(v);
}

/* ---- the instance-identity extension codec (no TPM needed) ---- */

static void test_instance_info_der(void **state)
{
    struct fixture *f = *state;
    uint8_t *der = NULL;
    size_t len = 0;
    struct gemu_instance_info got;
    /* SEQUENCE { "z", 5, "p", 0x80 (needs a 0x00), "n",
     *           [0] { SEQUENCE { [0] {1}, [1] {TRUE} } } } */
    static const uint8_t want_small[] = {0x30, 0x1e, 0x0c, 0x01, 'z',  0x02, 0x01, 0x05,
                                         0x0c, 0x01, 'p',  0x02, 0x02, 0x00, 0x80, 0x0c,
                                         0x01, 'n',  0xa0, 0x0c, 0x30, 0x0a, 0xa0, 0x03,
                                         0x02, 0x01, 0x01, 0xa1, 0x03, 0x01, 0x01, 0xff};
    struct gemu_instance_info small;

    EXPECT_OK(gemu_instance_info_encode(&f->info, &der, &len));
    EXPECT_OK(gemu_instance_info_decode(der, len, &got));
    assert_true(gemu_instance_info_equal(&got, &f->info));
    /* Every strict prefix is refused, and so is a trailing byte. */
    for (size_t n = 0; n < len; n++) {
        assert_true(shd_is_err(gemu_instance_info_decode(der, n, &got)));
    }
    shd_free(der);

    EXPECT_OK(gemu_instance_info_from_text("z", "p", "5", "128", "n", &small));
    EXPECT_OK(gemu_instance_info_encode(&small, &der, &len));
    assert_int_equal(len, sizeof(want_small));
    assert_memory_equal(der, want_small, len);
    shd_free(der);
}

static void expect_decode_err(const uint8_t *der, size_t len)
{
    struct gemu_instance_info got;

    EXPECT_ERR(gemu_instance_info_decode(der, len, &got), SHD_ERR_INPUT);
}

static void test_instance_info_strict(void **state)
{
    uint8_t m[64];
    static const uint8_t base[] = {0x30, 0x0f, 0x0c, 0x01, 'z',  0x02, 0x01, 0x05, 0x0c,
                                   0x01, 'p',  0x02, 0x01, 0x07, 0x0c, 0x01, 'n'};
    static const uint8_t printable[] = {0x30, 0x0f, 0x13, 0x01, 'z',  0x02, 0x01, 0x05, 0x13,
                                        0x01, 'p',  0x02, 0x01, 0x07, 0x13, 0x01, 'n'};
    static const uint8_t long_len[] = {0x30, 0x81, 0x0f, 0x0c, 0x01, 'z',  0x02, 0x01, 0x05,
                                       0x0c, 0x01, 'p',  0x02, 0x01, 0x07, 0x0c, 0x01, 'n'};
    static const uint8_t nonmin_int[] = {0x30, 0x10, 0x0c, 0x01, 'z',  0x02, 0x02, 0x00, 0x05,
                                         0x0c, 0x01, 'p',  0x02, 0x01, 0x07, 0x0c, 0x01, 'n'};
    static const uint8_t bad_bool[] = {0x30, 0x16, 0x0c, 0x01, 'z',  0x02, 0x01, 0x05, 0x0c,
                                       0x01, 'p',  0x02, 0x01, 0x07, 0x0c, 0x01, 'n',  0xa0,
                                       0x05, 0x30, 0x03, 0xa1, 0x03, 0x01, 0x01, 0x01};
    struct gemu_instance_info got;

    (void)state;
    EXPECT_OK(gemu_instance_info_decode(base, sizeof(base), &got));
    assert_false(got.has_security_properties);
    assert_true(got.instance_id == 7);
    EXPECT_OK(gemu_instance_info_decode(printable, sizeof(printable), &got));
    assert_string_equal(got.project_id, "p");
    expect_decode_err(long_len, sizeof(long_len));     /* long form for a short length */
    expect_decode_err(nonmin_int, sizeof(nonmin_int)); /* 0x00 0x05 */
    expect_decode_err(bad_bool, sizeof(bad_bool));     /* BOOLEAN 0x01 is BER, not DER */
    shd_memcpy(m, base, sizeof(base));
    m[7] = 0x85; /* negative project number */
    expect_decode_err(m, sizeof(base));
    shd_memcpy(m, base, sizeof(base));
    m[4] = 0; /* NUL inside a name */
    expect_decode_err(m, sizeof(base));
    shd_memcpy(m, base, sizeof(base));
    m[2] = 0x04; /* OCTET STRING where a string belongs */
    expect_decode_err(m, sizeof(base));
    shd_memcpy(m, base, sizeof(base));
    m[sizeof(base)] = 0;
    expect_decode_err(m, sizeof(base) + 1); /* trailing byte */
    EXPECT_ERR(gemu_instance_info_from_text("z", "p", "012", "1", "n", &got), SHD_ERR_CONFIG);
    EXPECT_ERR(gemu_instance_info_from_text("z", "p", "1", "-1", "n", &got), SHD_ERR_CONFIG);
    EXPECT_ERR(gemu_instance_info_from_text("", "p", "1", "1", "n", &got), SHD_ERR_CONFIG);
    EXPECT_ERR(gemu_instance_info_from_text("z", "p", "99999999999999999999", "1", "n", &got),
               SHD_ERR_CONFIG);
}

/* serve --vtpm: from the loaded state, in DIR/vtpm, ports reported in st->ports. */
static void test_serve_start_from_state(void **state)
{
    struct fixture *f = *state;
    char dir[256], log[300], zone[] = "us-central1-a", pid[] = "gemu-project",
        pnum[] = "123456789012", iid[] = "7333251546816446069", iname[] = "gemu-cvm";
    struct gemu_state st;
    struct gemu_vtpm *v = NULL;
    struct stat sb;

    snprintf(dir, sizeof(dir), "%s/state2", f->dir);
    snprintf(log, sizeof(log), "%s/%s", dir, GEMU_EVENTLOG_FILE);
    assert_int_equal(mkdir(dir, 0700), 0);
    shd_memzero(&st, sizeof(st));
    st.state_dir = dir;
    st.ak_ca_cert = f->ca;
    st.ak_ca_key = f->ca_key;
    st.id.zone = zone;
    st.id.project_id = pid;
    st.id.project_number = pnum;
    st.id.instance_id = iid;
    st.id.instance_name = iname;
    EXPECT_OK(gemu_vtpm_serve_start(&st, &v));
    assert_int_equal(st.ports.tpm, gemu_vtpm_port(v));
    assert_int_equal(st.ports.tpm_ctrl, gemu_vtpm_port(v) + 1);
    assert_int_equal(stat(log, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    gemu_vtpm_free(v);
    st.ak_ca_key = NULL;
    EXPECT_ERR(gemu_vtpm_serve_start(&st, &v), SHD_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcti_and_process),
        cmocka_unit_test(test_nv_as_a_client_reads_it),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_ak_from_template_with_tools),
        cmocka_unit_test(test_pcrs_are_the_log_replay),
        cmocka_unit_test(test_provision_is_idempotent),
        cmocka_unit_test(test_restart_keeps_certificates),
        cmocka_unit_test(test_foreign_measurement_is_refused),
        cmocka_unit_test(test_start_needs_state_dir),
        cmocka_unit_test(test_instance_info_der),
        cmocka_unit_test(test_serve_start_from_state),
        cmocka_unit_test(test_instance_info_strict),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
