/*
 * timeline.h - the one clock every deck shares: the tempo map, the
 * quantization grid, and the timed events a deck's cartridge applies at an
 * exact sample. Header-only and depends on nothing but libc, so the
 * conductor, the cartridges, the CLI and the unit tests all do the same
 * arithmetic on the same bytes.
 *
 * Timeline frames. The conductor counts frames from `kanon up` on the
 * device clock; a deck's ring position p is timeline frame p + epoch
 * (kn_timeline_ctl.epoch). Offline, the timeline starts with the render:
 * frame 0 is beat 0.
 *
 * The tempo map. A segment says: from timeline frame `at`, where the beat
 * is `beat`, the tempo glides linearly *in time* from `bpm` to `bpm_to`
 * over `ramp` frames (0 = a step: `bpm_to` from `at` on), then stays at
 * `bpm_to`. With k = 1 / (60 * rate) and t = F - at frames, the beat is
 *
 *     inside a ramp   beat + k * (bpm * t + (bpm_to - bpm) * t^2 / (2 * ramp))
 *     after it        beat + k * ((bpm + bpm_to) / 2 * ramp + bpm_to * (t - ramp))
 *
 * and the inverse (the frame at which a beat is reached) is closed form: the
 * positive root of that quadratic, written 2D / (b + sqrt(b^2 + 4aD)) so it
 * neither cancels nor divides by a vanishing (bpm_to - bpm). A map keeps the
 * KN_TEMPO_SEGS newest segments in a ring indexed by the count `n` of
 * segments ever appended (appended in increasing `at`); frame F is looked
 * up in the newest kept segment with at <= F, or, before all of them, in the
 * oldest, extrapolated backwards at its starting tempo. A change appended at
 * `at` takes its beat and starting tempo from the map as it was, so the beat
 * never jumps and a ramp starts from the tempo that was playing.
 *
 * Rounding. An event or a grid point lands on the first integer frame at or
 * past its (fractional) frame. Floating point must not push an exact frame
 * to the next one: at 48 kHz and 120 bpm beat 1.01 is frame 24240 exactly,
 * but 1.01 * 60 * 48000 / 120 evaluates to 24240.000000000004. So a value
 * within KN_TL_FRAME_EPS (1e-6 frame, plus 1e-13 of the value for long
 * timelines) above an integer counts as that integer, and a beat within
 * KN_TL_BEAT_EPS (1e-9 beat, plus 1e-13 of it) of a grid line counts as on
 * it. Double rounding of this arithmetic is a few 1e-16 relative, far
 * inside those; the tolerances themselves are far below a sample (1e-6
 * frame is 21 ps at 48 kHz; 1e-9 beat, 0.5 ns at 120 bpm).
 *
 * Shared memory (kanon_shm.h embeds these):
 *   kn_timeline_ctl  in the ring segment, after the deck control block:
 *                    epoch and the tempo map (conductor), late (producer).
 *                    The map travels under a seqlock: tempo_seq is odd
 *                    while the conductor writes; a reader copies the words
 *                    with relaxed atomic loads and keeps the copy only if
 *                    tempo_seq was even and unchanged around it. Readers
 *                    try KN_TEMPO_TRIES times and then keep their last good
 *                    copy: a cartridge's render loop never spins.
 *   kn_ev_queue      in the parameter segment (so the next cartridge of the
 *                    deck inherits what is not yet applied): timed events
 *                    pushed by the conductor and taken by the deck's
 *                    producing cartridge. SPSC, 64-bit positions that only
 *                    increase, KN_EVQ_CAP slots. Events need not arrive in
 *                    time order (a `set --at` far ahead must not hold back an
 *                    immediate one), so the consumer takes every event that
 *                    is due, wherever it sits between head and tail, marks
 *                    it `done`, and retires the done prefix by moving head.
 *                    Neither side trusts the other's position: indices are
 *                    masked, and a head past the tail or a tail more than
 *                    KN_EVQ_CAP ahead is clamped (and repaired by the
 *                    consumer).
 *
 * Everything here is real-time safe: no allocation, no locks, no system
 * calls; every loop is bounded by KN_TEMPO_SEGS, KN_TEMPO_TRIES,
 * KN_TEMPO_WORDS or KN_EVQ_CAP.
 */
