/*
 * flags.c - Go flag-package semantics over a table of flags (STYLE.md rule 4).
 */
#include "flags.h"

#include <string.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/parse.h"
#include "shd/safety.h"

enum flag_kind {
    FLAG_STRING = 0, /* takes a value; stored as a string */
    FLAG_BOOL,       /* Go bool flag: "-x", "-x=true" */
};

struct flag_def {
    const char *name;
    enum flag_kind kind;
    const char *type_name; /* shown in the usage text, Go style */
    const char *def;       /* default shown in the usage text, NULL for none */
    const char *usage;
    shd_result (*set)(const char *value, struct skr_options *opts);
};

static shd_result set_str(char **field, const char *value)
{
    char *copy = shd_strdup(value);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    shd_free(*field);
    *field = copy;
    return SHD_OK;
}

static shd_result set_base64(const char *v, struct skr_options *o)
{
    return set_str(&o->base64, v);
}

static shd_result set_loglevel(const char *v, struct skr_options *o)
{
    return set_str(&o->loglevel, v);
}

static shd_result set_logfile(const char *v, struct skr_options *o)
{
    return set_str(&o->logfile, v);
}

static shd_result set_port(const char *v, struct skr_options *o)
{
    /* Validated later like the original, where a bad port only fails at listen time. */
    return set_str(&o->port_str, v);
}

static shd_result set_server_type(const char *v, struct skr_options *o)
{
    return set_str(&o->server_type, v);
}

static shd_result set_socket(const char *v, struct skr_options *o)
{
    SHD_ENSURE_MSG(v[0] == '/', SHD_ERR_INPUT, "must be an absolute path");
    return set_str(&o->socket_path, v);
}

static shd_result set_socket_mode(const char *v, struct skr_options *o)
{
    uint64_t mode = 0;
    SHD_GUARD_CTX(shd_parse_uint(v, 8, 0777, &mode), "octal mode expected");
    SHD_ENSURE_MSG((mode & 0007u) == 0, SHD_ERR_INPUT, "mode must not grant access to others");
    o->socket_mode = (mode_t)mode;
    return SHD_OK;
}

/* A comma-separated list of decimal ids, appended to ids. */
static shd_result set_id_list(const char *v, uint32_t *ids, size_t *n)
{
    SHD_CLEANUP_FREE char *copy = shd_strdup(v);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        uint64_t id = 0;
        SHD_GUARD_CTX(shd_parse_uint(p, 10, UINT32_MAX - 1u, &id), "numeric id expected");
        SHD_ENSURE_MSG(*n < SKR_MAX_ALLOW_IDS, SHD_ERR_TOO_LARGE, "more than %u ids",
                       SKR_MAX_ALLOW_IDS);
        ids[(*n)++] = (uint32_t)id;
        if (comma == NULL) {
            return SHD_OK;
        }
        p = comma + 1;
    }
}

_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "uid_t is 32 bits");
_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");

static shd_result set_allow_uid(const char *v, struct skr_options *o)
{
    return set_id_list(v, (uint32_t *)o->allow_uids, &o->nallow_uids);
}

static shd_result set_allow_gid(const char *v, struct skr_options *o)
{
    return set_id_list(v, (uint32_t *)o->allow_gids, &o->nallow_gids);
}

/* strconv.ParseBool */
static shd_result parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *ret = true;
            return SHD_OK;
        }
        if (strcmp(v, no[i]) == 0) {
            *ret = false;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_INPUT, "parse error");
}

static shd_result set_tcb(const char *v, struct skr_options *o)
{
    return parse_bool(v, &o->allow_testing_mismatched_tcb);
}

static shd_result set_help(const char *v, struct skr_options *o)
{
    return parse_bool(v, &o->help);
}

static shd_result set_version(const char *v, struct skr_options *o)
{
    return parse_bool(v, &o->version);
}

static shd_result set_tcp(const char *v, struct skr_options *o)
{
    return parse_bool(v, &o->tcp);
}

