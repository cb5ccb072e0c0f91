/*
 * faults.c - noticing that a cartridge fails. Only detects: what happens
 * then (silence, kill, revert) is the handover's decision (handover.c,
 * kn_handover_fault, _limit; load.c sheds through kn_handover_shed).
 *
 * What counts as a fault, and who notices:
 *   crash, exit    the cartridge's pidfd (decks.c check_exit; handover.c
 *                  decides: exiting is normal only after handing the token
 *                  to a successor). A producer killed by SIGXCPU is
 *                  described here (kn_xcpu_text)
 *   NaN/Inf, level above +60 dBFS, a corrupt ring
 *                  the audio thread, which faults the deck itself: it fades
 *                  it out within the chunk and takes nothing more from it;
 *                  the verdict is read here
 *   hang           the heartbeat of whoever holds the token (the running
 *                  cartridge, or a successor still in setup()) stops for
 *                  HANG_MS while the ring runs low, or for HANG_LONG_MS
 *                  whatever it holds, counting only the time it could have
 *                  made progress: on a CPU, stopped or blocked, not
 *                  runnable and waiting for a CPU (see hung()). A render
 *                  loop spinning at real-time priority is stopped by
 *                  RLIMIT_RTTIME (SIGXCPU): reported as too slow, with its
 *                  load, if its heartbeat was still going, else as hung
 *   overload       process() needs more than real time for OVERLOAD_WINDOWS
 *                  windows in a row while the deck runs short of sound,
 *                  and so does its CPU time (a starved deck is not slow),
 *                  unless it already proved itself slower than real time
 *                  while at real-time priority (a hog, load.c)
 *   machine overload  load.c sheds the deck needing the most CPU
 *   time limits    a successor still test-rendering after TEST_LIMIT_MS
 *                  (its own 2 s alarm cannot fire if it is stopped), or
 *                  still compiling COMPILE_SLACK_S after its own limit
 *                  (--compile-timeout, which it enforces itself and
 *                  reports in words; ours is for one that is stopped)
 *
 * Not a fault but said here too: a compile that takes long (Faust can
 * take seconds) is reported as it goes, at 1, 2, 5, 10, 20, ... s
 * (`kanon play --follow`, `kanon log`; `kanon status` shows it live).
 */
#include "conductor.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HANG_MS          50
#define HANG_LONG_MS     500
#define HANG_CPU_MS      15  /* CPU time without a beat (or 4 blocks' duration, if longer) */
#define OVERLOAD_WINDOW  100 /* ms */
#define OVERLOAD_WINDOWS 3
#define COMPILE_SLACK_S  5 /* past the cartridge's own compile limit: the test render, a margin */
#define TEST_LIMIT_MS    2500 /* the cartridge's own deadline is 2 s; this also covers SIGSTOP */

/* A long compile says how long it has taken so far, at 1, 2, 5, 10, 20,
 * 50, ... s: a few lines however long it takes. */
static void compile_progress(kn_conductor *c, kn_deck *d, uint64_t now) {
    static const double steps[] = {1, 2, 5};
    kn_proc *p = &d->next;
    double at = steps[p->told % 3];
    for (int k = p->told / 3; k > 0; k--) at *= 10;
    double s = (double)(now - p->spawned_ns) / 1e9;
    if (s < at) return;
    p->told++;
    kn_deck_event(c, d, "compiling", "cartridge %u still compiling %s: %.0f s so far (limit %g s)",
                  p->id, d->display, s, c->compile_timeout);
}

static const char *verdict_text(uint32_t fault) {
    switch (fault) {
    case KN_FAULT_NONFINITE: return "produced NaN/Inf";
    case KN_FAULT_RUNAWAY: return "produced output above +60 dBFS";
    case KN_FAULT_CORRUPT: return "corrupted its ring";
    default: return "failed";
    }
}

/* Slower than real time for OVERLOAD_WINDOWS windows in a row, and the
 * deck short of sound (an underrun, or the ring under half its target):
 * a cartridge that catches up again is not killed for a slow moment. The
 * time in process() is wall-clock, so a starved cartridge looks slow too:
 * its own CPU time must also exceed the audio it made. */
