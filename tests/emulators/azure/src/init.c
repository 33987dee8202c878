/*
 * init.c - `azure-emu init` (in progress).
 */
#include <stdio.h>

#include "cmd.h"

int aemu_cmd_init(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "azure-emu init: not implemented yet\n");
    return 1;
}
