/*
 * main.c - azure-emu: local emulators of MAA, Key Vault, Managed HSM and IMDS/THIM plus the
 * set-up of the simulated SEV-SNP chip. main() only dispatches through the subcommand table.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "emu.h"

struct aemu_subcommand {
    const char *name;
    int (*handler)(int argc, char **argv);
    const char *summary;
};

static const struct aemu_subcommand subcommands[] = {
    {"init", aemu_cmd_init, "create the state directory (CA, service keys, simulated SNP chip)"},
    {"serve", aemu_cmd_serve, "serve MAA, Key Vault, Managed HSM and IMDS/THIM on loopback"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: azure-emu <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    }
    fprintf(out, "\nRun 'azure-emu <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        if (strcmp(argv[1], subcommands[i].name) == 0) {
            return subcommands[i].handler(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "azure-emu: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
