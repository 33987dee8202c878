/*
 * emu_cmd.h - the subcommand table an emulator's main() dispatches through (STYLE.md rule 4,
 * WireGuard's src/wg.c): `<prog> <command> [options]`, `<prog> --help|-h|help`.
 */
#pragma once

#include <stddef.h>

/*
 * One row. handler receives argv starting at its own name (argv[0] == "init") and returns the
 * process exit status: 0 success, 1 runtime failure, 2 usage error.
 */
struct emu_cmd {
    const char *name;
    int (*handler)(int argc, char **argv);
    const char *summary; /* one line for the usage text */
};

/*
 * Runs the command named by argv[1]. Without a command: usage on stderr, 2. "--help", "-h" or
 * "help": usage on stdout, 0. An unknown command: "<prog>: unknown command '<x>'" and usage on
 * stderr, 2. Otherwise the handler's status.
 */
int emu_cmd_main(const char *prog, const struct emu_cmd *cmds, size_t ncmds, int argc, char **argv);
