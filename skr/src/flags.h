/*
 * flags.h - the command line, parsed with the semantics of Go's flag package (the original is a
 * Go program, skr-sidecar.md §1.2): "-x v", "-x=v", "--x v", "--x=v"; booleans "-x" or "-x=true"
 * (never "-x true"); parsing stops at the first non-flag argument or after "--"; the last of
 * repeated flags wins (except -allow-uid/-allow-gid, which accumulate).
 */
#pragma once

#include <stdio.h>

#include "shd/result.h"
#include "skr.h"

/*
 * Parses argv[1..argc) into *ret_opts (defaults first: port 8080, loglevel warning, server_type
 * http, socket mode 0660). On SHD_ERR_USAGE the message is the one Go prints ("flag provided
 * but not defined: -x", "flag needs an argument: -port", "invalid boolean value \"x\" for
 * -allowTestingMismatchedTCB: parse error", ...); ret_opts is then untouched. "-h", "-help",
 * "--help" set ret_opts->help, "-version"/"--version" set ret_opts->version. Release with
 * skr_options_clear.
 */
SHD_RESULT skr_flags_parse(int argc, const char *const argv[], struct skr_options *ret_opts);

/* Frees the strings of *opts and zeroes it (NULL is fine). */
void skr_options_clear(struct skr_options *opts);

/* Writes the usage text (Go's flag.PrintDefaults layout) to out. */
void skr_flags_usage(const char *argv0, FILE *out);
