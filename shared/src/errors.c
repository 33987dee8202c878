/*
 * errors.c - error table and the thread-local error state with its bounded cause chain.
 *
 * The chain is stored root first (frames[0] is the root cause) because frames are added while the
 * stack unwinds; rendering walks it backwards to print the outermost context first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>

#include "shd/errors.h"
#include "shd/safety.h"

struct shd_error_state {
    int code;
    const char *file;
    int line;
    enum shd_foreign_kind foreign_kind;
    unsigned long foreign_code;
    size_t nframes;
    char frames[SHD_ERROR_MAX_FRAMES][SHD_ERROR_FRAME_LEN];
    char location[SHD_ERROR_FRAME_LEN];
};

/* Thread-local by design: each worker thread reports its own failures (STYLE.md rule 15). */
static _Thread_local struct shd_error_state shd_err_state;

struct shd_error_row {
    int code;
    const char *text;
};

#define SHD_ERROR_TABLE_ROW(name, type, n, text) {name, text},
static const struct shd_error_row shd_error_rows[] = {SHD_ERROR_TABLE(SHD_ERROR_TABLE_ROW)};
#undef SHD_ERROR_TABLE_ROW

enum shd_error_type shd_error_type_of(int code)
{
    if (code == SHD_ERR_NONE) {
        return SHD_ERR_T_OK;
    }
    for (size_t i = 0; i < sizeof(shd_error_rows) / sizeof(shd_error_rows[0]); i++) {
        if (shd_error_rows[i].code == code) {
            return (enum shd_error_type)(code >> SHD_ERR_TYPE_SHIFT);
        }
    }
    return SHD_ERR_T_INTERNAL;
}

const char *shd_error_str(int code)
{
    if (code == SHD_ERR_NONE) {
        return "success";
    }
    for (size_t i = 0; i < sizeof(shd_error_rows) / sizeof(shd_error_rows[0]); i++) {
        if (shd_error_rows[i].code == code) {
            return shd_error_rows[i].text;
        }
    }
    return "unknown error";
}

const char *shd_error_type_str(enum shd_error_type type)
{
    switch (type) {
    case SHD_ERR_T_OK:
        return "OK";
    case SHD_ERR_T_USAGE:
        return "USAGE";
    case SHD_ERR_T_IO:
        return "IO";
    case SHD_ERR_T_RETRY:
        return "RETRY";
    case SHD_ERR_T_INPUT:
        return "INPUT";
    case SHD_ERR_T_CRYPTO:
        return "CRYPTO";
    case SHD_ERR_T_TPM:
        return "TPM";
    case SHD_ERR_T_INTERNAL:
        return "INTERNAL";
    default:
        return "UNKNOWN";
    }
}

shd_result shd_error_set(int code, const char *file, int line)
{
    struct shd_error_state *s = &shd_err_state;

    if (code == SHD_ERR_NONE) {
        shd_misuse_at(file, line, "shd_error_set with SHD_ERR_NONE");
    }
    s->code = code;
    s->file = file;
    s->line = line;
    s->foreign_kind = SHD_FOREIGN_NONE;
    s->foreign_code = 0;
    s->nframes = 0;
    return (shd_result){.err = code};
}

__attribute__((format(printf, 1, 0))) static void shd_error_root_vset(const char *fmt, va_list ap)
{
    struct shd_error_state *s = &shd_err_state;

    (void)vsnprintf(s->frames[0], sizeof(s->frames[0]), fmt, ap);
    s->nframes = 1;
}

shd_result shd_error_setf(int code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    shd_result r = shd_error_set(code, file, line);

    va_start(ap, fmt);
    shd_error_root_vset(fmt, ap);
    va_end(ap);
    return r;
}

void shd_error_set_foreign(enum shd_foreign_kind kind, unsigned long code)
{
    shd_err_state.foreign_kind = kind;
    shd_err_state.foreign_code = code;
}

