/*
 * harden.h - process-wide hardening for processes that hold secrets (STYLE.md rules 26, 33).
 *
 * Call early in main, before any secret is loaded. Not undone by fork; PR_SET_DUMPABLE is reset
 * by execve of a set-id or unreadable binary only, so call it again after an exec.
 */
#pragma once

#include "shd/result.h"

/* Also set PR_SET_NO_NEW_PRIVS: execve can no longer gain privileges (set-id bits, file
 * capabilities). Required before installing an unprivileged seccomp filter (STYLE.md rule 3). */
#define SHD_HARDEN_NO_NEW_PRIVS (1u << 0)

/*
 * Makes the process non-dumpable (prctl(PR_SET_DUMPABLE, 0): no core file, no ptrace attach by
 * same-uid processes, /proc/<pid>/mem and friends owned by root) and sets RLIMIT_CORE soft and
 * hard limits to 0, then checks PR_GET_DUMPABLE reads back 0. flags: SHD_HARDEN_*; unknown bits
 * give SHD_ERR_USAGE before anything changes. Errors: SHD_ERR_IO with errno attached.
 */
SHD_RESULT shd_process_harden(unsigned flags);
