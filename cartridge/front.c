/*
 * front.c - the compile front end: a user's file compiled in memory by
 * libtcc, with kanon's diagnostics. The cartridge compiles every deck's
 * code with it (compile.c adds the API's addresses); `kanon check` links
 * it too (cli/check.c), so a check is one light process that says exactly
 * what a deck would. It depends on libtcc and libc only (front.h).
 *
 * The file is read once and compiled from that snapshot with a leading
 * `#line 1 "<display>"`, so every diagnostic names the user's own file and
 * lines (there is no prelude: kanon.h is an ordinary include). Symbols
 * resolve against the table the caller gives (kanon's API) and then what
 * this process has loaded (libc, libm, nodes-c). libtcc keeps global
 * state, so a process compiles exactly once.
 */
#include "front.h"
#include "clock.h"
#include "contract.h"

#include <dlfcn.h>
#include <libgen.h>
#include <libtcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where kanon.h and kanon/NAME.h are: $KANON_INCLUDE_DIR, else include/ beside
 * the bin/ this executable is in (PREFIX/include installed, build/include
 * where `make` stages them), so no path of the checkout is compiled in.
 * Compiling precedes the sandbox, so /proc/self/exe is still readable. */
const char *kn_include_dir(void) {
    static char dir[4096];
    const char *env = getenv("KANON_INCLUDE_DIR");
    if (env && env[0]) return env;
    if (!dir[0]) {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        dir[n > 0 ? n : 0] = 0;
        for (int up = 0; up < 2; up++) { /* PREFIX/bin/kanon-cartridge -> PREFIX */
            char *slash = strrchr(dir, '/');
            if (slash) *slash = 0;
        }
        strncat(dir, "/include", sizeof dir - strlen(dir) - 1);
    }
    return dir;
}

typedef struct diag {
    char *buf;
    size_t len, cap;
    int errors;
    const char *file; /* the user's file as shown in messages */
} diag;

static void diag_add(diag *d, const char *msg) {
    size_t n = strlen(msg);
    if (d->len + n + 2 > d->cap) n = d->cap > d->len + 2 ? d->cap - d->len - 2 : 0;
    memcpy(d->buf + d->len, msg, n);
    d->len += n;
    if (d->len + 1 < d->cap) d->buf[d->len++] = '\n';
    d->buf[d->len] = 0;
}

/* Bytes one more diag_add can take without cutting (its newline and NUL
 * aside). */
static size_t diag_room(const diag *d) {
    return d->cap > d->len + 2 ? d->cap - d->len - 2 : 0;
}

/* Drops the last whole line. */
static void diag_drop_line(diag *d) {
    if (d->len) d->len--; /* its newline */
    while (d->len && d->buf[d->len - 1] != '\n') d->len--;
    d->buf[d->len] = 0;
}

/* Whether a message line starts with a location, "FILE:LINE:". */
static int has_location(const char *line) {
    const char *colon = strchr(line, ':');
    return colon && colon[1] >= '0' && colon[1] <= '9';
}

#define INCLUDED "In file included from "

/* libtcc reports errors and warnings here, one call per diagnostic: any
 * "In file included from" lines, then the message itself. A deep include
 * chain (a file including itself: hundreds of levels) is cut to its first
 * level and a count, and the message itself always gets in: the first
 * error pushes out earlier lines (warnings) and then the chain if the
 * buffer is short. Only "error" lines count. */
static void on_tcc_message(void *opaque, const char *msg) {
    diag *d = opaque;
    int error = strstr(msg, "error:") != NULL;
    d->errors += error;
    if (!strncmp(msg, "tcc: ", 5)) msg += 5;
    const char *last = msg, *nl; /* the message proper: the last line */
    int levels = 0;
    while ((nl = strchr(last, '\n')) && nl[1]) {
        levels += !strncmp(last, INCLUDED, strlen(INCLUDED));
        last = nl + 1;
    }
    char head[512] = "", line[1024];
    if (levels) { /* the outermost level: where the user's file starts the chain */
        int first = (int)strcspn(msg, "\n");
        int at = snprintf(head, sizeof head, "%.*s", first < 300 ? first : 300, msg);
        if (levels > 1)
            snprintf(head + at, sizeof head - (size_t)at, "\n(... %d more include levels ...)",
                     levels - 1);
    }
    /* Link errors carry no file: attach them to the user's file. */
    int n = (int)strcspn(last, "\n");
    if (d->file && !has_location(last) && strncmp(last, d->file, strlen(d->file)))
        snprintf(line, sizeof line, "%s: %.*s", d->file, n, last);
    else
        snprintf(line, sizeof line, "%.*s", n, last);
    size_t need = strlen(line) + (levels ? strlen(head) + 1 : 0);
    if (error && d->errors == 1)
        while (d->len && diag_room(d) < need) diag_drop_line(d);
    if (levels && diag_room(d) >= need) diag_add(d, head);
    diag_add(d, line);
}

