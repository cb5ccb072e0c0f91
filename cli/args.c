/*
 * args.c - the argument conventions shared by the commands that talk to a
 * conductor: positional arguments, a few known flags, numbers with ranges.
 *
 * A word starting with "-" followed by a digit or "." is a number, not a
 * flag, so `kanon gain sine -6` and `kanon pan sine -0.5` read naturally.
 * An unknown flag is an error rather than ignored: a typo such as --rmap
 * must not silently set something without the glide the user asked for.
 */
#include "cli.h"

#include <math.h>
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
        } else if ((opts & KN_OPT_RAMP) && !strncmp(argv[i], "--ramp", 6) &&
                   (argv[i][6] == 0 || argv[i][6] == '=')) {
            if (!(v = flag_value(argc, argv, &i, "--ramp")))
                return usage_error(cmd, "--ramp needs MS (milliseconds)");
            a->ramp = v;
        } else {
            snprintf(m, sizeof m, "unknown option '%.60s'", argv[i]);
            return usage_error(cmd, m);
        }
    }
    if (a->npos < minpos) return usage_error(cmd, "missing arguments");
    return KN_EXIT_OK;
}

int kn_parse_num(const char *cmd, const char *label, const char *s, double lo, double hi,
                 const char *unit, double *out) {
    char range[80] = "";
    if (isfinite(lo) || isfinite(hi)) /* a bounded value: say the bounds up front */
        snprintf(range, sizeof range, "%s%s, %g..%g", *unit ? " of " : "", unit, lo, hi);
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "kanon %s: error: %s must be a number%s; got '%s'\n", cmd, label, range,
                s ? s : "");
        return KN_EXIT_ERR;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "kanon %s: error: %s %g is out of range: %g..%g%s%s\n", cmd, label, v, lo,
                hi, *unit ? " " : "", unit);
        return KN_EXIT_ERR;
    }
    *out = v;
    return KN_EXIT_OK;
}

/* --ramp MS if given (ramp_ms stays -1 if not). */
int kn_parse_ramp(const kn_args *a, double max_ms, double *ramp_ms) {
    *ramp_ms = -1;
    if (!a->ramp) return KN_EXIT_OK;
    return kn_parse_num(a->cmd, "--ramp", a->ramp, 0, max_ms, "ms", ramp_ms);
}
