/*
 * release_policy_files_test.c - the checked-in release policy (policies/skr-release-policy.json)
 * parses, fails closed while its hostdata placeholder is unfilled, and once filled accepts the
 * claims it is meant for and rejects wrong hostdata, a debuggable guest, VMPL 1, a missing
 * compliance status and another MAA instance; scripts/make-release-policy.sh pins the SHA-256 of
 * the decoded security policy and refuses bad input. SHD_SOURCE_DIR is the repository root.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "release_policy.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

#define HD "91e00e3b9a71fb2ba15dfc184c2da52f7c78bb0e58b01c4628e90fb58f429fa5"

/* Single-quoted JSON to JSON (fresh buffer). */
static char *q(const char *s)
{
    char *out = shd_strdup(s);

    assert_non_null(out);
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return out;
}

static json_t *load_claims(const char *single_quoted)
{
    SHD_CLEANUP_FREE char *text = q(single_quoted);
    json_error_t err;
    json_t *claims = json_loads(text, 0, &err);

    if (claims == NULL) {
        fail_msg("claims JSON: %s", err.text);
    }
    return claims;
}

static char *source_path(const char *rel)
{
    const char *root = getenv("SHD_SOURCE_DIR");
    char buf[4096];

    assert_non_null(root);
    (void)snprintf(buf, sizeof(buf), "%s/%s", root, rel);
    char *out = shd_strdup(buf);
    assert_non_null(out);
    return out;
}

/* Replaces the one occurrence of `token` in text by `value` (fresh buffer). */
static char *replace_once(const char *text, const char *token, const char *value)
{
    const char *at = strstr(text, token);
    assert_non_null(at);
    assert_null(strstr(at + 1, token));
    size_t head = (size_t)(at - text);
    size_t n = strlen(text) - strlen(token) + strlen(value);
    char *out = shd_alloc(n + 1);

    assert_non_null(out);
    shd_memcpy(out, text, head);
    shd_memcpy(out + head, value, strlen(value));
    shd_memcpy(out + head + strlen(value), at + strlen(token), strlen(at + strlen(token)));
    return out;
}

static void expect_verdict(const char *policy, const char *issuer, const char *claims_json,
                           const char *message)
{
    json_t *claims = load_claims(claims_json);
    struct aemu_release_verdict v;

    EXPECT_OK(aemu_release_policy_check(policy, strlen(policy), issuer, claims, &v));
    json_decref(claims);
    assert_int_equal(v.allowed, message == NULL);
    assert_string_equal(v.message, message ? message : "");
}

#define REPO_ISS "https://sharedeus.eus.attest.azure.net"
#define REPO_DENY "Key release policy not satisfied for authority '" REPO_ISS "': "
#define REPO_CLAIMS(hd, dbg, vmpl)                                                                 \
    "{'iss':'" REPO_ISS "','x-ms-attestation-type':'sevsnpvm','x-ms-compliance-status':"           \
    "'azure-compliant-uvm','x-ms-sevsnpvm-hostdata':'" hd "','x-ms-sevsnpvm-is-debuggable':" dbg   \
    ",'x-ms-sevsnpvm-vmpl':" vmpl ",'x-ms-runtime':{'keys':[]}}"
#define OTHER_HD "0000000000000000000000000000000000000000000000000000000000000000"

