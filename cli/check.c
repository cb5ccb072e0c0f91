/*
 * check.c - `kanon check FILE.c`: compile only, in this process.
 *
 * A check is what an editor runs on every save, so it is one light
 * process: the cartridge's compile front end and check command
 * (cartridge/front.h: libtcc linked in statically, no libsndfile, no
 * nodes-c, no second process), the same words as a deck's compile. The
 * code is compiled and linked but never run, so the names it may call
 * resolve to a stand-in: kanon's API (KN_API_SYMBOLS) and every function
 * nodes-c exports (node_symbols.h, listed from the built library by the
 * Makefile); libc and libm resolve in this process, as in a cartridge.
 * A Faust file (.dsp) goes to kanon-cartridge, which runs the faust
 * compiler anyway.
 */
#include "cli.h"
#include "contract.h"
#include "front.h"
#include "input.h"

#include <stdio.h>
#include <string.h>

static void stand_in(void) {}

#define KN_SYMBOL_STAND_IN(f) {#f, (const void *)stand_in},
#define KN_NODE_SYMBOL(f)     KN_SYMBOL_STAND_IN(f)
static const kn_symbol names[] = {KN_API_SYMBOLS(KN_SYMBOL_STAND_IN)
#include "node_symbols.h"
};

static int check_compile(kn_program *p, const char *path, const char *display,
                         const char *include_dir, char *err, size_t errlen) {
    return kn_front_compile(p, path, display, include_dir, NULL, names,
                            sizeof names / sizeof *names, err, errlen);
}

int cmd_check(int argc, char **argv) {
    const char *timeout = NULL, *opt = KN_ARG(KN_OPT_COMPILE_TIMEOUT);
    int n = 0;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(opt);
        if (!strcmp(argv[i], opt)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kanon check: error: %s needs SECONDS\n", opt);
                return KN_EXIT_ERR;
            }
            timeout = argv[++i];
        } else if (!strncmp(argv[i], opt, len) && argv[i][len] == '=') {
            timeout = argv[i] + len + 1;
        } else {
            argv[n++] = argv[i];
        }
    }
    kn_args a;
    int st = kn_args_parse(&a, n, argv, KN_OPT_JSON, 1, 1);
    if (st) return st;
    double seconds = KN_COMPILE_TIMEOUT_DEFAULT;
    char msg[300];
    if (timeout &&
        kn_number(opt, timeout, 1, KN_COMPILE_TIMEOUT_MAX, 0, "", &seconds, msg, sizeof msg)) {
        fprintf(stderr, "kanon check: error: %s\n", msg);
        return KN_EXIT_ERR;
    }
    if (kn_is_faust(a.pos[0])) {
        char *cart[7] = {NULL, "check", (char *)a.pos[0]};
        int k = 3;
        if (a.json) cart[k++] = "--json";
        if (timeout) cart[k++] = (char *)opt, cart[k++] = (char *)timeout;
        return kn_run_cartridge(cart);
    }
    kn_check_opts o = {a.pos[0], a.pos[0], NULL, a.json, seconds, (size_t)1 << 30};
    return kn_check(&o, check_compile);
}
