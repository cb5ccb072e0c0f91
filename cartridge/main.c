/*
 * main.c - kanon-cartridge's command line. Users reach it through `kanon
 * check` and `kanon render`; the conductor starts it in live mode.
 *
 *   kanon-cartridge check  FILE [--display NAME] [--json]
 *   kanon-cartridge render FILE -o OUT --seconds S [--rate R] [--channels C]
 *                          [--block B] [--set NAME=VALUE]... [--display NAME]
 *                          [--json]
 * With --json, check and render print one JSON object on stdout (also on
 * a compile error, then with the diagnostics split into file, line,
 * column and message) instead of their line of text.
 *   kanon-cartridge live   FILE --instance I --deck N --id ID --report-fd FD
 *                          [--display NAME] [--include DIR]
 *   kanon-cartridge spare  started ahead of need by the conductor: waits for
 *                          one line on stdin, a JSON array of `live`'s
 *                          arguments, then runs exactly like `live`. Saves
 *                          the exec and dynamic linking on a swap.
 *
 * Exit status: 0 ok, 1 the user's code is wrong (compile error), 2 usage,
 * 3 internal failure (e.g. shared memory missing).
 */
#include "cartridge.h"
#include "priority.h"
#include "segment.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/prctl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_RENDER_BYTES (16u << 20)

static void usage(void) {
    fputs("usage: kanon-cartridge check FILE | render FILE -o OUT --seconds S [options] |\n"
          "       live FILE --instance I --deck N --id ID --report-fd FD\n",
          stderr);
    exit(2);
}

static void print_fatal(const char *msg) {
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

typedef struct opts {
    const char *mode, *file, *display, *out, *instance, *include_dir;
    double seconds, rate;
    int channels, block, deck, report_fd;
    uint32_t id;
    const char *sets[KN_MAX_PARAMS];
    int nsets, restore, json, no_realtime;
    double compile_seconds, mem_mb;
} opts;

static double num(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) {
        fprintf(stderr, "kanon: error: %s must be a number, got '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {{"display", 1, 0, 'd'},
                                       {"output", 1, 0, 'o'},
                                       {"seconds", 1, 0, 's'},
                                       {"rate", 1, 0, 'r'},
                                       {"channels", 1, 0, 'c'},
                                       {"block", 1, 0, 'b'},
                                       {"set", 1, 0, 'S'},
                                       {"instance", 1, 0, 'I'},
                                       {"deck", 1, 0, 'D'},
                                       {"id", 1, 0, 'i'},
                                       {"report-fd", 1, 0, 'f'},
                                       {"include", 1, 0, 'n'},
                                       {"restore", 0, 0, 'R'},
                                       {"compile-seconds", 1, 0, 'C'},
                                       {"mem-mb", 1, 0, 'M'},
                                       {"json", 0, 0, 'j'},
                                       {KN_ARG_NO_REALTIME + 2, 0, 0, 'N'},
                                       {0, 0, 0, 0}};
    *o = (opts){.rate = 48000,
                .channels = 2,
                .block = 64,
                .seconds = -1,
                .report_fd = -1,
                .compile_seconds = 10,
                .mem_mb = 1024};
    if (argc < 3) usage();
    o->mode = argv[1];
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o->display = optarg; break;
        case 'o': o->out = optarg; break;
        case 's': o->seconds = num(optarg, "--seconds"); break;
        case 'r': o->rate = num(optarg, "--rate"); break;
        case 'c': o->channels = (int)num(optarg, "--channels"); break;
        case 'b': o->block = (int)num(optarg, "--block"); break;
        case 'I': o->instance = optarg; break;
        case 'D': o->deck = (int)num(optarg, "--deck"); break;
        case 'i': o->id = (uint32_t)num(optarg, "--id"); break;
        case 'f': o->report_fd = (int)num(optarg, "--report-fd"); break;
        case 'n': o->include_dir = optarg; break;
        case 'R': o->restore = 1; break;
        case 'j': o->json = 1; break;
        case 'N': o->no_realtime = 1; break;
        case 'C': o->compile_seconds = num(optarg, "--compile-seconds"); break;
        case 'M': o->mem_mb = num(optarg, "--mem-mb"); break;
        case 'S':
            if (o->nsets < KN_MAX_PARAMS) o->sets[o->nsets++] = optarg;
            break;
        default: usage();
        }
    }
    if (optind != argc - 1) usage();
    o->file = argv[optind];
    if (!o->display) o->display = o->file;
}