static void test_repo_policy(void **state)
{
    (void)state;
    SHD_CLEANUP_FREE char *path = source_path("policies/skr-release-policy.json");
    size_t len;
    SHD_CLEANUP_FREE uint8_t *tmpl = shd_test_read_file(path, &len);
    struct aemu_release_policy *p = NULL;

    EXPECT_OK(aemu_release_policy_parse((const char *)tmpl, len, &p));
    assert_int_equal(aemu_release_policy_authority_count(p), 1);
    assert_string_equal(aemu_release_policy_authority(p, 0), REPO_ISS);
    aemu_release_policy_free(&p);

    /* Unfilled, the hostdata placeholder matches no token: the template fails closed. */
    expect_verdict((const char *)tmpl, REPO_ISS, REPO_CLAIMS(HD, "false", "0"),
                   REPO_DENY "claim 'x-ms-sevsnpvm-hostdata' is '" HD "': condition equals "
                             "'@HOSTDATA_SHA256_HEX@' not met");

    SHD_CLEANUP_FREE char *policy = replace_once((const char *)tmpl, "@HOSTDATA_SHA256_HEX@", HD);
    expect_verdict(policy, REPO_ISS, REPO_CLAIMS(HD, "false", "0"), NULL);
    expect_verdict(policy, REPO_ISS "/", REPO_CLAIMS(HD, "false", "0"), NULL);
    expect_verdict(policy, REPO_ISS, REPO_CLAIMS(OTHER_HD, "false", "0"),
                   REPO_DENY "claim 'x-ms-sevsnpvm-hostdata' is '" OTHER_HD "': condition equals "
                             "'" HD "' not met");
    expect_verdict(policy, REPO_ISS, REPO_CLAIMS(HD, "true", "0"),
                   REPO_DENY "claim 'x-ms-sevsnpvm-is-debuggable' is 'true': condition equals "
                             "'false' not met");
    expect_verdict(policy, REPO_ISS, REPO_CLAIMS(HD, "false", "1"),
                   REPO_DENY "claim 'x-ms-sevsnpvm-vmpl' is '1': condition equals '0' not met");
    expect_verdict(policy, REPO_ISS, "{'x-ms-attestation-type':'sevsnpvm'}",
                   REPO_DENY "claim 'x-ms-compliance-status' is missing: condition equals "
                             "'azure-compliant-uvm' not met");
    expect_verdict(policy, "https://sharedweu.weu.attest.azure.net", REPO_CLAIMS(HD, "false", "0"),
                   "Key release policy: no authority matches the token issuer "
                   "'https://sharedweu.weu.attest.azure.net'");
}

/* Runs scripts/make-release-policy.sh; returns its stdout (fresh) and exit status. */
static char *run_script(const char *authority, const char *b64_file, int *ret_status)
{
    SHD_CLEANUP_FREE char *script = source_path("scripts/make-release-policy.sh");
    char cmd[8192];
    char *out = shd_alloc(65536);
    size_t n = 0;

    assert_non_null(out);
    (void)snprintf(cmd, sizeof(cmd),
                   "bash '%s' --authority '%s' --security-policy-base64 '%s' 2>/dev/null", script,
                   authority, b64_file);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (n < 65535) {
        size_t got = fread(out + n, 1, 65535 - n, f);
        if (got == 0) {
            break;
        }
        n += got;
    }
    out[n] = '\0';
    *ret_status = pclose(f);
    return out;
}

static void test_make_release_policy_script(void **state)
{
    (void)state;
    static const char rego[] = "package policy\n\napi_version := \"0.10.0\"\n"
                               "mount_device := {\"allowed\": true}\n";
    unsigned char digest[32];
    unsigned int dlen = 0;
    char hex[65];
    unsigned char b64[256];
    char file[] = "/tmp/release_policy_test_XXXXXX";
    int status;

    assert_int_equal(EVP_Digest(rego, sizeof(rego) - 1, digest, &dlen, EVP_sha256(), NULL), 1);
    for (size_t i = 0; i < 32; i++) {
        (void)snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    int b64_len = EVP_EncodeBlock(b64, (const unsigned char *)rego, (int)sizeof(rego) - 1);
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    /* Line-wrapped like `base64` output: the script must ignore the line breaks. */
    assert_int_equal(write(fd, b64, 40), 40);
    assert_int_equal(write(fd, "\n", 1), 1);
    assert_int_equal(write(fd, b64 + 40, (size_t)b64_len - 40), b64_len - 40);
    assert_int_equal(write(fd, "\n", 1), 1);
    assert_int_equal(close(fd), 0);

    SHD_CLEANUP_FREE char *out = run_script("https://maa.test:8443", file, &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, hex));
    char claims[512];
    (void)snprintf(claims, sizeof(claims),
                   "{'x-ms-attestation-type':'sevsnpvm','x-ms-compliance-status':"
                   "'azure-compliant-uvm','x-ms-sevsnpvm-hostdata':'%s',"
                   "'x-ms-sevsnpvm-is-debuggable':false,'x-ms-sevsnpvm-vmpl':0}",
                   hex);
    expect_verdict(out, "https://maa.test:8443/", claims, NULL);

    /* Refused: an authority that is not a plain https URL, and input that is not base64. */
    SHD_CLEANUP_FREE char *bad_auth = run_script("https://maa.test\"x", file, &status);
    assert_int_not_equal(status, 0);
    assert_string_equal(bad_auth, "");
    fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "!!!!\n", 5), 5);
    assert_int_equal(close(fd), 0);
    SHD_CLEANUP_FREE char *bad_b64 = run_script("https://maa.test", file, &status);
    assert_int_not_equal(status, 0);
    assert_string_equal(bad_b64, "");
    assert_int_equal(unlink(file), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repo_policy),
        cmocka_unit_test(test_make_release_policy_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
