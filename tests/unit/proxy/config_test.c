/*
 * config_test.c - Polaris environment variables and our flags into struct proxy_config.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd_test.h"

struct env_row {
    const char *name;
    const char *value;
};

static const struct env_row *g_env;

static const char *table_getenv(const char *name)
{
    for (const struct env_row *r = g_env; r != NULL && r->name != NULL; r++) {
        if (strcmp(r->name, name) == 0) {
            return r->value;
        }
    }
    return NULL;
}

static shd_result parse(const struct env_row *env, int argc, const char *const *argv,
                        struct proxy_config *cfg)
{
    g_env = env;
    shd_result r = proxy_config_parse(argc, argv, table_getenv, cfg);
    g_env = NULL;
    return r;
}

static void test_defaults_from_env(void **state)
{
    (void)state;
    const struct env_row env[] = {
        {"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://localhost:8000/some/path"},
        {NULL, NULL},
    };
    const char *argv[] = {"skr-proxy"};
    struct proxy_config c;
    EXPECT_OK(parse(env, 1, argv, &c));
    assert_int_equal(c.port, 3000);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_string_equal(c.workload_base, "http://localhost:8000");
    assert_string_equal(c.workload_host, "localhost:8000");
    assert_false(c.input_encryption);
    assert_false(c.output_encryption);
    assert_false(c.cors);
    assert_string_equal(c.url_header, "polaris-url");
    assert_string_equal(c.secure_header, "polaris-secure");
    assert_string_equal(c.response_key_header, "polaris-response-public-key");
    assert_string_equal(c.key_source->name, "ephemeral");
    assert_int_equal(c.max_body, PROXY_DEFAULT_MAX_BODY);
    assert_true(c.max_header >= 16 * 1024);
    /* Logging off (Polaris default): /logLevel says silent; we keep errors. */
    assert_string_equal(c.pino_level, "silent");
    assert_int_equal(c.log_level, SHD_LOG_LEVEL_ERROR);
    proxy_config_clear(&c);
}

static void test_env_switches(void **state)
{
    (void)state;
    const struct env_row env[] = {
        {"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://10.0.0.2"},
        {"PORT", "8443"},
        {"POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION", "true"},
        {"POLARIS_CONTAINER_ENABLE_OUTPUT_ENCRYPTION", "TRUE"}, /* === "true" only */
        {"POLARIS_CONTAINER_ENABLE_CORS", "true"},
        {"POLARIS_CONTAINER_ENABLE_LOGGING", "true"},
        {"POLARIS_CONTAINER_LOG_LEVEL", "debug"},
        {"POLARIS_CONTAINER_URL_HEADER_KEY", "X-Url"},
        {"POLARIS_CONTAINER_HEADER_KEY", "x-secure"},
        {"POLARIS_CONTAINER_KEY_TYPE", "ephemeral"},
        {"POLARIS_CONTAINER_AZURE_SKR_MAX_REQUEST_RETRIES", "3"},
        {"POLARIS_CONTAINER_AZURE_SKR_RETRY_INTERVAL", "2000"},
        {NULL, NULL},
    };
    const char *argv[] = {"skr-proxy"};
    struct proxy_config c;
    EXPECT_OK(parse(env, 1, argv, &c));
    assert_int_equal(c.port, 8443);
    assert_string_equal(c.workload_base, "http://10.0.0.2:80");
    assert_string_equal(c.workload_host, "10.0.0.2");
    assert_true(c.input_encryption);
    assert_false(c.output_encryption);
    assert_true(c.cors);
    assert_string_equal(c.pino_level, "debug");
    assert_int_equal(c.log_level, SHD_LOG_LEVEL_DEBUG);
    assert_string_equal(c.url_header, "x-url");
    assert_string_equal(c.secure_header, "x-secure");
    /* The Polaris bug (HEADER_KEY also renaming the response-key header) is not copied. */
    assert_string_equal(c.response_key_header, "polaris-response-public-key");
    assert_int_equal(c.key_attempts, 3);
    assert_int_equal(c.key_retry_max_ms, 2000);
    proxy_config_clear(&c);
}