#ifndef KANON_TIMELINE_H
#define KANON_TIMELINE_H

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define KN_TEMPO_SEGS   8 /* tempo segments a map keeps */
#define KN_TEMPO_TRIES  4 /* seqlock read attempts before keeping the last good copy */
#define KN_BPM_DEFAULT  120.0
#define KN_BAR_DEFAULT  4
#define KN_BPM_MIN      1.0
#define KN_BPM_MAX      1000.0
#define KN_BAR_MAX      64
#define KN_RAMP_MAX     1e6  /* beats: the longest glide kn_tempo_change accepts */
#define KN_QUANT_MAX    1024 /* beats: the coarsest quantization grid */
#define KN_TL_FRAME_EPS 1e-6
#define KN_TL_BEAT_EPS  1e-9
#define KN_TL_REL_EPS   1e-13

/* ------------------------------------------------------------- tempo map */

typedef struct kn_tempo_seg {
    uint64_t at;   /* timeline frame where the segment starts */
    double beat;   /* the beat at `at` */
    double bpm;    /* tempo at `at` when a ramp starts there; for a step, the tempo before it */
    double bpm_to; /* tempo at the end of the ramp, and after it */
    uint64_t ramp; /* frames of the glide; 0 = a step */
    uint32_t bar;  /* beats per bar */
    uint32_t pad;  /* zero: every byte of the map is defined (it is copied as words) */
} kn_tempo_seg;

typedef struct kn_tempo_map {
    uint32_t n; /* segments ever appended; segment i lives in seg[i % KN_TEMPO_SEGS] */
    uint32_t pad;
    kn_tempo_seg seg[KN_TEMPO_SEGS];
} kn_tempo_map;

#define KN_TEMPO_WORDS (sizeof(kn_tempo_map) / sizeof(uint64_t))
_Static_assert(sizeof(kn_tempo_map) % sizeof(uint64_t) == 0, "the map travels as 64-bit words");

/* 120 bpm, 4 beats per bar, frame 0 at beat 0. */
static inline void kn_tempo_init(kn_tempo_map *m) {
    memset(m, 0, sizeof *m);
    m->n = 1;
    m->seg[0].bpm = m->seg[0].bpm_to = KN_BPM_DEFAULT;
    m->seg[0].bar = KN_BAR_DEFAULT;
}

/* Segments kept, and the i-th of them (0 = the oldest kept). */
static inline uint32_t kn_tempo_kept(const kn_tempo_map *m) {
    return m->n < KN_TEMPO_SEGS ? m->n : KN_TEMPO_SEGS;
}
static inline const kn_tempo_seg *kn_tempo_nth(const kn_tempo_map *m, uint32_t i) {
    return &m->seg[(m->n - kn_tempo_kept(m) + i) % KN_TEMPO_SEGS];
}
static inline const kn_tempo_seg *kn_tempo_newest(const kn_tempo_map *m) {
    return &m->seg[(m->n - 1) % KN_TEMPO_SEGS];
}

static inline int kn_bpm_ok(double bpm) {
    return bpm >= KN_BPM_MIN && bpm <= KN_BPM_MAX; /* false for NaN */
}

/* 1 if the map can be used: a reader checks a copy it took from shared
 * memory (a cartridge of the deck may have scribbled over it) before it
 * replaces its last good one. Every tempo in range, every beat finite, the
 * kept segments in increasing `at` with non-decreasing beats. */
static inline int kn_tempo_valid(const kn_tempo_map *m) {
    uint32_t k = kn_tempo_kept(m);
    if (k == 0) return 0;
    for (uint32_t i = 0; i < k; i++) {
        const kn_tempo_seg *s = kn_tempo_nth(m, i);
        if (!kn_bpm_ok(s->bpm) || !kn_bpm_ok(s->bpm_to) || !(fabs(s->beat) < 1e15) || s->bar < 1 ||
            s->bar > KN_BAR_MAX || s->ramp > ((uint64_t)1 << 53))
            return 0;
        if (i > 0) {
            const kn_tempo_seg *p = kn_tempo_nth(m, i - 1);
            if (s->at <= p->at || !(s->beat >= p->beat)) return 0;
        }
    }
    return 1;
}

/* The segment that governs frame f: the newest kept one starting at or
 * before it, else the oldest kept one. */
static inline const kn_tempo_seg *kn_tempo_seg_at(const kn_tempo_map *m, double f) {
    uint32_t k = kn_tempo_kept(m);
    for (uint32_t i = k; i-- > 1;) {
        const kn_tempo_seg *s = kn_tempo_nth(m, i);
        if ((double)s->at <= f) return s;
    }
    return kn_tempo_nth(m, 0);
}

