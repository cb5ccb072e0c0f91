/*
 * mixer.c - the audio path between the decks' rings and the device.
 *
 * Per deck and chunk: validate the ring (a corrupt write position reads as
 * "no data", never out of bounds), copy what is there, replace NaN/Inf by 0
 * (counted), and handle dry rings: when a ring cannot cover the chunk, the
 * frames it has are played with a ~1 ms fade-out, an underrun is counted,
 * and the deck waits until `prefill` frames are back, then fades in. A deck
 * asked to stop fades out over the same ~1 ms. A deck at full level is
 * summed without any multiply, so one deck alone is bit-exact.
 *
 * Each deck then gets its gains (gain/mute/solo and pan, computed by the
 * control thread; ramped linearly here so no change clicks), and the master
 * its master gain. At unity the sum is a plain add: one deck alone stays
 * bit-exact. Meters (peak, sum of squares) go to the control thread through
 * an SPSC ring of records, one per chunk.
 *
 * The master then goes through the safety limiter: an instant-attack peak
 * envelope; below -6 dBFS the signal is untouched (bit-exact), above it the
 * gain maps the envelope through 0.5 + 0.5*tanh((e-0.5)/0.5), which is
 * smooth at the knee and never reaches past 1.0 (0 dBFS).
 *
 * A deck whose output is broken (NaN/Inf, runaway level above +60 dBFS, a
 * corrupt ring) faults: the audio thread moves it to FAULTED itself, fades
 * it out within the chunk and from then on discards whatever it produces,
 * so the control thread can replace the cartridge at leisure.
 *
 * Everything here runs on the audio thread: no allocation, no locks, no
 * syscalls; every loop is bounded by the chunk size and the deck count.
 */
#include "conductor.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLIP_MS 250 /* frames a waiting deck may lose to lateness before it slips, in ms */

void kn_mix_set_rate(kn_mix *m, double rate) {
    m->fade_frames = (int)(rate / 1000.0);
    if (m->fade_frames < 1) m->fade_frames = 1;
    kn_limiter_init(&m->lim, rate); /* 50 ms release */
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int kn_mix_init(kn_mix *m, int channels, double rate) {
    memset(m, 0, sizeof *m);
    m->channels = channels;
    kn_mix_set_rate(m, rate);
    atomic_store(&m->limiter_on, 1);
    m->master_gl = (kn_glide){1, 0, 1};
    atomic_store(&m->master_target, fbits(1));
    atomic_store(&m->master_ramp, 480);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_mix_deck *d = &m->deck[i];
        for (int k = 0; k < 3; k++) {
            d->g[k] = (kn_glide){1, 0, 1};
            atomic_store(&d->gain_target[k], fbits(1));
        }
        atomic_store(&d->ramp_frames, 480);
        d->mg = (kn_glide){1, 0, 1};
        atomic_store(&d->master_gain, fbits(1));
        d->dfade_i = UINT32_MAX; /* no delay crossfade under way */
        d->delay = calloc((size_t)KN_MIX_DELAY * (size_t)channels, sizeof(float));
        if (!d->delay) return -1;
    }
    m->scratch = calloc((size_t)KN_MIX_CHUNK * (size_t)channels, sizeof(float));
    m->meters = calloc(KN_METER_RECS, sizeof *m->meters);
    if (m->meters) kn_spsc_init(&m->meter_q, m->meters, KN_METER_RECS, sizeof *m->meters);
    return m->scratch && m->meters ? 0 : -1;
}

void kn_mix_free(kn_mix *m) {
    for (int i = 0; i < KN_MAX_DECKS; i++) free(m->deck[i].delay);
    free(m->scratch);
    free(m->meters);
}

int kn_mix_meters_take(kn_mix *m, kn_meter_rec *out) {
    return kn_spsc_pop(&m->meter_q, out);
}

/* Picks up new targets (kn_glide_aim); 1 while any gain is not exactly
 * unity. */
static int gains_update(kn_glide *g, _Atomic uint32_t *target, int n, uint32_t ramp) {
    int busy = 0;
    for (int k = 0; k < n; k++)
        busy |= kn_glide_aim(&g[k], bitsf(atomic_load_explicit(&target[k], memory_order_relaxed)),
                             ramp);
    return busy;
}

