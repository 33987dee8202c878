/*
 * init_cmd.c - command line of `gcp-emu init` (an option table, STYLE.md rule 4).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gemu_cmd.h"
#include "init.h"
#include "shd/errors.h"
#include "shd/safety.h"

struct init_option {
    const char *name;
    size_t offset; /* of the const char * field in struct gemu_init_opts; SIZE_MAX: a flag */
    const char *help;
};

static const struct init_option init_options[] = {
    {"--state", offsetof(struct gemu_init_opts, state_dir), "DIR  state directory (required)"},
    {"--project-id", offsetof(struct gemu_init_opts, project_id),
     "ID  project id (default " GEMU_DEFAULT_PROJECT_ID ")"},
    {"--project-number", offsetof(struct gemu_init_opts, project_number),
     "N  project number (default " GEMU_DEFAULT_PROJECT_NUMBER ")"},
    {"--zone", offsetof(struct gemu_init_opts, zone), "ZONE  (default " GEMU_DEFAULT_ZONE ")"},
    {"--instance-id", offsetof(struct gemu_init_opts, instance_id),
     "N  VM instance id (default " GEMU_DEFAULT_INSTANCE_ID ")"},
    {"--instance-name", offsetof(struct gemu_init_opts, instance_name),
     "NAME  VM name (default " GEMU_DEFAULT_INSTANCE_NAME ")"},
    {"--force", SIZE_MAX, "      allow a non-empty state directory (files are overwritten)"},
};

static void init_usage(FILE *out)
{
    fprintf(out, "Usage: gcp-emu init --state DIR [options]\n\nOptions:\n");
    for (size_t i = 0; i < sizeof(init_options) / sizeof(init_options[0]); i++) {
        fprintf(out, "  %s %s\n", init_options[i].name, init_options[i].help);
    }
}

int gemu_cmd_init(int argc, char **argv)
{
    struct gemu_init_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            init_usage(stdout);
            return 0;
        }
        const struct init_option *opt = NULL;
        for (size_t k = 0; k < sizeof(init_options) / sizeof(init_options[0]); k++) {
            if (strcmp(argv[i], init_options[k].name) == 0) {
                opt = &init_options[k];
            }
        }
        if (opt == NULL) {
            fprintf(stderr, "gcp-emu init: unknown option '%s'\n", argv[i]);
            init_usage(stderr);
            return 2;
        }
        if (opt->offset == SIZE_MAX) {
            o.force = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gcp-emu init: %s needs a value\n", argv[i]);
            return 2;
        }
        *(const char **)(void *)((char *)&o + opt->offset) = argv[++i];
    }
    if (o.state_dir == NULL) {
        fprintf(stderr, "gcp-emu init: --state DIR is required\n");
        init_usage(stderr);
        return 2;
    }
    shd_result r = gemu_init_run(&o);
    if (shd_is_err(r)) {
        char msg[2048];
        (void)shd_error_render(msg, sizeof(msg));
        fprintf(stderr, "gcp-emu init: %s\n", msg);
        return shd_error_type_of(r.err) == SHD_ERR_T_USAGE ? 2 : 1;
    }
    printf("gcp-emu init: state written to %s\n", o.state_dir);
    return 0;
}
