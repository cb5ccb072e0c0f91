/*
 * offline.c - `kanon render`: no conductor, no device (`kanon check` is
 * check.c).
 *
 * It runs kanon-cartridge directly, so it uses exactly the compile and
 * block-render code of a live deck (same input, same output, bit for bit).
 * kanon-cartridge exits 2 for bad arguments, which for `kanon` would mean
 * "no conductor": the child's status is translated, so scripts can rely on
 * the CLI's exit codes for these commands too.
 */
#include "cli.h"
#include "contract.h"
#include "input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int kn_run_cartridge(char **argv) {
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/kanon-cartridge", kn_bindir());
    argv[0] = bin;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* `kanon` killed: the render stops (and cleans up) */
        execv(bin, argv);
        fprintf(stderr, "kanon: error: cannot run %s: %m\n", bin);
        _exit(KN_EXIT_INTERNAL);
    }
    int ws;
    if (pid < 0 || waitpid(pid, &ws, 0) != pid) {
        fprintf(stderr, "kanon: error: cannot run %s: %m\n", bin);
        return KN_EXIT_INTERNAL;
    }
    if (WIFSIGNALED(ws)) {
        char sig[128];
        fprintf(stderr, "kanon: error: %s was killed by %s\n", bin,
                kn_signal_text(WTERMSIG(ws), sig, sizeof sig));
        return KN_EXIT_INTERNAL;
    }
    int rc = WEXITSTATUS(ws);
    return rc == 0 || rc == 1 ? rc : rc == 2 ? KN_EXIT_ERR : KN_EXIT_INTERNAL;
}

/* kanon render FILE [options]  ->  kanon-cartridge render FILE [options] */
int cmd_render(int argc, char **argv) {
    /* the options that take a value (contract.h names them for both sides) */
    static const char *valued[] = {"-o",
                                   KN_ARG(KN_OPT_OUTPUT),
                                   KN_ARG(KN_OPT_SECONDS),
                                   KN_ARG(KN_OPT_RATE),
                                   KN_ARG(KN_OPT_CHANNELS),
                                   KN_ARG(KN_OPT_BLOCK),
                                   KN_ARG(KN_OPT_SET),
                                   KN_ARG(KN_OPT_BPM),
                                   KN_ARG(KN_OPT_BAR),
                                   KN_ARG(KN_OPT_EVENTS),
                                   KN_ARG(KN_OPT_START),
                                   KN_ARG(KN_OPT_INPUT),
                                   KN_ARG(KN_OPT_COMPILE_TIMEOUT),
                                   KN_ARG(KN_OPT_STATE_MB),
                                   KN_ARG(KN_OPT_TIER),
                                   KN_ARG(KN_OPT_VOICES)};
    const char *file = NULL;
    int has_out = 0, has_seconds = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        has_out |= !strncmp(a, "-o", 2) || !strncmp(a, KN_ARG(KN_OPT_OUTPUT), 8);
        has_seconds |= !strncmp(a, KN_ARG(KN_OPT_SECONDS), 9);
        int takes = 0; /* FILE: the first word that is neither an option nor its value */
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) takes |= !strcmp(a, valued[k]);
        if (takes)
            i++;
        else if (a[0] != '-' && !file)
            file = a;
    }
    if (!file) {
        fprintf(stderr, "kanon render: error: give a FILE.c (see `kanon render --help`)\n");
        return KN_EXIT_ERR;
    }
    /* Defaults: 10 seconds into STEM.wav beside the current directory. */
    char out[4096], stem[256];
    const char *base = strrchr(file, '/');
    snprintf(stem, sizeof stem, "%s", base ? base + 1 : file);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = 0;
    snprintf(out, sizeof out, "%s.wav", stem);
    char **a = calloc((size_t)argc + 8, sizeof *a);
    int n = 0;
    a[n++] = NULL;
    a[n++] = "render";
    for (int i = 1; i < argc; i++) a[n++] = argv[i];
    if (!has_out) a[n++] = "-o", a[n++] = out;
    if (!has_seconds) a[n++] = KN_ARG(KN_OPT_SECONDS), a[n++] = "10";
    int rc = kn_run_cartridge(a);
    free(a);
    return rc;
}
