/*
 * tier.c - the second tier: the same source built by the system C compiler
 * (`cc -O2`) as a shared object, loaded, and compared with its tcc build.
 *
 * libtcc makes a save audible within milliseconds, but its code is slow.
 * The conductor therefore compiles a version that took over with tcc once
 * more with cc, in a child process under limits (kn_cc_exec, run as
 * `kanon-cartridge cc`), and a new cartridge takes over like a save with
 * the shared object (live.c, --so). `kanon render` does the same in
 * process (kn_cc_build) unless `--tier tcc`.
 *
 * The build. `cc -O2 -fPIC -shared -ffp-contract=off` (no fast-math: the
 * samples follow C's rules, as tcc's do; no FMA contraction, which would
 * round differently), the include path the tcc build has (kanon.h, the
 * patch's directory), -Wl,-Bsymbolic so the object's own functions never
 * bind to a same-named symbol of the cartridge, which is linked -rdynamic
 * so the object's calls into kanon's API and nodes-c resolve. The
 * compiler runs under limits that stop a compiler bomb (a macro expanding
 * without end) on its own: CPU time (the compile limit), address space
 * (KN_CC_MEM_MB) and the size of any file it writes (KN_CC_FILE_MB); in a
 * new user and network namespace (no network), with its temporary files
 * in the caller's private directory, in its own process group (the
 * conductor kills the group: cc1, as and ld die with cc).
 *
 * The comparison (kn_tier_compare). Both builds render the same frames
 * from the same private copy of the state and parameters (their setup()
 * run on the copy, inputs silent); the cartridge reports whether they
 * agree sample for sample, and if not, how far apart they are (the largest
 * difference, the first frame that differs). The conductor takes over with
 * no fade when they agree: the successor continues exactly where the
 * predecessor stopped.
 */
#include "cartridge.h"
#include "input.h"
#include "segment.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void cc_limit(int what, rlim_t v) {
    struct rlimit r = {v, v};
    setrlimit(what, &r);
}

/* No network for the compiler: a new network namespace (inside a new user
 * namespace when not root). Where neither is allowed it runs without one:
 * the rlimits still hold. */
static void cc_no_network(void) {
    if (unshare(CLONE_NEWNET) == 0) return;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) return;
    char map[64];
    int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, "deny", 4);
        (void)w;
        close(fd);
    }
    const char *files[2] = {"/proc/self/uid_map", "/proc/self/gid_map"};
    unsigned ids[2] = {(unsigned)uid, (unsigned)gid};
    for (int i = 0; i < 2; i++) {
        int len = snprintf(map, sizeof map, "%u %u 1", ids[i], ids[i]);
        fd = open(files[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t w = write(fd, map, (size_t)len);
        (void)w;
        close(fd);
    }
}

/* The source with `#line 1 "display"` in front, into `copy`: 0 or -1. */
static int line_copy(const char *src, const char *display, const char *copy) {
    char name[256];
    kn_line_name(display, name, sizeof name);
    FILE *in = fopen(src, "rb"), *out = fopen(copy, "wb");
    int ok = in && out && fprintf(out, "#line 1 \"%s\"\n", name) > 0;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out)) ok = 0;
    return ok ? 0 : -1;
}

