/*
 * main.c - kanon-cartridge's command line. Users reach it through `kanon
 * check` and `kanon render`; the conductor starts it in live mode.
 *
 *   kanon-cartridge check  FILE [--display NAME] [--compile-timeout S] [--json]
 *   kanon-cartridge render FILE -o OUT --seconds S [--rate R] [--channels C]
 *                          [--block B] [--set NAME=VALUE]... [--display NAME]
 *                          [--bpm BPM] [--bar N] [--start BEAT] [--events EV.json]
 *                          [--input IN.wav]
 *                          [--compile-timeout S] [--state-mb MB] [--force] [--json]
 * With --json, check and render print one JSON object on stdout (also on
 * a compile error, then with the diagnostics split into file, line,
 * column and message) instead of their line of text. A compile that
 * overruns --compile-timeout (default 10 s, faust included) is a compile
 * error that says so. A render's state may use --state-mb MiB (default
 * 256), as a live deck's may grow to.
 *   kanon-cartridge live   FILE --instance I --deck N --id ID --report-fd FD
 *                          [--display NAME] [--include DIR] [--hide DIR]...
 *                          [--compile-timeout S] [--state-mb MB]
 *                          with the deck's segments open at KN_FD_SEG(kind)
 *   kanon-cartridge spare  started ahead of need by the conductor: waits for
 *                          one message on its job socket (stdin), a JSON
 *                          array of `live`'s arguments with the deck's
 *                          segment descriptors attached, then runs exactly
 *                          like `live`. Saves the exec and dynamic linking
 *                          on a swap.
 *
 * Exit status: 0 ok, 1 the user's code is wrong (compile error), 2 usage,
 * 3 internal failure (e.g. shared memory missing).
 */
#include "cartridge.h"
#include "input.h"
#include "segment.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
    const char *mode, *file, *display, *out, *instance, *include_dir, *events, *input;
    const char *so; /* live: the cc tier's build */
    int tier_tcc;   /* render --tier tcc */
    double seconds, rate, bpm, start;
    int bar;
    int channels, block, deck, report_fd;
    uint32_t id;
    const char *sets[KN_MAX_PARAMS];
    int nsets, restore, json, force;
    const char *hide[8];
    int nhide;
    double compile_seconds, mem_mb, state_mb;
} opts;

/* Every number on the command line: finite, in lo..hi, whole where asked;
 * else a message naming the option and exit 2 (usage). */
static double num(const opts *o, const char *what, double lo, double hi, int whole) {
    char msg[300];
    double v;
    if (kn_number(what, optarg, lo, hi, whole, "", &v, msg, sizeof msg)) {
        fprintf(stderr, "kanon %s: error: %s\n", o->mode, msg);
        exit(2);
    }
    return v;
}