/* The tempo at the segment's start, which also extends it backwards. */
static inline double kn_tempo_seg_start(const kn_tempo_seg *s) {
    return s->ramp ? s->bpm : s->bpm_to;
}

static inline double kn_tempo_seg_beat(const kn_tempo_seg *s, double rate, double f) {
    double t = f - (double)s->at, k = 1.0 / (60.0 * rate), r = (double)s->ramp;
    if (t < 0) return s->beat + kn_tempo_seg_start(s) * t * k;
    if (s->ramp && t < r)
        return s->beat + (s->bpm * t + (s->bpm_to - s->bpm) * t * t / (2 * r)) * k;
    if (s->ramp) return s->beat + ((s->bpm + s->bpm_to) / 2 * r + s->bpm_to * (t - r)) * k;
    return s->beat + s->bpm_to * t * k;
}

/* The beat at (fractional) timeline frame f. */
static inline double kn_tempo_beat(const kn_tempo_map *m, double rate, double f) {
    return kn_tempo_seg_beat(kn_tempo_seg_at(m, f), rate, f);
}

static inline double kn_tempo_seg_bpm(const kn_tempo_seg *s, double f) {
    double t = f - (double)s->at;
    if (t < 0) return kn_tempo_seg_start(s);
    if (s->ramp && t < (double)s->ramp) return s->bpm + (s->bpm_to - s->bpm) * t / (double)s->ramp;
    return s->bpm_to;
}

/* The tempo at frame f. */
static inline double kn_tempo_bpm(const kn_tempo_map *m, double rate, double f) {
    (void)rate; /* a ramp is linear in frames: the rate does not enter */
    return kn_tempo_seg_bpm(kn_tempo_seg_at(m, f), f);
}

/* Beats per bar at frame f. */
static inline uint32_t kn_tempo_bar(const kn_tempo_map *m, double f) {
    return kn_tempo_seg_at(m, f)->bar;
}

/* The (fractional) timeline frame at which `beat` is reached: the inverse
 * of kn_tempo_beat. */
static inline double kn_tempo_frame(const kn_tempo_map *m, double rate, double beat) {
    uint32_t k = kn_tempo_kept(m);
    const kn_tempo_seg *s = kn_tempo_nth(m, 0);
    for (uint32_t i = k; i-- > 1;)
        if (kn_tempo_nth(m, i)->beat <= beat) {
            s = kn_tempo_nth(m, i);
            break;
        }
    double d = (beat - s->beat) * 60.0 * rate; /* beat-frames to cover: bpm * frames */
    double at = (double)s->at, r = (double)s->ramp;
    if (d < 0) return at + d / kn_tempo_seg_start(s);
    if (s->ramp) {
        double in_ramp = (s->bpm + s->bpm_to) / 2 * r;
        if (d < in_ramp) {
            double a = (s->bpm_to - s->bpm) / (2 * r), disc = s->bpm * s->bpm + 4 * a * d;
            return at + 2 * d / (s->bpm + sqrt(disc > 0 ? disc : 0));
        }
        return at + r + (d - in_ramp) / s->bpm_to;
    }
    return at + d / s->bpm_to;
}

/* The first integer frame at or past fractional frame f (see Rounding
 * above); 0 for f <= 0 or NaN. */
static inline uint64_t kn_tl_ceil(double f) {
    if (!(f > 0)) return 0;
    double c = ceil(f - (KN_TL_FRAME_EPS + f * KN_TL_REL_EPS));
    if (c >= 18446744073709549568.0) return UINT64_MAX; /* the largest double below 2^64 */
    return c > 0 ? (uint64_t)c : 0;
}

/* The first integer frame at or past the frame of `beat`. */
static inline uint64_t kn_tempo_beat_frame(const kn_tempo_map *m, double rate, double beat) {
    return kn_tl_ceil(kn_tempo_frame(m, rate, beat));
}

/* The quantization grid: the first integer frame >= from whose beat is at
 * or past the next multiple of `quant` beats (a frame already on a grid line
 * is its own answer). quant <= 0 (or not a number) means `from`. */
