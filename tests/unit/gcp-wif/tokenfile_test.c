/*
 * tokenfile_test.c - the atomic token file: exact content (no newline), mode 0600 whatever the
 * umask, replacement without leftovers, failures reported.
 */
#include "shd_test.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "shd/file.h"
#include "shd/mem.h"
#include "tokenfile.h"
#include "wif_test_util.h"

static void expect_file(const char *path, const char *want)
{
    uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_OK(shd_file_read(path, 1 << 20, 0, &data, &len));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    shd_free_wipe(data, len + 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static unsigned dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    unsigned n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    (void)closedir(d);
    return n;
}

static void test_write_replace(void **state)
{
    (void)state;
    char *dir = wif_test_tmpdir();
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/token", dir);
    mode_t old = umask(0); /* a lax umask must not widen the mode */
    EXPECT_OK(wif_tokenfile_write(path, "eyJ.a.b", 7));
    (void)umask(old);
    expect_file(path, "eyJ.a.b");
    /* A reader holding the old file keeps the old content: the file is replaced, not rewritten. */
    FILE *reader = fopen(path, "r");
    assert_non_null(reader);
    wif_tokenfile_on_attestation(path, "eyJ.c.d2", 8);
    expect_file(path, "eyJ.c.d2");
    char buf[16] = {0};
    assert_int_equal(fread(buf, 1, sizeof(buf) - 1, reader), 7);
    assert_string_equal(buf, "eyJ.a.b");
    (void)fclose(reader);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left */
    /* A 0644 file from elsewhere is tightened on the next write. */
    assert_int_equal(chmod(path, 0644), 0);
    EXPECT_OK(wif_tokenfile_write(path, "x", 1));
    expect_file(path, "x");
    EXPECT_ERR(wif_tokenfile_write(path, "x", 0), SHD_ERR_USAGE);
    wif_test_rmdir(dir);
}

static void test_failures(void **state)
{
    (void)state;
    EXPECT_ERR(wif_tokenfile_write("/nonexistent-dir-wif/token", "t", 1), SHD_ERR_IO);
    char *dir = wif_test_tmpdir();
    /* The target is a directory: rename fails, nothing is left behind. */
    char sub[256];
    (void)snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    char inner[300];
    (void)snprintf(inner, sizeof(inner), "%s/f", sub);
    EXPECT_OK(wif_tokenfile_write(inner, "t", 1));
    EXPECT_ERR(wif_tokenfile_write(sub, "t", 1), SHD_ERR_IO);
    assert_int_equal(dir_entries(dir), 1);
    /* The callback only logs. */
    char missing[] = "/nonexistent-dir-wif/token";
    wif_tokenfile_on_attestation(missing, "t", 1);
    wif_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replace),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
