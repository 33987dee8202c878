/*
 * gemu_cmd.h - the gcp-emu subcommands dispatched by main.c's table (STYLE.md rule 4).
 *
 * Each subcommand receives argv starting at its own name (argv[0] == "init") and returns a
 * process exit status: 0 success, 1 runtime failure, 2 usage error. Each prints its own help for
 * --help and logs its own errors once, to stderr.
 */
#pragma once

/* gcp-emu init --state DIR [...]: creates the PKI, service keys and the WIF/IAM/KMS defaults. */
int gemu_cmd_init(int argc, char **argv);

/* gcp-emu serve --state DIR [--vtpm] [...]: serves until SIGTERM/SIGINT, then exits 0. */
int gemu_cmd_serve(int argc, char **argv);