/* The audio thread's own verdict on a deck; control sees state FAULTED. */
static void deck_fault(kn_mix_deck *d, enum kn_fault why) {
    int expected = KN_MIX_PLAY;
    if (atomic_compare_exchange_strong(&d->state, &expected, KN_MIX_FAULTED)) {
        atomic_store_explicit(&d->fault, (uint32_t)why, memory_order_release);
    }
}

static uint64_t scrub(float *x, int n) {
    return kn_scrub(x, n);
}

/* Linear ramp over frames [0, n) of x from gain g0 stepping by dg. */
static void ramp(float *x, int n, int ch, float g0, float dg) {
    for (int i = 0; i < n; i++)
        for (int c = 0; c < ch; c++) x[i * ch + c] *= g0 + dg * (float)i;
}

/* Fades m->scratch out over m->fade_frames (~1 ms; less only where the
 * chunk ends first) from frame `from`, and returns where the sound now
 * ends. m->scratch holds `have` frames; where the fade outlasts them it
 * goes on over the last of them held (over `last`, the deck's last frame
 * heard, if there are none), so that a deck running dry or stopped at a
 * chunk boundary does not click. */
static int fade_out(kn_mix *m, const float *last, int from, int have, int frames) {
    int ch = m->channels, len = m->fade_frames < frames - from ? m->fade_frames : frames - from;
    const float *hold = have ? m->scratch + (have - 1) * ch : last;
    for (int i = have; i < from + len; i++)
        for (int c = 0; c < ch; c++) m->scratch[i * ch + c] = hold[c];
    ramp(m->scratch + from * ch, len, ch, 1.0f, -1.0f / (float)len);
    return from + len;
}

/* Where a deck's sound starts in this chunk, for a deck on the timeline
 * (ring position p plays at timeline frame p + epoch): 0 when it is due
 * at the chunk's start, after dropping frames that came too late; a later
 * offset when its first frame falls inside the chunk; -1 when nothing of
 * it is due in this chunk. *avail is what is left to read. */
static int deck_due(kn_mix *m, kn_mix_deck *d, int frames, uint32_t *avail) {
    int64_t due = (int64_t)m->tl - d->ep, pos = (int64_t)d->ring.pos;
    if (due + frames <= pos) return -1;
    if (due <= pos) return (int)(pos - due);
    uint64_t late = (uint64_t)(due - pos);
    /* A producer that stays behind (starved: the machine is overloaded)
     * would have every frame dropped and the deck fall silent: once it has
     * lost more than SLIP_FRAMES in a row while waiting, the deck slips
     * back to where its producer is (a new epoch, counted; control passes
     * it on to the cartridge) and is heard again, late. */
    if (!d->playing && d->lost + late > (uint64_t)m->fade_frames * SLIP_MS && *avail) {
        d->ep += (int64_t)late;
        d->lost = 0;
        atomic_store_explicit(&d->epoch, d->ep, memory_order_relaxed);
        atomic_fetch_add_explicit(&d->slips, 1, memory_order_relaxed);
        return 0;
    }
    uint64_t skip = late < *avail ? late : *avail;
    if (!d->playing) d->lost += skip;
    if (skip) {
        kn_ring_seek(&d->ring, d->ring.pos + skip);
        atomic_store_explicit(&d->read_pub, d->ring.pos, memory_order_relaxed);
        atomic_fetch_add_explicit(&d->late_frames, skip, memory_order_relaxed);
        *avail -= (uint32_t)skip;
    }
    return 0;
}

/* Reads up to `frames` of one deck into m->scratch; returns frames that
 * carry sound (the rest of the chunk is silence for this deck). A deck on
 * the timeline starts exactly at its frame, even mid-chunk, and after a
 * dry spell drops what came late, so it stays on the beat; one that is
 * not (yet) waits until `prefill` frames are there. */
