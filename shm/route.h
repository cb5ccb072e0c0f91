/*
 * route.h - decks that feed decks: the route table every cartridge reads,
 * and the arithmetic that turns a source's frames into a consumer's input.
 *
 * The model. A deck is a source; a deck that calls kn_in() is also a
 * consumer, with named input ports ("in" always, up to KN_PORTS_MAX in
 * all). A route carries one source (a deck, or the device input) into one
 * consumer's port, or into the master, with a gain and a tap point: post
 * (after the source's fader: what the master hears of it) or pre (its raw
 * output). The graph has no cycles (the conductor refuses them).
 *
 * Where the sum is made. A consumer's cartridge reads its sources' rings
 * itself, ahead of the device, at the timeline frames it is rendering:
 * what it reads for timeline frame F is what its sources produced for F.
 * So a chain adds no delay of its own: every deck of it renders ahead, each
 * waiting (a bounded while) for its sources. The conductor only sums the
 * decks' outputs into the master, as before.
 *
 * Shared memory. The conductor makes every deck slot's ring segment once,
 * at start, and keeps it for its life (a new deck in the slot reformats
 * it); every cartridge maps all of them read-only (KN_FD_SRC, contract.h),
 * so a route to a deck that is not playing yet needs nothing new when it
 * starts. The routes segment (kn_routes_seg, also read-only to cartridges)
 * holds:
 *   - the route table, under a seqlock (`seq` odd while the conductor
 *     writes; readers copy the words and keep the copy only if `seq` was
 *     even and unchanged around it, KN_ROUTES_TRIES attempts, else they
 *     keep their last good copy), with slot numbers resolved from names;
 *   - per source (kn_src_info): a generation counter (odd while its ring is
 *     being reformatted for a new deck), whether it is live (placed on the
 *     timeline), its epoch (ring position p is timeline frame p + epoch)
 *     and its fader gains, all written by the conductor only. A source's
 *     own ring header is never trusted for any of these.
 *
 * Reading a source (kn_ring_peek). The frames [q, q+n) of a ring may be
 * read while the producer may be writing further on: positions are checked
 * before the copy (written yet?) and after it (overwritten meanwhile?), and
 * the copy is thrown away if the slot's generation moved. A frame is never
 * read torn or stale: it is the producer's frame, or it counts as missing.
 * A missing source is held at its last frame and faded out over ~1 ms,
 * and faded in when it comes back, as the mixer does on the master.
 *
 * Latency compensation. A deck may declare its processing latency
 * (k->latency frames, published in its ring's control block). The
 * conductor computes, per route, the delay that makes every path into a
 * summing point (a port, or the master) arrive aligned, and writes it into
 * the table; a consumer then reads the source `delay` frames earlier, from
 * the ring's history (the master path is delayed by the mixer).
 *
 * Header-only, libc only; real-time safe (no allocation, no locks, no
 * system calls, loops bounded by their arguments and KN_ROUTES_MAX).
 */
#ifndef KANON_ROUTE_H
#define KANON_ROUTE_H

#include "kanon_shm.h"
#include "mixmath.h"

#include <stdlib.h>
#include <string.h>

#define KN_PORTS_MAX       4            /* a deck's input ports, "in" included */
#define KN_ROUTES_MAX      64           /* routes in the whole table */
#define KN_SRC_IN          KN_MAX_DECKS /* the device input, as a source */
#define KN_SRCS            (KN_MAX_DECKS + 1)
#define KN_DST_MASTER      255
#define KN_PORT_IN         "in"
#define KN_ROUTE_DELAY_MAX 8192 /* frames: the most compensation a route carries */
#define KN_ROUTE_RAMP_MS   10   /* a route's gain glides this long */
#define KN_ROUTES_TRIES    4
#define KN_LATENCY_MAX     KN_ROUTE_DELAY_MAX /* the most a deck may declare */
#define KN_ROUTE_CLAMP     1000.0f            /* +60 dBFS: a source sample past it reads as 0 */

/* One route. Written by the conductor only. */
typedef struct kn_route_rec {
    uint32_t src;      /* deck slot, or KN_SRC_IN */
    uint32_t dst;      /* deck slot, or KN_DST_MASTER */
    uint32_t pre;      /* 1: the source before its fader (gain, mute, pan) */
    uint32_t gain;     /* linear gain, float bits */
    uint32_t delay;    /* frames of latency compensation */
    uint32_t in_first; /* KN_SRC_IN: its first channel (0-based) */
    uint32_t in_count; /* KN_SRC_IN: how many channels */
    uint32_t pad;
    char port[KN_NAME_MAX]; /* the consumer's port ("" for the master) */
} kn_route_rec;

