/*
 * main.c - azure-emu: local emulators of MAA, Key Vault, Managed HSM and IMDS/THIM plus the
 * set-up of the simulated SEV-SNP chip. main() only dispatches through the subcommand table
 * (STYLE.md rule 4; emu_cmd.h).
 */
#include "cmd.h"
#include "emu.h"
#include "emu_cmd.h"

static const struct emu_cmd subcommands[] = {
    {"init", aemu_cmd_init, "create the state directory (CA, service keys, simulated SNP chip)"},
    {"serve", aemu_cmd_serve, "serve MAA, Key Vault, Managed HSM and IMDS/THIM on loopback"},
};

int main(int argc, char **argv)
{
    return emu_cmd_main("azure-emu", subcommands, sizeof(subcommands) / sizeof(subcommands[0]),
                        argc, argv);
}
