/*
 * emu_cmd.c - subcommand dispatch of the emulators (emu_cmd.h).
 */
#include "emu_cmd.h"

#include <stdio.h>
#include <string.h>

static void cmd_usage(const char *prog, const struct emu_cmd *cmds, size_t ncmds, FILE *out)
{
    fprintf(out, "Usage: %s <command> [options]\n\nCommands:\n", prog);
    for (size_t i = 0; i < ncmds; i++) {
        fprintf(out, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
    }
    fprintf(out, "\nRun '%s <command> --help' for the options of a command.\n", prog);
}

int emu_cmd_main(const char *prog, const struct emu_cmd *cmds, size_t ncmds, int argc, char **argv)
{
    if (argc < 2 || argv == NULL || argv[1] == NULL) {
        cmd_usage(prog, cmds, ncmds, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cmd_usage(prog, cmds, ncmds, stdout);
        return 0;
    }
    for (size_t i = 0; i < ncmds; i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) {
            return cmds[i].handler(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
    cmd_usage(prog, cmds, ncmds, stderr);
    return 2;
}
