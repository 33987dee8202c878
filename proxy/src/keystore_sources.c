/*
 * keystore_sources.c - the table of key sources (STYLE.md rule 4). A new source is one file with
 * its configure/obtain/state_free functions and one row here.
 */
#include <stddef.h>
#include <string.h>

#include "keystore.h"

static const struct proxy_key_source SOURCES[] = {
    {
        .name = "ephemeral",
        .polaris_name = "ephemeral",
        .summary = "fresh RSA-4096 key generated at start (lost on restart)",
        .retryable = false,
        .configure = NULL,
        .obtain = proxy_key_ephemeral_obtain,
        .state_free = NULL,
    },
};

const struct proxy_key_source *proxy_key_source_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(SOURCES) / sizeof(SOURCES[0]); i++) {
        const struct proxy_key_source *s = &SOURCES[i];

        if (strcmp(s->name, name) == 0 ||
            (s->polaris_name != NULL && strcmp(s->polaris_name, name) == 0)) {
            return s;
        }
    }
    return NULL;
}

const struct proxy_key_source *proxy_key_source_at(size_t i)
{
    return i < sizeof(SOURCES) / sizeof(SOURCES[0]) ? &SOURCES[i] : NULL;
}