static void parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {
        {KN_OPT_DISPLAY, 1, 0, 'd'},  {KN_OPT_OUTPUT, 1, 0, 'o'},
        {KN_OPT_SECONDS, 1, 0, 's'},  {KN_OPT_RATE, 1, 0, 'r'},
        {KN_OPT_CHANNELS, 1, 0, 'c'}, {KN_OPT_BLOCK, 1, 0, 'b'},
        {KN_OPT_SET, 1, 0, 'S'},      {KN_OPT_BPM, 1, 0, 'P'},
        {KN_OPT_BAR, 1, 0, 'B'},      {KN_OPT_EVENTS, 1, 0, 'E'},
        {KN_OPT_START, 1, 0, 'T'},    {KN_OPT_INSTANCE, 1, 0, 'I'},
        {KN_OPT_DECK, 1, 0, 'D'},     {KN_OPT_ID, 1, 0, 'i'},
        {KN_OPT_REPORT, 1, 0, 'f'},   {KN_OPT_INCLUDE, 1, 0, 'n'},
        {KN_OPT_RESTORE, 0, 0, 'R'},  {KN_OPT_COMPILE_TIMEOUT, 1, 0, 'C'},
        {KN_OPT_STATE_MB, 1, 0, 'm'}, {KN_OPT_VOICES, 1, 0, 'V'},
        {"mem-mb", 1, 0, 'M'},        {"json", 0, 0, 'j'},
        {KN_OPT_HIDE, 1, 0, 'h'},     {"force", 0, 0, 'F'},
        {KN_OPT_INPUT, 1, 0, 'A'},    {KN_OPT_SO, 1, 0, 'O'},
        {KN_OPT_TIER, 1, 0, 't'},     {0, 0, 0, 0}};
    *o = (opts){.rate = 48000,
                .channels = 2,
                .block = 64,
                .bpm = KN_BPM_DEFAULT,
                .bar = KN_BAR_DEFAULT,
                .seconds = -1,
                .report_fd = -1,
                .compile_seconds = KN_COMPILE_TIMEOUT_DEFAULT,
                .state_mb = KN_STATE_MB_DEFAULT,
                .mem_mb = 1024};
    if (argc < 3) usage();
    o->mode = argv[1];
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o->display = optarg; break;
        case 'o': o->out = optarg; break;
        case 's': o->seconds = num(o, "--seconds", 0, 86400, 0); break;
        case 'r': o->rate = num(o, "--rate", 8000, 384000, 1); break;
        case 'c': o->channels = (int)num(o, "--channels", 1, KN_MAX_CHANNELS, 1); break;
        case 'b': o->block = (int)num(o, "--block", 1, 8192, 1); break;
        case 'P': o->bpm = num(o, KN_ARG(KN_OPT_BPM), KN_BPM_MIN, KN_BPM_MAX, 0); break;
        case 'B': o->bar = (int)num(o, KN_ARG(KN_OPT_BAR), 1, KN_BAR_MAX, 1); break;
        case 'E': o->events = optarg; break;
        case 'A': o->input = optarg; break;
        case 'O': o->so = optarg; break;
        case 't':
            if (strcmp(optarg, KN_TIER_TCC) && strcmp(optarg, KN_TIER_AUTO)) {
                fprintf(stderr, "kanon %s: error: --tier is tcc or auto, not '%s'\n", o->mode,
                        optarg);
                exit(2);
            }
            o->tier_tcc = !strcmp(optarg, KN_TIER_TCC);
            break;
        case 'T': o->start = num(o, KN_ARG(KN_OPT_START), 0, 1e9, 0); break;
        case 'I': o->instance = optarg; break;
        case 'D': o->deck = (int)num(o, "--deck", 0, KN_MAX_DECKS - 1, 1); break;
        case 'i': o->id = (uint32_t)num(o, "--id", 1, 4294967295.0, 1); break;
        case 'f': o->report_fd = (int)num(o, "--report-fd", 0, 1 << 20, 1); break;
        case 'n': o->include_dir = optarg; break;
        case 'R': o->restore = 1; break;
        case 'j': o->json = 1; break;
        case 'F': o->force = 1; break;
        case 'C':
            o->compile_seconds =
                num(o, KN_ARG(KN_OPT_COMPILE_TIMEOUT), 1, KN_COMPILE_TIMEOUT_MAX, 0);
            break;
        case 'm': o->state_mb = num(o, KN_ARG(KN_OPT_STATE_MB), 1, KN_STATE_MB_MAX, 0); break;
        case 'V': /* a Faust program's polyphony: read where the program is (faust.c) */
            kn_faust_set_voices((int)num(o, KN_ARG(KN_OPT_VOICES), 0, KN_VOICES_OPT_MAX, 1));
            break;
        case 'M': o->mem_mb = num(o, "--mem-mb", 64, 65536, 0); break;
        case 'S':
            if (o->nsets < KN_MAX_PARAMS) o->sets[o->nsets++] = optarg;
            break;
        case 'h':
            if (o->nhide >= (int)(sizeof o->hide / sizeof *o->hide)) usage();
            o->hide[o->nhide++] = optarg;
            break;
        default: usage();
        }
    }
    if (optind != argc - 1) usage();
    o->file = argv[optind];
    if (!o->display) o->display = o->file;
}

