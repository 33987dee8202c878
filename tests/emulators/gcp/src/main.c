/*
 * main.c - gcp-emu: local emulators of the Confidential Computing attestation verifier, STS,
 * IAM Credentials, Cloud KMS and the GCE metadata server, plus the GCE-style vTPM on swtpm.
 * main() only dispatches through the subcommand table (STYLE.md rule 4; emu_cmd.h).
 */
#include "emu_cmd.h"
#include "gemu_cmd.h"

static const struct emu_cmd subcommands[] = {
    {"init", gemu_cmd_init, "create the state directory (CA, service keys, WIF/IAM/KMS defaults)"},
    {"serve", gemu_cmd_serve, "serve verifier, STS, IAM, KMS (HTTPS) and the metadata server"},
};

int main(int argc, char **argv)
{
    return emu_cmd_main("gcp-emu", subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
                        argv);
}
