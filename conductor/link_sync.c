/*
 * link_sync.c - Ableton Link: kanon's tempo map and a Link session kept
 * together. Every Link call in the conductor is made from here, through
 * link.h; the commands only read and write c->link (plain data), so the
 * rest of the conductor, its unit tests and its fuzz harness never need
 * Link or C++. Control thread only; called every loop iteration (at least
 * every 20 ms); never blocks.
 *
 * What is shared with every peer: the tempo, the beat's phase modulo the
 * quantum, and the start/stop flag. The quantum is kanon's bar: the beats
 * per bar of the tempo map at the frame concerned. Link keeps one timeline
 * per session (tempo, and a beat whose phase all peers share); kanon keeps
 * its tempo map (tempo, bar and beat per segment, on timeline frames).
 *
 * Where and when. A change to the tempo map must land where no deck has
 * rendered yet, or a deck would have played frames under the old map: at
 * F, the furthest frontier of all decks (as `kanon tempo`), never before
 * the newest segment. F is heard at host(F) on CLOCK_MONOTONIC, and that is
 * the instant compared with the session. host() is kn_timeline_mono_at
 * with its offset (ns minus frame * 1e9 / rate) smoothed: the median of the
 * last 15 audio callbacks' offsets. One callback's time jitters by ~0.1 ms
 * on the dummy backend (how full the device buffer was), a late callback by
 * more; the median follows a real step (a failover) within 8 callbacks.
 *
 * Each tick:
 *   1. on/off. Joining creates Link on first use (no thread, no socket
 *      before: Link is off by default), pushes kanon's tempo and beat at F
 *      into it, then enables it. In that order: Link resets its session when
 *      enabled, continuing the timeline it has, which is then kanon's.
 *      Alone in its new session kanon keeps its beat; on meeting an older
 *      session Link moves to that one, and the pull (3) follows it.
 *   2. push: kanon leads. The map differs from the one this file last left
 *      (`kanon tempo`, OSC): the session's tempo is set at host(change's
 *      frame) and the beat there requested: Link's beat stays continuous at
 *      that instant as kanon's does at that frame, so the two stay in phase.
 *      Alone, Link also takes kanon's beat (a new bar changes the phase);
 *      with peers it never moves the session's phase (only its own beat's
 *      magnitude), so there kanon follows. With peers, c->tempo_delay makes
 *      kn_timeline_tempo land the change DELAY_S past the frontier: Link
 *      broadcasts at most every 50 ms and a peer ticks every 20 ms, so every
 *      peer hears of the change before it is due and switches on the same
 *      instant (3). A ramp (`--ramp`): Link knows only steps, so kanon leads
 *      for the ramp's length, one step each time its frontier (plus the
 *      delay) moves on (ramp_step); its end pushes the final tempo.
 *   3. pull: kanon follows. The session's tempo and beat at host(F) for the
 *      quantum bar(F) against kanon's tempo and beat at F. A tempo that
 *      differs by more than 1e-6 bpm is taken where the session's timeline
 *      meets kanon's, modulo the bar, within SWITCH_S after F (a peer that
 *      landed its change ahead, as kanon does): a plain kn_tempo_change
 *      there, no jump, on the peer's instant. Otherwise, or if only the phase
 *      (the beat difference wrapped to half a bar either way) differs by
 *      more than PHASE_TOL_MS, a step at F with Link's tempo and kanon's beat
 *      moved by that phase difference (kn_tempo_set: the beat jumps there,
 *      by half a bar at most; were that to run the beat back before the
 *      newest segment's start, a bar further instead). Every deck gets the
 *      map. Not while kanon leads a ramp, nor in the tick of a push.
 *   4. start/stop: `kanon link start|stop` asks the session to start or stop
 *      at the host time of the next bar line at or after F.
 *
 * Tolerances. Tempo: 1e-6 bpm, far below hearing, far above rounding (Link
 * keeps the double it was given; a peer's tempo arrives as whole
 * microseconds per beat, e.g. 137.00006 for 137, and is then taken as it
 * is). Phase: PHASE_TOL_MS, 0.1 ms (5 frames at 48 kHz): above the
 * smoothed clock's noise and Link's own (whole microseconds, micro-beats,
 * the ghost clock's re-measurement every 30 s), well under the 1 ms at
 * which a flam could be heard, so a correction is rare and, when it comes,
 * a jump of at most a few frames. Don't fight: after a push Link holds
 * exactly kanon's tempo, and its beat runs continuous from the same instant
 * as kanon's, so the next pull finds nothing to do.
 *
 * Known limit: kanon's timeline runs on the device's clock, Link on the
 * system's. A device whose crystal drifts from the system clock by p ppm
 * drifts p us per second from the session, and is put back by a 0.1 ms
 * step every 100/p seconds (the dummy backend runs on the system clock and
 * never drifts). Slewing the tempo instead would hide those steps.
 */
