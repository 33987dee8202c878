/*
 * config_test.c - SkrSideCarArgs (skr-sidecar.md §1.3), the security-context discovery and
 * loading (§1.4) and THIM JSON parsing.
 */
#include "shd_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/mem.h"

static void expect_error(shd_result r, int code, const char *msg)
{
    char buf[1024];
    (void)shd_error_render(buf, sizeof(buf));
    if (r.err != code || strcmp(buf, msg) != 0) {
        fail_msg("got %d \"%s\", want %d \"%s\"", r.err, buf, code, msg);
    }
}

static char *b64(const char *s)
{
    char *out = NULL;
    EXPECT_OK(shd_b64_encode((const uint8_t *)s, strlen(s), SHD_B64_STD_PAD, &out, NULL));
    return out;
}

static void test_args_good(void **state)
{
    (void)state;
    char *in = b64("{\"certcache\":{\"endpoint_type\":\"AzCache\",\"endpoint\":"
                   "\"global.acccache.azure.net\",\"tee_type\":\"SevSnpVM\",\"api_version\":"
                   "\"api-version=2020-10-15-preview\",\"client_id\":\"clientId=ConfidentialACI\"},"
                   "\"identity\":{\"client_id\":\"abc\"},\"maaconfig\":{\"user_agent\":\"ua/1\"},"
                   "\"unknown\":[1,2]}");
    struct skr_sidecar_args a;
    EXPECT_OK(skr_sidecar_args_decode(in, &a));
    assert_int_equal(a.certcache.type, SKR_CERT_ENDPOINT_AZCACHE);
    assert_string_equal(a.certcache.endpoint, "global.acccache.azure.net");
    assert_string_equal(a.certcache.tee_type, "SevSnpVM");
    assert_string_equal(a.certcache.api_version, "api-version=2020-10-15-preview");
    assert_string_equal(a.certcache.client_id, "clientId=ConfidentialACI");
    assert_string_equal(a.identity_client_id, "abc");
    assert_string_equal(a.maa_user_agent, "ua/1");
    skr_sidecar_args_clear(&a);
    shd_free(in);

    /* Kata example; keys match case-insensitively; CR/LF inside the base64 are skipped */
    const char *kata = "{\"CertCache\":{\"Endpoint_Type\":\"LocalTHIM\",\"endpoint\":"
                       "\"169.254.169.254/metadata/THIM/amd/certification\"}}";
    in = b64(kata);
    size_t n = strlen(in);
    char *wrapped = shd_alloc(n + 3);
    assert_non_null(wrapped);
    shd_memcpy(wrapped, in, 10);
    shd_memcpy(wrapped + 10, "\r\n", 2);
    shd_memcpy(wrapped + 12, in + 10, n - 10);
    EXPECT_OK(skr_sidecar_args_decode(wrapped, &a));
    assert_int_equal(a.certcache.type, SKR_CERT_ENDPOINT_LOCAL_THIM);
    assert_string_equal(a.certcache.endpoint, "169.254.169.254/metadata/THIM/amd/certification");
    assert_null(a.identity_client_id);
    assert_null(a.maa_user_agent);
    skr_sidecar_args_clear(&a);
    shd_free(wrapped);
    shd_free(in);

    /* null leaves fields empty; the AMD type */
    in = b64("{\"certcache\":{\"endpoint_type\":\"AMD\",\"endpoint\":null},\"identity\":null}");
    EXPECT_OK(skr_sidecar_args_decode(in, &a));
    assert_int_equal(a.certcache.type, SKR_CERT_ENDPOINT_AMD);
    assert_null(a.certcache.endpoint);
    skr_sidecar_args_clear(&a);
    shd_free(in);
}

static void test_args_unknown_endpoint_type(void **state)
{
    (void)state;
    char *in = b64("{\"certcache\":{\"endpoint_type\":\"localthim\",\"endpoint\":\"x\"}}");
    struct skr_sidecar_args a;
    /* accepted at start-up like the original; the refresh fails later */
    EXPECT_OK(skr_sidecar_args_decode(in, &a));
    assert_int_equal(a.certcache.type, SKR_CERT_ENDPOINT_INVALID);
    assert_string_equal(a.certcache.type_name, "localthim");
    skr_sidecar_args_clear(&a);
    shd_free(in);
}

