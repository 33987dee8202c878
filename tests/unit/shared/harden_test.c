/*
 * harden_test.c - shd_process_harden in forked children (it changes the whole process).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shd/errors.h"
#include "shd/harden.h"
#include "shd_test.h"

/* Exit status: 0 when every check held, otherwise the number of the failed check. */
static int harden_child(unsigned flags)
{
    struct rlimit core;

    if (prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L) != 1) {
        return 1; /* precondition: a normal process is dumpable */
    }
    if (shd_is_err(shd_process_harden(flags))) {
        return 2;
    }
    if (prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L) != 0) {
        return 3;
    }
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) {
        return 4;
    }
    int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L);
    if (nnp != ((flags & SHD_HARDEN_NO_NEW_PRIVS) != 0 ? 1 : 0)) {
        return 5;
    }
    /* Idempotent. */
    if (shd_is_err(shd_process_harden(flags))) {
        return 6;
    }
    return 0;
}

static int run(unsigned flags)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(harden_child(flags));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_harden_default(void **state)
{
    (void)state;
    assert_int_equal(run(0), 0);
}

static void test_harden_no_new_privs(void **state)
{
    (void)state;
    assert_int_equal(run(SHD_HARDEN_NO_NEW_PRIVS), 0);
}

static void test_harden_unknown_flag_changes_nothing(void **state)
{
    (void)state;
    int before = prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L);
    EXPECT_ERR(shd_process_harden(0x80u), SHD_ERR_USAGE);
    EXPECT_ERR(shd_process_harden(SHD_HARDEN_NO_NEW_PRIVS | 0x2u), SHD_ERR_USAGE);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden_default),
        cmocka_unit_test(test_harden_no_new_privs),
        cmocka_unit_test(test_harden_unknown_flag_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
