/*
 * snp_ioctl.c - the two kernel guest-request ABIs (azure-formats.md §2.1, §2.2). The structures
 * are written here from the UAPI layouts (kernel headers may be missing in the build image) and
 * pinned with static assertions on size and offsets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "snp.h"

/* SNP ABI MSG_REPORT_REQ (96 bytes): REPORT_DATA, VMPL, reserved. */
struct skr_snp_msg_report_req {
    uint8_t user_data[64];
    uint32_t vmpl;
    uint8_t rsvd[28];
};
_Static_assert(sizeof(struct skr_snp_msg_report_req) == 96, "MSG_REPORT_REQ is 96 bytes");
_Static_assert(offsetof(struct skr_snp_msg_report_req, vmpl) == 64, "vmpl at 64");

/* MSG_REPORT_RSP: status @0, report_size @4, reserved to 32, the report @32. */
#define SKR_SNP_RSP_STATUS_OFF 0u
#define SKR_SNP_RSP_REPORT_OFF 32u
#define SKR_SNP_RSP_LEN 1280u /* what the 5.x driver is told the response buffer holds */
_Static_assert(SKR_SNP_RSP_REPORT_OFF + SHD_SNP_REPORT_LEN <= SKR_SNP_RSP_LEN, "report fits");

/* 5.x AMD out-of-tree driver: struct sev_snp_guest_request (40 bytes on x86-64). */
struct skr_sev5_guest_request {
    uint8_t req_msg_type;
    uint8_t rsp_msg_type;
    uint8_t msg_version;
    uint8_t pad0;
    uint16_t request_len;
    uint8_t pad1[2];
    uint64_t request_uaddr;
    uint16_t response_len;
    uint8_t pad2[6];
    uint64_t response_uaddr;
    uint32_t error;
    uint8_t pad3[4];
};
_Static_assert(sizeof(struct skr_sev5_guest_request) == 40, "sev_snp_guest_request is 40 bytes");
_Static_assert(offsetof(struct skr_sev5_guest_request, request_len) == 4, "request_len at 4");
_Static_assert(offsetof(struct skr_sev5_guest_request, request_uaddr) == 8, "request_uaddr at 8");
_Static_assert(offsetof(struct skr_sev5_guest_request, response_len) == 16, "response_len at 16");
_Static_assert(offsetof(struct skr_sev5_guest_request, response_uaddr) == 24, "resp_uaddr at 24");
_Static_assert(offsetof(struct skr_sev5_guest_request, error) == 32, "error at 32");

/* _IOWR('S', 1, 40 bytes) */
#define SKR_SEV5_SNP_GUEST_MSG_REPORT 0xC0285301ul
#define SKR_SNP_MSG_REPORT_REQ 5u
#define SKR_SNP_MSG_REPORT_RSP 6u