static int deck_pull(kn_mix *m, kn_mix_deck *d, int frames) {
    int ch = m->channels, fade = m->fade_frames, at = 0;
    uint32_t avail = kn_ring_readable(&d->ring);
    if (avail == KN_RING_CORRUPT) {
        atomic_fetch_add_explicit(&d->corrupt, 1, memory_order_relaxed);
        deck_fault(d, KN_FAULT_CORRUPT);
        avail = 0;
    }
    atomic_store_explicit(&d->buffered, avail, memory_order_relaxed);
    if (!d->playing && !d->is_locked && atomic_load_explicit(&d->locked, memory_order_acquire)) {
        d->ep = atomic_load_explicit(&d->epoch, memory_order_relaxed);
        d->is_locked = 1;
    }
    if (d->is_locked && (at = deck_due(m, d, frames, &avail)) < 0) return 0;
    if (!d->playing) {
        /* a deck on the timeline starts exactly (its first frame on its
         * epoch), and after running dry resumes once the frames past the
         * one due cover this whole chunk: on the first late frame it would
         * run dry again at once, chunk after chunk, while its producer
         * catches up. (Not a whole prefill: the reader moves on with the
         * timeline while it waits, so the ring never holds more than the
         * target past it.) A deck off the timeline waits for `prefill`. */
        uint32_t need = !d->is_locked ? atomic_load_explicit(&d->prefill, memory_order_relaxed)
                        : d->started  ? (uint32_t)(frames - at)
                                      : 1;
        if (avail < need || avail == 0) return 0;
        d->playing = 1;
        d->lost = 0;
        d->fade_i = d->started ? 0 : (uint32_t)fade; /* the very first start is exact */
        d->started = 1;
    }
    int room = frames - at, take = avail < (uint32_t)room ? (int)avail : room;
    float *buf = m->scratch + (size_t)at * (size_t)ch;
    memset(m->scratch, 0, (size_t)at * (size_t)ch * sizeof(float));
    uint64_t mark = atomic_load_explicit(&d->mark_frame, memory_order_relaxed);
    if (mark && mark >= d->ring.pos && mark < d->ring.pos + (uint64_t)take) {
        atomic_store_explicit(&d->mark_rt_ns, kn_real_ns(), memory_order_relaxed);
        atomic_store_explicit(&d->mark_frame, 0, memory_order_release);
    }
    kn_ring_read(&d->ring, buf, (uint32_t)take);
    atomic_store_explicit(&d->read_pub, d->ring.pos, memory_order_relaxed);
    uint64_t bad = scrub(buf, take * ch);
    if (bad) {
        atomic_fetch_add_explicit(&d->nonfinite, bad, memory_order_relaxed);
        deck_fault(d, KN_FAULT_NONFINITE);
    }
    float peak = 0;
    for (int i = 0; i < take * ch; i++) peak = fmaxf(peak, fabsf(buf[i]));
    if (peak > KN_RUNAWAY) { /* not even a fade of this: silence now */
        memset(buf, 0, (size_t)take * (size_t)ch * sizeof(float));
        deck_fault(d, KN_FAULT_RUNAWAY);
    }
    if (d->fade_i < (uint32_t)fade) { /* fading in after a dry spell */
        int n = take < fade - (int)d->fade_i ? take : fade - (int)d->fade_i;
        ramp(buf, n, ch, (float)d->fade_i / (float)fade, 1.0f / (float)fade);
        d->fade_i += (uint32_t)n;
    }
    int heard = at + take;
    if (take < room) { /* ran dry: fade out over its last frames */
        heard = fade_out(m, d->last, at + (take > fade ? take - fade : 0), at + take, frames);
        d->playing = 0;
        atomic_fetch_add_explicit(&d->underruns, 1, memory_order_relaxed);
    } else {
        for (int c = 0; c < ch; c++) d->last[c] = buf[(take - 1) * ch + c];
    }
    atomic_fetch_add_explicit(&d->frames, (uint64_t)take, memory_order_relaxed);
    return heard;
}

/* Latency compensation of the deck's master route: the chunk (m->scratch,
 * `frames`, silence past `n`) goes through the deck's delay line, which
 * records every chunk, delayed or not, so it always holds the deck's own
 * recent past. A new delay is crossfaded in over `xfade` frames, from the
 * tap at the old delay to the tap at the new one: switching a latency
 * compensation on or off (a deck that declares latency starts or stops)
 * neither cuts a gap nor replays stale frames, and never clicks. Returns
 * the frames to sum (n, or all of them once anything is delayed). */