static void test_args_bad(void **state)
{
    (void)state;
    struct skr_sidecar_args a = {0};
    expect_error(skr_sidecar_args_decode("e30", &a), SHD_ERR_ENCODING,
                 "Failed to decode base64 attestation info: illegal base64 data at input byte 0");
    expect_error(skr_sidecar_args_decode("e3-=", &a), SHD_ERR_ENCODING,
                 "Failed to decode base64 attestation info: illegal base64 data at input byte 2");
    /* offsets count the skipped CR/LF, like Go */
    expect_error(skr_sidecar_args_decode("\r\ne3-=", &a), SHD_ERR_ENCODING,
                 "Failed to decode base64 attestation info: illegal base64 data at input byte 4");

    char *in = b64("{\"certcache\":");
    shd_result r = skr_sidecar_args_decode(in, &a);
    assert_int_equal(r.err, SHD_ERR_JSON);
    char buf[512];
    (void)shd_error_render(buf, sizeof(buf));
    const char *prefix = "Failed to unmarshal attestion info json into AzureInformation: ";
    assert_int_equal(strncmp(buf, prefix, strlen(prefix)), 0);
    shd_free(in);

    in = b64("{\"certcache\":{\"endpoint\":5}}");
    expect_error(skr_sidecar_args_decode(in, &a), SHD_ERR_CONFIG,
                 "Failed to unmarshal attestion info json into AzureInformation: json: cannot "
                 "unmarshal number into Go struct field attest.CertFetcher.certcache.endpoint of "
                 "type string");
    shd_free(in);
    in = b64("{\"identity\":\"x\"}");
    expect_error(skr_sidecar_args_decode(in, &a), SHD_ERR_CONFIG,
                 "Failed to unmarshal attestion info json into AzureInformation: json: cannot "
                 "unmarshal string into Go struct field AzureInformation.identity of type "
                 "common.Identity");
    shd_free(in);
    in = b64("[1]");
    expect_error(skr_sidecar_args_decode(in, &a), SHD_ERR_CONFIG,
                 "Failed to unmarshal attestion info json into AzureInformation: json: cannot "
                 "unmarshal array into Go value of type grpcserver.AzureInformation");
    shd_free(in);
    assert_null(a.certcache.endpoint);
}

/* ---- security context ---- */

static const char *ENV_KEYS[8];
static const char *ENV_VALS[8];
static size_t ENV_N;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < ENV_N; i++) {
        if (strcmp(ENV_KEYS[i], name) == 0) {
            return ENV_VALS[i];
        }
    }
    return NULL;
}

static void env_set(const char *k, const char *v)
{
    assert_true(ENV_N < 8);
    ENV_KEYS[ENV_N] = k;
    ENV_VALS[ENV_N] = v;
    ENV_N++;
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *root, const char *name, char *ret, size_t n)
{
    (void)snprintf(ret, n, "%s/%s", root, name);
    assert_int_equal(mkdir(ret, 0700), 0);
}

