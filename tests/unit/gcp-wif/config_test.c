/*
 * config_test.c - the five configuration sources and their precedence, value checks with the
 * source named, list replacement, a subcommand's own options, and gcp-emu's endpoints.json.
 */
#include "shd_test.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "shd/file.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "wif_test_util.h"

/* The environment as a NULL-terminated list of "NAME=value". */
static const char *env_lookup(void *ctx, const char *name)
{
    const char *const *env = ctx;
    size_t n = strlen(name);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=') {
            return env[i] + n + 1;
        }
    }
    return NULL;
}

static shd_result load(const char *const *argv, const char **env, struct wif_config *cfg)
{
    int argc = 0;
    while (argv[argc] != NULL) {
        argc++;
    }
    return wif_config_load(argc, argv, 1, env_lookup, (void *)env, NULL, cfg, NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    const char *argv[] = {"gcp-wif", NULL};
    struct wif_config cfg;
    EXPECT_OK(load(argv, NULL, &cfg));
    assert_int_equal(cfg.mode, WIF_MODE_TPM);
    assert_string_equal(cfg.socket_path, "/run/gcp-wif/gcp-wif.sock");
    assert_int_equal(cfg.socket_mode, 0660);
    assert_string_equal(cfg.sts_url, "https://sts.googleapis.com");
    assert_string_equal(cfg.iam_url, "https://iamcredentials.googleapis.com");
    assert_string_equal(cfg.kms_url, "https://cloudkms.googleapis.com");
    assert_string_equal(cfg.verifier_url, "https://confidentialcomputing.googleapis.com");
    assert_string_equal(cfg.verifier_issuer, "https://confidentialcomputing.googleapis.com");
    assert_string_equal(cfg.mds_url, "http://metadata.google.internal");
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(cfg.sa_lifetime_s, 3600);
    assert_null(cfg.audience);
    assert_int_equal(cfg.metadata_port, 0);
    EXPECT_ERR(wif_config_check_serve(&cfg), SHD_ERR_CONFIG); /* no audience */
    wif_config_clear(&cfg);
}

static void write_file(const char *path, const char *text)
{
    EXPECT_OK(shd_file_write_atomic(path, text, strlen(text), 0600));
}

static void test_precedence(void **state)
{
    (void)state;
    char *dir = wif_test_tmpdir();
    char ep[256];
    char conf[256];
    (void)snprintf(ep, sizeof(ep), "%s/endpoints.json", dir);
    (void)snprintf(conf, sizeof(conf), "%s/wif.json", dir);
    /* What gcp-emu serve writes (plus a key we do not know, which is ignored). */
    write_file(ep, "{\"verifier\":\"https://localhost:1111\",\"sts\":\"https://localhost:2222\","
                   "\"iam\":\"https://localhost:3333\",\"kms\":\"https://localhost:4444/\","
                   "\"mds\":\"http://127.0.0.1:5555\",\"tcti\":\"swtpm:port=6666\","
                   "\"ca\":\"/state/ca.pem\",\"project\":\"test-project\",\"project_number\":"
                   "\"123\",\"zone\":\"us-central1-a\",\"vm_service_account\":\"vm@x\","
                   "\"audience\":\"//iam.googleapis.com/projects/123/locations/global/"
                   "workloadIdentityPools/p/providers/x\",\"service_account\":\"sa@p.iam\","
                   "\"kms_rsa_key_version\":\"projects/p/locations/l/keyRings/r/cryptoKeys/a/"
                   "cryptoKeyVersions/1\",\"kms_sym_key\":\"projects/p/locations/l/keyRings/r/"
                   "cryptoKeys/s\"}");
    char text[512];
    (void)snprintf(text, sizeof(text),
                   "{\"endpoints\":\"%s\",\"zone\":\"europe-west4-b\",\"metadata_port\":8080,"
                   "\"allow-uid\":[1000,1001],\"ak_ecc\":true,\"tcti\":\"swtpm:port=7777\"}",
                   ep);
    write_file(conf, text);
    char config_flag[300];
    (void)snprintf(config_flag, sizeof(config_flag), "--config=%s", conf);
    const char *argv[] = {"gcp-wif",     config_flag, "--tcti",          "device:/dev/tpmrm0",
                          "--allow-uid", "7",         "--allow-uid=8,9", NULL};
    const char *env[] = {"GCP_WIF_ZONE=asia-east1-a", "GCP_WIF_TCTI=mssim:port=1",
                         "GCP_WIF_CONNECT_TO=::127.0.0.1:", "GCP_WIF_ALLOW_UID=5", NULL};
    struct wif_config cfg;
    EXPECT_OK(load(argv, env, &cfg));
    assert_string_equal(cfg.verifier_url, "https://localhost:1111");
    assert_string_equal(cfg.sts_url, "https://localhost:2222");
    assert_string_equal(cfg.kms_url, "https://localhost:4444"); /* trailing slash dropped */
    assert_string_equal(cfg.mds_url, "http://127.0.0.1:5555");
    assert_string_equal(cfg.ca_file, "/state/ca.pem");
    assert_string_equal(cfg.project_number, "123");
    assert_string_equal(cfg.service_account, "sa@p.iam");
    assert_string_equal(cfg.kms_sym_key, "projects/p/locations/l/keyRings/r/cryptoKeys/s");
    assert_string_equal(cfg.zone, "asia-east1-a");       /* env > file > endpoints */
    assert_string_equal(cfg.tcti, "device:/dev/tpmrm0"); /* flag > env > file > endpoints */
    assert_string_equal(cfg.connect_to, "::127.0.0.1:");
    assert_int_equal(cfg.metadata_port, 8080);
    assert_true(cfg.ak_ecc);
    /* Lists: the command line replaced the environment's, which replaced the file's. */
    assert_int_equal(cfg.nallow_uids, 3);
    assert_int_equal(cfg.allow_uids[0], 7);
    assert_int_equal(cfg.allow_uids[2], 9);
    EXPECT_OK(wif_config_check_serve(&cfg));
    wif_config_clear(&cfg);

    /* Endpoints from the environment; GCP_WIF_ENDPOINTS. */
    char epenv[300];
    (void)snprintf(epenv, sizeof(epenv), "GCP_WIF_ENDPOINTS=%s", ep);
    const char *argv2[] = {"gcp-wif", "--kms-url", "https://kms.example", NULL};
    const char *env2[] = {epenv, NULL};
    EXPECT_OK(load(argv2, env2, &cfg));
    assert_string_equal(cfg.kms_url, "https://kms.example");
    assert_string_equal(cfg.sts_url, "https://localhost:2222");
    wif_config_clear(&cfg);

    /* Unknown keys in the config file are errors (a typo must not be silently ignored). */
    write_file(conf, "{\"audiense\":\"x\"}");
    EXPECT_ERR(load(argv, NULL, &cfg), SHD_ERR_CONFIG);
    write_file(conf, "{\"metadata_port\":\"x\"}");
    EXPECT_ERR(load(argv, NULL, &cfg), SHD_ERR_CONFIG);
    assert_non_null(strstr(wif_test_err(), "metadata-port (config file)"));
    write_file(conf, "[1]");
    EXPECT_ERR(load(argv, NULL, &cfg), SHD_ERR_CONFIG);
    write_file(conf, "{\"help\":true}");
    EXPECT_ERR(load(argv, NULL, &cfg), SHD_ERR_CONFIG);
    write_file(ep, "{\"sts\":5}");
    write_file(conf, "{}");
    (void)snprintf(text, sizeof(text), "--endpoints=%s", ep);
    const char *argv3[] = {"gcp-wif", text, NULL};
    EXPECT_ERR(load(argv3, NULL, &cfg), SHD_ERR_CONFIG);
    const char *argv4[] = {"gcp-wif", "--endpoints", "/nonexistent/endpoints.json", NULL};
    EXPECT_ERR(load(argv4, NULL, &cfg), SHD_ERR_NOT_FOUND);
    wif_test_rmdir(dir);
}

static void test_bad_values(void **state)
{
    (void)state;
    struct {
        const char *arg1;
        const char *arg2;
        int err;
        const char *msg;
    } cases[] = {
        {"--socket-mode", "0666", SHD_ERR_USAGE, "--socket-mode (command line)"},
        {"--socket-mode", "888", SHD_ERR_USAGE, "octal"},
        {"--socket", "relative.sock", SHD_ERR_USAGE, "absolute path"},
        {"--mode", "sev", SHD_ERR_USAGE, "tpm or launcher"},
        {"--metadata-port", "65536", SHD_ERR_USAGE, "port"},
        {"--sts-url", "ftp://x", SHD_ERR_USAGE, "http"},
        {"--sts-url", "https://x/?a", SHD_ERR_USAGE, "query"},
        {"--kms-url", "https://", SHD_ERR_USAGE, "host"},
        {"--allow-uid", "1,,2", SHD_ERR_USAGE, "numeric id"},
        {"--allow-uid", "-1", SHD_ERR_USAGE, "numeric id"},
        {"--ak-ecc=maybe", NULL, SHD_ERR_USAGE, "true or false"},
        {"--log-level", "loud", SHD_ERR_USAGE, "one of"},
        {"--sa-lifetime", "0", SHD_ERR_USAGE, "seconds"},
        {"--audience", "a\nb", SHD_ERR_USAGE, "control"},
        {"--bogus", NULL, SHD_ERR_USAGE, "unknown option --bogus"},
        {"-x", NULL, SHD_ERR_USAGE, "unexpected argument"},
        {"positional", NULL, SHD_ERR_USAGE, "unexpected argument \"positional\""},
        {"--tcti", NULL, SHD_ERR_USAGE, "needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[] = {"gcp-wif", cases[i].arg1, cases[i].arg2, NULL};
        struct wif_config cfg;
        EXPECT_ERR(load(argv, NULL, &cfg), cases[i].err);
        if (strstr(wif_test_err(), cases[i].msg) == NULL) {
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, wif_test_err(), cases[i].msg);
        }
    }
    /* The environment is named as the source. */
    const char *argv[] = {"gcp-wif", NULL};
    const char *env[] = {"GCP_WIF_SOCKET_MODE=0777", NULL};
    struct wif_config cfg;
    EXPECT_ERR(load(argv, env, &cfg), SHD_ERR_CONFIG);
    assert_non_null(strstr(wif_test_err(), "socket-mode (environment)"));
}

static void test_misc_values(void **state)
{
    (void)state;
    const char *argv[] = {"gcp-wif",
                          "--event-log",
                          "",
                          "--mode=launcher",
                          "--help",
                          "--version=false",
                          "--socket-mode",
                          "0600",
                          "--audience",
                          "",
                          "--allow-gid",
                          "4",
                          NULL};
    struct wif_config cfg;
    EXPECT_OK(load(argv, NULL, &cfg));
    assert_non_null(cfg.event_log);
    assert_string_equal(cfg.event_log, ""); /* "" means: send no event log */
    assert_int_equal(cfg.mode, WIF_MODE_LAUNCHER);
    assert_true(cfg.help);
    assert_false(cfg.version);
    assert_int_equal(cfg.socket_mode, 0600);
    assert_null(cfg.audience); /* empty = unset */
    assert_int_equal(cfg.nallow_gids, 1);
    wif_config_clear(&cfg);
    wif_config_clear(NULL);
}

static void test_extra_options(void **state)
{
    (void)state;
    static const struct wif_config_extra extra[] = {
        {"kms-key", true}, {"in", true}, {"raw", false}, {NULL, false}};
    const char *argv[] = {"gcp-wif",     "wrap-key", "--kms-key", "K", "--raw",
                          "--in=/k.pem", "--tcti",   "t",         NULL};
    struct wif_config cfg;
    char **out = NULL;
    EXPECT_OK(wif_config_load(8, argv, 2, env_lookup, NULL, extra, &cfg, &out));
    assert_string_equal(out[0], "kms-key=K");
    assert_string_equal(out[1], "raw");
    assert_string_equal(out[2], "in=/k.pem");
    assert_null(out[3]);
    assert_string_equal(cfg.tcti, "t");
    wif_config_extra_free(out);
    wif_config_clear(&cfg);
    const char *argv2[] = {"gcp-wif", "wrap-key", "--raw=yes", NULL};
    out = NULL;
    EXPECT_ERR(wif_config_load(3, argv2, 2, env_lookup, NULL, extra, &cfg, &out), SHD_ERR_USAGE);
    assert_null(out);
}

int main(void)
{
    shd_json_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_bad_values),    cmocka_unit_test(test_misc_values),
        cmocka_unit_test(test_extra_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
