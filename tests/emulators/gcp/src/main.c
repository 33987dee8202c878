/*
 * main.c - gcp-emu: local emulators of the Confidential Computing attestation verifier, STS,
 * IAM Credentials, Cloud KMS and the GCE metadata server, plus the GCE-style vTPM on swtpm.
 * main() only dispatches through the subcommand table (STYLE.md rule 4).
 */
#include <stdio.h>
#include <string.h>

#include "gemu_cmd.h"

struct gemu_subcommand {
    const char *name;
    int (*handler)(int argc, char **argv);
    const char *summary;
};

static const struct gemu_subcommand subcommands[] = {
    {"init", gemu_cmd_init, "create the state directory (CA, service keys, WIF/IAM/KMS defaults)"},
    {"serve", gemu_cmd_serve, "serve verifier, STS, IAM, KMS (HTTPS) and the metadata server"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: gcp-emu <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    }
    fprintf(out, "\nRun 'gcp-emu <command> --help' for the options of a command.\n");
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
    fprintf(stderr, "gcp-emu: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
