/*
 * emu_cmd_test.c - subcommand dispatch: argv handed over from the command's name, exit
 * statuses of help, missing and unknown commands.
 */
#include <string.h>

#include "emu_cmd.h"
#include "shd_test.h"

static int seen_argc;
static const char *seen_argv0;
static const char *seen_argv1;

static int cmd_record(int argc, char **argv)
{
    seen_argc = argc;
    seen_argv0 = argv[0];
    seen_argv1 = argc > 1 ? argv[1] : NULL;
    return 7;
}

static int cmd_other(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 1;
}

static const struct emu_cmd cmds[] = {
    {"init", cmd_record, "records its arguments"},
    {"serve", cmd_other, "fails"},
};

static int run(int argc, const char *const *args)
{
    char *argv[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < argc && i < 3; i++) {
        argv[i] = (char *)(uintptr_t)args[i];
    }
    return emu_cmd_main("test-emu", cmds, 2, argc, argv);
}

static void test_dispatch(void **state)
{
    (void)state;
    const char *a[] = {"test-emu", "init", "--state"};
    assert_int_equal(run(3, a), 7);
    assert_int_equal(seen_argc, 2);
    assert_string_equal(seen_argv0, "init");
    assert_string_equal(seen_argv1, "--state");
    const char *b[] = {"test-emu", "serve"};
    assert_int_equal(run(2, b), 1);
}

static void test_usage(void **state)
{
    (void)state;
    const char *none[] = {"test-emu"};
    assert_int_equal(run(1, none), 2);
    const char *help[] = {"test-emu", "--help"};
    assert_int_equal(run(2, help), 0);
    const char *h[] = {"test-emu", "-h"};
    assert_int_equal(run(2, h), 0);
    const char *word[] = {"test-emu", "help"};
    assert_int_equal(run(2, word), 0);
    const char *unknown[] = {"test-emu", "inits"};
    seen_argc = 0;
    assert_int_equal(run(2, unknown), 2);
    assert_int_equal(seen_argc, 0);
    /* A prefix or a different case is not a command. */
    const char *upper[] = {"test-emu", "INIT"};
    assert_int_equal(run(2, upper), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
