/*
 * optimize.c - the second tier: once a version plays on its tcc build, the
 * conductor compiles the same source with the system C compiler, and a new
 * cartridge takes over with that build like a save (a tier swap). tcc
 * makes a save audible in milliseconds; cc -O2 code runs two to three
 * times faster a moment later.
 *
 * One small state machine per deck (kn_deck.opt):
 *
 *   state     event                         what it does                 next
 *   IDLE      tcc version took over (auto)  private dir, spawn the       BUILDING
 *                                           compiler
 *   BUILDING  compiler exited 0             (the build is kept)          READY
 *   READY     the deck is quiet (below)     tier swap: the same version  LOADING
 *                                           (origin "optimize", --so)
 *   BUILDING  compiler failed or overran    log why (the tcc build plays IDLE
 *                                           on); never again for this
 *                                           source
 *   BUILDING  newer version, fault, stop    kill the group, drop the dir IDLE
 *   READY     newer version, fault, stop    drop the dir                 IDLE
 *   LOADING   cc cartridge running          it is the producer (tier cc) IDLE
 *   LOADING   refused, superseded, fault    drop the dir                 IDLE
 *
 * The compiler runs as `kanon-cartridge cc` (shm/contract.h), which sets
 * its limits (CPU time: the compile limit; address space; file size), a
 * new network namespace, and then runs cc in its own process group; its
 * output goes to a file in the private directory (0700), read only when it
 * fails. The event loop polls its pidfd: nothing here waits for it. A
 * compile that outlives its CPU limit by COMPILE_SLACK_S of wall-clock
 * time (stopped, or blocked) is killed too.
 *
 * Quiet: the deck plays this version and nothing else is under way (no
 * successor, no stop scheduled), the producer has rendered all of the last
 * takeover's crossfade (a fadeless swap in the middle of one would cut it
 * short; measured in frames on the ring, kn_ring_fade_in_done, so it holds
 * a few milliseconds after the takeover, however far ahead the producer
 * runs), and no knob is gliding (a new
 * cartridge takes a glide under way only as a short glide to its target:
 * the tier swap must not be the one to do that unasked). And the machine
 * is calm: not overloaded, its cartridges not moved to normal priority
 * (load.c). A tier swap is optional, and a new cartridge started in an
 * overload would be starved until it looked hung; the build waits.
 *
 * The tier swap (handover.c, origin KN_ORIGIN_OPTIMIZE): no new version in
 * the history, the cartridge loads the build and compiles the source with
 * tcc as well, renders both from one copy of the state and reports
 * whether they agree sample for sample (kn_opt_compared). If they do, the
 * takeover has no fade (the deck's fade is set to 0 for it): bit-exact. If
 * not, the deck's usual shadow fade, and the log says how far apart they
 * were. A fault in the cc build reverts to the same version's tcc build
 * (handover.c) and marks the source: it is not optimized again.
 *
 * Faust files (.dsp) stay on the tcc tier. Control thread only.
 */
#include "conductor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "input.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define COMPILE_SLACK_S 5
#define CC_LOG          "cc.log"

extern char **environ;

static int is_faust(const kn_deck *d) {
    size_t n = strlen(d->display);
    return n > 4 && !strcmp(d->display + n - 4, ".dsp");
}

/* Drops the directory and forgets the compile (its process already gone
 * or queued for reaping). */
static void opt_clear(kn_deck *d) {
    if (d->opt.dir[0]) kn_private_dir_remove(d->opt.dir);
    if (d->opt.pidfd >= 0 && d->opt.st == KN_OPT_BUILDING) close(d->opt.pidfd);
    memset(&d->opt, 0, sizeof d->opt);
    d->opt.pidfd = -1;
}

static int spawn_cc(kn_conductor *c, kn_deck *d, char *err, size_t n) {
    char so[4200], log[4200], inc[4096], timeout[32];
    snprintf(so, sizeof so, "%s/" KN_OPT_BUILD, d->opt.dir);
    snprintf(log, sizeof log, "%s/" CC_LOG, d->opt.dir);
    snprintf(inc, sizeof inc, "%s", d->path);
    *strrchr(inc, '/') = 0; /* d->path is absolute */
    snprintf(timeout, sizeof timeout, "%g", c->compile_timeout);
    char *argv[] = {c->cartridge_bin,
                    KN_MODE_CC,
                    d->opt.src,
                    KN_ARG(KN_OPT_DISPLAY),
                    d->display,
                    KN_ARG(KN_OPT_INCLUDE),
                    inc[0] ? inc : "/",
                    KN_ARG(KN_OPT_OUTPUT),
                    so,
                    KN_ARG(KN_OPT_COMPILE_TIMEOUT),
                    timeout,
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_setpgroup(&at, 0); /* its own group from the start: killed whole */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, c->cartridge_bin, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) {
        snprintf(err, n, "cannot start %s: %s", c->cartridge_bin, strerror(rc));
        return -1;
    }
    d->opt.pid = pid;
    d->opt.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return 0;
}