static int deck_delay(kn_mix *m, kn_mix_deck *d, int n, int frames, uint32_t delay,
                      uint32_t xfade) {
    int ch = m->channels;
    if (delay > KN_ROUTE_DELAY_MAX) delay = KN_ROUTE_DELAY_MAX;
    if (d->dfade_i >= xfade && delay != d->dcur) { /* a new delay: crossfade to it */
        d->dfrom = d->dcur;
        d->dcur = delay;
        d->dfade_i = 0;
    }
    int fading = d->dfade_i < xfade;
    if (!fading && !d->dcur) { /* not delayed: recorded only, summed as it is (bit-exact) */
        for (int i = 0; i < frames; i++) {
            float *w = d->delay + (size_t)d->dpos * (size_t)ch;
            for (int c = 0; c < ch; c++) w[c] = i < n ? m->scratch[i * ch + c] : 0.0f;
            d->dpos = (d->dpos + 1) % KN_MIX_DELAY;
        }
        return n;
    }
    for (int i = 0; i < frames; i++) {
        float *w = d->delay + (size_t)d->dpos * (size_t)ch;
        for (int c = 0; c < ch; c++) w[c] = i < n ? m->scratch[i * ch + c] : 0.0f;
        const float *to =
            d->delay + (size_t)((d->dpos + KN_MIX_DELAY - d->dcur) % KN_MIX_DELAY) * ch;
        if (d->dfade_i < xfade) {
            const float *from =
                d->delay + (size_t)((d->dpos + KN_MIX_DELAY - d->dfrom) % KN_MIX_DELAY) * ch;
            float g = (float)d->dfade_i / (float)xfade;
            for (int c = 0; c < ch; c++) m->scratch[i * ch + c] = from[c] + g * (to[c] - from[c]);
            d->dfade_i++;
        } else {
            for (int c = 0; c < ch; c++) m->scratch[i * ch + c] = to[c];
        }
        d->dpos = (d->dpos + 1) % KN_MIX_DELAY;
    }
    return frames;
}

/* A deck that has not played yet takes its gains at once: nothing has
 * been heard at the old ones (and a session starts exactly as its offline
 * render does). */
static void gains_snap(kn_mix_deck *d) {
    for (int k = 0; k < 3; k++)
        kn_glide_snap(&d->g[k],
                      bitsf(atomic_load_explicit(&d->gain_target[k], memory_order_relaxed)));
    kn_glide_snap(&d->mg, bitsf(atomic_load_explicit(&d->master_gain, memory_order_relaxed)));
    d->dcur = atomic_load_explicit(&d->master_delay, memory_order_relaxed); /* and its delay */
    if (d->dcur > KN_ROUTE_DELAY_MAX) d->dcur = KN_ROUTE_DELAY_MAX;
    d->dfade_i = UINT32_MAX;
}

/* Applies the deck's gains to m->scratch (n frames), records its meter
 * values, and adds it to the master through its master route (gain, tap,
 * delay; routes.c). */
static void deck_gain_sum(kn_mix *m, kn_mix_deck *d, float *master, int n, int frames,
                          kn_meter_rec *rec, int slot) {
    int ch = m->channels;
    uint32_t ramp = atomic_load_explicit(&d->ramp_frames, memory_order_relaxed);
    uint32_t pre = atomic_load_explicit(&d->master_pre, memory_order_relaxed);
    uint32_t delay = atomic_load_explicit(&d->master_delay, memory_order_relaxed);
    float mg = bitsf(atomic_load_explicit(&d->master_gain, memory_order_relaxed));
    int faded = gains_update(d->g, d->gain_target, 3, ramp);
    if (faded && pre) { /* a pre-fader master route: the meters still see the fader */
        float peak = 0, sumsq = 0;
        kn_glide g[3] = {d->g[0], d->g[1], d->g[2]};
        for (int i = 0; i < n; i++) {
            float gl = kn_glide_tick(&g[0]), gr = kn_glide_tick(&g[1]), go = kn_glide_tick(&g[2]);
            for (int c = 0; c < ch; c++) {
                float x = m->scratch[i * ch + c] * (c == 0 ? gl : c == 1 ? gr : go);
                peak = fmaxf(peak, fabsf(x));
                sumsq += x * x;
            }
        }
        for (int k = 0; k < 3; k++) d->g[k] = g[k];
        rec->peak[slot] = peak;
        rec->sumsq[slot] = sumsq;
    } else {
        if (faded) {
            for (int i = 0; i < n; i++) {
                float gl = kn_glide_tick(&d->g[0]);
                float gr = kn_glide_tick(&d->g[1]);
                float go = kn_glide_tick(&d->g[2]);
                for (int c = 0; c < ch; c++)
                    m->scratch[i * ch + c] *= c == 0 ? gl : c == 1 ? gr : go;
            }
        }
        float peak = 0, sumsq = 0;
        for (int i = 0; i < n * ch; i++) {
            float x = m->scratch[i];
            peak = fmaxf(peak, fabsf(x));
            sumsq += x * x;
        }
        rec->peak[slot] = peak;
        rec->sumsq[slot] = sumsq;
    }
    /* stems and deck recordings (record.c): the post-fader signal */
    if (m->post_tap) m->post_tap(m->post_ctx, slot, m->scratch, n);
    /* the master route */
    int routed = kn_glide_aim(&d->mg, mg, (uint32_t)m->fade_frames * 10);
    if (!routed) { /* unity: summed as it is (one deck alone stays bit-exact) */
    } else if (d->mg.g == 0 && d->mg.to == 0) {
        n = 0; /* not routed to the master */
    } else {
        for (int i = 0; i < n; i++) {
            float g = kn_glide_tick(&d->mg);
            for (int c = 0; c < ch; c++) m->scratch[i * ch + c] *= g;
        }
    }
    n = deck_delay(m, d, n, frames, delay, (uint32_t)m->fade_frames * 10);
    for (int i = 0; i < n * ch; i++) master[i] += m->scratch[i];
}

