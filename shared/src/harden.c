/*
 * harden.c - non-dumpable process, no core files, optional no_new_privs (harden.h).
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "shd/errors.h"
#include "shd/harden.h"
#include "shd/safety.h"

shd_result shd_process_harden(unsigned flags)
{
    const struct rlimit none = {.rlim_cur = 0, .rlim_max = 0};

    SHD_ENSURE_MSG((flags & ~SHD_HARDEN_NO_NEW_PRIVS) == 0, SHD_ERR_USAGE,
                   "unknown hardening flags 0x%x", flags);
    /* Order: the core-dump limit first, so that a failure below still leaves no core file. */
    SHD_GUARD_POSIX(setrlimit(RLIMIT_CORE, &none));
    SHD_GUARD_POSIX(prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L));
    int dumpable = prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L);
    SHD_ENSURE_MSG(dumpable == 0, SHD_ERR_INTERNAL, "process still dumpable (%d) after prctl",
                   dumpable);
    if ((flags & SHD_HARDEN_NO_NEW_PRIVS) != 0) {
        SHD_GUARD_POSIX(prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L));
    }
    return SHD_OK;
}
