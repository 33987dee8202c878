/*
 * file_test.c - shd_file_read (content, limits, missing files, directories, FIFOs, devices,
 * symbolic links with and without SHD_FILE_NOFOLLOW, unreadable files, files whose size fstat
 * does not know, failed allocations) and shd_file_write_atomic (exact modes, replacement
 * without leftovers, links replaced not followed, failures cleaned up).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shd/errors.h"
#include "shd/file.h"
#include "shd/mem.h"
#include "shd_test.h"

struct fx {
    char dir[64];
};

static int fx_setup(void **state)
{
    struct fx *f = shd_alloc(sizeof(*f));
    assert_non_null(f);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/shd-file-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
    shd_free(f);
    return 0;
}

/* "<dir>/<rel>" in a static buffer per slot. */
static const char *fx_path(const struct fx *f, const char *rel, char out[static 256])
{
    int n = snprintf(out, 256, "%s/%s", f->dir, rel);
    assert_true(n > 0 && n < 256);
    return out;
}

static void put(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static unsigned mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 07777);
}

static unsigned entries(const char *dir)
{
    unsigned n = 0;
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256];
    while (fgets(line, sizeof(line), p) != NULL) {
        n++;
    }
    assert_int_equal(pclose(p), 0);
    return n;
}

/* The rendered error contains want; the error is cleared. */
static void expect_msg(const char *want)
{
    char msg[1024];
    (void)shd_error_render(msg, sizeof(msg));
    if (strstr(msg, want) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", msg, want);
    }
    shd_error_clear();
}

/* shd_file_read fails with code and a message containing want; outputs untouched. */
static void read_fails(const char *path, size_t max, unsigned flags, int code, const char *want)
{
    uint8_t sentinel[] = "x";
    uint8_t *data = sentinel;
    size_t len = 99;
    EXPECT_ERR(shd_file_read(path, max, flags, &data, &len), code);
    assert_ptr_equal(data, sentinel);
    assert_int_equal(len, 99);
    expect_msg(want);
}

static void test_read(void **state)
{
    struct fx *f = *state;
    char p[256];
    put(fx_path(f, "a.txt", p), "hello\0world", 11);
    uint8_t *data = NULL;
    size_t len = 0;
    /* Exactly max bytes; binary content with a NUL; a NUL after the data. */
    EXPECT_OK(shd_file_read(p, 11, 0, &data, &len));
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello\0world", 12);
    shd_free_wipe(data, len + 1);
    EXPECT_OK(shd_file_read(p, 11, SHD_FILE_NOFOLLOW, &data, &len));
    assert_int_equal(len, 11);
    shd_free_wipe(data, len + 1);
    /* Empty file, max 0. */
    put(fx_path(f, "empty", p), "", 0);
    EXPECT_OK(shd_file_read(p, 0, 0, &data, &len));
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    shd_free(data);
}