/* Notes when a faulted deck went silent (status `silenced_rt`, for the
 * benchmarks: fault -> silence). */
static void mark_silenced(kn_mix_deck *d) {
    if (d->silenced) return;
    d->silenced = 1;
    atomic_store_explicit(&d->silenced_rt_ns, kn_real_ns(), memory_order_relaxed);
}

/* A faulted, silent deck takes nothing from its ring until control names
 * the frame where the replacement starts (everything before it is the
 * faulty version's); then it jumps there and says so. */
static void fault_restart(kn_mix_deck *d) {
    uint32_t seq = atomic_load_explicit(&d->restart_seq, memory_order_acquire);
    if (seq == d->restart_seen) return;
    kn_ring_seek(&d->ring, atomic_load_explicit(&d->restart_pos, memory_order_relaxed));
    atomic_store_explicit(&d->read_pub, d->ring.pos, memory_order_relaxed);
    d->restart_seen = seq;
    atomic_store_explicit(&d->restart_done, seq, memory_order_release);
}

static void deck_mix(kn_mix *m, kn_mix_deck *d, float *master, int frames, kn_meter_rec *rec,
                     int slot) {
    int st = atomic_load_explicit(&d->state, memory_order_acquire);
    if (st == KN_MIX_PLAY) d->silenced = 0;
    if (st == KN_MIX_FAULTED && !d->playing) {
        mark_silenced(d);
        fault_restart(d);
        return;
    }
    if (st != KN_MIX_PLAY && st != KN_MIX_STOPPING && st != KN_MIX_FAULTED) return;
    /* A quantized stop fades out from its frame: until then the deck plays
     * on, whether control has already moved it to STOPPING or not. */
    uint64_t stop_at = atomic_load_explicit(&d->stop_at, memory_order_relaxed);
    int64_t stop_in = stop_at ? (int64_t)(stop_at - m->tl) : 0;
    if (stop_in >= frames && st == KN_MIX_STOPPING) st = KN_MIX_PLAY;
    if (stop_at && stop_in < frames) st = KN_MIX_STOPPING;
    if (st == KN_MIX_STOPPING && !d->playing) { /* nothing audible to fade */
        atomic_store_explicit(&d->state, KN_MIX_DONE, memory_order_release);
        return;
    }
    if (!d->started) gains_snap(d);
    int n = deck_pull(m, d, frames);
    int faulted = atomic_load_explicit(&d->state, memory_order_acquire) == KN_MIX_FAULTED;
    if ((faulted || st == KN_MIX_STOPPING) && d->playing) {
        /* faulted (now or by control) or stopped: fade out from the chunk's
         * start, or from a quantized stop's frame; one that just ran dry
         * has faded out already */
        int from = !faulted && stop_in > 0 ? (int)stop_in : 0;
        n = fade_out(m, d->last, from, n > from ? n : from, frames);
        d->playing = 0;
    }
    if (faulted) {
        mark_silenced(d); /* at the end of this chunk's fade-out */
        fault_restart(d);
    } else if (st == KN_MIX_STOPPING) {
        atomic_store_explicit(&d->state, KN_MIX_DONE, memory_order_release);
    }
    deck_gain_sum(m, d, master, n, frames, rec, slot);
}