static char *read_source(const char *path, const char *display, diag *d) {
    char m[512];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(m, sizeof m, "%s: error: cannot open: %m", display);
        diag_add(d, m);
        return NULL;
    }
    char *src = malloc(KN_SOURCE_MAX + 1);
    size_t n = src ? fread(src, 1, KN_SOURCE_MAX + 1, f) : 0;
    fclose(f);
    if (!src) return NULL;
    if (n > KN_SOURCE_MAX) {
        snprintf(m, sizeof m, "%s: error: file is larger than %u MiB", display,
                 KN_SOURCE_MAX >> 20);
        diag_add(d, m);
        free(src);
        return NULL;
    }
    if (memchr(src, 0, n)) {
        snprintf(m, sizeof m, "%s:1: error: not C source (the file contains NUL bytes)", display);
        diag_add(d, m);
        free(src);
        return NULL;
    }
    src[n] = 0;
    return src;
}

int kn_is_faust(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".dsp");
}

/* A display name safe to put inside a #line directive. */
void kn_line_name(const char *display, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; display[i] && j + 1 < n; i++)
        if (display[i] != '"' && display[i] != '\\' && display[i] != '\n') out[j++] = display[i];
    out[j] = 0;
}

/* The directory a file's own #include "..." and samples are found in. */
const char *kn_front_incdir(const char *path, const char *include_dir, char *buf, size_t n) {
    snprintf(buf, n, "%s", path);
    return include_dir ? include_dir : dirname(buf);
}

int kn_front_compile(kn_program *p, const char *path, const char *display, const char *include_dir,
                     char *text, const kn_symbol *syms, size_t nsyms, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    diag d = {err, 0, errlen, 0, NULL};
    err[0] = 0;
    uint64_t t0 = kn_mono_ns();
    char name[256], dir[4096];
    kn_line_name(display, name, sizeof name);
    d.file = name;
    const char *incdir = kn_front_incdir(path, include_dir, dir, sizeof dir);
    if (!text) {
        char *src = read_source(path, display, &d);
        if (!src) {
            while (d.len && d.buf[d.len - 1] == '\n') d.buf[--d.len] = 0;
            return -1;
        }
        size_t prefix_len = strlen(name) + 16, srclen = strlen(src);
        text = malloc(prefix_len + srclen + 1);
        if (!text) {
            free(src);
            return -1;
        }
        int off = snprintf(text, prefix_len, "#line 1 \"%s\"\n", name);
        memcpy(text + off, src, srclen + 1);
        free(src);
    }

    TCCState *s = tcc_new();
    tcc_set_error_func(s, &d, on_tcc_message);
    tcc_set_lib_path(s, KN_TCC_LIB_DIR);
    tcc_add_include_path(s, kn_include_dir()); /* <kanon.h>, <kanon/nodes.h> */
    tcc_add_include_path(s, incdir);
    tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
    int rc = tcc_compile_string(s, text);
    free(text);
    if (rc == 0) {
        for (size_t i = 0; i < nsyms; i++) tcc_add_symbol(s, syms[i].name, syms[i].addr);
        rc = tcc_relocate(s, TCC_RELOCATE_AUTO);
    }
    if (rc == 0) {
        p->process = (kn_process_fn)tcc_get_symbol(s, "process");
        p->setup = (kn_setup_fn)tcc_get_symbol(s, "setup");
        p->event = (kn_event_fn)tcc_get_symbol(s, "event"); /* optional, like setup() */
        if (!p->process) {
            char m[512];
            snprintf(m, sizeof m,
                     "%s:1: error: no process() function; define "
                     "void process(kn_ctx *k, float **out, int frames)",
                     name);
            diag_add(&d, m);
            rc = -1;
        }
    }
    if (rc < 0 || d.errors) {
        while (d.len && d.buf[d.len - 1] == '\n') d.buf[--d.len] = 0;
        tcc_delete(s);
        return -1;
    }
    p->tcc = s;
    p->compile_ms = (double)(kn_mono_ns() - t0) / 1e6;
    return 0;
}

void kn_program_free(kn_program *p) {
    if (p->tcc) tcc_delete(p->tcc);
    if (p->dl) dlclose(p->dl);
    p->tcc = p->dl = NULL;
}

void kn_compile_limit_text(char *buf, size_t n, const char *display, double seconds, int faust,
                           const char *how) {
    snprintf(buf, n,
             "%s: error: compiling took longer than its time limit of %g s (%s was still at "
             "work); raise the limit with %s",
             display, seconds, faust ? "faust" : "the C compiler", how);
}