static void test_flags_override(void **state)
{
    (void)state;
    const struct env_row env[] = {
        {"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://a:1"},
        {"POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION", "true"},
        {"PORT", "1000"},
        {NULL, NULL},
    };
    const char *argv[] = {"skr-proxy",        "--workload=http://[::1]:9000", "--port",
                          "4000",             "--no-input-encryption",        "--max-body",
                          "2M",               "--max-header",                 "64K",
                          "--listen",         "::1",                          "--log",
                          "all+debug"};
    struct proxy_config c;
    EXPECT_OK(parse(env, 13, argv, &c));
    assert_string_equal(c.workload_base, "http://[::1]:9000");
    assert_string_equal(c.workload_host, "[::1]:9000");
    assert_int_equal(c.port, 4000);
    assert_false(c.input_encryption);
    assert_int_equal(c.max_body, 2u << 20);
    assert_int_equal(c.max_header, 64u << 10);
    assert_string_equal(c.listen_host, "::1");
    assert_string_equal(c.log_spec, "all+debug");
    proxy_config_clear(&c);
}

static void test_unix_workload(void **state)
{
    (void)state;
    const char *argv[] = {"skr-proxy", "--workload-unix-socket", "/run/wl.sock"};
    struct proxy_config c;
    EXPECT_OK(parse(NULL, 3, argv, &c));
    assert_string_equal(c.workload_unix, "/run/wl.sock");
    assert_string_equal(c.workload_base, "http://localhost:80");
    proxy_config_clear(&c);
}

static void test_errors(void **state)
{
    (void)state;
    struct proxy_config c;
    const char *none[] = {"skr-proxy"};
    EXPECT_ERR(parse(NULL, 1, none, &c), SHD_ERR_CONFIG); /* no workload */
    static const char *const BAD_URLS[] = {"https://x", "ftp://x", "http://", "http://u@h:1",
                                           "http://h:0", "http://h:70000", "http://h:x",
                                           "http://a b"};
    for (size_t i = 0; i < sizeof(BAD_URLS) / sizeof(BAD_URLS[0]); i++) {
        const char *argv[] = {"skr-proxy", "--workload", BAD_URLS[i]};
        EXPECT_ERR(parse(NULL, 3, argv, &c), SHD_ERR_CONFIG);
    }
    const struct {
        int argc;
        const char *argv[4];
        int code;
    } cases[] = {
        {2, {"p", "--bogus"}, SHD_ERR_USAGE},
        {2, {"p", "--port"}, SHD_ERR_USAGE},
        {3, {"p", "--port", "65536"}, SHD_ERR_CONFIG},
        {2, {"p", "--cors=yes"}, SHD_ERR_USAGE},
        {2, {"p", "positional"}, SHD_ERR_USAGE},
        {3, {"p", "--max-header", "8K"}, SHD_ERR_CONFIG},
        {3, {"p", "--max-body", "1T"}, SHD_ERR_CONFIG},
        {3, {"p", "--key-source", "nope"}, SHD_ERR_CONFIG},
        {3, {"p", "--secure-heap", "3M"}, SHD_ERR_CONFIG},
        {3, {"p", "--workload-unix-socket", "relative"}, SHD_ERR_CONFIG},
    };
    const struct env_row env[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h"},
                                  {NULL, NULL}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EXPECT_ERR(parse(env, cases[i].argc, cases[i].argv, &c), cases[i].code);
    }
    const struct env_row bad_env[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h"},
                                      {"POLARIS_CONTAINER_LOG_LEVEL", "verbose"},
                                      {NULL, NULL}};
    EXPECT_ERR(parse(bad_env, 1, none, &c), SHD_ERR_CONFIG);
    const struct env_row bad_type[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h"},
                                       {"POLARIS_CONTAINER_KEY_TYPE", "aws-kms"},
                                       {NULL, NULL}};
    EXPECT_ERR(parse(bad_type, 1, none, &c), SHD_ERR_CONFIG);
    const struct env_row bad_port[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h"},
                                       {"PORT", "99999"},
                                       {NULL, NULL}};
    EXPECT_ERR(parse(bad_port, 1, none, &c), SHD_ERR_CONFIG);
}

static void test_help_without_workload(void **state)
{
    (void)state;
    const char *argv[] = {"skr-proxy", "--help"};
    struct proxy_config c;
    EXPECT_OK(parse(NULL, 2, argv, &c));
    assert_true(c.help);
    proxy_config_clear(&c);
}