static shd_result set_wrap(const char *v, struct skr_options *o)
{
    (void)v;
    (void)o;
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "the offline wrap mode (-infile/-keypath/-outfile) is "
                                      "not supported yet");
}

static const struct flag_def FLAGS[] = {
    {"allow-gid", FLAG_STRING, "string", NULL,
     "comma-separated gids allowed on the Unix socket (SO_PEERCRED); repeatable", set_allow_gid},
    {"allow-uid", FLAG_STRING, "string", NULL,
     "comma-separated uids allowed on the Unix socket (SO_PEERCRED); repeatable", set_allow_uid},
    {"allowTestingMismatchedTCB", FLAG_BOOL, "", NULL,
     "For TESTING purposes only. Corrupts the TCB value", set_tcb},
    {"base64", FLAG_STRING, "string", NULL,
     "base64-encoded json string with azure information", set_base64},
    {"h", FLAG_BOOL, "", NULL, "show this help", set_help},
    {"help", FLAG_BOOL, "", NULL, "show this help", set_help},
    {"infile", FLAG_STRING, "string", NULL, "offline wrap mode (not supported yet)", set_wrap},
    {"keypath", FLAG_STRING, "string", NULL, "offline wrap mode (not supported yet)", set_wrap},
    {"logfile", FLAG_STRING, "string", NULL,
     "Logging Target: An optional file name/path. Omit for console output.", set_logfile},
    {"loglevel", FLAG_STRING, "string", "warning",
     "Logging Level: trace, debug, info, warning, error, fatal, panic.", set_loglevel},
    {"outfile", FLAG_STRING, "string", NULL, "offline wrap mode (not supported yet)", set_wrap},
    {"port", FLAG_STRING, "string", "8080", "Port on which to listen (on 127.0.0.1 only)",
     set_port},
    {"server_type", FLAG_STRING, "string", "http",
     "Server type (http or grpc; grpc is not supported yet)", set_server_type},
    {"socket", FLAG_STRING, "string", NULL,
     "also serve the API on this Unix-domain socket (e.g. /run/skr/skr.sock)", set_socket},
    {"socket-mode", FLAG_STRING, "string", "0660", "octal file mode of the Unix socket",
     set_socket_mode},
    {"tcp", FLAG_BOOL, "", "true",
     "listen on 127.0.0.1:<port>; -tcp=false serves the API on the -socket only", set_tcp},
    {"version", FLAG_BOOL, "", NULL, "print the version and exit", set_version},
};

static const struct flag_def *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(FLAGS) / sizeof(FLAGS[0]); i++) {
        if (strlen(FLAGS[i].name) == len && strncmp(FLAGS[i].name, name, len) == 0) {
            return &FLAGS[i];
        }
    }
    return NULL;
}

static shd_result options_defaults(struct skr_options *o)
{
    SHD_GUARD(set_str(&o->port_str, "8080"));
    SHD_GUARD(set_str(&o->loglevel, "warning"));
    SHD_GUARD(set_str(&o->server_type, "http"));
    o->socket_mode = 0660;
    o->tcp = true;
    return SHD_OK;
}