typedef struct kn_route_table {
    uint32_t count, pad;
    kn_route_rec route[KN_ROUTES_MAX];
} kn_route_table;

#define KN_ROUTE_WORDS (sizeof(kn_route_table) / sizeof(uint64_t))
_Static_assert(sizeof(kn_route_table) % sizeof(uint64_t) == 0, "the table travels as words");

/* One source as the conductor sees it. */
typedef struct kn_src_info {
    _Atomic uint32_t gen;        /* odd while the slot's ring is reformatted */
    _Atomic uint32_t live;       /* 1 once a deck here is placed on the timeline */
    _Atomic int64_t epoch;       /* timeline frame of its ring position 0 */
    _Atomic uint32_t fader[3];   /* its fader gains, float bits (kn_fader_gains) */
    _Atomic uint32_t fader_ramp; /* frames a fader change glides */
    _Atomic uint32_t channels;   /* frames' width in its ring */
    uint32_t pad;
    _Atomic uint64_t stop_at; /* timeline frame where it stops (fades out); 0 = none */
} kn_src_info;

typedef struct kn_routes_seg {
    kn_seg_header hdr;
    _Atomic uint32_t seq; /* seqlock over `table` */
    uint32_t pad;
    _Atomic uint64_t table[KN_ROUTE_WORDS]; /* a kn_route_table's bytes */
    kn_src_info src[KN_SRCS];
    /* The device clock: timeline frame `clock_frame` was mixed at
     * CLOCK_MONOTONIC `clock_ns` (seqlock `clock_seq`; 0: not yet). A
     * consumer waiting for a late source tells from it how long it may
     * wait before its own frame is due. */
    _Atomic uint32_t clock_seq;
    _Atomic uint32_t period; /* frames the device takes per callback, at most */
    _Atomic uint64_t clock_frame, clock_ns;
} kn_routes_seg;

/* Conductor: publishes the device clock. */
static inline void kn_routes_clock_publish(kn_routes_seg *s, uint64_t frame, uint64_t ns) {
    uint32_t q = atomic_load_explicit(&s->clock_seq, memory_order_relaxed);
    q += q & 1;
    atomic_store_explicit(&s->clock_seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->clock_frame, frame, memory_order_relaxed);
    atomic_store_explicit(&s->clock_ns, ns, memory_order_relaxed);
    atomic_store_explicit(&s->clock_seq, q + 2, memory_order_release);
}

/* Cartridge: 0 with the clock, -1 if there is none yet or no consistent
 * read in KN_ROUTES_TRIES attempts. */
static inline int kn_routes_clock_read(kn_routes_seg *s, uint64_t *frame, uint64_t *ns) {
    for (int tries = 0; tries < KN_ROUTES_TRIES; tries++) {
        uint32_t q = atomic_load_explicit(&s->clock_seq, memory_order_acquire);
        if (!q || (q & 1)) continue;
        *frame = atomic_load_explicit(&s->clock_frame, memory_order_relaxed);
        *ns = atomic_load_explicit(&s->clock_ns, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->clock_seq, memory_order_relaxed) == q) return 0;
    }
    return -1;
}

/* ------------------------------------------------------------ the table */

/* 1 if a table copied from shared memory can be used. */
static inline int kn_route_table_valid(const kn_route_table *t) {
    if (t->count > KN_ROUTES_MAX) return 0;
    for (uint32_t i = 0; i < t->count; i++) {
        const kn_route_rec *r = &t->route[i];
        if (r->src >= KN_SRCS || (r->dst >= KN_MAX_DECKS && r->dst != KN_DST_MASTER) ||
            r->delay > KN_ROUTE_DELAY_MAX || !memchr(r->port, 0, sizeof r->port) ||
            r->in_first >= KN_MAX_CHANNELS || r->in_count < 1 ||
            r->in_first + r->in_count > KN_MAX_CHANNELS)
            return 0;
    }
    return 1;
}

/* Conductor: publishes a table (one writer; a seq left odd is made even). */
static inline void kn_route_table_publish(kn_routes_seg *s, const kn_route_table *t) {
    uint64_t w[KN_ROUTE_WORDS];
    memcpy(w, t, sizeof w);
    uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    q += q & 1;
    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < KN_ROUTE_WORDS; i++)
        atomic_store_explicit(&s->table[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 2, memory_order_release);
}

/* Cartridge: refreshes *t if the table changed (see kn_tempo_fetch): 1 if
 * replaced, 0 if unchanged, -1 if no consistent valid copy came (*t keeps
 * the last good one). *seen starts odd. */
