/*
 * faults.c - a cartridge that fails is silenced, killed and replaced.
 *
 * What counts as a fault, and who notices:
 *   crash, exit    the cartridge's pidfd (decks.c check_exit)
 *   NaN/Inf, level above +60 dBFS, a corrupt ring
 *                  the audio thread, which faults the deck itself: it fades
 *                  it out within the chunk and discards from then on
 *   hang           the owner's heartbeat stops advancing for HANG_MS while
 *                  its ring runs low (under half the target), or for
 *                  HANG_LONG_MS whatever the ring holds (in a version's
 *                  first second, while its ring fills, only the long rule
 *                  applies). A healthy
 *                  cartridge bumps it at least every 5 ms; one merely
 *                  waiting for a busy CPU still has its ring's runway, so
 *                  it is not killed for that. (A render loop spinning at
 *                  real-time priority is stopped sooner by RLIMIT_RTTIME.)
 *   overload       process() needs more than real time for OVERLOAD_WINDOWS
 *                  windows in a row while the deck underruns
 *   compile        a successor still compiling after COMPILE_LIMIT_S
 *
 * Recovery (kn_deck_fault): the deck goes silent (FAULTED), the token is
 * revoked and the cartridge is killed through its pidfd; nobody waits for
 * it, but no successor gets the token until it has been reaped. Then the
 * last good version (the newest that played fault-free for GOOD_AFTER_MS)
 * is started from the history with --restore: it resumes from the state
 * snapshot taken when the faulty version took over, and fades in. If that
 * version fails again within GOOD_AFTER_MS, or there is none, the deck
 * stays silent until the next save.
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
#define GOOD_AFTER_MS    1000
#define OVERLOAD_WINDOW  100 /* ms */
#define OVERLOAD_WINDOWS 3
#define COMPILE_LIMIT_S  15

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

const char *kn_phase_text(const kn_deck *d) {
    switch (atomic_load(&d->ring->ctl.phase)) {
    case KN_PHASE_SETUP: return " in setup()";
    case KN_PHASE_PROCESS: return " in process()";
    default: return "";
    }
}

/* Starts the last good version from the history, resuming from the
 * snapshot; returns its version or 0. */
static int revert(kn_conductor *c, kn_deck *d) {
    char path[4400], origin[64], err[1024];
    size_t len;
    if (kn_history_file(c, d, d->good_version, path, sizeof path)) return 0;
    char *src = kn_slurp(path, &len);
    if (!src) return 0;
    snprintf(origin, sizeof origin, "revert to v%d after a fault", d->good_version);
    uint32_t id;
    int rc = kn_deck_start_version(c, d, src, len, origin, 1, &id, err, sizeof err);
    free(src);
    if (rc) kn_log("deck %s: revert failed: %s", d->name, err);
    return rc ? 0 : d->good_version;
}

void kn_deck_fault(kn_conductor *c, kn_deck *d, kn_proc *culprit, const char *what) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    int st = KN_MIX_PLAY;
    if (atomic_compare_exchange_strong(&m->state, &st, KN_MIX_FAULTED))
        atomic_store(&m->fault_ack, 0);
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store(&ctl->owner, 0); /* revoked: a live culprit publishes no more blocks */
    atomic_store(&ctl->next_owner, 0);
    if (culprit && culprit->st != KN_PROC_NONE) {
        if (culprit->pidfd >= 0)
            syscall(SYS_pidfd_send_signal, culprit->pidfd, SIGKILL, NULL, 0);
        else if (culprit->pid > 0)
            kill(culprit->pid, SIGKILL);
        d->dying = *culprit; /* reaped by kn_decks_handle; grants wait for it */
        memset(culprit, 0, sizeof *culprit);
        culprit->rfd = culprit->pidfd = -1;
    }
    d->repair = 1;
    d->running_since = 0;
    uint64_t now = mono_ns();
    int again = d->revert_started && now - d->revert_started < GOOD_AFTER_MS * 1000000ull;
    int v = 0;
    if (d->next.st != KN_PROC_NONE) {
        /* a newer version is on its way (the user's save): it takes over
         * as soon as the faulty cartridge is gone, instead of a revert */
        kn_deck_event(c, d, "fault", "%s; version in progress (cartridge %u) takes over", what,
                      d->next.id);
        kn_deck_grant(c, d);
        return;
    }
    if (d->good_version > 0 && !again) {
        v = revert(c, d);
        d->revert_started = now;
    }
    if (v)
        kn_deck_event(c, d, "fault", "%s; reverted to version %d", what, v);
    else
        kn_deck_event(c, d, "fault", "%s; %s: silent until the next save", what,
                      again ? "the version reverted to failed again"
                            : "no good version to revert to");
    if (again) d->good_version = 0; /* don't loop on a version that fails */
}