/* One argument (a flag); *ret_used_next says whether the value was the next argument. */
static shd_result parse_one(const char *arg, const char *next, struct skr_options *o,
                            bool *ret_used_next)
{
    const char *name = arg + 1;
    if (*name == '-') {
        name++;
    }
    /* Go: "bad flag syntax" for "---x", "-=x" and "--=" */
    SHD_ENSURE_MSG(*name != '\0' && *name != '-' && *name != '=', SHD_ERR_USAGE,
                   "bad flag syntax: %s", arg);
    const char *eq = strchr(name, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct flag_def *f = flag_find(name, name_len);
    SHD_ENSURE_MSG(f != NULL, SHD_ERR_USAGE, "flag provided but not defined: -%.*s",
                   (int)name_len, name);
    const char *value = eq != NULL ? eq + 1 : NULL;
    *ret_used_next = false;
    if (f->kind == FLAG_BOOL) {
        shd_result r = f->set(value != NULL ? value : "true", o);
        if (shd_is_err(r)) {
            SHD_BAIL_MSG(SHD_ERR_USAGE, "invalid boolean value \"%s\" for -%s: parse error",
                         value != NULL ? value : "true", f->name);
        }
        return SHD_OK;
    }
    if (value == NULL) {
        SHD_ENSURE_MSG(next != NULL, SHD_ERR_USAGE, "flag needs an argument: -%s", f->name);
        value = next;
        *ret_used_next = true;
    }
    shd_result r = f->set(value, o);
    if (shd_is_err(r)) {
        char cause[SHD_ERROR_FRAME_LEN];
        (void)shd_error_render(cause, sizeof(cause));
        if (r.err == SHD_ERR_NOMEM) {
            return r;
        }
        SHD_BAIL_MSG(SHD_ERR_USAGE, "invalid value \"%s\" for flag -%s: %s", value, f->name,
                     cause);
    }
    return SHD_OK;
}

void skr_options_clear(struct skr_options *o)
{
    if (o == NULL) {
        return;
    }
    shd_free(o->base64);
    shd_free(o->port_str);
    shd_free(o->loglevel);
    shd_free(o->logfile);
    shd_free(o->server_type);
    shd_free(o->socket_path);
    shd_memzero(o, sizeof(*o));
}

static shd_result options_finish(struct skr_options *o)
{
    /* Without either listener the sidecar would serve nobody. */
    SHD_ENSURE_MSG(o->tcp || o->socket_path != NULL, SHD_ERR_USAGE,
                   "-tcp=false needs -socket: there would be no listener");
    if (strcmp(o->server_type, "grpc") == 0) {
        o->server = SKR_SERVER_GRPC;
    } else {
        o->server = SKR_SERVER_HTTP; /* like the original: anything else is HTTP */
    }
    return SHD_OK;
}

shd_result skr_flags_parse(int argc, const char *const argv[], struct skr_options *ret_opts)
{
    SHD_ENSURE_REF(argv);
    SHD_ENSURE_REF(ret_opts);
    SHD_CLEANUP(skr_options_clear) struct skr_options o = {0};
    SHD_GUARD(options_defaults(&o));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg == NULL || arg[0] != '-' || arg[1] == '\0') {
            break; /* first positional argument: Go stops here */
        }
        if (strcmp(arg, "--") == 0) {
            break;
        }
        bool used_next = false;
        SHD_GUARD(parse_one(arg, i + 1 < argc ? argv[i + 1] : NULL, &o, &used_next));
        if (used_next) {
            i++;
        }
    }
    SHD_GUARD(options_finish(&o));
    *ret_opts = o;
    shd_memzero(&o, sizeof(o));
    return SHD_OK;
}

void skr_flags_usage(const char *argv0, FILE *out)
{
    (void)fprintf(out, "Usage of %s:\n", argv0 != NULL ? argv0 : "skr");
    for (size_t i = 0; i < sizeof(FLAGS) / sizeof(FLAGS[0]); i++) {
        const struct flag_def *f = &FLAGS[i];
        if (f->type_name[0] != '\0') {
            (void)fprintf(out, "  -%s %s\n", f->name, f->type_name);
        } else {
            (void)fprintf(out, "  -%s\n", f->name);
        }
        if (f->def != NULL && f->kind == FLAG_BOOL) {
            /* Go prints a boolean default bare: (default true). */
            (void)fprintf(out, "    \t%s (default %s)\n", f->usage, f->def);
        } else if (f->def != NULL) {
            (void)fprintf(out, "    \t%s (default \"%s\")\n", f->usage, f->def);
        } else {
            (void)fprintf(out, "    \t%s\n", f->usage);
        }
    }
}
