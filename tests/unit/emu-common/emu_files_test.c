/*
 * emu_files_test.c - path joining, bounded reads (missing, too large, not regular, symbolic
 * links with and without EMU_FILE_NOFOLLOW), writes with exact modes in place and atomically,
 * the private-key mode check, and state-directory preparation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_files.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd_test.h"

struct fx {
    char dir[64];
};

static int fx_setup(void **state)
{
    struct fx *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/emu-files-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    shd_free(f);
    return 0;
}

static void fx_path(const struct fx *f, const char *rel, char out[static EMU_PATH_MAX])
{
    EXPECT_OK(emu_path_join(f->dir, rel, out, EMU_PATH_MAX));
}

static unsigned mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 07777);
}

static void test_path_join(void **state)
{
    (void)state;
    char out[8];
    EXPECT_OK(emu_path_join("ab", "cd", out, sizeof(out)));
    assert_string_equal(out, "ab/cd");
    EXPECT_OK(emu_path_join("abc", "def", out, sizeof(out)));
    assert_string_equal(out, "abc/def");
    /* 8 bytes do not hold "abc/defg" and its NUL. */
    EXPECT_ERR(emu_path_join("abc", "defg", out, sizeof(out)), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    EXPECT_ERR(emu_path_join(NULL, "x", out, sizeof(out)), SHD_ERR_NULL);
    shd_error_clear();
}

static void test_write_read(void **state)
{
    struct fx *f = *state;
    char p[EMU_PATH_MAX];
    fx_path(f, "a.txt", p);
    EXPECT_OK(emu_file_write(p, "hello", 5, 0640, 0));
    assert_int_equal(mode_of(p), 0640);
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_OK(emu_file_read(p, 5, 0, &data, &len));
    assert_int_equal(len, 5);
    assert_string_equal((const char *)data, "hello");
    shd_free(data);
    /* A looser existing mode does not survive a rewrite; ret_len is optional. */
    assert_int_equal(chmod(p, 0666), 0);
    EXPECT_OK(emu_file_write(p, "hi", 2, 0600, 0));
    assert_int_equal(mode_of(p), 0600);
    EXPECT_OK(emu_file_read(p, 100, EMU_FILE_NOFOLLOW, &data, NULL));
    assert_string_equal((const char *)data, "hi");
    shd_free(data);
    /* Empty file. */
    EXPECT_OK(emu_file_write(p, NULL, 0, 0644, EMU_FILE_ATOMIC));
    EXPECT_OK(emu_file_read(p, 0, 0, &data, &len));
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    shd_free(data);
}