static void test_sizes(void **state)
{
    (void)state;
    size_t v = 0;
    EXPECT_OK(proxy_parse_size("16K", 0, SIZE_MAX, &v));
    assert_int_equal(v, 16384);
    EXPECT_OK(proxy_parse_size("3m", 0, SIZE_MAX, &v));
    assert_int_equal(v, 3u << 20);
    EXPECT_OK(proxy_parse_size("12", 0, SIZE_MAX, &v));
    assert_int_equal(v, 12);
    EXPECT_ERR(proxy_parse_size("", 0, SIZE_MAX, &v), SHD_ERR_CONFIG);
    EXPECT_ERR(proxy_parse_size("K", 0, SIZE_MAX, &v), SHD_ERR_CONFIG);
    EXPECT_ERR(proxy_parse_size("-1", 0, SIZE_MAX, &v), SHD_ERR_CONFIG);
    EXPECT_ERR(proxy_parse_size("99999999999999999999", 0, SIZE_MAX, &v), SHD_ERR_CONFIG);
    EXPECT_ERR(proxy_parse_size("1G", 0, 1024, &v), SHD_ERR_CONFIG);
    shd_error_clear();
}

/* proxy_parse_uint: shd_parse_uint's digits and limits under the CONFIG category, [min, max]. */
static void uint_fails(const char *s, uint64_t min, uint64_t max, const char *msg)
{
    uint64_t v = 7;
    EXPECT_ERR(proxy_parse_uint(s, min, max, &v), SHD_ERR_CONFIG);
    assert_int_equal(v, 7);
    char got[256];
    (void)shd_error_render(got, sizeof(got));
    assert_string_equal(got, msg);
    shd_error_clear();
}

static void test_uints(void **state)
{
    (void)state;
    uint64_t v = 0;
    EXPECT_OK(proxy_parse_uint("65535", 1, 65535, &v));
    assert_int_equal(v, 65535);
    EXPECT_OK(proxy_parse_uint("18446744073709551615", 0, UINT64_MAX, &v));
    assert_int_equal(v, UINT64_MAX);
    uint_fails("", 0, 10, "\"\": empty number");
    uint_fails("+1", 0, 10, "\"+1\": invalid digit in number");
    uint_fails("0x1", 0, 10, "\"0x1\": invalid digit in number");
    uint_fails("18446744073709551616", 0, UINT64_MAX,
               "\"18446744073709551616\": number out of range");
    uint_fails("0", 1, 65535, "0 is outside 1..65535");
    uint_fails("65536", 1, 65535, "65536 is outside 1..65535");
}

/* The key process: on by default; off (debugging) by flag or PROXY_KEY_PROCESS; flag wins. */
static void test_key_process(void **state)
{
    (void)state;
    const struct env_row base[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h:1"},
                                   {NULL, NULL}};
    const struct env_row off[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h:1"},
                                  {"PROXY_KEY_PROCESS", "off"},
                                  {NULL, NULL}};
    const struct env_row bad[] = {{"POLARIS_CONTAINER_WORKLOAD_BASE_URL", "http://h:1"},
                                  {"PROXY_KEY_PROCESS", "false"},
                                  {NULL, NULL}};
    struct proxy_config c;
    const char *plain[] = {"p"};
    EXPECT_OK(parse(base, 1, plain, &c));
    assert_true(c.key_process);
    proxy_config_clear(&c);
    EXPECT_OK(parse(off, 1, plain, &c));
    assert_false(c.key_process);
    proxy_config_clear(&c);
    const char *on[] = {"p", "--key-process=on"};
    EXPECT_OK(parse(off, 2, on, &c));
    assert_true(c.key_process);
    proxy_config_clear(&c);
    const char *flag_off[] = {"p", "--key-process", "off"};
    EXPECT_OK(parse(base, 3, flag_off, &c));
    assert_false(c.key_process);
    proxy_config_clear(&c);
    EXPECT_ERR(parse(bad, 1, plain, &c), SHD_ERR_CONFIG);
    const char *flag_bad[] = {"p", "--key-process=0"};
    EXPECT_ERR(parse(base, 2, flag_bad, &c), SHD_ERR_CONFIG);
    const char *flag_none[] = {"p", "--key-process"};
    EXPECT_ERR(parse(base, 2, flag_none, &c), SHD_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_from_env),   cmocka_unit_test(test_env_switches),
        cmocka_unit_test(test_flags_override),      cmocka_unit_test(test_unix_workload),
        cmocka_unit_test(test_errors),              cmocka_unit_test(test_help_without_workload),
        cmocka_unit_test(test_sizes),               cmocka_unit_test(test_uints),
        cmocka_unit_test(test_key_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