void kn_opt_start(kn_conductor *c, kn_deck *d) {
    kn_opt_cancel(c, d, NULL);
    if (!d->tier_auto || is_faust(d) || d->cur.hash == d->cc_bad_hash) return;
    char err[4400];
    int rc = kn_history_file(c, d, d->version, d->opt.src, sizeof d->opt.src);
    if (!rc) rc = kn_private_dir(d->opt.dir, sizeof d->opt.dir);
    if (rc) {
        d->opt.dir[0] = 0;
        kn_deck_event(c, d, "tier", "no cc tier for v%d: cannot prepare its compile: %s",
                      d->version, strerror(rc < 0 ? -rc : rc));
        opt_clear(d);
        return;
    }
    if (spawn_cc(c, d, err, sizeof err)) {
        kn_deck_event(c, d, "tier", "no cc tier for v%d: %s", d->version, err);
        opt_clear(d);
        return;
    }
    d->opt.st = KN_OPT_BUILDING;
    d->opt.version = d->version;
    d->opt.hash = d->cur.hash;
    d->opt.start_ns = kn_mono_ns();
    d->opt.asked_ns = d->cur.asked_rt_ns;
}

/* Kills the compiler's whole group and hands its pidfd to the reap list. */
static void kill_compile(kn_conductor *c, kn_deck *d) {
    kill(-d->opt.pid, SIGKILL);
    kn_proc p = {.st = KN_PROC_COMPILING, .pid = d->opt.pid, .pidfd = d->opt.pidfd, .rfd = -1};
    d->opt.pidfd = -1;
    kn_proc_kill(c, &p);
}

void kn_opt_cancel(kn_conductor *c, kn_deck *d, const char *why) {
    if (d->opt.st == KN_OPT_BUILDING) {
        kill_compile(c, d);
        if (why)
            kn_deck_event(c, d, "tier", "cc compile of v%d cancelled: %s", d->opt.version, why);
    }
    opt_clear(d);
}

int kn_opt_pollfds(kn_conductor *c, struct pollfd *fds, int max) {
    int n = 0;
    for (int i = 0; i < KN_MAX_DECKS && n < max; i++)
        if (c->deck[i].used && c->deck[i].opt.st == KN_OPT_BUILDING && c->deck[i].opt.pidfd >= 0)
            fds[n++] = (struct pollfd){c->deck[i].opt.pidfd, POLLIN, 0};
    return n;
}

/* The compiler's verdict: the last line it wrote. */
static void cc_verdict(const kn_deck *d, char *out, size_t n) {
    char log[4200], buf[4096];
    snprintf(log, sizeof log, "%s/" CC_LOG, d->opt.dir);
    FILE *f = fopen(log, "r");
    out[0] = 0;
    while (f && fgets(buf, sizeof buf, f))
        if (buf[0] != '\n') snprintf(out, n, "%.*s", (int)strcspn(buf, "\n"), buf);
    if (f) fclose(f);
}

/* The compile failed: the tcc build plays on, and this source stays there. */
static void cc_failed(kn_conductor *c, kn_deck *d, const char *what) {
    kn_deck_event(c, d, "tier", "no cc tier for v%d: %s; its tcc build plays on", d->opt.version,
                  what);
    d->cc_bad_hash = d->opt.hash;
    opt_clear(d);
}

/* A knob of the deck gliding towards a new value. */
static int gliding(const kn_deck *d) {
    uint32_t n = atomic_load_explicit(&d->params->count, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < KN_MAX_PARAMS; i++)
        if (atomic_load(&d->params->slot[i].current) != atomic_load(&d->params->slot[i].value))
            return 1;
    return 0;
}

/* READY: the same version takes over with the build once the deck is
 * quiet (see the top); a deck that moved on to another version drops it. */