static void rm_rf(const char *path)
{
    char cmd[600];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void test_secctx_discovery(void **state)
{
    (void)state;
    char root[] = "/tmp/skr-config-test-XXXXXX";
    assert_non_null(mkdtemp(root));
    ENV_N = 0;
    const struct skr_uvm_env env = {.root = root, .getenv = fake_getenv};
    char *dir = NULL;

    /* nothing: the Kata default */
    EXPECT_OK(skr_uvm_dir_find(&env, &dir));
    assert_string_equal(dir, SKR_KATA_SECURITY_CONTEXT_DIR);
    shd_free(dir);

    /* the smallest name containing "security-context-" wins */
    char p[512];
    make_dir(root, "security-context-b", p, sizeof(p));
    make_dir(root, "xsecurity-context-z", p, sizeof(p));
    make_dir(root, "security-context-a", p, sizeof(p));
    make_dir(root, "security-contextual", p, sizeof(p));
    EXPECT_OK(skr_uvm_dir_find(&env, &dir));
    char want[600];
    (void)snprintf(want, sizeof(want), "%s/security-context-a", root);
    assert_string_equal(dir, want);
    shd_free(dir);

    /* UVM_SECURITY_CONTEXT_DIR overrides; an empty value does not */
    env_set("UVM_SECURITY_CONTEXT_DIR", "");
    EXPECT_OK(skr_uvm_dir_find(&env, &dir));
    assert_string_equal(dir, want);
    shd_free(dir);
    ENV_N = 0;
    env_set("UVM_SECURITY_CONTEXT_DIR", "/elsewhere");
    EXPECT_OK(skr_uvm_dir_find(&env, &dir));
    assert_string_equal(dir, "/elsewhere");
    shd_free(dir);
    ENV_N = 0;
    rm_rf(root);
}

static void test_secctx_load(void **state)
{
    (void)state;
    char root[] = "/tmp/skr-config-test-XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[512];
    make_dir(root, "security-context-1", dir, sizeof(dir));
    ENV_N = 0;
    const struct skr_uvm_env env = {.root = root, .getenv = fake_getenv};
    struct skr_uvm_info u;

    /* all three files, verbatim (no trimming) */
    write_file(dir, "reference-info-base64", "UkVG\n");
    write_file(dir, "host-amd-cert-base64", "Q0VSVA==");
    write_file(dir, "security-policy-base64", "UE9M");
    EXPECT_OK(skr_uvm_info_load(&env, &u));
    assert_string_equal(u.reference_info_b64, "UkVG\n");
    assert_string_equal(u.host_amd_cert_b64, "Q0VSVA==");
    assert_string_equal(u.security_policy_b64, "UE9M");
    assert_string_equal(u.dir, dir);
    skr_uvm_info_clear(&u);

    /* a missing host-amd-cert stops loading: the policy is not read */
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/host-amd-cert-base64", dir);
    assert_int_equal(unlink(path), 0);
    EXPECT_OK(skr_uvm_info_load(&env, &u));
    assert_string_equal(u.reference_info_b64, "UkVG\n");
    assert_string_equal(u.host_amd_cert_b64, "");
    assert_string_equal(u.security_policy_b64, "");
    skr_uvm_info_clear(&u);

    /* no reference info: the legacy environment scheme replaces everything */
    (void)snprintf(path, sizeof(path), "%s/reference-info-base64", dir);
    assert_int_equal(unlink(path), 0);
    env_set("UVM_HOST_AMD_CERTIFICATE", "ENVCERT");
    env_set("UVM_SECURITY_POLICY", "ENVPOL");
    env_set("UVM_REFERENCE_INFO", "ENVREF");
    EXPECT_OK(skr_uvm_info_load(&env, &u));
    assert_string_equal(u.reference_info_b64, "ENVREF");
    assert_string_equal(u.host_amd_cert_b64, "ENVCERT");
    assert_string_equal(u.security_policy_b64, "ENVPOL");
    assert_null(u.dir);
    skr_uvm_info_clear(&u);
    ENV_N = 0;

    /* nothing anywhere: empty strings, no error (the original only logs) */
    EXPECT_OK(skr_uvm_info_load(&env, &u));
    assert_string_equal(u.reference_info_b64, "");
    assert_string_equal(u.host_amd_cert_b64, "");
    assert_string_equal(u.security_policy_b64, "");
    skr_uvm_info_clear(&u);
    rm_rf(root);
}

static void test_thim_parse(void **state)
{
    (void)state;
    const char *thim = "{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\\nV\\n-----END "
                       "CERTIFICATE-----\\n\",\"tcbm\":\"7308000000000003\",\"certificateChain\":"
                       "\"CHAIN\",\"cacheControl\":\"86400\"}";
    struct skr_certs c;
    EXPECT_OK(skr_thim_parse(thim, strlen(thim), false, &c));
    assert_int_equal(c.tcbm, 0x7308000000000003ull);
    assert_string_equal(c.tcbm_str, "7308000000000003");
    assert_string_equal(c.chain_pem, "CHAIN");
    assert_non_null(strstr(c.vcek_pem, "BEGIN CERTIFICATE"));
    struct skr_certs copy;
    EXPECT_OK(skr_certs_copy(&c, &copy));
    assert_string_equal(copy.tcbm_str, c.tcbm_str);
    skr_certs_clear(&copy);
    skr_certs_clear(&c);

    char *in = b64("{\"vcekCert\":\"V\",\"tcbm\":\"DB18000000000004\",\"certificateChain\":\"C\"}");
    EXPECT_OK(skr_thim_parse(in, strlen(in), true, &c));
    assert_int_equal(c.tcbm, 0xdb18000000000004ull);
    skr_certs_clear(&c);
    shd_free(in);

    const char *bad_tcbm = "{\"vcekCert\":\"V\",\"tcbm\":\"0x73\",\"certificateChain\":\"C\"}";
    expect_error(skr_thim_parse(bad_tcbm, strlen(bad_tcbm), false, &c), SHD_ERR_INPUT,
                 "Unable to convert TCBM to a uint64: invalid digit in number");
    const char *no_vcek = "{\"tcbm\":\"73\",\"certificateChain\":\"C\"}";
    expect_error(skr_thim_parse(no_vcek, strlen(no_vcek), false, &c), SHD_ERR_INPUT,
                 "THIM certificates carry no vcekCert");
    const char *trunc = "{\"vcekCert\":";
    assert_int_equal(skr_thim_parse(trunc, strlen(trunc), false, &c).err, SHD_ERR_JSON);
    assert_int_equal(skr_thim_parse("e30", 3, true, &c).err, SHD_ERR_ENCODING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_good),
        cmocka_unit_test(test_args_unknown_endpoint_type),
        cmocka_unit_test(test_args_bad),
        cmocka_unit_test(test_secctx_discovery),
        cmocka_unit_test(test_secctx_load),
        cmocka_unit_test(test_thim_parse),
    };
    return cmocka_run_group_tests_name("skr_config", tests, NULL, NULL);
}
