/*
 * args.c - the argument conventions shared by the commands that talk to a
 * conductor: positional arguments, a few known flags, numbers with ranges.
 *
 * A word starting with "-" followed by a digit or "." is a number, not a
 * flag, so `kanon gain sine -6` and `kanon pan sine -0.5` read naturally.
 * An unknown flag is an error rather than ignored: a typo such as --rmap
 * must not silently set something without the glide the user asked for.
 */
#include "input.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_flag(const char *s) {
    if (s[0] != '-' || !s[1]) return 0;
    return !(s[1] == '.' || (s[1] >= '0' && s[1] <= '9'));
}

/* --NAME VALUE or --NAME=VALUE: the value, or NULL if `s` is not --NAME. */
static const char *flag_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] || *i + 1 >= argc) return NULL;
    return argv[++*i];
}

/* A flag that takes a value: NULL if argv[*i] is not `name`, MISSING if
 * it is but the value is not there, else the value (also in *out). */
static const char MISSING[] = "";
static const char *value_flag(int argc, char **argv, int *i, const char *name, const char **out) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) || (argv[*i][n] && argv[*i][n] != '=')) return NULL;
    const char *v = flag_value(argc, argv, i, name);
    if (!v) return MISSING;
    *out = v;
    return v;
}

static int usage_error(const char *cmd, const char *msg) {
    fprintf(stderr, "kanon %s: error: %s\nusage: %s\n", cmd, msg, kn_usage(cmd));
    return KN_EXIT_ERR;
}

int kn_args_parse(kn_args *a, int argc, char **argv, unsigned opts, int minpos, int maxpos) {
    const char *cmd = argv[0];
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        char m[160];
        if (only_pos || !is_flag(argv[i])) {
            if (a->npos >= maxpos || a->npos >= KN_MAXPOS) {
                snprintf(m, sizeof m, "unexpected argument '%.60s'", argv[i]);
                return usage_error(cmd, m);
            }
            a->pos[a->npos++] = argv[i];
        } else if (!strcmp(argv[i], "--")) {
            only_pos = 1;
        } else if ((opts & KN_OPT_JSON) && !strcmp(argv[i], "--json")) {
            a->json = 1;
        } else if ((opts & KN_OPT_WATCH) && !strcmp(argv[i], "--watch")) {
            a->watch = 1;
        } else if ((opts & KN_OPT_FORCE) && !strcmp(argv[i], "--force")) {
            a->force = 1;
        } else if ((opts & KN_OPT_STEMS) && !strcmp(argv[i], "--stems")) {
            a->stems = 1;
        } else if ((opts & KN_OPT_DECK) && (v = value_flag(argc, argv, &i, "--deck", &a->deck))) {
            if (v == MISSING) return usage_error(cmd, "--deck needs NAME (a deck)");
        } else if ((opts & KN_OPT_RAMP) && !strncmp(argv[i], "--ramp", 6) &&
                   (argv[i][6] == 0 || argv[i][6] == '=')) {
            if (!(v = flag_value(argc, argv, &i, "--ramp")))
                return usage_error(cmd, "--ramp needs MS (milliseconds)");
            a->ramp = v;
        } else if ((opts & KN_OPT_QUANT) &&
                   (v = value_flag(argc, argv, &i, "--quant", &a->quant))) {
            if (v == MISSING) return usage_error(cmd, "--quant needs N (beats)");
        } else if ((opts & KN_OPT_AT) && (v = value_flag(argc, argv, &i, "--at", &a->at))) {
            if (v == MISSING) return usage_error(cmd, "--at needs BEAT");
        } else if ((opts & KN_OPT_BAR) && (v = value_flag(argc, argv, &i, "--bar", &a->bar))) {
            if (v == MISSING) return usage_error(cmd, "--bar needs N (beats per bar)");
        } else {
            snprintf(m, sizeof m, "unknown option '%.60s'", argv[i]);
            return usage_error(cmd, m);
        }
    }
    if (a->npos < minpos) return usage_error(cmd, "missing arguments");
    return KN_EXIT_OK;
}

int kn_parse_num(const char *cmd, const char *label, const char *s, double lo, double hi, int whole,
                 const char *unit, double *out) {
    char msg[300];
    if (!kn_number(label, s, lo, hi, whole, unit, out, msg, sizeof msg)) return KN_EXIT_OK;
    fprintf(stderr, "kanon %s: error: %s\n", cmd, msg);
    return KN_EXIT_ERR;
}

/* --ramp MS if given (ramp_ms stays -1 if not). */
int kn_parse_ramp(const kn_args *a, double max_ms, double *ramp_ms) {
    *ramp_ms = -1;
    if (!a->ramp) return KN_EXIT_OK;
    return kn_parse_num(a->cmd, "--ramp", a->ramp, 0, max_ms, 0, "ms", ramp_ms);
}

int kn_parse_quant(const kn_args *a, double *quant) {
    *quant = 0;
    if (!a->quant) return KN_EXIT_OK;
    return kn_parse_num(a->cmd, "--quant", a->quant, 0, 1024, 0, "beats", quant);
}
