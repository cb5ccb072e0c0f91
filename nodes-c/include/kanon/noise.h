/*
 * kanon/noise.h - white and pink noise from a seeded generator in the
 * state (xorshift32): the same seed gives the same samples, every run.
 */
#ifndef KANON_NODES_NOISE_H
#define KANON_NODES_NOISE_H

#include <kanon.h>

#include "compat.h"

typedef struct kn_noise {
    unsigned seed; /* never 0 after init */
    double rate;   /* unused: every init takes the rate */
} kn_noise;
void kn_noise_init(kn_noise *s, double rate, unsigned seed);
/* Uniform white noise in [-amp, amp). */
void kn_noise_compute(kn_noise *s, float *out, int frames, float amp);
float kn_noise_tick(kn_noise *s);

/* Pink (-3 dB/octave) noise: white through Paul Kellet's 7-pole filter;
 * amp is roughly the peak (RMS about amp/4.5). */
typedef struct kn_pink {
    unsigned seed;
    float b[7];
    double rate; /* unused: every init takes the rate */
} kn_pink;
void kn_pink_init(kn_pink *s, double rate, unsigned seed);
void kn_pink_compute(kn_pink *s, float *out, int frames, float amp);
float kn_pink_tick(kn_pink *s);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_noise_run(kn_noise *s, float *out, int frames, float amp);
void kn_pink_run(kn_pink *s, float *out, int frames, float amp);
/* kn_noise_init(s, seed) and kn_pink_init(s, seed): rate 0. */
#define kn_noise_init(...)                                                                         \
    KN_PICK3_(__VA_ARGS__, kn_noise_init, kn_noise_init_norate_, )(__VA_ARGS__)
#define kn_noise_init_norate_(s, seed) kn_noise_init(s, 0, seed)
#define kn_pink_init(...)              KN_PICK3_(__VA_ARGS__, kn_pink_init, kn_pink_init_norate_, )(__VA_ARGS__)
#define kn_pink_init_norate_(s, seed)  kn_pink_init(s, 0, seed)

#endif