static int overloaded(kn_conductor *c, kn_deck *d, uint64_t now, double *load) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    uint64_t blocks = atomic_load(&d->ring->ctl.blocks), busy = atomic_load(&d->ring->ctl.busy_ns);
    uint64_t under = atomic_load(&m->underruns), cpu_ns = 0;
    if (d->ov_t0 && now - d->ov_t0 < OVERLOAD_WINDOW * 1000000ull) return 0;
    int mine = kn_proc_cpu(d->cur.pid, &cpu_ns) == 0 && d->ov_pid == d->cur.pid;
    if (!d->ov_t0) {
        d->ov_t0 = now, d->ov_blocks = blocks, d->ov_busy = busy, d->ov_under = under;
        d->ov_cpu = cpu_ns, d->ov_pid = d->cur.pid;
        d->ov_count = 0;
        return 0;
    }
    double audio_ns = (double)(blocks - d->ov_blocks) * c->block / c->rate * 1e9;
    /* time inside process() per audio time; a stuck block counts as busy */
    *load = audio_ns > 0 ? (double)(busy - d->ov_busy) / audio_ns : 1e9;
    /* its CPU time per audio time; with no audio at all, a stuck block
     * counts as slow only if it had the CPU (a starved one did not) */
    double used = (double)(cpu_ns - d->ov_cpu);
    double cpu = audio_ns > 0 ? used / audio_ns : used > 0.5 * (double)(now - d->ov_t0) ? 1e9 : 0;
    /* A hog (load.c) proved slower than real time while it had a CPU to
     * itself: now at normal priority, it is not excused as starved. */
    if (*load <= 1.0 || (mine && cpu <= 1.0 && !d->cur.hog))
        d->ov_count = 0, d->ov_under = under;
    else
        d->ov_count++;
    d->ov_t0 = now, d->ov_blocks = blocks, d->ov_busy = busy;
    d->ov_cpu = cpu_ns, d->ov_pid = d->cur.pid;
    int short_of_sound =
        under > d->ov_under || atomic_load(&m->buffered) < atomic_load(&d->ring->target) / 2;
    return d->ov_count >= OVERLOAD_WINDOWS && short_of_sound;
}

void kn_xcpu_text(kn_conductor *c, kn_deck *d, uint32_t id, char *buf, size_t n) {
    /* RLIMIT_RTTIME: 100 ms of CPU without pausing. Still beating: slow. */
    uint64_t now = kn_mono_ns(), blocks = atomic_load(&d->ring->ctl.blocks);
    uint64_t busy = atomic_load(&d->ring->ctl.busy_ns);
    double audio_ns = (double)(blocks - d->ov_blocks) * c->block / c->rate * 1e9;
    if (d->ov_t0 && now - d->hb_time < HANG_MS * 1000000ull && audio_ns > 0 &&
        (double)(busy - d->ov_busy) > audio_ns)
        snprintf(buf, n,
                 "cartridge %u too slow: DSP load %.0f%% of real time; killed (SIGXCPU: ran "
                 "100 ms without pausing)",
                 id, (double)(busy - d->ov_busy) / audio_ns * 100);
    else
        snprintf(buf, n,
                 "cartridge %u killed by SIGXCPU (ran 100 ms without pausing: hung or "
                 "too slow)%s",
                 id, kn_phase_text(d));
}

/* A stalled heartbeat: HANG_MS while the ring runs low (once it has been
 * filled: a new deck's first setup() may load samples for a while), or
 * HANG_LONG_MS whatever the ring holds. A healthy cartridge bumps it at
 * least every 5 ms. Only time in which it could have made progress
 * counts: per tick, the CPU time it got while runnable (state R: running,
 * or waiting for a CPU that others have, which is starvation, not a hang),
 * or the whole tick while stopped, sleeping or blocked (proc_stat.c);
 * unreadable counts whole, as does the first tick after a grant or
 * takeover reset the watch.
 * A spinning cartridge that others starve gets that time slowly, so with
 * the ring low it is also hung once it used HANG_CPU_MS of CPU without a
 * beat: a healthy one beats after every block, and no block's process()
 * (nor any example's setup()) needs that long.
 * The CPU clock is read before the heartbeat and, after a beat, again
 * after it: CPU time counted against a stall was all used without a beat,
 * however late the control thread gets to run. */
static void watch_reset(kn_deck *d, kn_proc *p, uint64_t t) {
    uint64_t cpu = 0;
    d->hb_pid = p->pid;
    d->hb_seen = t;
    d->hb_eff = 0;
    d->hb_cpu_ok = kn_proc_cpu(p->pid, &cpu) == 0;
    d->hb_cpu0 = d->hb_cpu1 = cpu;
}

