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
 * The master then goes through the safety limiter: an instant-attack peak
 * envelope; below -6 dBFS the signal is untouched (bit-exact), above it the
 * gain maps the envelope through 0.5 + 0.5*tanh((e-0.5)/0.5), which is
 * smooth at the knee and never reaches past 1.0 (0 dBFS).
 *
 * Everything here runs on the audio thread: no allocation, no locks, no
 * syscalls; every loop is bounded by the chunk size and the deck count.
 */
#include "conductor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIMIT_KNEE 0.5f /* -6 dBFS */

void kn_mix_set_rate(kn_mix *m, double rate) {
    m->fade_frames = (int)(rate / 1000.0);
    if (m->fade_frames < 1) m->fade_frames = 1;
    m->lim_release = (float)exp(-1.0 / (0.05 * rate)); /* 50 ms release */
}

int kn_mix_init(kn_mix *m, int channels, double rate) {
    memset(m, 0, sizeof *m);
    m->channels = channels;
    kn_mix_set_rate(m, rate);
    atomic_store(&m->limiter_on, 1);
    m->scratch = calloc((size_t)KN_MIX_CHUNK * (size_t)channels, sizeof(float));
    return m->scratch ? 0 : -1;
}

void kn_mix_free(kn_mix *m) { free(m->scratch); }

static uint64_t scrub(float *x, int n) {
    uint64_t bad = 0;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            x[i] = 0;
            bad++;
        }
    return bad;
}

/* Linear ramp over frames [0, n) of x from gain g0 stepping by dg. */
static void ramp(float *x, int n, int ch, float g0, float dg) {
    for (int i = 0; i < n; i++)
        for (int c = 0; c < ch; c++) x[i * ch + c] *= g0 + dg * (float)i;
}

/* Reads up to `frames` of one deck into m->scratch; returns frames that
 * carry sound (the rest of the chunk is silence for this deck). */
static int deck_pull(kn_mix *m, kn_mix_deck *d, int frames) {
    int ch = m->channels, fade = m->fade_frames;
    uint32_t avail = kn_ring_readable(&d->ring);
    if (avail == KN_RING_CORRUPT) {
        atomic_fetch_add_explicit(&d->corrupt, 1, memory_order_relaxed);
        avail = 0;
    }
    atomic_store_explicit(&d->buffered, avail, memory_order_relaxed);
    if (!d->playing) {
        if (avail < atomic_load_explicit(&d->prefill, memory_order_relaxed) || avail == 0) return 0;
        d->playing = 1;
        d->fade_i = d->started ? 0 : (uint32_t)fade; /* the very first start is exact */
        d->started = 1;
    }
    int take = avail < (uint32_t)frames ? (int)avail : frames;
    uint64_t mark = atomic_load_explicit(&d->mark_frame, memory_order_relaxed);
    if (mark && mark >= d->ring.pos && mark < d->ring.pos + (uint64_t)take) {
        struct timespec t; /* vDSO: no syscall */
        clock_gettime(CLOCK_REALTIME, &t);
        atomic_store_explicit(&d->mark_rt_ns, (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec,
                              memory_order_relaxed);
        atomic_store_explicit(&d->mark_frame, 0, memory_order_release);
    }
    kn_ring_read(&d->ring, m->scratch, (uint32_t)take);
    uint64_t bad = scrub(m->scratch, take * ch);
    if (bad) atomic_fetch_add_explicit(&d->nonfinite, bad, memory_order_relaxed);
    if (d->fade_i < (uint32_t)fade) { /* fading in after a dry spell */
        int n = take < fade - (int)d->fade_i ? take : fade - (int)d->fade_i;
        ramp(m->scratch, n, ch, (float)d->fade_i / (float)fade, 1.0f / (float)fade);
        d->fade_i += (uint32_t)n;
    }
    if (take < frames) { /* ran dry: fade out what we have */
        int n = take < fade ? take : fade;
        ramp(m->scratch + (take - n) * ch, n, ch, 1.0f, -1.0f / (float)(n ? n : 1));
        d->playing = 0;
        atomic_fetch_add_explicit(&d->underruns, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&d->frames, (uint64_t)take, memory_order_relaxed);
    return take;
}

static void deck_mix(kn_mix *m, kn_mix_deck *d, float *master, int frames) {
    int ch = m->channels;
    int st = atomic_load_explicit(&d->state, memory_order_acquire);
    if (st != KN_MIX_PLAY && st != KN_MIX_STOPPING) return;
    int n = deck_pull(m, d, frames);
    if (st == KN_MIX_STOPPING) {
        int f = n < m->fade_frames ? n : m->fade_frames;
        ramp(m->scratch, f, ch, 1.0f, -1.0f / (float)(f ? f : 1));
        n = f;
        d->playing = 0;
        atomic_store_explicit(&d->state, KN_MIX_DONE, memory_order_release);
    }
    for (int i = 0; i < n * ch; i++) master[i] += m->scratch[i];
}

void kn_limit(kn_mix *m, float *master, int frames) {
    int ch = m->channels;
    float env = m->lim_env, rel = m->lim_release;
    uint64_t touched = 0;
    for (int i = 0; i < frames; i++) {
        float *f = master + i * ch, peak = 0;
        for (int c = 0; c < ch; c++) peak = fmaxf(peak, fabsf(f[c]));
        env = fmaxf(peak, env * rel);
        if (env > LIMIT_KNEE) {
            float g = (LIMIT_KNEE + LIMIT_KNEE * tanhf((env - LIMIT_KNEE) / LIMIT_KNEE)) / env;
            for (int c = 0; c < ch; c++) f[c] = fminf(fmaxf(f[c] * g, -1.0f), 1.0f);
            touched++;
        }
    }
    if (env < 1e-30f) env = 0; /* no denormals in the envelope */
    m->lim_env = env;
    if (touched) atomic_fetch_add_explicit(&m->limited, touched, memory_order_relaxed);
}

void kn_mix_run(kn_mix *m, float *master, int frames) {
    memset(master, 0, (size_t)frames * (size_t)m->channels * sizeof(float));
    for (int i = 0; i < KN_MAX_DECKS; i++) deck_mix(m, &m->deck[i], master, frames);
    /* A deck cannot smuggle a non-finite sample past this point. */
    scrub(master, frames * m->channels);
    if (atomic_load_explicit(&m->limiter_on, memory_order_relaxed)) kn_limit(m, master, frames);
}