void kn_cc_exec(const char *src, const char *display, const char *include_dir, const char *so,
                double seconds) {
    char tmp[4096], copy[4200], *slash;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    setpgid(0, 0); /* cc, cc1, as, ld: one group, killed together */
    cc_limit(RLIMIT_CPU, (rlim_t)ceil(seconds));
    cc_limit(RLIMIT_AS, (rlim_t)KN_CC_MEM_MB << 20);
    cc_limit(RLIMIT_FSIZE, (rlim_t)KN_CC_FILE_MB << 20);
    cc_limit(RLIMIT_CORE, 0);
    cc_no_network();
    snprintf(tmp, sizeof tmp, "%s", so); /* cc's temporary files beside the object */
    slash = strrchr(tmp, '/');
    if (slash) *slash = 0;
    setenv("TMPDIR", slash ? tmp : ".", 1);
    snprintf(copy, sizeof copy, "%s/patch.c", slash ? tmp : ".");
    if (line_copy(src, display, copy)) {
        fprintf(stderr, "cannot copy %s for the C compiler: %s\n", display, strerror(errno));
        _exit(1);
    }
    const char *cc = getenv("KANON_CC");
    if (!cc || !cc[0]) cc = "cc";
    char *argv[] = {(char *)cc,
                    "-O2",
                    "-fPIC",
                    "-shared",
                    "-ffp-contract=off",
                    "-w",
                    "-I",
                    (char *)kn_include_dir(),
                    "-I",
                    (char *)(include_dir ? include_dir : "."),
                    "-x",
                    "c",
                    copy,
                    "-x",
                    "none",
                    "-o",
                    (char *)so,
                    "-Wl,-Bsymbolic",
                    "-lm",
                    NULL};
    execvp(cc, argv);
    fprintf(stderr, "cannot run %s: %s (install a C compiler, or use --tier tcc)\n", cc,
            strerror(errno));
    _exit(127);
}

/* The last line of the compiler's output (its verdict), in `out`. */
static void last_line(const char *text, char *out, size_t n) {
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') len--;
    size_t start = len;
    while (start && text[start - 1] != '\n') start--;
    snprintf(out, n, "%.*s", (int)(len - start), text + start);
}

int kn_cc_build(const char *src, const char *display, const char *include_dir, const char *so,
                double seconds, char *err, size_t errlen) {
    int pipefd[2];
    if (pipe(pipefd)) {
        snprintf(err, errlen, "%s: cannot start the C compiler: %s", display, strerror(errno));
        return -1;
    }
    pid_t pid = fork(); /* no threads in a cartridge: fork is safe */
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        kn_cc_exec(src, display, include_dir, so, seconds);
    }
    close(pipefd[1]);
    static char msgs[16384];
    size_t got = 0;
    ssize_t r = 1;
    /* its output until it ends, for `seconds` of wall-clock time at most (a
     * compiler stopped or starved is given up, not waited for) */
    uint64_t end = kn_mono_ns() + (uint64_t)(seconds * 1e9);
    int late = 0;
    while (pid > 0 && r > 0 && !late) {
        uint64_t now = kn_mono_ns();
        struct pollfd pf = {pipefd[0], POLLIN, 0};
        late = now >= end || poll(&pf, 1, (int)((end - now) / 1000000) + 1) == 0;
        if (!late && (r = read(pipefd[0], msgs + got, sizeof msgs - 1 - got)) > 0) got += (size_t)r;
        if (got >= sizeof msgs - 1) got = 0; /* a flood: only its end matters */
    }
    msgs[got] = 0;
    close(pipefd[0]);
    if (late) kill(-pid, SIGKILL);
    siginfo_t si; /* ended (not reaped yet: its pid, the group's id, stays ours) */
    if (pid > 0 && !waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT)) kill(-pid, SIGKILL);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) {
        snprintf(err, errlen, "%s: cannot start the C compiler: %s", display, strerror(errno));
        return -1;
    }
    if (!late && WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    char line[1024], sig[96];
    last_line(msgs, line, sizeof line);
    if (WIFSIGNALED(st))
        snprintf(err, errlen,
                 "%s: the C compiler was killed by %s (its limits: %g s of CPU, %d MiB)", display,
                 kn_signal_text(WTERMSIG(st), sig, sizeof sig), seconds, KN_CC_MEM_MB);
    else
        snprintf(err, errlen, "%s: the C compiler failed (status %d): %s", display, WEXITSTATUS(st),
                 line[0] ? line : "no message");
    return -1;
}

int kn_program_load(kn_program *p, const char *so, const char *display, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    uint64_t t0 = kn_mono_ns();
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s: error: cannot load its cc build: %s", display, dlerror());
        return -1;
    }
    p->process = (kn_process_fn)dlsym(h, "process");
    p->setup = (kn_setup_fn)dlsym(h, "setup");
    p->event = (kn_event_fn)dlsym(h, "event");
    if (!p->process) {
        snprintf(err, errlen, "%s: error: its cc build has no process()", display);
        dlclose(h);
        return -1;
    }
    p->dl = h;
    p->compile_ms = (double)(kn_mono_ns() - t0) / 1e6;
    return 0;
}