static inline uint64_t kn_tempo_grid(const kn_tempo_map *m, double rate, uint64_t from,
                                     double quant) {
    if (!(quant > 0)) return from;
    double q = kn_tempo_beat(m, rate, (double)from) / quant;
    double line = ceil(q - (KN_TL_BEAT_EPS / quant + fabs(q) * KN_TL_REL_EPS)) * quant;
    uint64_t f = kn_tempo_beat_frame(m, rate, line);
    return f > from ? f : from;
}

/* Appends a tempo change at frame `at`: the tempo goes to `bpm` (a step, or
 * a glide over `ramp_beats` beats), with `bar` beats per bar. Its beat and
 * starting tempo are the map's at `at`, so the beat never jumps. A change
 * at the newest segment's frame replaces it (the last word wins); one
 * before it lands at that frame (the map never goes back in time). The
 * glide's length in frames comes from the beats it covers at the mean of
 * the two tempi: beats = (bpm0 + bpm1) / 2 * T / (60 * rate). 0, or -1 for
 * a tempo, bar or ramp out of range (the map is unchanged). */
static inline int kn_tempo_change(kn_tempo_map *m, double rate, uint64_t at, double bpm,
                                  uint32_t bar, double ramp_beats) {
    if (!kn_bpm_ok(bpm) || bar < 1 || bar > KN_BAR_MAX || !(ramp_beats >= 0) ||
        ramp_beats > KN_RAMP_MAX || !(rate > 0) || !kn_tempo_valid(m))
        return -1;
    const kn_tempo_seg *last = kn_tempo_newest(m);
    kn_tempo_seg s = {.at = at > last->at ? at : last->at, .bpm_to = bpm, .bar = bar};
    int replace = s.at == last->at;
    if (replace) { /* the same frame: start from what was playing before `last` */
        s.beat = last->beat;
        s.bpm = last->bpm;
    } else {
        s.beat = kn_tempo_beat(m, rate, (double)s.at);
        s.bpm = kn_tempo_bpm(m, rate, (double)s.at);
    }
    if (ramp_beats > 0) {
        double frames = ramp_beats * 60.0 * rate / ((s.bpm + bpm) / 2);
        s.ramp = (uint64_t)llround(frames);
    }
    if (replace) {
        m->seg[(m->n - 1) % KN_TEMPO_SEGS] = s;
    } else {
        m->seg[m->n % KN_TEMPO_SEGS] = s;
        /* 2^32 is a multiple of KN_TEMPO_SEGS: skipping 0 keeps every index */
        m->n = m->n + 1 ? m->n + 1 : KN_TEMPO_SEGS;
    }
    return 0;
}

/* Appends a step at frame `at` to `bpm`, with `bar` beats per bar, where
 * the beat is `beat`: unlike kn_tempo_change, the beat may jump there.
 * Ableton Link needs it: joining a session, or drifting out of phase with
 * it, moves the beat onto the session's phase (conductor/link_sync.c). A
 * step at the newest segment's frame replaces it. 0, or -1 with the map
 * unchanged: a tempo, bar or beat out of range, a frame before the newest
 * segment (the map never goes back in time), or a beat below the one where
 * the segment before it starts (beats never run backwards past a segment's
 * start, so the map stays valid and kn_tempo_frame stays an inverse). */
static inline int kn_tempo_set(kn_tempo_map *m, double rate, uint64_t at, double beat, double bpm,
                               uint32_t bar) {
    if (!kn_bpm_ok(bpm) || bar < 1 || bar > KN_BAR_MAX || !(fabs(beat) < 1e15) || !(rate > 0) ||
        !kn_tempo_valid(m))
        return -1;
    const kn_tempo_seg *last = kn_tempo_newest(m);
    if (at < last->at) return -1;
    kn_tempo_map t = *m;
    kn_tempo_seg s = {.at = at, .beat = beat, .bpm_to = bpm, .bar = bar};
    if (at == last->at) { /* replaces it: the tempo before is the one before `last` */
        s.bpm = last->bpm;
        t.seg[(t.n - 1) % KN_TEMPO_SEGS] = s;
    } else {
        s.bpm = kn_tempo_bpm(m, rate, (double)at);
        t.seg[t.n % KN_TEMPO_SEGS] = s;
        t.n = t.n + 1 ? t.n + 1 : KN_TEMPO_SEGS;
    }
    if (!kn_tempo_valid(&t)) return -1;
    *m = t;
    return 0;
}

/* ----------------------------------------------- shared: timeline control */