static void report_render(const opts *o, const char *out, const kn_program *p, const kn_cart *c,
                          const kn_render_stats *st, const kn_infile *in) {
    double x = st->wall_s > 0 ? o->seconds / st->wall_s : 0;
    double xp = st->process_s > 0 ? o->seconds / st->process_s : 0;
    if (!o->json) {
        fprintf(stderr,
                "rendered %s: %.3f s, %d Hz, %d ch, %s tier, compile %.2f ms, %.0fx real time "
                "(process %.0fx)%s\n",
                out, o->seconds, (int)c->ctx.rate, c->ctx.channels,
                p->dl ? KN_TIER_CC : KN_TIER_TCC, p->compile_ms, x, xp,
                st->nonfinite ? ", NaN/Inf samples replaced by 0" : "");
        if (o->events && st->late)
            fprintf(stderr,
                    "events: %" PRIu64 " applied, %" PRIu64
                    " of them before --start (applied at its first sample)\n",
                    st->events, st->late);
        else if (o->events)
            fprintf(stderr, "events: %" PRIu64 " applied at their exact frames\n", st->events);
        if (in)
            fprintf(stderr, "input: %s, %" PRIu64 " frames, %d channel%s%s\n", o->input,
                    kn_infile_frames(in), kn_infile_channels(in),
                    kn_infile_channels(in) == 1 ? "" : "s",
                    kn_infile_channels(in) == 1 && c->ctx.channels > 1 ? " (into every channel)"
                                                                       : "");
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
    cJSON_AddStringToObject(r, KN_OPT_TIER, p->dl ? KN_TIER_CC : KN_TIER_TCC);
    cJSON_AddNumberToObject(r, "realtime_x", x);
    cJSON_AddNumberToObject(r, "process_x", xp);
    cJSON_AddNumberToObject(r, "nonfinite", (double)st->nonfinite);
    cJSON_AddNumberToObject(r, "bpm", o->bpm);
    cJSON_AddNumberToObject(r, "bar", o->bar);
    cJSON_AddNumberToObject(r, "start", o->start);
    cJSON_AddNumberToObject(r, "events", (double)st->events);
    cJSON_AddNumberToObject(r, "late", (double)st->late);
    if (in) {
        cJSON_AddStringToObject(r, "input", o->input);
        cJSON_AddNumberToObject(r, "input_frames", (double)kn_infile_frames(in));
        cJSON_AddNumberToObject(r, "input_channels", kn_infile_channels(in));
    }
    kn_json_line(r);
}

/* An error that is the input's, not the code's (the events file): on
 * stderr, or with --json as {"ok": false, "error": ...}. Exit status 1. */
static int report_input_error(const opts *o, const char *msg) {
    if (!o->json) {
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", 0);
    cJSON_AddStringToObject(r, "file", o->display);
    cJSON_AddStringToObject(r, "error", msg);
    kn_json_line(r);
    return 1;
}

/* Offline: private memory laid out like the deck segments. */
static int run_render(const opts *o) {
    if (!o->out || o->seconds < 0) {
        fputs("kanon render: error: need -o OUT.wav and --seconds S\n", stderr);
        return 2;
    }
    const char *refusal =
        kn_same_file(o->file, o->out) ? "is the file being rendered" : kn_overwrite_refusal(o->out);
    if (refusal && !o->force) {
        fprintf(stderr,
                "kanon render: error: %s %s; refusing to overwrite it (choose another name, "
                "or --force)\n",
                o->out, refusal);
        return 2;
    }
    size_t flen = strlen(o->file);
    if (flen > 5 && !strcmp(o->file + flen - 5, ".json")) { /* a session */
        kn_session_opts so = {.path = o->file,
                              .out = o->out,
                              .input = o->input,
                              .seconds = o->seconds,
                              .rate = o->rate,
                              .start = o->start,
                              .channels = o->channels,
                              .block = o->block,
                              .state_mb = o->state_mb,
                              .compile_seconds = o->compile_seconds,
                              .mem_mb = o->mem_mb,
                              .hide = o->hide,
                              .nhide = o->nhide,
                              .quiet = o->json};
        return kn_session_render(&so);
    }
    /* The state as large as a live deck's may grow (--state-mb): calloc
     * maps it lazily, so only what the program uses costs memory. */
    size_t state_bytes = (size_t)(o->state_mb * 1048576);
    kn_state_seg *state = calloc(1, state_bytes);
    kn_param_seg *params = calloc(1, sizeof *params);
    kn_cart c;
    if (!state || !params || kn_cart_init(&c, o->rate, o->channels, o->block)) return 3;
    kn_state_format(state, state_bytes, KN_SEG_STATE);
    kn_param_format(params);
    for (int i = 0; i < o->nsets; i++) {
        char name[KN_NAME_MAX], label[KN_NAME_MAX + 8], msg[300];
        const char *eq = strchr(o->sets[i], '=');
        size_t n = eq ? (size_t)(eq - o->sets[i]) : 0;
        double v;
        if (!eq || n == 0 || n >= KN_NAME_MAX) {
            fprintf(stderr, "kanon render: error: --set wants NAME=NUMBER, got '%s'\n", o->sets[i]);
            return 2;
        }
        memcpy(name, o->sets[i], n);
        name[n] = 0;
        snprintf(label, sizeof label, "--set %s", name);
        if (kn_number(label, eq + 1, -INFINITY, INFINITY, 0, "", &v, msg, sizeof msg)) {
            fprintf(stderr, "kanon render: error: %s\n", msg);
            return 2;
        }
        if (kn_param_preset(params, name, v)) {
            fprintf(stderr,
                    "kanon render: error: --set %s: not a parameter name, or more than %d --set\n",
                    name, KN_MAX_PARAMS);
            return 2;
        }
    }
    c.id = 1;
    c.display = o->display;
    /* The timeline: one tempo from frame 0 (beat 0); the render's first
     * sample is at the beat --start, the first frame at or past it. */
    c.tempo.seg[0].bpm = c.tempo.seg[0].bpm_to = o->bpm;
    c.tempo.seg[0].bar = (uint32_t)o->bar;
    c.epoch = (int64_t)kn_tempo_beat_frame(&c.tempo, o->rate, o->start);
    char err[8192];
    /* read before the compile: the sandbox comes with it */
    kn_events *events = NULL;
    if (o->events && !(events = kn_events_load(o->events, &c.tempo, o->rate, err, sizeof err)))
        return report_input_error(o, err);
    kn_infile *input = NULL; /* the deck's port "in" (infile.c) */
    if (o->input && !(input = kn_infile_open(&c, o->input, err, sizeof err)))
        return report_input_error(o, err);
    kn_program prog;
    size_t mem = (size_t)(o->mem_mb * 1048576);
    if (mem < 2 * state_bytes + ((size_t)512 << 20)) mem = 2 * state_bytes + ((size_t)512 << 20);
    kn_sandbox_fpu(); /* as in live mode: the same samples */
    kn_arm_compile_alarm(o->display, o->compile_seconds, o->json);
    kn_sandbox_compile_limits(o->compile_seconds, mem);
    if (kn_compile(&prog, o->file, o->display, o->include_dir, err, sizeof err))
        return kn_report_compile_error(o->display, err, o->json);
    char why[2048];
    /* the optimized tier unless --tier tcc; tcc's diagnostics came first.
     * The compile's deadline is tcc's: cc has its own, and falls back */
    kn_sandbox_deadline(0);
    if (!o->tier_tcc &&
        !kn_render_tier(&prog, o->file, o->display, o->compile_seconds, why, sizeof why))
        fprintf(stderr, "kanon render: note: rendering with tcc: %s\n", why);
    kn_sandbox_run_limits(mem);
    if (kn_sandbox_enter(o->hide, o->nhide, -1, why, sizeof why))
        fprintf(stderr, "kanon render: note: sandbox incomplete: %s\n", why);
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
    c.state_cap = state_bytes;
    c.state_option = "kanon render --state-mb";
    kn_cart_bind(&c, &prog, state, state_bytes, params);
    /* parameter names are known once setup() has declared them */
    if (events && kn_events_bind(events, &c, err, sizeof err)) {
        kn_events_free(events);
        return report_input_error(o, err);
    }
    size_t nev;
    const kn_ev_slot *ev = kn_events_slots(events, &nev);
    kn_render_stats st;
    int rc = kn_render_file(&prog, &c, o->seconds, out, ev, nev, &st) ? 1 : 0;
    if (!rc) report_render(o, out, &prog, &c, &st, input);
    kn_infile_close(input);
    kn_events_free(events);
    kn_program_free(&prog);
    kn_cart_free(&c);
    free(state);
    free(params);
    return rc;
}

/* Where the job's i-th descriptor goes: the deck's four segments, the
 * routes segment, then every source's ring (contract.h). */
static int job_fd_target(int i) {
    return i < KN_SEG_KINDS    ? KN_FD_SEG(KN_SEG_RING + i)
           : i == KN_SEG_KINDS ? KN_FD_ROUTES
                               : KN_FD_SRC(i - KN_SEG_KINDS - 1);
}

/* Moves the descriptors that came with the job to their places: first
 * above every target (a received one may already sit on a target), then
 * down. */
static int place_segments(const int *fds, int n) {
    int high[KN_JOB_FDS];
    if (n != KN_JOB_FDS) return -1;
    for (int i = 0; i < n; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, KN_FD_FIRST_FREE);
        close(fds[i]);
        if (high[i] < 0) return -1;
    }
    for (int i = 0; i < n; i++) {
        if (dup2(high[i], job_fd_target(i)) < 0) return -1;
        close(high[i]);
    }
    return 0;
}

/* Spare mode: block on the job socket for the job, then parse it as live
 * arguments. The socket is closed and stdin is /dev/null afterwards. */
static int wait_for_job(opts *o) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return -1;
    static char line[KN_JOB_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(int) * KN_JOB_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {line, sizeof line - 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t got = recvmsg(KN_FD_JOB, &mh, MSG_CMSG_CLOEXEC);
    if (got <= 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return -1;
    line[got] = 0;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) return -1;
    int fds[KN_JOB_FDS];
    int nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (nfds != KN_JOB_FDS) return -1;
    memcpy(fds, CMSG_DATA(cm), sizeof fds);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, KN_FD_JOB) < 0) return -1; /* the socket goes */
    close(devnull);
    if (place_segments(fds, nfds)) return -1;
    cJSON *a = cJSON_Parse(line);
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > KN_JOB_ARGS) return -1;
    static char *argv[KN_JOB_ARGS + 3];
    argv[0] = "kanon-cartridge";
    argv[1] = KN_MODE_LIVE;
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
    /* A live cartridge keeps only what kanon_shm.h says it starts with. */
    int live = argc >= 2 && (!strcmp(argv[1], KN_MODE_SPARE) || !strcmp(argv[1], KN_MODE_LIVE));
    if (live) syscall(SYS_close_range, KN_FD_FIRST_FREE, ~0u, 0);
    if (argc == 2 && !strcmp(argv[1], KN_MODE_SPARE)) {
        if (wait_for_job(&o)) return 0;
    } else {
        parse(argc, argv, &o);
    }
    kn_fatal_hook = print_fatal;
    if (!strcmp(o.mode, "check")) {
        kn_check_opts c = {o.file, o.display,         o.include_dir,
                           o.json, o.compile_seconds, (size_t)(o.mem_mb * 1048576)};
        return kn_check(&c, kn_compile);
    }
    if (!strcmp(o.mode, "render")) return run_render(&o);
    if (!strcmp(o.mode, KN_MODE_CC)) {
        if (!o.out) usage();
        setpriority(PRIO_PROCESS, 0, 10); /* below the decks: a background job */
        kn_cc_exec(o.file, o.display, o.include_dir, o.out, o.compile_seconds);
    }
    if (!strcmp(o.mode, KN_MODE_LIVE)) {
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
                           .so = o.so,
                           .test_blocks = 16,
                           .restore = o.restore,
                           .compile_seconds = o.compile_seconds,
                           .state_cap = (uint64_t)(o.state_mb * 1048576),
                           .mem_bytes = (size_t)(o.mem_mb * 1048576),
                           .hide = o.hide,
                           .nhide = o.nhide};
        return kn_live_run(&lo);
    }
    usage();
    return 2;
}