#include "conductor.h"
#include "link.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PHASE_TOL_MS  0.1  /* phase difference corrected: above it */
#define BPM_EPS       1e-6 /* tempo difference corrected: above it */
#define CLOCK_SAMPLES 15   /* callbacks in the clock's median */
#define CLOCK_MIN     5    /* ... and the fewest it is trusted with */
#define STEP_S        0.05 /* a ramp's first step, and the longest, while kanon leads it */
#define DELAY_S       0.1  /* with peers, kanon's changes land this much later */
#define SWITCH_S      1.0  /* a peer's change is met in phase if it comes within this */

static struct {
    kn_link *link;
    int on;                    /* enabled, as this file last set it */
    kn_tempo_map seen;         /* the map as this file last left it */
    uint64_t ramp_end;         /* kanon leads a ramp until this frame (0: none) */
    uint64_t step_at;          /* where its last step was set (0: none yet) */
    double off[CLOCK_SAMPLES]; /* the clock: CLOCK_MONOTONIC ns - frame * 1e9 / rate */
    int noff, ioff;
    unsigned peers;
    int playing;
} ls;

/* A beat difference wrapped into [-q/2, q/2). */
static double wrap(double x, double q) {
    return x - q * floor(x / q + 0.5);
}

static double clamp_bpm(double bpm) {
    return bpm < KN_LINK_BPM_MIN ? KN_LINK_BPM_MIN : bpm > KN_LINK_BPM_MAX ? KN_LINK_BPM_MAX : bpm;
}

/* One offset per audio callback (a repeated one is the same callback: the
 * offset does not depend on the frame asked, but for its rounding). */
static void clock_sample(kn_conductor *c) {
    uint64_t ref = kn_timeline_now(c);
    int64_t t = kn_timeline_mono_at(c, ref);
    if (t < 0) return;
    double o = (double)t - (double)ref * 1e9 / c->rate;
    int last = (ls.ioff + CLOCK_SAMPLES - 1) % CLOCK_SAMPLES;
    if (ls.noff && fabs(o - ls.off[last]) < 2) return;
    ls.off[ls.ioff] = o;
    ls.ioff = (ls.ioff + 1) % CLOCK_SAMPLES;
    if (ls.noff < CLOCK_SAMPLES) ls.noff++;
}

/* When timeline frame f is heard (CLOCK_MONOTONIC ns); -1 until
 * CLOCK_MIN callbacks have been seen (a stream's first callback fills the
 * whole buffer and is off by milliseconds: the median must outvote it). */
static int64_t host_at(kn_conductor *c, uint64_t f) {
    if (ls.noff < CLOCK_MIN) return -1;
    double s[CLOCK_SAMPLES];
    memcpy(s, ls.off, sizeof s);
    for (int i = 1; i < ls.noff; i++) /* ls.off's first noff are the ones filled */
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double x = s[j];
            s[j] = s[j - 1];
            s[j - 1] = x;
        }
    double med = ls.noff % 2 ? s[ls.noff / 2] : (s[ls.noff / 2 - 1] + s[ls.noff / 2]) / 2;
    return (int64_t)llround((double)f * 1e9 / c->rate + med);
}

/* F: where a change lands. */
static uint64_t landing(kn_conductor *c) {
    uint64_t f = kn_timeline_frontier_all(c), last = kn_tempo_newest(&c->tempo)->at;
    return f > last ? f : last;
}

/* kanon leads: the session takes kanon's tempo at frame f from host(f) on,
 * and (alone in the session) its beat there. */
