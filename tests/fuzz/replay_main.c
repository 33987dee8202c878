/*
 * replay_main.c - runs a fuzz target over every file of a seed corpus folder, for builds
 * without libFuzzer. Exit status 0 when every input ran; a crash or sanitizer report fails
 * the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shd/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rbe");
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;

    if (f == NULL) {
        (void)fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 4096 : cap * 2;
            uint8_t *nbuf = shd_realloc(buf, ncap);
            if (nbuf == NULL) {
                shd_free(buf);
                (void)fclose(f);
                return -1;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    (void)fclose(f);
    /* Copy into an exact-size allocation (no NUL after it) so ASan and valgrind catch reads
     * past the input, as libFuzzer would. */
    uint8_t *exact = shd_alloc(len);
    if (exact == NULL) {
        shd_free(buf);
        return -1;
    }
    shd_memcpy(exact, buf, len);
    shd_free(buf);
    (void)LLVMFuzzerTestOneInput(exact, len);
    shd_free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int count = 0;

    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *e;

        if (d == NULL) {
            (void)fprintf(stderr, "replay: cannot open corpus %s\n", argv[i]);
            return 1;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.') {
                continue;
            }
            int n = snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (n < 0 || (size_t)n >= sizeof(path) || replay_file(path) != 0) {
                (void)closedir(d);
                return 1;
            }
            count++;
        }
        (void)closedir(d);
    }
    (void)printf("replay: %d inputs\n", count);
    return count > 0 ? 0 : 1;
}
