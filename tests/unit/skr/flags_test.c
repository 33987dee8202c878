/*
 * flags_test.c - Go flag-package semantics of the skr command line (skr-sidecar.md §1.2).
 */
#include "shd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "shd/errors.h"
#include "shd/mem.h"

static shd_result parse(struct skr_options *o, int argc, const char *const argv[])
{
    return skr_flags_parse(argc, argv, o);
}

#define ARGV(...) ((const char *const[]){"skr", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof((const char *const[]){"skr", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, ...) parse((o), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void expect_usage_error(shd_result r, const char *msg)
{
    char buf[512];
    assert_int_equal(r.err, SHD_ERR_USAGE);
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, msg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct skr_options o;
    const char *const argv[] = {"skr"};
    EXPECT_OK(parse(&o, 1, argv));
    assert_string_equal(o.port_str, "8080");
    assert_string_equal(o.loglevel, "warning");
    assert_string_equal(o.server_type, "http");
    assert_int_equal(o.server, SKR_SERVER_HTTP);
    assert_null(o.base64);
    assert_null(o.logfile);
    assert_null(o.socket_path);
    assert_int_equal(o.socket_mode, 0660);
    assert_true(o.tcp);
    assert_false(o.allow_testing_mismatched_tcb);
    assert_false(o.help);
    assert_false(o.version);
    skr_options_clear(&o);
}

static void test_value_forms(void **state)
{
    (void)state;
    struct skr_options o;
    EXPECT_OK(PARSE(&o, "-port", "9000", "--loglevel=debug", "--base64", "e30=", "-logfile=/x",
                    "-server_type", "grpc"));
    assert_string_equal(o.port_str, "9000");
    assert_string_equal(o.loglevel, "debug");
    assert_string_equal(o.base64, "e30=");
    assert_string_equal(o.logfile, "/x");
    assert_int_equal(o.server, SKR_SERVER_GRPC);
    skr_options_clear(&o);

    /* The last occurrence wins; a value may start with '-'. */
    EXPECT_OK(PARSE(&o, "-port", "1", "-port", "-2", "-server_type", "anything"));
    assert_string_equal(o.port_str, "-2");
    assert_int_equal(o.server, SKR_SERVER_HTTP);
    skr_options_clear(&o);
}

static void test_bool_forms(void **state)
{
    (void)state;
    struct skr_options o;
    EXPECT_OK(PARSE(&o, "-allowTestingMismatchedTCB"));
    assert_true(o.allow_testing_mismatched_tcb);
    skr_options_clear(&o);
    EXPECT_OK(PARSE(&o, "--allowTestingMismatchedTCB=true"));
    assert_true(o.allow_testing_mismatched_tcb);
    skr_options_clear(&o);
    EXPECT_OK(PARSE(&o, "-allowTestingMismatchedTCB=T", "-allowTestingMismatchedTCB=0"));
    assert_false(o.allow_testing_mismatched_tcb);
    skr_options_clear(&o);
    /* "-x false" does not consume "false": parsing stops at the positional argument. */
    EXPECT_OK(PARSE(&o, "-allowTestingMismatchedTCB", "false", "-port", "1"));
    assert_true(o.allow_testing_mismatched_tcb);
    assert_string_equal(o.port_str, "8080");
    skr_options_clear(&o);
    expect_usage_error(PARSE(&o, "-allowTestingMismatchedTCB=yes"),
                       "invalid boolean value \"yes\" for -allowTestingMismatchedTCB: parse error");
}

static void test_stops_at_positional_and_dashdash(void **state)
{
    (void)state;
    struct skr_options o;
    EXPECT_OK(PARSE(&o, "--", "-port", "1"));
    assert_string_equal(o.port_str, "8080");
    skr_options_clear(&o);
    EXPECT_OK(PARSE(&o, "-", "-port", "1"));
    assert_string_equal(o.port_str, "8080");
    skr_options_clear(&o);
}