static const char *verdict_text(uint32_t fault) {
    switch (fault) {
    case KN_FAULT_NONFINITE: return "produced NaN/Inf";
    case KN_FAULT_RUNAWAY: return "produced output above +60 dBFS";
    case KN_FAULT_CORRUPT: return "corrupted its ring";
    default: return "failed";
    }
}

/* Slower than real time for several windows while the deck underruns. */
static int overloaded(kn_conductor *c, kn_deck *d, uint64_t now, double *load) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    uint64_t blocks = atomic_load(&d->ring->ctl.blocks), busy = atomic_load(&d->ring->ctl.busy_ns);
    uint64_t under = atomic_load(&m->underruns);
    if (!d->ov_t0) {
        d->ov_t0 = now, d->ov_blocks = blocks, d->ov_busy = busy, d->ov_under = under;
        return 0;
    }
    if (now - d->ov_t0 < OVERLOAD_WINDOW * 1000000ull) return 0;
    double audio_ns = (double)(blocks - d->ov_blocks) * c->block / c->rate * 1e9;
    /* time inside process() per audio time; a stuck block counts as busy */
    *load = audio_ns > 0 ? (double)(busy - d->ov_busy) / audio_ns : 1e9;
    int slow = *load > 1.0 && under > d->ov_under;
    d->ov_count = slow ? d->ov_count + 1 : 0;
    d->ov_t0 = now, d->ov_blocks = blocks, d->ov_busy = busy, d->ov_under = under;
    return d->ov_count >= OVERLOAD_WINDOWS;
}

void kn_faults_tick(kn_conductor *c) {
    uint64_t now = mono_ns();
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        kn_mix_deck *m = &c->mix.deck[i];
        char what[256];
        /* Back to PLAY only after the audio thread silenced the faulty
         * version: the replacement then fades in instead of being spliced. */
        int faulted = KN_MIX_FAULTED;
        if (d->cur.st == KN_PROC_RUNNING && atomic_load(&m->fault_ack) &&
            atomic_compare_exchange_strong(&m->state, &faulted, KN_MIX_PLAY))
            atomic_store(&m->fault_ack, 0);
        uint32_t verdict = atomic_exchange(&m->fault, KN_FAULT_NONE);
        if (verdict && d->cur.st == KN_PROC_RUNNING) {
            snprintf(what, sizeof what, "cartridge %u %s%s", d->cur.id, verdict_text(verdict),
                     verdict == KN_FAULT_CORRUPT ? ""
                                                 : " in process()"); /* output comes from there */
            kn_deck_fault(c, d, &d->cur, what);
            continue;
        }
        if (d->cur.st == KN_PROC_RUNNING) {
            uint64_t hb = atomic_load(&d->ring->ctl.heartbeat);
            double load;
            if (hb != d->hb_last) {
                d->hb_last = hb;
                d->hb_time = now;
            } else if (now - d->hb_time > HANG_LONG_MS * 1000000ull ||
                       (now - d->hb_time > HANG_MS * 1000000ull &&
                        now - d->running_since > GOOD_AFTER_MS * 1000000ull &&
                        atomic_load(&m->buffered) < atomic_load(&d->ring->target) / 2)) {
                snprintf(what, sizeof what, "cartridge %u hung%s (no progress for %llu ms); killed",
                         d->cur.id, kn_phase_text(d),
                         (unsigned long long)((now - d->hb_time) / 1000000));
                kn_deck_fault(c, d, &d->cur, what);
                continue;
            }
            if (overloaded(c, d, now, &load)) {
                snprintf(what, sizeof what,
                         "cartridge %u too slow: DSP load %.0f%% of real time; killed", d->cur.id,
                         load * 100);
                kn_deck_fault(c, d, &d->cur, what);
                continue;
            }
            if (d->running_since && now - d->running_since >= GOOD_AFTER_MS * 1000000ull &&
                d->good_version != d->version) {
                d->good_version = d->version; /* played fault-free for a second */
                d->revert_started = 0;
            }
        }
        if (d->next.st == KN_PROC_COMPILING &&
            now - d->next.spawned_ns > COMPILE_LIMIT_S * 1000000000ull) {
            kn_deck_event(c, d, "error",
                          "%s: error: cartridge %u took more than %d s to compile and test; "
                          "refused",
                          d->display, d->next.id, COMPILE_LIMIT_S);
            syscall(SYS_pidfd_send_signal, d->next.pidfd, SIGKILL, NULL, 0);
        }
    }
}