/* The deck's place on the timeline. A deck's first producer, once its
 * setup() is done, reports "running" and waits (on the deck's futex word)
 * until the conductor has stored `epoch` and then `epoch_set` = 1: the
 * conductor picks the frame its first sample plays at (at once, or on the
 * quantization grid) and the mixer starts the deck exactly there. Later
 * producers of the deck find it set. `handover_at`, when not 0, is the
 * ring position at which the producer must pass the token to the named
 * successor (a quantized takeover): it renders up to exactly that frame,
 * cutting its last block short if need be, and hands over there. */
typedef struct kn_timeline_ctl {
    _Atomic int64_t epoch;        /* conductor: timeline frame of ring position 0 */
    _Atomic uint64_t late;        /* producer: events applied after their frame had passed */
    _Atomic uint32_t tempo_seq;   /* conductor: seqlock over `tempo`, odd while written */
    _Atomic uint32_t epoch_set;   /* conductor: 1 once `epoch` holds */
    _Atomic uint64_t handover_at; /* conductor: ring position of a quantized takeover, 0 = none */
    _Atomic uint64_t tempo[KN_TEMPO_WORDS]; /* conductor: a kn_tempo_map's bytes */
} kn_timeline_ctl;

/* Conductor: publishes a map. One writer (the conductor's control thread);
 * a seq left odd by a scribbler is first made even. */