static void test_read_errors(void **state)
{
    struct fx *f = *state;
    char p[EMU_PATH_MAX];
    uint8_t sentinel[] = "untouched";
    uint8_t *data = sentinel;
    size_t len = 7;
    fx_path(f, "missing", p);
    EXPECT_ERR(emu_file_read(p, 10, 0, &data, &len), SHD_ERR_NOT_FOUND);
    shd_error_clear();
    fx_path(f, "big", p);
    EXPECT_OK(emu_file_write(p, "0123456789", 10, 0644, 0));
    EXPECT_ERR(emu_file_read(p, 9, 0, &data, &len), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    /* A directory is not a regular file. */
    EXPECT_ERR(emu_file_read(f->dir, 1024, 0, &data, &len), SHD_ERR_IO);
    shd_error_clear();
    /* A symbolic link is followed unless EMU_FILE_NOFOLLOW. */
    char link[EMU_PATH_MAX];
    fx_path(f, "link", link);
    assert_int_equal(symlink(p, link), 0);
    EXPECT_ERR(emu_file_read(link, 100, EMU_FILE_NOFOLLOW, &data, &len), SHD_ERR_IO);
    shd_error_clear();
    /* Outputs untouched on failure. */
    assert_ptr_equal(data, sentinel);
    assert_int_equal(len, 7);
    EXPECT_OK(emu_file_read(link, 100, 0, &data, &len));
    assert_int_equal(len, 10);
    shd_free(data);
}

static void test_write_atomic(void **state)
{
    struct fx *f = *state;
    char p[EMU_PATH_MAX];
    fx_path(f, "endpoints.json", p);
    EXPECT_OK(emu_file_write(p, "{}\n", 3, 0644, EMU_FILE_ATOMIC));
    assert_int_equal(mode_of(p), 0644);
    struct stat before;
    assert_int_equal(stat(p, &before), 0);
    EXPECT_OK(emu_file_write(p, "{\"a\":1}\n", 8, 0600, EMU_FILE_ATOMIC));
    struct stat after;
    assert_int_equal(stat(p, &after), 0);
    /* A new file took the old one's place (rename), with exactly the new mode. */
    assert_true(before.st_ino != after.st_ino);
    assert_int_equal(after.st_size, 8);
    assert_int_equal(mode_of(p), 0600);
    /* No temporary file (shd_file_write_atomic's hidden name) is left behind. */
    char tmp[EMU_PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s/.endpoints.json.tmp.%ld", f->dir, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    /* In place, a symbolic link is refused; atomically it is replaced, not followed. */
    char target[EMU_PATH_MAX];
    char link[EMU_PATH_MAX];
    fx_path(f, "target", target);
    fx_path(f, "wlink", link);
    EXPECT_OK(emu_file_write(target, "t", 1, 0644, 0));
    assert_int_equal(symlink(target, link), 0);
    EXPECT_ERR(emu_file_write(link, "x", 1, 0644, 0), SHD_ERR_IO);
    shd_error_clear();
    EXPECT_OK(emu_file_write(link, "x", 1, 0644, EMU_FILE_ATOMIC));
    uint8_t *data = NULL;
    EXPECT_OK(emu_file_read(target, 10, 0, &data, NULL));
    assert_string_equal((const char *)data, "t");
    shd_free(data);
    /* Bad arguments. */
    EXPECT_ERR(emu_file_write(p, "x", 1, 01777, 0), SHD_ERR_USAGE);
    shd_error_clear();
    EXPECT_ERR(emu_file_write(p, NULL, 1, 0644, 0), SHD_ERR_NULL);
    shd_error_clear();
    fx_path(f, "no/such/dir", p);
    EXPECT_ERR(emu_file_write(p, "x", 1, 0644, EMU_FILE_ATOMIC), SHD_ERR_IO);
    shd_error_clear();
}

static void test_check_private(void **state)
{
    struct fx *f = *state;
    char p[EMU_PATH_MAX];
    fx_path(f, "k.key", p);
    EXPECT_OK(emu_file_write(p, "k", 1, 0600, 0));
    EXPECT_OK(emu_file_check_private(p));
    EXPECT_OK(emu_file_write(p, "k", 1, 0640, 0));
    EXPECT_ERR(emu_file_check_private(p), SHD_ERR_PERMISSION);
    char msg[512];
    (void)shd_error_render(msg, sizeof(msg));
    assert_non_null(strstr(msg, "is accessible by group or others (mode 640)"));
    shd_error_clear();
    EXPECT_OK(emu_file_write(p, "k", 1, 0604, 0));
    EXPECT_ERR(emu_file_check_private(p), SHD_ERR_PERMISSION);
    shd_error_clear();
    fx_path(f, "none.key", p);
    EXPECT_ERR(emu_file_check_private(p), SHD_ERR_CONFIG);
    shd_error_clear();
}

static void test_dirs(void **state)
{
    struct fx *f = *state;
    char d[EMU_PATH_MAX];
    fx_path(f, "state", d);
    /* Fresh, then again (exists, empty). */
    EXPECT_OK(emu_dir_prepare(d, false, 0));
    assert_int_equal(mode_of(d), 0700);
    EXPECT_OK(emu_dir_prepare(d, false, 0));
    char sub[EMU_PATH_MAX];
    EXPECT_OK(emu_path_join(d, "snp", sub, sizeof(sub)));
    EXPECT_OK(emu_dir_make(sub, 0700, 0));
    EXPECT_OK(emu_dir_make(sub, 0700, 0));
    /* Not empty: only with force. */
    EXPECT_ERR(emu_dir_prepare(d, false, 0), SHD_ERR_CONFIG);
    shd_error_clear();
    EXPECT_OK(emu_dir_prepare(d, true, 0));
    /* EMU_DIR_CHMOD tightens an existing directory; without it the mode stays. */
    assert_int_equal(chmod(sub, 0755), 0);
    EXPECT_OK(emu_dir_make(sub, 0700, 0));
    assert_int_equal(mode_of(sub), 0755);
    EXPECT_OK(emu_dir_make(sub, 0700, EMU_DIR_CHMOD));
    assert_int_equal(mode_of(sub), 0700);
    /* A file or a symbolic link where a directory should be. */
    char file[EMU_PATH_MAX];
    fx_path(f, "plain", file);
    EXPECT_OK(emu_file_write(file, "x", 1, 0644, 0));
    EXPECT_ERR(emu_dir_prepare(file, true, 0), SHD_ERR_CONFIG);
    shd_error_clear();
    EXPECT_ERR(emu_dir_make(file, 0700, 0), SHD_ERR_CONFIG);
    shd_error_clear();
    char link[EMU_PATH_MAX];
    fx_path(f, "dlink", link);
    assert_int_equal(symlink(d, link), 0);
    EXPECT_ERR(emu_dir_prepare(link, true, 0), SHD_ERR_CONFIG);
    shd_error_clear();
    EXPECT_ERR(emu_dir_make(link, 0700, 0), SHD_ERR_CONFIG);
    shd_error_clear();
    /* A missing parent. */
    fx_path(f, "no/such", sub);
    EXPECT_ERR(emu_dir_make(sub, 0700, 0), SHD_ERR_IO);
    shd_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_join),
        cmocka_unit_test_setup_teardown(test_write_read, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_check_private, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dirs, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