static inline int kn_routes_fetch(kn_routes_seg *s, kn_route_table *t, uint32_t *seen) {
    for (int tries = 0; tries < KN_ROUTES_TRIES; tries++) {
        uint32_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (s1 == *seen && !(s1 & 1)) return 0;
        if (s1 & 1) continue;
        uint64_t w[KN_ROUTE_WORDS];
        for (size_t i = 0; i < KN_ROUTE_WORDS; i++)
            w[i] = atomic_load_explicit(&s->table[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1) continue;
        *seen = s1;
        kn_route_table got;
        memcpy(&got, w, sizeof got);
        if (!kn_route_table_valid(&got)) return -1;
        *t = got;
        return 1;
    }
    return -1;
}

/* Latency compensation over a table resolved to slots (the conductor's,
 * and an offline session's): a deck's output lags its inputs by its
 * declared latency lat[]. In dependency order, a deck's inputs are aligned
 * on the latest of them (D = max over its routes of the source's A), its
 * output arrives at A = D + lat; a route's delay is D(dst) - A(src), and
 * a deck's master route (to_master[d]) is delayed to the latest deck on
 * the master. Sets every route's delay and master_delay[]; returns the
 * master's latency. At most one pass per source: the graph has no cycle. */
static inline uint64_t kn_route_compensate(kn_route_table *t, const uint32_t lat[KN_SRCS],
                                           const int to_master[KN_MAX_DECKS],
                                           uint32_t master_delay[KN_MAX_DECKS]) {
    uint64_t A[KN_SRCS], D[KN_SRCS] = {0}, Dm = 0;
    for (int i = 0; i < KN_SRCS; i++) A[i] = lat[i];
    for (int pass = 0; pass < KN_SRCS; pass++) {
        int changed = 0;
        for (uint32_t i = 0; i < t->count; i++) {
            const kn_route_rec *r = &t->route[i];
            if (r->dst >= KN_MAX_DECKS || A[r->src] <= D[r->dst]) continue;
            D[r->dst] = A[r->src];
            A[r->dst] = D[r->dst] + lat[r->dst];
            changed = 1;
        }
        if (!changed) break;
    }
    for (uint32_t i = 0; i < t->count; i++) {
        kn_route_rec *r = &t->route[i];
        uint64_t d = r->dst < KN_MAX_DECKS ? D[r->dst] - A[r->src] : 0;
        r->delay = d > KN_ROUTE_DELAY_MAX ? KN_ROUTE_DELAY_MAX : (uint32_t)d;
    }
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (to_master[i] && A[i] > Dm) Dm = A[i];
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        uint64_t d = to_master[i] ? Dm - A[i] : 0;
        master_delay[i] = d > KN_ROUTE_DELAY_MAX ? KN_ROUTE_DELAY_MAX : (uint32_t)d;
    }
    return Dm;
}

/* "in", "in:N" or "in:N-M": the device input as a route's source. 1 with
 * its channels (0-based first, count; count 0: all of them, -1: bad
 * numbers), or 0 if `s` does not name the input. The conductor (routes.c)
 * and an offline session (session.c) read a route's source alike. */
static inline int kn_route_parse_input(const char *s, int *first, int *count) {
    if (strncmp(s, "in", 2) || (s[2] && s[2] != ':')) return 0;
    *first = *count = 0;
    if (!s[2]) return 1;
    char *end;
    long a = strtol(s + 3, &end, 10), b = a;
    if (*end == '-') b = strtol(end + 1, &end, 10);
    if (*end || end == s + 3 || a < 1 || b < a || b > KN_MAX_CHANNELS) {
        *count = -1;
        return 1;
    }
    *first = (int)a - 1;
    *count = (int)(b - a + 1);
    return 1;
}

/* ------------------------------------------------------ reading a source */

/* Copies what there is of frames [q, q+n) of a ring (data/cap/ch: the
 * reader's own copy of its geometry) into dst, interleaved. Returns how
 * many frames from q on it copied (0..n), or -1 if they are no longer
 * there (overwritten before or during the copy). `margin`: the frames the
 * writer may be writing past its published position (its block), which
 * overwrite as many of the oldest. */
static inline int kn_ring_peek(const kn_ring_seg *r, const float *data, uint32_t cap, uint32_t ch,
                               uint32_t margin, uint64_t q, uint32_t n, float *dst) {
    uint64_t w = atomic_load_explicit(&r->write_pos, memory_order_acquire);
    if (w <= q) return 0;
    if (w - q + margin > cap) return -1;
    uint32_t have = w - q < n ? (uint32_t)(w - q) : n, mask = cap - 1;
    uint32_t at = (uint32_t)(q & mask), first = have < cap - at ? have : cap - at;
    memcpy(dst, data + (size_t)at * ch, (size_t)first * ch * sizeof(float));
    memcpy(dst + (size_t)first * ch, data, (size_t)(have - first) * ch * sizeof(float));
    atomic_thread_fence(memory_order_acquire); /* the copy before the second look */
    uint64_t w2 = atomic_load_explicit(&r->write_pos, memory_order_relaxed);
    if (w2 < w || w2 - q + margin > cap) return -1; /* reset, or lapped while we copied */
    return (int)have;
}