static void cc_swap(kn_conductor *c, kn_deck *d) {
    if (d->version != d->opt.version || d->hs == KN_HS_STOPPING) {
        opt_clear(d);
        return;
    }
    if (d->hs != KN_HS_PLAYING || d->next.st != KN_PROC_NONE || !kn_ring_fade_in_done(d->ring) ||
        d->stop_frame || gliding(d) || c->ov.overloaded || c->ov.demoted)
        return; /* checked again on the next iteration */
    d->opt.st = KN_OPT_LOADING;
    uint32_t id;
    char err[1024];
    double quant = d->next_quant;
    d->next_quant = 0; /* the same sound: no need to wait for the grid */
    int rc = kn_handover_version(c, d, NULL, 0, KN_ORIGIN_OPTIMIZE, 0, &id, err, sizeof err);
    d->next_quant = quant;
    if (rc) {
        kn_deck_event(c, d, "tier", "cc build of v%d not used: %s", d->opt.version, err);
        opt_clear(d);
    }
}

/* LOADING: the cartridge with the build is gone without taking over
 * (refused in its test render, superseded): its directory goes; a refusal
 * (not a newer version) means this source stays on tcc. */
static void check_loading(kn_conductor *c, kn_deck *d) {
    if (d->next.st != KN_PROC_NONE && d->next.id == d->opt.id) return;
    const kn_outcome *o = kn_deck_outcome(d, d->opt.id);
    if (o && !o->ok && strncmp(o->message, "superseded", 10)) {
        d->cc_bad_hash = d->opt.hash;
        kn_deck_event(c, d, "tier", "cc build of v%d refused; its tcc build plays on",
                      d->opt.version);
    }
    opt_clear(d);
}

void kn_opt_handle(kn_conductor *c) {
    uint64_t now = kn_mono_ns();
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (d->used && d->opt.st == KN_OPT_LOADING) check_loading(c, d);
        if (d->used && d->opt.st == KN_OPT_READY) cc_swap(c, d);
        if (!d->used || d->opt.st != KN_OPT_BUILDING) continue;
        siginfo_t si = {0};
        /* ended? (peeked: cc1, as or ld left in its group are killed while
         * its pid, the group's id, still cannot be reused) */
        if (!waitid(P_PIDFD, (id_t)d->opt.pidfd, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid)
            kill(-d->opt.pid, SIGKILL);
        if (!kn_proc_exited(d->opt.pidfd, d->opt.pid, &si)) {
            if ((double)(now - d->opt.start_ns) / 1e9 > c->compile_timeout + COMPILE_SLACK_S) {
                char what[200];
                snprintf(what, sizeof what, "the C compiler did not finish within %g s",
                         c->compile_timeout + COMPILE_SLACK_S);
                kill_compile(c, d);
                cc_failed(c, d, what);
            }
            continue;
        }
        close(d->opt.pidfd);
        d->opt.pidfd = -1;
        if (si.si_code == CLD_EXITED && si.si_status == 0) {
            d->opt.cc_ms = (double)(now - d->opt.start_ns) / 1e6;
            d->opt.st = KN_OPT_READY;
            cc_swap(c, d);
            continue;
        }
        char how[160], said[1024], what[1400];
        kn_proc_describe_exit(&si, how, sizeof how);
        cc_verdict(d, said, sizeof said);
        snprintf(what, sizeof what, "the C compiler %s%s%s", how, said[0] ? ": " : "", said);
        cc_failed(c, d, what);
    }
}

void kn_opt_compared(kn_conductor *c, kn_deck *d, const kn_report *r) {
    if (r->same) {
        atomic_store(&d->ring->ctl.fade, 0); /* the same samples: continue, do not fade */
        kn_deck_event(c, d, "tier",
                      "cartridge %u: cc build of v%d ready in %.0f ms; it matches the tcc build "
                      "sample for sample (%.0f frames): takeover without a fade",
                      d->next.id, d->version, d->opt.cc_ms, r->compared);
    } else
        kn_deck_event(c, d, "tier",
                      "cartridge %u: cc build of v%d ready in %.0f ms; it differs from the tcc "
                      "build by up to %.3g from frame %.0f of %.0f: takeover with a %.0f ms fade",
                      d->next.id, d->version, d->opt.cc_ms, r->diff, r->diff_frame, r->compared,
                      d->fade_ms);
}

int kn_opt_fault(kn_deck *d, uint32_t id) {
    if (id && d->tier_cc && id == d->tier_id)
        d->cc_bad_hash = d->tier_hash; /* the producer */
    else if (id && d->opt.st == KN_OPT_LOADING && id == d->opt.id)
        d->cc_bad_hash = d->opt.hash; /* in setup() at its takeover */
    else
        return 0;
    return 1;
}
