/*
 * load.c - how busy the machine is, and shedding when it is too busy
 * (control thread).
 *
 * Every 0.5 s (a window), from the producers' CPU clocks and
 * /proc/PID/schedstat (proc_stat.c):
 *   per deck    cpu       % of one core its cartridge used
 *               cpu_need  % of one core it needs to play in real time: its
 *                         CPU time per second of audio it made (a starved
 *                         cartridge uses less than it needs)
 *               cpu_wait  % of the window it was runnable but waiting for
 *                         a CPU (-1 unknown)
 *   machine     CPU of all producers + the conductor's own process, device
 *               underflows, decks that underran
 *   verdict     overloaded when the window had a device underflow, or the
 *               CPU sum reached OVERLOAD_CPU of the cores, or two or more
 *               decks underran in it, or the running cartridges need
 *               (cpu_need) OVERLOAD_CPU of the cores, whatever they got
 *
 * Shedding: after SHED_WINDOWS overloaded windows in a row (1.5 s), the
 * playing deck whose cartridge needs the most CPU is shed, once every deck
 * has played a whole window (a deck still starting has no measured need), (kn_handover_shed:
 * silenced and killed, no revert: the same code would overload again; it
 * plays again when a new version runs), with an event that says so. Then
 * the count restarts: another SHED_WINDOWS windows to see whether it
 * helped before the next. Never shed:
 *   - the last playing deck (its own too-slow rule still applies);
 *   - when the cartridges together need (cpu_need) less than SHED_SHARE
 *     of the machine: the load is someone else's, and silencing a deck
 *     would not relieve it;
 *   - a deck needing less than SHED_MIN_CPU of a core: it would not help.
 * KANON_SHED=0 watches and reports without shedding (benchmarks).
 *
 * Real-time cartridges that need more than the machine starve everything
 * else on it (the shell, the editor: normal processes get 5% of a CPU),
 * so while it is overloaded and the cartridges alone need OVERLOAD_CPU of
 * it, they are moved to normal priority (every window: a new one raises
 * itself at its takeover), and back to SCHED_FIFO once they have needed
 * less for CALM_WINDOWS. An overload that others cause leaves them
 * real-time: then they keep playing.
 *
 * Hogs: a producer at SCHED_FIFO that needs more CPU than the audio it
 * makes (a spinning loop, or code slower than real time) holds a CPU
 * against every other real-time cartridge on the machine, this
 * instance's and any other's, until a fault rule catches it (50 ms to
 * 300 ms). So every HOG_WINDOW_NS (per tick, at least) its CPU time is
 * weighed against the audio it made; one that used more, and at least
 * HOG_MIN_NS, is moved to normal priority for the rest of its life (the
 * next version starts real-time again). It is not killed for that: the
 * hang and overload rules (faults.c) still judge it.
 */
#include "conductor.h"
#include "priority.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_NS     500000000ull
#define SHED_WINDOWS  3
#define OVERLOAD_CPU  0.9         /* of the cores */
#define SHED_SHARE    0.5         /* of the cores */
#define SHED_MIN_CPU  5.0         /* % of a core */
#define CALM_WINDOWS  4           /* 2 s without overload: cartridges real-time again */
#define HOG_WINDOW_NS 10000000ull /* 10 ms */
#define HOG_MIN_NS    5000000ull  /* CPU time in a window: less is never a hog */