/* ------------------------------------------------- mixing into a port */

/* A consumer's private state for one route of its table. */
typedef struct kn_route_run {
    kn_glide gain;               /* the route's gain */
    kn_glide fader[3];           /* the source's fader, as this route applies it (post) */
    float hold[KN_MAX_CHANNELS]; /* the source's last frame, held while it is missing */
    float level;                 /* 1 while the source is there; fades to 0 when it is not */
    int primed;                  /* the glides have met their targets once */
} kn_route_run;

/* Adds frames [0, n) of one source to a port. `src` holds `have` frames
 * (interleaved, `src_ch` wide; channel c of the port reads source channel
 * first + c % count); frames from `have` on are missing: the last one is
 * held and faded out over `fade` frames. `fader`/`fader_ramp` are the
 * source's fader (ignored for a pre tap), `ramp` the route gain's glide.
 * A route seen for the first time before anything was rendered (`fresh`)
 * starts at its targets; one added later glides in from silence. */
static inline void kn_route_mix(kn_route_run *run, const kn_route_rec *rec, int fresh,
                                const float *src, int src_ch, int have, int n, float *const *port,
                                int ch, const float fader[3], uint32_t fader_ramp, uint32_t ramp,
                                int fade) {
    float rg;
    memcpy(&rg, &rec->gain, sizeof rg);
    if (!run->primed) {
        if (fresh) {
            kn_glide_snap(&run->gain, rg);
            for (int k = 0; k < 3; k++) kn_glide_snap(&run->fader[k], fader[k]);
        } else {
            run->gain = (kn_glide){0, 0, 0};
            for (int k = 0; k < 3; k++) kn_glide_snap(&run->fader[k], fader[k]);
        }
        run->level = 1;
        run->primed = 1;
    }
    kn_glide_aim(&run->gain, rg, ramp);
    for (int k = 0; k < 3; k++) kn_glide_aim(&run->fader[k], fader[k], fader_ramp);
    uint32_t first = rec->src == KN_SRC_IN ? rec->in_first : 0;
    uint32_t count = rec->src == KN_SRC_IN ? rec->in_count : (uint32_t)src_ch;
    if (count == 0) count = 1;
    int still = run->gain.g == run->gain.to && run->level == 1 && have == n;
    for (int k = 0; k < 3; k++) still &= run->fader[k].g == run->fader[k].to;
    if (still) { /* the usual block: constant gains, the source all there */
        float g = run->gain.g;
        for (int c = 0; c < ch; c++) {
            uint32_t sc = first + (uint32_t)c % count;
            float f = rec->pre ? 1.0f : run->fader[kn_fader_index(c)].g, *dst = port[c];
            if (sc >= (uint32_t)src_ch) continue;
            const float *x = src + sc;
            for (int i = 0; i < n; i++) {
                float v = x[(size_t)i * (size_t)src_ch];
                if (!isfinite(v) || fabsf(v) > KN_ROUTE_CLAMP) v = 0; /* never pass on garbage */
                if (!rec->pre) v *= f;
                dst[i] += v * g;
            }
            if (n) run->hold[c] = x[(size_t)(n - 1) * (size_t)src_ch];
            if (!isfinite(run->hold[c]) || fabsf(run->hold[c]) > KN_ROUTE_CLAMP) run->hold[c] = 0;
        }
        return;
    }
    float step = 1.0f / (float)(fade > 0 ? fade : 1);
    for (int i = 0; i < n; i++) {
        float f[3] = {1, 1, 1};
        if (!rec->pre)
            for (int k = 0; k < 3; k++) f[k] = kn_glide_tick(&run->fader[k]);
        float g = kn_glide_tick(&run->gain);
        float lv = run->level;
        if (i < have) {
            run->level = lv + step < 1 ? lv + step : 1;
        } else {
            run->level = lv - step > 0 ? lv - step : 0;
        }
        for (int c = 0; c < ch; c++) {
            uint32_t sc = first + (uint32_t)c % count;
            float x;
            if (i < have) {
                x = sc < (uint32_t)src_ch ? src[(size_t)i * (size_t)src_ch + sc] : 0.0f;
                if (!isfinite(x) || fabsf(x) > KN_ROUTE_CLAMP) x = 0; /* never pass on garbage */
                run->hold[c] = x;
            } else {
                x = run->hold[c];
            }
            if (lv != 1) x *= lv;
            if (!rec->pre) x *= f[kn_fader_index(c)];
            port[c][i] += x * g;
        }
    }
}

#endif
