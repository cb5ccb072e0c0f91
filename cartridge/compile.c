/*
 * compile.c - a deck's compile: the front end (front.c) with the
 * addresses of kanon's API (api.c, faust.c), after Faust's translation
 * for a .dsp file. Everything else (nodes-c, libm, libc) resolves against
 * what the cartridge has loaded.
 */
#include "cartridge.h"

#include <stdlib.h>

#define KN_SYMBOL_ADDR(f) {#f, (const void *)f},
static const kn_symbol api[] = {KN_API_SYMBOLS(KN_SYMBOL_ADDR)};

int kn_compile(kn_program *p, const char *path, const char *display, const char *include_dir,
               char *err, size_t errlen) {
    char *text = NULL;
    uint64_t t0 = kn_mono_ns();
    if (kn_is_faust(display) || kn_is_faust(path)) {
        char name[256], dir[4096];
        kn_line_name(display, name, sizeof name);
        text = kn_faust_source(path, name, kn_front_incdir(path, include_dir, dir, sizeof dir), err,
                               errlen);
        if (!text) return -1;
    }
    int rc = kn_front_compile(p, path, display, include_dir, text, api, sizeof api / sizeof *api,
                              err, errlen);
    if (!rc) p->compile_ms = (double)(kn_mono_ns() - t0) / 1e6; /* Faust's part included */
    return rc;
}
