/*
 * mix_cost.c - what a deck costs the conductor's mixer, ns per frame:
 * a sine deck and a deck of subnormal samples (1e-40, what a decaying
 * filter or reverb tail leaves), each with the audio thread's FTZ/DAZ off
 * (as before kn_mix_thread_init) and on (as now); and a sine deck on the
 * timeline (locked to an epoch: the due-frame arithmetic of every chunk)
 * against one that is not. Built and run by scripts/bench.py (section
 * "mixer") against conductor/mixer.c.
 * Prints one line per case: "mixer CASE ns_per_frame".
 */
#include "conductor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#define CH    2
#define CAP   8192u
#define ROUND 2000 /* chunks per measurement */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ns per frame of kn_mix_run with 4 decks of `value(i)` and a gain ramp
 * always in progress (the multiply path), median of 7. */
static double measure(float (*value)(uint64_t), int locked) {
    static kn_mix m;
    static float out[KN_MIX_CHUNK * CH];
    float *a = malloc(KN_MIX_CHUNK * sizeof(float)), *b = malloc(KN_MIX_CHUNK * sizeof(float));
    float *planar[CH] = {a, b};
    kn_mix_init(&m, CH, 48000);
    kn_ring_view w[4];
    size_t bytes = kn_ring_bytes(CAP, CH, 0);
    for (int d = 0; d < 4; d++) {
        kn_ring_seg *seg = aligned_alloc(64, (bytes + 63) / 64 * 64);
        memset(seg, 0, bytes);
        kn_ring_format(seg, CAP, CH, 64, 512, 48000, 0);
        kn_ring_view_init(&w[d], seg, bytes);
        kn_ring_view_init(&m.deck[d].ring, seg, bytes);
        m.deck[d].prefill = 64;
        atomic_store(&m.deck[d].epoch, 0); /* ring position p plays at timeline frame p */
        atomic_store(&m.deck[d].locked, (uint32_t)locked);
        atomic_store(&m.deck[d].state, KN_MIX_PLAY);
    }
    double t[7];
    for (int r = 0; r < 7; r++) {
        double t0 = 0, spent = 0;
        for (int k = 0; k < ROUND; k++) {
            for (int d = 0; d < 4; d++) {
                for (int i = 0; i < KN_MIX_CHUNK; i++) a[i] = b[i] = value(w[d].pos + (uint64_t)i);
                kn_ring_write_planar(&w[d], planar, KN_MIX_CHUNK);
                /* a new gain target every chunk: the ramp (multiply) path */
                float g = (k & 1) ? 0.5f : 0.7f;
                uint32_t bits;
                memcpy(&bits, &g, sizeof bits);
                for (int j = 0; j < 3; j++) atomic_store(&m.deck[d].gain_target[j], bits);
                atomic_store(&m.deck[d].ramp_frames, KN_MIX_CHUNK);
            }
            t0 = now_s();
            kn_mix_run(&m, out, KN_MIX_CHUNK);
            spent += now_s() - t0;
        }
        t[r] = spent / (ROUND * (double)KN_MIX_CHUNK) * 1e9;
    }
    for (int i = 0; i < 7; i++)
        for (int j = i + 1; j < 7; j++)
            if (t[j] < t[i]) {
                double x = t[i];
                t[i] = t[j];
                t[j] = x;
            }
    return t[3];
}

static float sine(uint64_t i) {
    return 0.25f * sinf(0.01f * (float)i);
}
static float subnormal(uint64_t i) {
    return (i & 1 ? 1e-40f : -1e-40f) * (float)(1 + i % 7);
}

int main(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr & ~0x8040u); /* FTZ and DAZ off: the old audio thread */
#endif
    printf("mixer sine_ftz_off %.3f\n", measure(sine, 0));
    printf("mixer subnormal_ftz_off %.3f\n", measure(subnormal, 0));
    kn_mix_thread_init();
    printf("mixer sine_ftz_on %.3f\n", measure(sine, 0));
    printf("mixer subnormal_ftz_on %.3f\n", measure(subnormal, 0));
    printf("mixer sine_locked %.3f\n", measure(sine, 1));
    return 0;
}