void kn_limit(kn_mix *m, float *master, int frames) {
    uint64_t touched = kn_limiter_run(&m->lim, master, frames, m->channels);
    if (touched) atomic_fetch_add_explicit(&m->limited, touched, memory_order_relaxed);
}

static void master_gain(kn_mix *m, float *master, int frames) {
    int ch = m->channels;
    uint32_t ramp = atomic_load_explicit(&m->master_ramp, memory_order_relaxed);
    if (!gains_update(&m->master_gl, &m->master_target, 1, ramp)) return;
    for (int i = 0; i < frames; i++) {
        float g = kn_glide_tick(&m->master_gl);
        for (int c = 0; c < ch; c++) master[i * ch + c] *= g;
    }
}

/* Publishes one meter record; drops it (counted) if the reader is behind. */
static void meter_push(kn_mix *m, const kn_meter_rec *rec) {
    if (kn_spsc_push(&m->meter_q, rec, 1))
        atomic_fetch_add_explicit(&m->meter_dropped, 1, memory_order_relaxed);
}

void kn_mix_run(kn_mix *m, float *master, int frames) {
    kn_meter_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.frames = (uint32_t)frames;
    memset(master, 0, (size_t)frames * (size_t)m->channels * sizeof(float));
    for (int i = 0; i < KN_MAX_DECKS; i++) deck_mix(m, &m->deck[i], master, frames, &rec, i);
    /* A deck cannot smuggle a non-finite sample past this point. */
    scrub(master, frames * m->channels);
    master_gain(m, master, frames);
    if (atomic_load_explicit(&m->limiter_on, memory_order_relaxed)) kn_limit(m, master, frames);
    float peak = 0, sumsq = 0;
    for (int i = 0; i < frames * m->channels; i++) {
        peak = fmaxf(peak, fabsf(master[i]));
        sumsq += master[i] * master[i];
    }
    rec.peak[KN_MAX_DECKS] = peak;
    rec.sumsq[KN_MAX_DECKS] = sumsq;
    meter_push(m, &rec);
    m->tl += (uint64_t)frames; /* the timeline: frames handed on since `kanon up` */
    atomic_store_explicit(&m->tl_pub, m->tl, memory_order_release);
}

void kn_mix_clock(kn_mix *m, uint64_t mono_ns) {
    uint32_t s = atomic_load_explicit(&m->clock_seq, memory_order_relaxed);
    atomic_store_explicit(&m->clock_seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&m->clock_frame, m->tl, memory_order_relaxed);
    atomic_store_explicit(&m->clock_ns, mono_ns, memory_order_relaxed);
    atomic_store_explicit(&m->clock_seq, s + 2, memory_order_release);
}

int kn_mix_clock_read(kn_mix *m, uint64_t *frame, uint64_t *mono_ns) {
    for (int tries = 0; tries < 8; tries++) {
        uint32_t s = atomic_load_explicit(&m->clock_seq, memory_order_acquire);
        if (s & 1) continue;
        *frame = atomic_load_explicit(&m->clock_frame, memory_order_relaxed);
        *mono_ns = atomic_load_explicit(&m->clock_ns, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&m->clock_seq, memory_order_relaxed) == s) return s ? 0 : -EAGAIN;
    }
    return -EAGAIN;
}

int kn_mix_deck_released(kn_mix_deck *d, uint64_t waited_ns, uint64_t callbacks, int streaming) {
    int expected = KN_MIX_STOPPING;
    if (waited_ns > KN_MIX_RELEASE_NS &&
        atomic_compare_exchange_strong(&d->state, &expected, KN_MIX_OFF))
        d->release_cb = callbacks + 2;
    return atomic_load(&d->state) == KN_MIX_OFF && d->release_cb &&
           (callbacks >= d->release_cb || !streaming);
}

void kn_mix_thread_init(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr | (1ull << 24))); /* FZ */
#endif
}