static uint64_t self_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cores(void) {
    cpu_set_t s;
    if (!sched_getaffinity(0, sizeof s, &s) && CPU_COUNT(&s) > 0) return CPU_COUNT(&s);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The producer's CPU per audio made over the last short window; a hog is
 * moved to normal priority at once (see the top of this file). */
static void hog_watch(kn_conductor *c, kn_deck *d, uint64_t now) {
    kn_proc *p = d->cur.st == KN_PROC_RUNNING ? &d->cur : NULL;
    uint64_t cpu = 0, blocks = atomic_load(&d->ring->ctl.blocks);
    if (!p || p->hog || p->leaving || kn_proc_cpu(p->pid, &cpu)) { /* leaving: its lane */
        d->hog_pid = 0;
        return;
    }
    if (d->hog_pid != p->pid || cpu < d->hog_cpu0 || blocks < d->hog_blocks0) {
        d->hog_pid = p->pid, d->hog_t0 = now, d->hog_cpu0 = cpu, d->hog_blocks0 = blocks;
        return;
    }
    if (now - d->hog_t0 < HOG_WINDOW_NS) return;
    double used = (double)(cpu - d->hog_cpu0);
    double audio = (double)(blocks - d->hog_blocks0) * c->block / c->rate * 1e9;
    d->hog_t0 = now, d->hog_cpu0 = cpu, d->hog_blocks0 = blocks;
    if (used < HOG_MIN_NS || used <= audio) return;
    p->hog = 1;
    kn_proc_priority(c, d, p);
    kn_deck_event(c, d, "note",
                  "cartridge %u used %.1f ms of CPU to make %.1f ms of audio: at normal priority "
                  "from now on, so it cannot hold up the other decks",
                  p->id, used / 1e6, audio / 1e6);
}

static int playing(kn_conductor *c, kn_deck *d) {
    return d->used && d->name[0] && d->cur.st == KN_PROC_RUNNING &&
           atomic_load(&c->mix.deck[d - c->deck].state) == KN_MIX_PLAY;
}

/* The running cartridges to the priority they should have now
 * (kn_proc_priority: real-time unless demoted or the mixer is not). */
static void cartridges_reprioritize(kn_conductor *c) {
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (d->used && d->cur.st == KN_PROC_RUNNING) kn_proc_priority(c, NULL, &d->cur);
    }
}

/* The deck needing the most CPU goes, if that is sensible (see the top). */
static void shed(kn_conductor *c) {
    kn_overload *o = &c->ov;
    kn_deck *best = NULL;
    int n = 0;
    double need = 0;
    uint64_t now = kn_mono_ns();
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        /* A deck still starting, or playing for less than a window, has no
         * measured need yet: shedding now could pick the wrong one. */
        if (d->used && d->name[0] &&
            (d->hs == KN_HS_COMPILING || d->hs == KN_HS_TAKING ||
             (d->cur.st == KN_PROC_RUNNING && now - d->running_since < WINDOW_NS)))
            return;
        if (!playing(c, d)) continue;
        n++;
        need += d->cpu_need;
        if (!best || d->cpu_need > best->cpu_need) best = d;
    }
    if (o->shed_off || n < 2 || need < SHED_SHARE * 100 * o->cores || best->cpu_need < SHED_MIN_CPU)
        return;
    uint64_t uf = 0;
    for (int k = 0; k < SHED_WINDOWS && (uint64_t)k < o->nwin; k++)
        uf += o->recent[(o->nwin - 1 - (uint64_t)k) % KN_LOAD_RECENT];
    char what[512];
    snprintf(what, sizeof what,
             "shed: deck %s used %.0f%% of a core (it needs %.0f%% to keep up) while the "
             "machine was overloaded for %.1f s (%s; device underflows: %llu); stopped to keep "
             "the others playing; it plays again at the next save",
             best->name, best->cpu, best->cpu_need, o->since_shed * WINDOW_NS / 1e9, o->why,
             (unsigned long long)uf);
    kn_shed_rec *e = &o->shed[o->nshed++ % KN_SHED_LOG];
    snprintf(e->deck, sizeof e->deck, "%s", best->name);
    e->cpu = best->cpu_need;
    e->rt_ns = kn_real_ns();
    kn_handover_shed(c, best, what);
    o->since_shed = 0; /* see whether that was enough before shedding more */
}

