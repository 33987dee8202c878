/*
 * cmd.h - the azure-emu subcommands dispatched by main.c's table (STYLE.md rule 4).
 *
 * Each subcommand receives argv starting at its own name (argv[0] == "init") and returns a
 * process exit status: 0 success, 1 runtime failure, 2 usage error. Each prints its own help for
 * --help and logs its own errors once, to stderr.
 */
#pragma once

/* azure-emu init --state DIR [...]: creates the PKI, service keys and the simulated SNP chip. */
int aemu_cmd_init(int argc, char **argv);