/* Upstream include/uapi/linux/sev-guest.h: struct snp_guest_request_ioctl (32 bytes). */
struct skr_snp_guest_request_ioctl {
    uint8_t msg_version;
    uint8_t pad[7];
    uint64_t req_data;
    uint64_t resp_data;
    uint64_t exitinfo2; /* fw_error (low 32) | vmm_error (high 32) */
};
_Static_assert(sizeof(struct skr_snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl: 32");
_Static_assert(offsetof(struct skr_snp_guest_request_ioctl, req_data) == 8, "req_data at 8");
_Static_assert(offsetof(struct skr_snp_guest_request_ioctl, resp_data) == 16, "resp_data at 16");
_Static_assert(offsetof(struct skr_snp_guest_request_ioctl, exitinfo2) == 24, "exitinfo2 at 24");

/* struct snp_report_resp */
struct skr_snp_report_resp {
    uint8_t data[4000];
};
_Static_assert(sizeof(struct skr_snp_report_resp) == 4000, "snp_report_resp is 4000 bytes");

/* _IOWR('S', 0, struct snp_guest_request_ioctl) */
#define SKR_SNP_GET_REPORT 0xC0205300ul

static bool path_exists(const char *path)
{
    struct stat st;
    return path != NULL && stat(path, &st) == 0; /* os.Stat, as the original */
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static shd_result open_device(const char *path, int *ret_fd)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        char text[128];
        skr_errno_text(e, text, sizeof(text));
        shd_result r = shd_error_setf(e == ENOENT ? SHD_ERR_NOT_FOUND : SHD_ERR_IO, __FILE__,
                                      __LINE__, "error opening SNP device %s: %s", path, text);
        shd_error_set_foreign(SHD_FOREIGN_ERRNO, (unsigned long)e);
        return r;
    }
    *ret_fd = fd;
    return SHD_OK;
}

static shd_result ioctl_retry(int fd, unsigned long req, void *arg)
{
    int rc = 0;
    do {
        rc = ioctl(fd, req, arg);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int e = errno;
        char text[128];
        skr_errno_text(e, text, sizeof(text));
        shd_result r = shd_error_setf(SHD_ERR_IO, __FILE__, __LINE__, "ioctl failed:%s", text);
        shd_error_set_foreign(SHD_FOREIGN_ERRNO, (unsigned long)e);
        return r;
    }
    return SHD_OK;
}

/* Checks MSG_REPORT_RSP.status and copies the report out. */
static shd_result take_report(const uint8_t *rsp, uint8_t out[static SHD_SNP_REPORT_LEN])
{
    uint32_t status = (uint32_t)rsp[0] | (uint32_t)rsp[1] << 8 | (uint32_t)rsp[2] << 16 |
                      (uint32_t)rsp[3] << 24;
    SHD_ENSURE_MSG(status == 0, SHD_ERR_IO, "fetching attestation report failed. status: %u",
                   status);
    shd_memcpy(out, rsp + SKR_SNP_RSP_REPORT_OFF, SHD_SNP_REPORT_LEN);
    return SHD_OK;
}

static bool sev5_probe(const struct skr_snp_env *env)
{
    return path_exists(env->dev_sev);
}

static shd_result sev5_get_report(const struct skr_snp_env *env,
                                  const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                  uint8_t out[static SHD_SNP_REPORT_LEN])
{
    SHD_CLEANUP(close_fd) int fd = -1;
    SHD_GUARD(open_device(env->dev_sev, &fd));
    struct skr_snp_msg_report_req req = {0};
    shd_memcpy(req.user_data, report_data, sizeof(req.user_data));
    uint8_t rsp[SKR_SNP_RSP_LEN] = {0};
    struct skr_sev5_guest_request msg = {
        .req_msg_type = SKR_SNP_MSG_REPORT_REQ,
        .rsp_msg_type = SKR_SNP_MSG_REPORT_RSP,
        .msg_version = 1,
        .request_len = (uint16_t)sizeof(req),
        .request_uaddr = (uint64_t)(uintptr_t)&req,
        .response_len = (uint16_t)sizeof(rsp),
        .response_uaddr = (uint64_t)(uintptr_t)rsp,
    };
    SHD_GUARD(ioctl_retry(fd, SKR_SEV5_SNP_GUEST_MSG_REPORT, &msg));
    return take_report(rsp, out);
}

static bool sev_guest_probe(const struct skr_snp_env *env)
{
    return path_exists(env->dev_sev_guest);
}

static shd_result sev_guest_get_report(const struct skr_snp_env *env,
                                       const uint8_t report_data[static SHD_SNP_REPORT_DATA_LEN],
                                       uint8_t out[static SHD_SNP_REPORT_LEN])
{
    SHD_CLEANUP(close_fd) int fd = -1;
    SHD_GUARD(open_device(env->dev_sev_guest, &fd));
    struct skr_snp_msg_report_req req = {0};
    shd_memcpy(req.user_data, report_data, sizeof(req.user_data));
    struct skr_snp_report_resp rsp = {{0}};
    struct skr_snp_guest_request_ioctl msg = {
        .msg_version = 1,
        .req_data = (uint64_t)(uintptr_t)&req,
        .resp_data = (uint64_t)(uintptr_t)&rsp,
    };
    SHD_GUARD(ioctl_retry(fd, SKR_SNP_GET_REPORT, &msg));
    return take_report(rsp.data, out);
}

const struct skr_snp_backend SKR_SNP_BACKEND_SEV5 = {
    .name = "/dev/sev (5.x)", .probe = sev5_probe, .get_report = sev5_get_report};

const struct skr_snp_backend SKR_SNP_BACKEND_SEV_GUEST = {
    .name = "/dev/sev-guest", .probe = sev_guest_probe, .get_report = sev_guest_get_report};