static int check_geometry(const opts *o) {
    if (o->rate < 8000 || o->rate > 384000 || o->channels < 1 || o->channels > KN_MAX_CHANNELS ||
        o->block < 1 || o->block > 8192) {
        fprintf(stderr,
                "kanon: error: need 8000 <= rate <= 384000, 1 <= channels <= %d, "
                "1 <= block <= 8192\n",
                KN_MAX_CHANNELS);
        return -1;
    }
    return 0;
}

/* One line of compiler output, "PATH:LINE[:COL]: KIND: MESSAGE", as an
 * object; NULL for a line of another shape (e.g. "In file included"). */
static cJSON *diagnostic(const char *line, size_t len) {
    static const char *kinds[] = {"error", "warning", "note"};
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        char tag[16];
        snprintf(tag, sizeof tag, ": %s: ", kinds[k]);
        char *at = strstr(buf, tag);
        if (!at) continue;
        *at = 0; /* buf is now PATH:LINE[:COL]; the numbers are read from the end */
        long nums[2] = {0, 0};
        int n = 0;
        char *colon;
        while (n < 2 && (colon = strrchr(buf, ':')) && colon[1] >= '0' && colon[1] <= '9' &&
               colon[1 + strspn(colon + 1, "0123456789")] == 0) {
            nums[n++] = strtol(colon + 1, NULL, 10);
            *colon = 0;
        }
        if (n == 0) return NULL;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "file", buf);
        cJSON_AddNumberToObject(d, "line", (double)nums[n - 1]);
        if (n == 2) cJSON_AddNumberToObject(d, "column", (double)nums[0]);
        cJSON_AddStringToObject(d, "kind", kinds[k]);
        cJSON_AddStringToObject(d, "message", at + strlen(tag));
        return d;
    }
    return NULL;
}

/* Prints o (and frees it) as the one line of --json output. */
static void print_json(cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    if (text) puts(text);
    free(text);
    cJSON_Delete(o);
}

/* A compile failure: the compiler's text on stderr, or with --json an
 * object with every diagnostic line split into its parts. */
static int report_compile_error(const opts *o, const char *err) {
    if (!o->json) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    cJSON *r = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddBoolToObject(r, "ok", 0);
    cJSON_AddStringToObject(r, "file", o->display);
    for (const char *line = err; *line;) {
        size_t len = strcspn(line, "\n");
        cJSON *d = diagnostic(line, len);
        if (d) cJSON_AddItemToArray(list, d);
        line += len + (line[len] == '\n');
    }
    cJSON_AddItemToObject(r, "diagnostics", list);
    cJSON_AddStringToObject(r, "text", err);
    print_json(r);
    return 1;
}

static void report_render(const opts *o, const char *out, const kn_program *p, const kn_cart *c,
                          const kn_render_stats *st) {
    double x = st->wall_s > 0 ? o->seconds / st->wall_s : 0;
    double xp = st->process_s > 0 ? o->seconds / st->process_s : 0;
    if (!o->json) {
        fprintf(stderr,
                "rendered %s: %.3f s, %d Hz, %d ch, compile %.2f ms, %.0fx real time "
                "(process %.0fx)%s\n",
                out, o->seconds, (int)c->ctx.rate, c->ctx.channels, p->compile_ms, x, xp,
                st->nonfinite ? ", NaN/Inf samples replaced by 0" : "");
        return;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", 1);
    cJSON_AddStringToObject(r, "file", o->display);
    cJSON_AddStringToObject(r, "output", out);
    cJSON_AddNumberToObject(r, "seconds", o->seconds);
    cJSON_AddNumberToObject(r, "frames", (double)st->frames);
    cJSON_AddNumberToObject(r, "rate", c->ctx.rate);
    cJSON_AddNumberToObject(r, "channels", c->ctx.channels);
    cJSON_AddNumberToObject(r, "block", c->ctx.block);
    cJSON_AddNumberToObject(r, "compile_ms", p->compile_ms);
    cJSON_AddNumberToObject(r, "realtime_x", x);
    cJSON_AddNumberToObject(r, "process_x", xp);
    cJSON_AddNumberToObject(r, "nonfinite", (double)st->nonfinite);
    print_json(r);
}

/* Offline: private memory laid out like the deck segments. */
static int run_render(const opts *o) {
    if (!o->out || o->seconds < 0) {
        fputs("kanon render: error: need -o OUT.wav and --seconds S\n", stderr);
        return 2;
    }
    if (check_geometry(o)) return 2;
    kn_state_seg *state = calloc(1, STATE_RENDER_BYTES);
    kn_param_seg *params = calloc(1, sizeof *params);
    kn_cart c;
    if (!state || !params || kn_cart_init(&c, o->rate, o->channels, o->block)) return 3;
    kn_state_format(state, STATE_RENDER_BYTES, KN_SEG_STATE);
    kn_param_format(params);
    for (int i = 0; i < o->nsets; i++) {
        char name[KN_NAME_MAX];
        const char *eq = strchr(o->sets[i], '=');
        size_t n = eq ? (size_t)(eq - o->sets[i]) : 0;
        char *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || n == 0 || n >= KN_NAME_MAX || end == eq + 1 || *end ||
            (memcpy(name, o->sets[i], n), name[n] = 0, kn_param_preset(params, name, v))) {
            fprintf(stderr, "kanon render: error: --set wants NAME=NUMBER, got '%s'\n", o->sets[i]);
            return 2;
        }
    }
    c.id = 1;
    c.display = o->display;
    kn_program prog;
    char err[8192];
    size_t mem = (size_t)(o->mem_mb * 1048576);
    kn_sandbox_fpu(); /* as in live mode: the same samples */
    kn_sandbox_compile_limits(o->compile_seconds, mem);
    if (kn_compile(&prog, o->file, o->display, o->include_dir, err, sizeof err))
        return report_compile_error(o, err);
    kn_sandbox_run_limits(mem);
    kn_sandbox_seccomp();
    /* As live: relative paths in the code (samples) mean the patch's
     * directory; the output path keeps meaning the caller's. */
    char out[8192], dir[4096];
    if (o->out[0] == '/' || !getcwd(out, sizeof out - strlen(o->out) - 2))
        snprintf(out, sizeof out, "%s", o->out);
    else
        strcat(strcat(out, "/"), o->out);
    snprintf(dir, sizeof dir, "%s", o->file);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (chdir(dir[0] ? dir : "/")) perror("kanon render: cannot enter the patch's directory");
    }
    kn_cart_bind(&c, &prog, state, STATE_RENDER_BYTES, params);
    kn_render_stats st;
    int rc = kn_render_file(&prog, &c, o->seconds, out, &st) ? 1 : 0;
    if (!rc) report_render(o, out, &prog, &c, &st);
    kn_program_free(&prog);
    kn_cart_free(&c);
    free(state);
    free(params);
    return rc;
}