static void test_errors(void **state)
{
    (void)state;
    struct skr_options o = {0};
    expect_usage_error(PARSE(&o, "-nope"), "flag provided but not defined: -nope");
    expect_usage_error(PARSE(&o, "--nope=1"), "flag provided but not defined: -nope");
    expect_usage_error(PARSE(&o, "-port"), "flag needs an argument: -port");
    expect_usage_error(PARSE(&o, "---port"), "bad flag syntax: ---port");
    expect_usage_error(PARSE(&o, "-=1"), "bad flag syntax: -=1");
    expect_usage_error(PARSE(&o, "-socket-mode", "0667"),
                       "invalid value \"0667\" for flag -socket-mode: mode must not grant access "
                       "to others");
    expect_usage_error(PARSE(&o, "-socket-mode", "999"),
                       "invalid value \"999\" for flag -socket-mode: octal mode expected: invalid "
                       "digit in number");
    expect_usage_error(PARSE(&o, "-socket", "relative.sock"),
                       "invalid value \"relative.sock\" for flag -socket: must be an absolute path");
    expect_usage_error(PARSE(&o, "-allow-uid", "1,x"),
                       "invalid value \"1,x\" for flag -allow-uid: numeric id expected: invalid "
                       "digit in number");
    expect_usage_error(PARSE(&o, "-allow-gid", ""),
                       "invalid value \"\" for flag -allow-gid: numeric id expected: empty number");
    expect_usage_error(PARSE(&o, "-tcp=false"),
                       "-tcp=false needs -socket: there would be no listener");
    expect_usage_error(PARSE(&o, "-tcp=no", "-socket", "/run/skr/skr.sock"),
                       "invalid boolean value \"no\" for -tcp: parse error");
    /* Nothing was written on failure. */
    assert_null(o.port_str);
    shd_result r = PARSE(&o, "-infile", "x");
    assert_int_equal(r.err, SHD_ERR_USAGE);
}

static void test_socket_and_allow_lists(void **state)
{
    (void)state;
    struct skr_options o;
    EXPECT_OK(PARSE(&o, "-socket", "/run/skr/skr.sock", "-socket-mode=0600", "-allow-uid",
                    "1000,1001", "--allow-uid=0", "-allow-gid", "42"));
    assert_string_equal(o.socket_path, "/run/skr/skr.sock");
    assert_int_equal(o.socket_mode, 0600);
    assert_int_equal(o.nallow_uids, 3);
    assert_int_equal(o.allow_uids[0], 1000);
    assert_int_equal(o.allow_uids[1], 1001);
    assert_int_equal(o.allow_uids[2], 0);
    assert_int_equal(o.nallow_gids, 1);
    assert_int_equal(o.allow_gids[0], 42);
    assert_true(o.tcp);
    skr_options_clear(&o);

    /* The socket only: no TCP listener (an ACI group shares one network namespace). */
    EXPECT_OK(PARSE(&o, "-tcp=false", "-socket", "/run/skr/skr.sock"));
    assert_false(o.tcp);
    assert_string_equal(o.socket_path, "/run/skr/skr.sock");
    skr_options_clear(&o);
    EXPECT_OK(PARSE(&o, "-socket", "/run/skr/skr.sock", "--tcp=0", "-tcp"));
    assert_true(o.tcp); /* the last one wins, as in Go */
    skr_options_clear(&o);
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct skr_options o;
    EXPECT_OK(PARSE(&o, "--help"));
    assert_true(o.help);
    skr_options_clear(&o);
    EXPECT_OK(PARSE(&o, "-h"));
    assert_true(o.help);
    skr_options_clear(&o);
    EXPECT_OK(PARSE(&o, "--version"));
    assert_true(o.version);
    skr_options_clear(&o);

    /* A fixed buffer (fmemopen), so no libc-allocated memory to free. */
    static char text[16384];
    FILE *f = fmemopen(text, sizeof(text), "w");
    assert_non_null(f);
    skr_flags_usage("skr", f);
    assert_int_equal(fflush(f), 0);
    assert_true(ftell(f) < (long)sizeof(text) - 1);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(text, "Usage of skr:\n"));
    assert_non_null(strstr(text, "  -port string\n    \tPort on which to listen (on 127.0.0.1 only) "
                                 "(default \"8080\")\n"));
    assert_non_null(strstr(text, "  -allowTestingMismatchedTCB\n"));
    assert_non_null(strstr(text, "(default \"warning\")"));
    assert_non_null(strstr(text, "  -tcp\n    \tlisten on 127.0.0.1:<port>; -tcp=false serves the "
                                 "API on the -socket only (default true)\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_bool_forms),
        cmocka_unit_test(test_stops_at_positional_and_dashdash),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_socket_and_allow_lists),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests_name("skr_flags", tests, NULL, NULL);
}