static void test_read_errors(void **state)
{
    struct fx *f = *state;
    char p[256];
    char want[640];
    /* Missing: the message names the path. */
    fx_path(f, "missing", p);
    (void)snprintf(want, sizeof(want), "open %s: ", p);
    read_fails(p, 100, 0, SHD_ERR_NOT_FOUND, want);
    /* A missing directory on the way is not found either; a file used as one is an I/O error. */
    read_fails(fx_path(f, "no/such", p), 100, 0, SHD_ERR_NOT_FOUND, "no/such");
    put(fx_path(f, "plain", p), "x", 1);
    read_fails(fx_path(f, "plain/x", p), 100, 0, SHD_ERR_IO, "plain/x");
    /* max + 1 bytes. */
    put(fx_path(f, "big", p), "0123456789", 10);
    (void)snprintf(want, sizeof(want), "%s is larger than 9 bytes", p);
    read_fails(p, 9, 0, SHD_ERR_TOO_LARGE, want);
    /* Not regular: a directory, a FIFO (refused without blocking on a writer), a device. */
    (void)snprintf(want, sizeof(want), "%s is not a regular file", f->dir);
    read_fails(f->dir, 1024, 0, SHD_ERR_IO, want);
    assert_int_equal(mkfifo(fx_path(f, "fifo", p), 0600), 0);
    read_fails(p, 1024, 0, SHD_ERR_IO, "fifo is not a regular file");
    read_fails("/dev/null", 1024, 0, SHD_ERR_IO, "/dev/null is not a regular file");
    /* Bad arguments. */
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_ERR(shd_file_read(fx_path(f, "big", p), SIZE_MAX - 2, 0, &data, &len), SHD_ERR_USAGE);
    EXPECT_ERR(shd_file_read(p, 100, 0x80, &data, &len), SHD_ERR_USAGE);
    EXPECT_ERR(shd_file_read(NULL, 100, 0, &data, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_file_read(p, 100, 0, NULL, &len), SHD_ERR_NULL);
    EXPECT_ERR(shd_file_read(p, 100, 0, &data, NULL), SHD_ERR_NULL);
    assert_null(data);
    shd_error_clear();
}

static void test_read_symlink(void **state)
{
    struct fx *f = *state;
    char target[256];
    char link[256];
    put(fx_path(f, "target", target), "secret", 6);
    assert_int_equal(symlink(target, fx_path(f, "link", link)), 0);
    /* Followed by default (Kubernetes projected tokens are links)... */
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_OK(shd_file_read(link, 100, 0, &data, &len));
    assert_int_equal(len, 6);
    assert_string_equal((const char *)data, "secret");
    shd_free_wipe(data, len + 1);
    /* ...refused with SHD_FILE_NOFOLLOW (ELOOP). */
    read_fails(link, 100, SHD_FILE_NOFOLLOW, SHD_ERR_IO, "link: ");
    unsigned long code = 0;
    EXPECT_ERR(shd_file_read(link, 100, SHD_FILE_NOFOLLOW, &data, &len), SHD_ERR_IO);
    assert_int_equal(shd_error_foreign(&code), SHD_FOREIGN_ERRNO);
    assert_int_equal(code, ELOOP);
    shd_error_clear();
    /* A dangling link is not found. */
    assert_int_equal(symlink(fx_path(f, "gone", target), fx_path(f, "dangling", link)), 0);
    read_fails(link, 100, 0, SHD_ERR_NOT_FOUND, "dangling");
}

/* Run as another user when we are root: root reads a mode-000 file anyway. */
static void test_read_unreadable(void **state)
{
    struct fx *f = *state;
    char p[256];
    put(fx_path(f, "locked", p), "k", 1);
    assert_int_equal(chmod(p, 0), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
            _exit(10);
        }
        uint8_t *data = NULL;
        size_t len = 0;
        shd_result r = shd_file_read(p, 100, 0, &data, &len);
        unsigned long code = 0;
        bool ok = r.err == SHD_ERR_IO && data == NULL &&
                  shd_error_foreign(&code) == SHD_FOREIGN_ERRNO && code == EACCES;
        _exit(ok ? 0 : 11);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* /proc files report size 0 and have content: the reader must grow past what fstat said. */
static void test_read_unknown_size(void **state)
{
    (void)state;
    struct stat sb;
    assert_int_equal(stat("/proc/self/status", &sb), 0);
    assert_int_equal(sb.st_size, 0);
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_OK(shd_file_read("/proc/self/status", 1 << 20, 0, &data, &len));
    assert_true(len > 100);
    assert_int_equal(strlen((const char *)data), len);
    assert_memory_equal(data, "Name:", 5);
    shd_free(data);
    /* Growth is bounded by max too. */
    read_fails("/proc/self/status", 64, 0, SHD_ERR_TOO_LARGE, "larger than 64 bytes");
}

/* Every allocation of a growing read fails in turn: NOMEM, nothing leaks (valgrind, ASan). */
static void test_read_nomem(void **state)
{
    (void)state;
    bool succeeded = false;
    for (long n = 0; n < 32 && !succeeded; n++) {
        uint8_t *data = NULL;
        size_t len = 0;
        shd_mem_fail_after(n);
        shd_result r = shd_file_read("/proc/self/status", 1 << 20, 0, &data, &len);
        shd_mem_fail_after(-1);
        if (shd_is_ok(r)) {
            succeeded = true;
            assert_true(n > 2); /* size 0: 2 bytes, then at least two doublings */
            shd_free(data);
        } else {
            assert_int_equal(r.err, SHD_ERR_NOMEM);
            assert_null(data);
            shd_error_clear();
        }
    }
    assert_true(succeeded);
}

static void test_write_atomic(void **state)
{
    struct fx *f = *state;
    char p[256];
    fx_path(f, "token", p);
    /* Exact mode whatever the umask, in both directions. */
    mode_t old = umask(0);
    EXPECT_OK(shd_file_write_atomic(p, "eyJ.a.b", 7, 0600));
    (void)umask(077);
    assert_int_equal(mode_of(p), 0600);
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_OK(shd_file_read(p, 100, 0, &data, &len));
    assert_int_equal(len, 7);
    assert_memory_equal(data, "eyJ.a.b", 7);
    shd_free(data);
    struct stat before;
    assert_int_equal(stat(p, &before), 0);
    /* A reader holding the old file keeps the old content: replaced, not rewritten. */
    FILE *reader = fopen(p, "r");
    assert_non_null(reader);
    EXPECT_OK(shd_file_write_atomic(p, "{\"a\":1}\n", 8, 0644));
    (void)umask(old);
    assert_int_equal(mode_of(p), 0644);
    struct stat after;
    assert_int_equal(stat(p, &after), 0);
    assert_true(before.st_ino != after.st_ino);
    assert_int_equal(after.st_size, 8);
    char buf[16] = {0};
    assert_int_equal(fread(buf, 1, sizeof(buf) - 1, reader), 7);
    assert_string_equal(buf, "eyJ.a.b");
    assert_int_equal(fclose(reader), 0);
    /* Empty content; no temporary file left behind. */
    EXPECT_OK(shd_file_write_atomic(p, NULL, 0, 0600));
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(after.st_size, 0);
    assert_int_equal(entries(f->dir), 1);
    /* A leftover temporary file of a crashed process with our pid does not block the write. */
    char tmp[256];
    char rel[64];
    (void)snprintf(rel, sizeof(rel), ".token.tmp.%ld", (long)getpid());
    put(fx_path(f, rel, tmp), "stale", 5);
    EXPECT_OK(shd_file_write_atomic(p, "new", 3, 0600));
    assert_int_equal(entries(f->dir), 1);
    /* A relative path (no directory part) works from the current directory. */
    char cwd[256];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    EXPECT_OK(shd_file_write_atomic("rel", "r", 1, 0600));
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(mode_of(fx_path(f, "rel", tmp)), 0600);
}

static void test_write_atomic_links(void **state)
{
    struct fx *f = *state;
    char target[256];
    char link[256];
    put(fx_path(f, "target", target), "t", 1);
    assert_int_equal(symlink(target, fx_path(f, "link", link)), 0);
    /* The link itself is replaced by a file; its target is not written through. */
    EXPECT_OK(shd_file_write_atomic(link, "x", 1, 0600));
    struct stat sb;
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_OK(shd_file_read(target, 10, 0, &data, &len));
    assert_string_equal((const char *)data, "t");
    shd_free(data);
}

static void test_write_atomic_errors(void **state)
{
    struct fx *f = *state;
    char p[256];
    char want[640];
    /* Missing directory: the cause names the path and the temporary file. */
    fx_path(f, "no/such/file", p);
    EXPECT_ERR(shd_file_write_atomic(p, "x", 1, 0600), SHD_ERR_IO);
    (void)snprintf(want, sizeof(want), "write %s: create %s/no/such/.file.tmp.", p, f->dir);
    expect_msg(want);
    /* rename over a non-empty directory fails; the temporary file is removed. */
    char sub[256];
    assert_int_equal(mkdir(fx_path(f, "sub", sub), 0700), 0);
    put(fx_path(f, "sub/x", p), "x", 1);
    EXPECT_ERR(shd_file_write_atomic(sub, "x", 1, 0600), SHD_ERR_IO);
    (void)snprintf(want, sizeof(want), "write %s: ", sub);
    expect_msg(want);
    assert_int_equal(entries(f->dir), 1);
    /* A directory that is not writable (as root: a file in the way of the directory). */
    EXPECT_ERR(shd_file_write_atomic(fx_path(f, "sub/x/y", p), "y", 1, 0600), SHD_ERR_IO);
    shd_error_clear();
    /* Bad arguments. */
    EXPECT_ERR(shd_file_write_atomic(fx_path(f, "m", p), "x", 1, 01777), SHD_ERR_USAGE);
    EXPECT_ERR(shd_file_write_atomic(p, "x", 1, 04600), SHD_ERR_USAGE);
    (void)snprintf(want, sizeof(want), "%s/", f->dir);
    EXPECT_ERR(shd_file_write_atomic(want, "x", 1, 0600), SHD_ERR_USAGE);
    EXPECT_ERR(shd_file_write_atomic(p, NULL, 1, 0600), SHD_ERR_NULL);
    EXPECT_ERR(shd_file_write_atomic(NULL, "x", 1, 0600), SHD_ERR_NULL);
    assert_int_equal(access(p, F_OK), -1);
    /* A path that leaves no room for the temporary name. */
    static char longp[PATH_MAX + 8];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    EXPECT_ERR(shd_file_write_atomic(longp, "x", 1, 0600), SHD_ERR_TOO_LARGE);
    longp[PATH_MAX - 8] = '\0';
    EXPECT_ERR(shd_file_write_atomic(longp, "x", 1, 0600), SHD_ERR_TOO_LARGE);
    shd_error_clear();
    assert_int_equal(entries(f->dir), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_symlink, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_unreadable, fx_setup, fx_teardown),
        cmocka_unit_test(test_read_unknown_size),
        cmocka_unit_test(test_read_nomem),
        cmocka_unit_test_setup_teardown(test_write_atomic, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_links, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_errors, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