static int run_check(const opts *o) {
    kn_program prog;
    char err[8192];
    kn_sandbox_compile_limits(o->compile_seconds, (size_t)(o->mem_mb * 1048576));
    if (kn_compile(&prog, o->file, o->display, o->include_dir, err, sizeof err))
        return report_compile_error(o, err);
    if (o->json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddBoolToObject(r, "ok", 1);
        cJSON_AddStringToObject(r, "file", o->display);
        cJSON_AddNumberToObject(r, "compile_ms", prog.compile_ms);
        cJSON_AddBoolToObject(r, "setup", prog.setup != NULL);
        print_json(r);
    } else {
        printf("%s: ok (compiled in %.2f ms%s)\n", o->display, prog.compile_ms,
               prog.setup ? "" : ", no setup()");
    }
    kn_program_free(&prog);
    return 0;
}

/* Spare mode: block on stdin for the job, then parse it as live arguments. */
static int wait_for_job(opts *o) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return -1;
    static char line[1 << 16];
    if (!fgets(line, sizeof line, stdin)) return -1;
    cJSON *a = cJSON_Parse(line);
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > 60) return -1;
    static char *argv[64];
    argv[0] = "kanon-cartridge";
    argv[1] = "live";
    for (int i = 0; i < n; i++) {
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(a, i));
        if (!s) return -1;
        argv[i + 2] = strdup(s);
    }
    argv[n + 2] = NULL;
    cJSON_Delete(a);
    parse(n + 2, argv, o);
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    if (argc == 2 && !strcmp(argv[1], "spare")) {
        if (wait_for_job(&o)) return 0;
    } else {
        parse(argc, argv, &o);
    }
    kn_fatal_hook = print_fatal;
    if (!strcmp(o.mode, "check")) return run_check(&o);
    if (!strcmp(o.mode, "render")) return run_render(&o);
    if (!strcmp(o.mode, "live")) {
        char inst[KN_NAME_MAX];
        if (kn_instance(o.instance, inst) || o.deck < 0 || o.deck >= KN_MAX_DECKS || !o.id ||
            o.report_fd < 0)
            usage();
        kn_live_opts lo = {.instance = inst,
                           .deck = o.deck,
                           .id = o.id,
                           .report_fd = o.report_fd,
                           .path = o.file,
                           .display = o.display,
                           .include_dir = o.include_dir,
                           .test_blocks = 16,
                           .restore = o.restore,
                           .compile_seconds = o.compile_seconds,
                           .mem_bytes = (size_t)(o.mem_mb * 1048576),
                           .no_realtime = o.no_realtime};
        return kn_live_run(&lo);
    }
    usage();
    return 2;
}