static void push(kn_conductor *c, uint64_t f) {
    int64_t h = host_at(c, f);
    if (h < 0) return;
    double bpm = clamp_bpm(kn_tempo_bpm(&c->tempo, c->rate, (double)f));
    if (kn_link_set_tempo(ls.link, bpm, h, kn_timeline_beat(c, f), kn_tempo_bar(&c->tempo, f)))
        kn_log("link: could not set the session's tempo");
}

/* The ramp kanon leads, one step each time f has moved on: until the next
 * step (expected as far off as the last was) the session runs at kanon's
 * mean tempo over that span, less half the phase error found at f spread
 * over it. Half: a step that lasts longer than expected (f advances in
 * device-sized chunks) then still shrinks the error instead of overshooting
 * it, and a chord of a linear ramp over a step of 20-50 ms strays from it by
 * a few microseconds. */
static void ramp_step(kn_conductor *c, uint64_t f) {
    uint64_t step = (uint64_t)(STEP_S * c->rate), r = f - ls.step_at;
    if (ls.step_at && f <= ls.step_at) return; /* nothing new */
    if (!ls.step_at || r > 2 * step) r = step;
    int64_t h = host_at(c, f);
    uint32_t bar = kn_tempo_bar(&c->tempo, f);
    kn_link_session s;
    if (h < 0 || kn_link_capture(ls.link, h, bar, &s)) return;
    double bf = kn_timeline_beat(c, f), span = kn_timeline_beat(c, f + r) - bf;
    double e = wrap(s.beat - bf, bar);
    if (fabs(e) > 0.1 * span) e = 0; /* not ours to catch up with in one step */
    double bpm = clamp_bpm((span - 0.5 * e) * 60.0 * c->rate / (double)r);
    kn_link_set_tempo(ls.link, bpm, h, NAN, bar);
    ls.step_at = f;
}

/* Is kanon's newest segment a ramp still under way at f? Then kanon leads. */
static void lead_ramp(kn_conductor *c, uint64_t f) {
    const kn_tempo_seg *s = kn_tempo_newest(&c->tempo);
    ls.ramp_end = s->ramp && f < s->at + s->ramp ? s->at + s->ramp : 0;
    ls.step_at = 0;
}

static void join(kn_conductor *c) {
    kn_link_ctl *k = &c->link;
    uint64_t f = landing(c);
    if (host_at(c, f) < 0) return; /* no audio callback yet: the next tick */
    if (!ls.link) {
        ls.link = kn_link_new(clamp_bpm(kn_tempo_bpm(&c->tempo, c->rate, (double)f)), k->error,
                              sizeof k->error);
        if (!ls.link) {
            kn_log("link: %s", k->error);
            k->on = 0;
            k->ask = 0;
            return;
        }
    }
    ls.seen = c->tempo;
    lead_ramp(c, f);
    push(c, f);
    kn_link_enable(ls.link, 1);
    ls.on = 1;
    ls.peers = 0;
    ls.playing = -1;
    kn_log("link: on (%.6g bpm, quantum %u, beat %.6g at frame %llu)",
           kn_tempo_bpm(&c->tempo, c->rate, (double)f), kn_tempo_bar(&c->tempo, f),
           kn_timeline_beat(c, f), (unsigned long long)f);
}

static void leave(kn_conductor *c) {
    kn_link_enable(ls.link, 0);
    ls.on = 0;
    ls.ramp_end = 0;
    c->tempo_delay = 0;
    c->link.peers = 0;
    c->link.playing = 0;
    c->link.ask = 0;
    kn_log("link: off");
}