static int hung(kn_conductor *c, kn_deck *d, kn_proc *p, uint64_t now) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    uint64_t cpu = 0;
    int cpu_ok = p && kn_proc_cpu(p->pid, &cpu) == 0;
    uint64_t hb = atomic_load(&d->ring->ctl.heartbeat);
    uint32_t buffered = atomic_load(&m->buffered), target = atomic_load(&d->ring->target);
    if (!p || hb != d->hb_last) {
        d->hb_last = hb;
        d->hb_time = now;
        if (p && buffered >= target / 2) d->primed = 1;
        if (p) watch_reset(d, p, now);
        return 0;
    }
    /* hb_time reset by a grant or takeover, or a new producer: from then */
    int fresh = d->hb_time > d->hb_seen || d->hb_pid != p->pid;
    if (fresh) watch_reset(d, p, d->hb_time > d->hb_seen ? d->hb_time : d->hb_seen);
    uint64_t dt = now > d->hb_seen ? now - d->hb_seen : 0; /* granted after `now` */
    d->hb_cpu_ok = d->hb_cpu_ok && cpu_ok;
    uint64_t used = cpu > d->hb_cpu1 ? cpu - d->hb_cpu1 : 0, now_cpu;
    uint64_t spent = d->hb_cpu_ok && cpu > d->hb_cpu0 ? cpu - d->hb_cpu0 : 0; /* since the beat */
    int64_t wait;
    char state;
    if (!fresh && d->hb_cpu_ok && kn_proc_sched(p->pid, &now_cpu, &wait, &state) == 0 &&
        state == 'R')
        d->hb_eff += used < dt ? used : dt;
    else
        d->hb_eff += dt;
    d->hb_cpu1 = cpu;
    d->hb_seen = now;
    double cpu_limit = 4e9 * c->block / c->rate;
    if (cpu_limit < HANG_CPU_MS * 1e6) cpu_limit = HANG_CPU_MS * 1e6;
    int low = d->primed && buffered < target / 2;
    return d->hb_eff > HANG_LONG_MS * 1000000ull ||
           (low && (d->hb_eff > HANG_MS * 1000000ull || (double)spent > cpu_limit));
}

void kn_faults_tick(kn_conductor *c) {
    uint64_t now = kn_mono_ns();
    kn_load_tick(c, now); /* the machine's load (which may shed a deck) */
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        kn_mix_deck *m = &c->mix.deck[i];
        char what[300];
        uint32_t verdict = atomic_exchange(&m->fault, KN_FAULT_NONE);
        if (verdict && d->cur.st == KN_PROC_RUNNING) {
            snprintf(what, sizeof what, "cartridge %u %s%s", d->cur.id, verdict_text(verdict),
                     verdict == KN_FAULT_CORRUPT ? ""
                                                 : " in process()"); /* output comes from there */
            kn_handover_fault(c, d, &d->cur, d->cur.id, what);
            continue;
        }
        kn_handover_tick(c, d, now);
        kn_proc *p = kn_deck_producer(d);
        if (hung(c, d, p, now)) {
            snprintf(what, sizeof what, "cartridge %u hung%s (no progress for %llu ms); killed",
                     p->id, kn_phase_text(d), (unsigned long long)((now - d->hb_time) / 1000000));
            kn_handover_fault(c, d, p, p->id, what);
            continue;
        }
        double load;
        if (p == &d->cur && overloaded(c, d, now, &load)) {
            snprintf(what, sizeof what,
                     "cartridge %u too slow: DSP load %.0f%% of real time; killed", d->cur.id,
                     load * 100);
            kn_handover_fault(c, d, &d->cur, d->cur.id, what);
            continue;
        }
        if (d->next.st == KN_PROC_COMPILING && d->next.testing &&
            now - d->next.testing_ns > TEST_LIMIT_MS * 1000000ull)
            kn_handover_limit(c, d, "took too long in its test render (2 s limit: a hang?)");
        else if (d->next.st == KN_PROC_COMPILING &&
                 (double)(now - d->next.spawned_ns) / 1e9 > c->compile_timeout + COMPILE_SLACK_S) {
            snprintf(what, sizeof what,
                     "did not finish compiling and testing within %g s (its compile limit is "
                     "%g s: `kanon up --compile-timeout SECONDS` raises it)",
                     c->compile_timeout + COMPILE_SLACK_S, c->compile_timeout);
            kn_handover_limit(c, d, what);
        } else if (d->next.st == KN_PROC_COMPILING && !d->next.testing)
            compile_progress(c, d, now);
    }
}