static inline void kn_tempo_publish(kn_timeline_ctl *tl, const kn_tempo_map *m) {
    uint64_t w[KN_TEMPO_WORDS];
    memcpy(w, m, sizeof w);
    uint32_t s = atomic_load_explicit(&tl->tempo_seq, memory_order_relaxed);
    s += s & 1;
    atomic_store_explicit(&tl->tempo_seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd before any word changes */
    for (size_t i = 0; i < KN_TEMPO_WORDS; i++)
        atomic_store_explicit(&tl->tempo[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&tl->tempo_seq, s + 2, memory_order_release);
}

/* Cartridge: refreshes *m from shared memory. *seen is the tempo_seq of the
 * last consistent copy (start with an odd value, e.g. UINT32_MAX): if it is
 * unchanged, nothing is copied. Returns 1 if *m was replaced, 0 if the map
 * is unchanged, -1 if no consistent copy came in KN_TEMPO_TRIES attempts or
 * the copy is not a valid map (*m keeps the last good one). */
static inline int kn_tempo_fetch(kn_timeline_ctl *tl, kn_tempo_map *m, uint32_t *seen) {
    for (int tries = 0; tries < KN_TEMPO_TRIES; tries++) {
        uint32_t s1 = atomic_load_explicit(&tl->tempo_seq, memory_order_acquire);
        if (s1 == *seen && !(s1 & 1)) return 0;
        if (s1 & 1) continue; /* being written */
        uint64_t w[KN_TEMPO_WORDS];
        for (size_t i = 0; i < KN_TEMPO_WORDS; i++)
            w[i] = atomic_load_explicit(&tl->tempo[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire); /* the words before the second look */
        if (atomic_load_explicit(&tl->tempo_seq, memory_order_relaxed) != s1) continue;
        *seen = s1; /* consistent: not copied again until the next write */
        kn_tempo_map got;
        memcpy(&got, w, sizeof got);
        if (!kn_tempo_valid(&got)) return -1;
        *m = got;
        return 1;
    }
    return -1;
}

/* The timeline frame of deck frame `frame` (ring position), never below 0. */
static inline uint64_t kn_tl_now(uint64_t frame, int64_t epoch) {
    if (epoch < 0 && frame < (uint64_t)0 - (uint64_t)epoch) return 0;
    return frame + (uint64_t)epoch;
}

/* ------------------------------------------------------ shared: events */

#define KN_EVQ_CAP 256 /* a power of two */

/* Event types in the queue; kanon.h's KN_EV_* have the same values. */
#define KN_EVQ_PARAM    1
#define KN_EVQ_NOTE_ON  2
#define KN_EVQ_NOTE_OFF 3
#define KN_EVQ_TRIG     4
#define KN_EVQ_CC       5 /* note = the controller, value = 0..127 */
#define KN_EVQ_BEND     6 /* value = -1..1 */
#define KN_EVQ_PRESSURE 7 /* value = 0..127 */
#define KN_EVQ_PROGRAM  8 /* note = the program */

/* One timed event. Written by the conductor before the release of `tail`;
 * afterwards only `done` changes (the consumer's mark). */
typedef struct kn_ev_slot {
    uint64_t frame;   /* timeline frame of the sample it lands on */
    uint32_t type;    /* KN_EVQ_* */
    uint32_t param;   /* PARAM: slot index in the parameter segment */
    int32_t note;     /* NOTE_*: 0..127; CC: the controller; PROGRAM: the program */
    int32_t velocity; /* NOTE_*: 0..127 (a NOTE_ON with 0 is a NOTE_OFF) */
    int32_t channel;  /* NOTE_*, TRIG, CC, BEND, PRESSURE, PROGRAM: 0..15 */
    uint32_t done;    /* consumer: taken (the conductor writes 0) */
    double value;     /* PARAM: the new value; TRIG: its value; CC, BEND, PRESSURE: see above */
    double ramp;      /* PARAM: glide in ms (below the shortest, 10 ms: the shortest) */
} kn_ev_slot;

typedef struct kn_ev_queue {
    _Atomic uint64_t tail; /* conductor: events ever pushed */
    _Atomic uint64_t head; /* producing cartridge: events ever retired */
    kn_ev_slot slot[KN_EVQ_CAP];
} kn_ev_queue;

/* Conductor: pushes one event (its `done` is cleared). 0, or -1 if the
 * queue is full, or its head is impossible (past the tail: the consumer
 * repairs it at its next block). */
static inline int kn_evq_push(kn_ev_queue *q, const kn_ev_slot *e) {
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (h > t || t - h >= KN_EVQ_CAP) return -1;
    kn_ev_slot *s = &q->slot[t & (KN_EVQ_CAP - 1)];
    *s = *e;
    s->done = 0;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return 0;
}

/* Events pushed and not yet retired (an upper bound of those pending). */
static inline uint32_t kn_evq_count(kn_ev_queue *q) {
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    return h > t ? 0 : t - h > KN_EVQ_CAP ? KN_EVQ_CAP : (uint32_t)(t - h);
}

/* Consumer: nothing pushed since the last take (one look at each position;
 * a garbage head counts as not empty, so kn_evq_take gets to repair it). */
static inline int kn_evq_empty(kn_ev_queue *q) {
    return atomic_load_explicit(&q->tail, memory_order_acquire) ==
           atomic_load_explicit(&q->head, memory_order_relaxed);
}

/* Consumer: the positions to look at, clamped: a head past the tail is
 * moved to it, one more than KN_EVQ_CAP behind it is moved up (the older
 * slots have been overwritten, if they ever existed). */
static inline void kn_evq_span(kn_ev_queue *q, uint64_t *h, uint64_t *t) {
    *t = atomic_load_explicit(&q->tail, memory_order_acquire);
    *h = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (*h > *t) *h = *t;
    if (*t - *h > KN_EVQ_CAP) *h = *t - KN_EVQ_CAP;
}

/* Consumer: copies every event not yet taken whose frame is before `until`
 * into out[] (at most `max`, in queue order), marks them taken, and
 * retires the taken prefix (head moves past it). Returns how many. */
static inline uint32_t kn_evq_take(kn_ev_queue *q, uint64_t until, kn_ev_slot *out, uint32_t max) {
    uint64_t h, t;
    kn_evq_span(q, &h, &t);
    uint32_t n = 0;
    for (uint64_t i = h; i < t; i++) {
        kn_ev_slot *s = &q->slot[i & (KN_EVQ_CAP - 1)];
        if (!s->done && s->frame < until && n < max) {
            out[n++] = *s;
            s->done = 1;
        }
    }
    while (h < t && q->slot[h & (KN_EVQ_CAP - 1)].done) h++;
    atomic_store_explicit(&q->head, h, memory_order_release);
    return n;
}

/* Consumer: a private copy of the queue (for a render on a snapshot, which
 * must not take the events meant for the deck's real producer). Only the
 * slots between head and the tail read with acquire are copied: a slot
 * being pushed concurrently is beyond it. */
static inline void kn_evq_copy(kn_ev_queue *dst, kn_ev_queue *src) {
    uint64_t h, t;
    kn_evq_span(src, &h, &t);
    for (uint64_t i = h; i < t; i++)
        dst->slot[i & (KN_EVQ_CAP - 1)] = src->slot[i & (KN_EVQ_CAP - 1)];
    atomic_store_explicit(&dst->head, h, memory_order_relaxed);
    atomic_store_explicit(&dst->tail, t, memory_order_relaxed);
}

#endif