void shd_error_wrapv(const char *fmt, va_list ap)
{
    struct shd_error_state *s = &shd_err_state;

    if (s->code == SHD_ERR_NONE) {
        return;
    }
    if (s->nframes == 0) {
        /* Materialise the implicit root (the code's text) so the chain stays complete. */
        (void)snprintf(s->frames[0], sizeof(s->frames[0]), "%s", shd_error_str(s->code));
        s->nframes = 1;
    }
    if (s->nframes >= SHD_ERROR_MAX_FRAMES) {
        return;
    }
    (void)vsnprintf(s->frames[s->nframes], sizeof(s->frames[0]), fmt, ap);
    s->nframes++;
}

void shd_error_wrap(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shd_error_wrapv(fmt, ap);
    va_end(ap);
}

int shd_error_code(void)
{
    return shd_err_state.code;
}

const char *shd_error_location(void)
{
    struct shd_error_state *s = &shd_err_state;

    if (s->code == SHD_ERR_NONE || s->file == NULL) {
        return "";
    }
    (void)snprintf(s->location, sizeof(s->location), "%s:%d", s->file, s->line);
    return s->location;
}

enum shd_foreign_kind shd_error_foreign(unsigned long *ret_code)
{
    if (ret_code != NULL) {
        *ret_code = shd_err_state.foreign_code;
    }
    return shd_err_state.foreign_kind;
}

size_t shd_error_render(char *buf, size_t n)
{
    const struct shd_error_state *s = &shd_err_state;
    size_t need = 0;

    if (n > 0) {
        buf[0] = '\0';
    }
    if (s->code == SHD_ERR_NONE) {
        return 0;
    }
    if (s->nframes == 0) {
        int w = snprintf(buf, n, "%s", shd_error_str(s->code));
        return w < 0 ? 0 : (size_t)w;
    }
    for (size_t i = s->nframes; i-- > 0;) {
        const char *sep = (i + 1 == s->nframes) ? "" : ": ";
        size_t off = need < n ? need : (n > 0 ? n - 1 : 0);
        int w = snprintf(n > 0 ? buf + off : NULL, n > off ? n - off : 0, "%s%s", sep,
                         s->frames[i]);
        if (w > 0) {
            need += (size_t)w;
        }
    }
    return need;
}

void shd_error_clear(void)
{
    struct shd_error_state *s = &shd_err_state;

    s->code = SHD_ERR_NONE;
    s->file = NULL;
    s->line = 0;
    s->foreign_kind = SHD_FOREIGN_NONE;
    s->foreign_code = 0;
    s->nframes = 0;
}

void shd_misuse_at(const char *file, int line, const char *msg)
{
    (void)fprintf(stderr, "%s:%d: misuse: %s\n", file, line, msg);
    abort();
}

shd_result shd_error_set_ossl(int code, const char *file, int line)
{
    /* The last queued error is the most specific; drain the rest so it cannot leak into the
     * next report. */
    unsigned long e = ERR_peek_last_error();
    char text[256] = "";
    shd_result r;

    if (e != 0) {
        ERR_error_string_n(e, text, sizeof(text));
    }
    ERR_clear_error();
    if (e == 0) {
        r = shd_error_set(code, file, line);
    } else {
        r = shd_error_setf(code, file, line, "%s", text);
    }
    shd_error_set_foreign(SHD_FOREIGN_OPENSSL, e);
    return r;
}

shd_result shd_error_set_errno(int code, int errnum, const char *file, int line)
{
    char text[128];
    shd_result r = shd_error_setf(code, file, line, "%s", strerror_r(errnum, text, sizeof(text)));

    shd_error_set_foreign(SHD_FOREIGN_ERRNO, (unsigned long)errnum);
    return r;
}

shd_result shd_error_set_curl(int code, int curl_code, const char *file, int line)
{
    shd_result r = shd_error_setf(code, file, line, "%s", curl_easy_strerror((CURLcode)curl_code));

    shd_error_set_foreign(SHD_FOREIGN_CURL, (unsigned long)curl_code);
    return r;
}

shd_result shd_error_set_tss(int code, unsigned long rc, const char *file, int line)
{
    /* Decoding TSS2 codes needs libtss2-rc; the component that links it may wrap with the text. */
    shd_result r = shd_error_setf(code, file, line, "TSS2 error 0x%lx", rc);

    shd_error_set_foreign(SHD_FOREIGN_TSS2, rc);
    return r;
}
