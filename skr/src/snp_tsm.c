/*
 * snp_tsm.c - configfs-tsm (Linux >= 6.7, azure-formats.md §2.3): mkdir an instance under
 * /sys/kernel/config/tsm/report, write the 64-byte REPORT_DATA to inblob, read outblob (the raw
 * 1184-byte report for the sev_guest provider), check the generation did not move under us,
 * rmdir. Each request uses its own uniquely named instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"
#include "snp.h"

/* The kernel caps outblob at 32 KiB (TSM_OUTBLOB_MAX); st_size of configfs attributes may
 * report that cap. */
#define TSM_OUTBLOB_MAX ((size_t)64 * 1024)

static bool tsm_probe(const struct skr_snp_env *env)
{
    struct stat st;
    return env->tsm_dir != NULL && stat(env->tsm_dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* An instance directory; removed by the cleanup whatever happens. */
struct tsm_instance {
    char path[512];
    bool made;
};

static void tsm_instance_remove(struct tsm_instance *t)
{
    if (t->made) {
        (void)rmdir(t->path);
        t->made = false;
    }
}

static shd_result tsm_attr_path(const struct tsm_instance *t, const char *attr, char *buf,
                                size_t n)
{
    int w = snprintf(buf, n, "%s/%s", t->path, attr);
    SHD_ENSURE(w > 0 && (size_t)w < n, SHD_ERR_TOO_LARGE);
    return SHD_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static shd_result tsm_write(const struct tsm_instance *t, const char *attr, const uint8_t *data,
                            size_t len)
{
    char path[600];
    SHD_GUARD(tsm_attr_path(t, attr, path, sizeof(path)));
    SHD_CLEANUP(close_fd) int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("configfs-tsm: open %s", path);
        return r;
    }
    ssize_t w = 0;
    do {
        w = write(fd, data, len);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("configfs-tsm: write %s", path);
        return r;
    }
    SHD_ENSURE_MSG((size_t)w == len, SHD_ERR_IO, "configfs-tsm: short write to %s", path);
    return SHD_OK;
}

static shd_result tsm_read(const struct tsm_instance *t, const char *attr, size_t max, char **ret,
                           size_t *ret_len)
{
    char path[600];
    SHD_GUARD(tsm_attr_path(t, attr, path, sizeof(path)));
    uint8_t *data = NULL;
    SHD_GUARD_CTX(shd_file_read(path, max, 0, &data, ret_len), "configfs-tsm");
    *ret = (char *)data;
    return SHD_OK;
}

static shd_result tsm_generation(const struct tsm_instance *t, uint64_t *ret)
{
    SHD_CLEANUP_FREE char *s = NULL;
    size_t len = 0;
    SHD_GUARD(tsm_read(t, "generation", 4096, &s, &len));
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ')) {
        s[--len] = '\0';
    }
    SHD_GUARD_CTX(shd_parse_uint(s, 10, UINT64_MAX, ret), "configfs-tsm: bad generation");
    return SHD_OK;
}

static shd_result tsm_get_report(const struct skr_snp_env *env,
                                 const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                 uint8_t out[static SHD_SNP_REPORT_LEN])
{
    uint8_t rnd[8];
    SHD_GUARD(shd_crypto_random(rnd, sizeof(rnd)));
    char rnd_hex[2 * sizeof(rnd) + 1];
    SHD_GUARD(shd_hex_encode_into(rnd, sizeof(rnd), rnd_hex, sizeof(rnd_hex)));
    SHD_CLEANUP(tsm_instance_remove) struct tsm_instance t = {.made = false};
    int w = snprintf(t.path, sizeof(t.path), "%s/skr-%ld-%s", env->tsm_dir, (long)getpid(),
                     rnd_hex);
    SHD_ENSURE(w > 0 && (size_t)w < sizeof(t.path), SHD_ERR_TOO_LARGE);
    if (mkdir(t.path, 0700) != 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("configfs-tsm: mkdir %s", t.path);
        return r;
    }
    t.made = true;

    SHD_CLEANUP_FREE char *provider = NULL;
    size_t plen = 0;
    SHD_GUARD(tsm_read(&t, "provider", 4096, &provider, &plen));
    SHD_ENSURE_MSG(strncmp(provider, "sev_guest", 9) == 0, SHD_ERR_UNSUPPORTED,
                   "configfs-tsm: provider is not sev_guest");
    SHD_GUARD(tsm_write(&t, "inblob", report_data, SHD_SNP_REPORT_DATA_LEN));
    uint64_t gen_before = 0;
    SHD_GUARD(tsm_generation(&t, &gen_before));
    SHD_CLEANUP_FREE char *blob = NULL;
    size_t blob_len = 0;
    SHD_GUARD(tsm_read(&t, "outblob", TSM_OUTBLOB_MAX, &blob, &blob_len));
    uint64_t gen_after = 0;
    SHD_GUARD(tsm_generation(&t, &gen_after));
    SHD_ENSURE_MSG(gen_before == gen_after, SHD_ERR_IO,
                   "configfs-tsm: the instance was written concurrently");
    SHD_ENSURE_MSG(blob_len == SHD_SNP_REPORT_LEN, SHD_ERR_INPUT,
                   "configfs-tsm: outblob has %zu bytes, not %u", blob_len, SHD_SNP_REPORT_LEN);
    shd_memcpy(out, blob, SHD_SNP_REPORT_LEN);
    return SHD_OK;
}

const struct skr_snp_backend SKR_SNP_BACKEND_TSM = {
    .name = "configfs-tsm", .probe = tsm_probe, .get_report = tsm_get_report};