/* The machine over the window just ended: the verdict, and shedding. */
static void judge(kn_conductor *c, uint64_t now) {
    kn_overload *o = &c->ov;
    double dt = (double)(now - o->t0);
    uint64_t uf = kn_audio_underflows(c->audio), self = self_cpu_ns();
    uint64_t duf = uf - o->underflows0;
    o->recent[o->nwin++ % KN_LOAD_RECENT] = duf;
    o->cpu_conductor = 100.0 * (double)(self - o->self_cpu0) / dt;
    o->underflows0 = uf;
    o->self_cpu0 = self;
    o->cpu_cartridges = o->total_load = o->cpu_need = 0;
    o->short_decks = 0;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        o->cpu_cartridges += d->cpu;
        if (d->cur.st != KN_PROC_RUNNING) continue;
        o->total_load += d->load;
        o->cpu_need += d->cpu_need;
        uint64_t u = atomic_load(&c->mix.deck[i].underruns);
        o->short_decks += u > d->under_win0;
        d->under_win0 = u;
    }
    double cpu = o->cpu_cartridges + o->cpu_conductor;
    /* The cartridges needing the machine's cores is overload whatever they
     * got: beside another busy program (another instance, a build) they
     * get less, underrun by turns and never look overloaded by use alone. */
    int need = o->cpu_need >= OVERLOAD_CPU * 100 * o->cores;
    int over = duf > 0 || cpu >= OVERLOAD_CPU * 100 * o->cores || o->short_decks >= 2 || need;
    if (over)
        snprintf(o->why, sizeof o->why,
                 "CPU %.0f%% of %d cores: cartridges %.0f%%, conductor %.0f%%; decks that "
                 "underran: %d; the cartridges need %.0f%%",
                 cpu, o->cores, o->cpu_cartridges, o->cpu_conductor, o->short_decks, o->cpu_need);
    if (over) o->last_rt_ns = kn_real_ns();
    if (over && !o->overloaded)
        kn_log("overloaded: %s; device underflows %llu", o->why, (unsigned long long)duf);
    if (!over && o->overloaded) kn_log("no longer overloaded");
    int mine = o->cpu_need >= OVERLOAD_CPU * 100 * o->cores; /* the cartridges' own doing */
    if (over && mine && kn_audio_outranks_cartridges(c->audio)) {
        if (!o->demoted)
            kn_log("overloaded: the cartridges need %.0f%% of %d cores; they run at normal "
                   "priority until they need less for %.0f s",
                   o->cpu_need, o->cores, CALM_WINDOWS * WINDOW_NS / 1e9);
        o->demoted = 1;
        o->calm = 0;
        cartridges_reprioritize(c);
    } else if (mine) {
        o->calm = 0;
    } else if (o->demoted && ++o->calm >= CALM_WINDOWS) {
        o->demoted = 0;
        cartridges_reprioritize(c);
        kn_log("cartridges back to real-time priority");
    }
    o->overloaded = over;
    o->windows = over ? o->windows + 1 : 0;
    o->since_shed = over ? o->since_shed + 1 : 0;
    if (o->since_shed >= SHED_WINDOWS) shed(c);
}

void kn_load_tick(kn_conductor *c, uint64_t now) {
    kn_overload *o = &c->ov;
    if (!o->cores) {
        const char *env = getenv("KANON_SHED");
        o->cores = cores();
        o->shed_off = env && !strcmp(env, "0");
        o->t0 = now;
        o->underflows0 = kn_audio_underflows(c->audio);
        o->self_cpu0 = self_cpu_ns();
    }
    int window = now - o->t0 >= WINDOW_NS;
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && c->deck[i].name[0]) hog_watch(c, &c->deck[i], now);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        kn_proc *p = kn_deck_producer(d);
        pid_t pid = p ? p->pid : 0;
        uint64_t cpu, blocks = atomic_load(&d->ring->ctl.blocks);
        int64_t wait;
        char state;
        if (pid != d->cpu_pid) { /* a new producer (or none): new baselines */
            d->cpu_pid = pid;
            d->cpu_win0 = 0;
            d->wait_win0 = -1;
            d->blocks_win0 = blocks;
            if (pid && kn_proc_sched(pid, &cpu, &wait, &state) == 0)
                d->cpu_win0 = cpu, d->wait_win0 = wait;
            d->cpu_win_t0 = now;
        } else if (pid && window && kn_proc_sched(pid, &cpu, &wait, &state) == 0) {
            double w = (double)(now - d->cpu_win_t0);
            double audio = (double)(blocks - d->blocks_win0) * c->block / c->rate * 1e9;
            d->cpu = w > 0 ? 100.0 * (double)(cpu - d->cpu_win0) / w : 0;
            if (audio > 0) d->cpu_need = 100.0 * (double)(cpu - d->cpu_win0) / audio;
            d->blocks_win0 = blocks;
            d->cpu_wait = wait >= 0 && d->wait_win0 >= 0 && w > 0
                              ? 100.0 * (double)(wait - d->wait_win0) / w
                              : -1;
            d->cpu_win0 = cpu;
            d->wait_win0 = wait;
            d->cpu_win_t0 = now;
        }
        if (!pid && window) d->cpu = d->cpu_need = 0, d->cpu_wait = -1;
    }
    if (window) {
        judge(c, now);
        o->t0 = now;
    }
}