/* Renders `frames` frames of p from the copy (state, params) at `frame`,
 * interleaved into out. */
static void render_copy(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t bytes,
                        kn_param_seg *params, uint64_t frame, int frames, float *out) {
    int ch = c->ctx.channels, block = c->ctx.block;
    kn_cart_bind_private(c, p, state, bytes, bytes, params);
    for (int done = 0; done < frames; done += block) {
        kn_render_block(c, p, frame + (uint64_t)done);
        for (int i = 0; i < block && done + i < frames; i++)
            for (int k = 0; k < ch; k++) out[(size_t)(done + i) * ch + k] = c->out[k][i];
    }
}

int kn_tier_compare(kn_cart *c, const kn_program *a, const kn_program *b, const kn_state_seg *state,
                    size_t bytes, kn_param_seg *params, uint64_t frame, int frames,
                    kn_tier_diff *d) {
    memset(d, 0, sizeof *d);
    d->first = -1;
    size_t n = (size_t)frames * (size_t)c->ctx.channels;
    kn_state_seg *base = calloc(1, bytes);
    kn_param_seg *pbase = malloc(sizeof *pbase);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int rc = -1;
    if (base && pbase && x && y) {
        if (kn_state_valid(state, bytes))
            memcpy(base, state, state->heap_offset + state->heap_used);
        else
            kn_state_format(base, bytes, KN_SEG_STATE);
        memcpy(pbase, params, offsetof(kn_param_seg, evq));
        kn_evq_copy(&pbase->evq, &params->evq);
        void (*fill)(kn_cart *, uint64_t, int) = c->fill;
        c->fill = NULL; /* the builds are compared, not the inputs of two moments */
        render_copy(c, a, base, bytes, pbase, frame, frames, x);
        render_copy(c, b, base, bytes, pbase, frame, frames, y);
        c->fill = fill;
        for (size_t i = 0; i < n; i++) {
            if (!memcmp(&x[i], &y[i], sizeof x[i])) continue;
            double diff = fabs((double)x[i] - (double)y[i]);
            if (d->first < 0) d->first = (int64_t)(i / (size_t)c->ctx.channels);
            if (diff > d->max || isnan(diff)) d->max = isnan(diff) ? INFINITY : diff;
        }
        d->frames = frames;
        rc = 0;
    }
    free(base);
    free(pbase);
    free(x);
    free(y);
    return rc;
}

int kn_render_tier(kn_program *p, const char *src, const char *display, double seconds, char *note,
                   size_t n) {
    char dir[4096], so[4200], inc[4096];
    note[0] = 0;
    if (kn_is_faust(display) || kn_is_faust(src)) {
        snprintf(note, n, "Faust code runs on the tcc tier");
        return 0;
    }
    int rc = kn_private_dir(dir, sizeof dir);
    if (rc) {
        snprintf(note, n, "no private directory for the cc build: %s", strerror(-rc));
        return 0;
    }
    snprintf(so, sizeof so, "%s/patch.so", dir);
    snprintf(inc, sizeof inc, "%s", src); /* the patch's directory, as tcc has it */
    char *slash = strrchr(inc, '/');
    if (!slash)
        snprintf(inc, sizeof inc, ".");
    else
        slash[slash == inc] = 0; /* "/patch.c": the root */
    kn_program cc;
    char err[2048];
    rc = kn_cc_build(src, display, inc, so, seconds, err, sizeof err) ||
         kn_program_load(&cc, so, display, err, sizeof err);
    kn_private_dir_remove(dir); /* loaded: the mapping outlives the file */
    if (rc) {
        snprintf(note, n, "%s", err);
        return 0;
    }
    cc.compile_ms = p->compile_ms;
    kn_program_free(p);
    *p = cc;
    return 1;
}