/* kanon follows: the session's tempo and phase at host(f), if they differ. */
static void pull(kn_conductor *c, uint64_t f, const kn_link_session *s, uint32_t bar) {
    kn_link_ctl *k = &c->link;
    double bk = kn_timeline_beat(c, f), bpm = kn_tempo_bpm(&c->tempo, c->rate, (double)f);
    double e = wrap(s->beat - bk, bar), ms = e * 60000.0 / s->bpm, d = s->bpm - bpm;
    k->phase_ms = -ms;
    if (fabs(d) <= BPM_EPS && fabs(ms) <= PHASE_TOL_MS) return;
    /* A new tempo whose line meets kanon's, modulo the bar, soon after f
     * (the peer landed its change ahead, as kanon does with tempo_delay):
     * change there, in phase and without a jump, on the instant the peer
     * changes. x frames on, the phase difference is e + d * x / (60 rate). */
    if (fabs(d) > BPM_EPS) {
        double m = d > 0 ? ceil(e / bar) : floor(e / bar); /* the first crossing ahead */
        double x = (m * bar - e) * 60.0 * c->rate / d;
        if (x >= 0 && x <= SWITCH_S * c->rate) {
            uint64_t p = f + (uint64_t)llround(x);
            if (!kn_tempo_change(&c->tempo, c->rate, p, s->bpm, bar, 0)) {
                kn_timeline_publish(c);
                ls.seen = c->tempo;
                k->aligned++;
                kn_log("link: follows the session: %.6g bpm from beat %.6g (frame %llu)", s->bpm,
                       kn_timeline_beat(c, p), (unsigned long long)p);
                return;
            }
        }
    }
    if (kn_tempo_set(&c->tempo, c->rate, f, bk + e, s->bpm, bar) &&
        kn_tempo_set(&c->tempo, c->rate, f, bk + e + bar, s->bpm, bar)) {
        kn_log("link: the tempo map refused the session's tempo %.6g bpm at frame %llu", s->bpm,
               (unsigned long long)f);
        return;
    }
    kn_timeline_publish(c);
    ls.seen = c->tempo;
    k->aligned++;
    k->phase_ms = 0;
    if (fabs(s->bpm - bpm) > BPM_EPS || fabs(ms) >= 1) /* small phase steps: counted only */
        kn_log("link: follows the session: %.6g bpm, beat %.6g -> %.6g (%+.3f ms) at frame %llu",
               s->bpm, bk, kn_timeline_beat(c, f), ms, (unsigned long long)f);
}

void kn_link_tick(kn_conductor *c) {
    kn_link_ctl *k = &c->link;
    clock_sample(c);
    if (k->on && !ls.on) join(c);
    if (!k->on && ls.on) leave(c);
    if (!ls.on) return;
    uint64_t f = landing(c);
    int64_t h = host_at(c, f);
    uint32_t bar = kn_tempo_bar(&c->tempo, f);
    kn_link_session s;
    if (h < 0 || kn_link_capture(ls.link, h, bar, &s)) return;
    k->peers = kn_link_peers(ls.link);
    k->playing = s.playing;
    if (k->peers != ls.peers) kn_log("link: %u peer%s", k->peers, k->peers == 1 ? "" : "s");
    if (s.playing != ls.playing && ls.playing >= 0)
        kn_log("link: the session %s", s.playing ? "plays" : "stopped");
    ls.peers = k->peers;
    ls.playing = s.playing;
    /* with peers, kanon's own changes land later: time for them to hear */
    c->tempo_delay = k->peers ? (uint64_t)(DELAY_S * c->rate) : 0;
    /* where kanon's ramp steps land: as late as its own changes, but not
     * before the newest segment (the ramp's start, already that late) */
    uint64_t ahead = kn_timeline_frontier_all(c) + c->tempo_delay;
    if (ahead < f) ahead = f;
    int pushed = 0;
    if (memcmp(&c->tempo, &ls.seen, sizeof c->tempo)) { /* the user's change */
        ls.seen = c->tempo;
        lead_ramp(c, f);
        if (!ls.ramp_end) push(c, kn_tempo_newest(&c->tempo)->at);
        pushed = 1;
    }
    if (ls.ramp_end && ahead < ls.ramp_end) {
        ramp_step(c, ahead);
    } else if (ls.ramp_end) { /* the ramp is over: its last tempo, from its end */
        push(c, ls.ramp_end);
        ls.ramp_end = 0;
        pushed = 1;
    } else if (!pushed) {
        pull(c, f, &s, bar);
    }
    if (k->ask) {
        uint64_t at = kn_timeline_grid(c, f, bar);
        int64_t ah = host_at(c, at);
        if (ah >= 0 && !kn_link_set_playing(ls.link, k->ask > 0, ah))
            kn_log("link: asked the session to %s on beat %.6g", k->ask > 0 ? "start" : "stop",
                   kn_timeline_beat(c, at));
        k->ask = 0;
    }
}

void kn_link_shutdown(kn_conductor *c) {
    if (!ls.link) return;
    if (ls.on) leave(c);
    kn_link_free(ls.link);
    ls.link = NULL;
}
