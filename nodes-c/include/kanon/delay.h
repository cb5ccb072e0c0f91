/*
 * kanon/delay.h - delay lines with their buffers inside the state (fixed
 * maximum sizes, no pointers): fractional delay, comb, allpass, chorus /
 * flanger. Delays are in samples (float: fractional); a delay changed
 * between blocks glides across the block, so modulating it bends pitch
 * instead of clicking.
 */
#ifndef KANON_NODES_DELAY_H
#define KANON_NODES_DELAY_H

#include <kanon.h>

#include "compat.h"

/* Fractional delay with feedback: out[n] = w[n - delay],
 * w[n] = in[n] + feedback * out[n]. Cubic (Hermite) interpolation; an
 * integer delay is exact. delay is clamped to [1, KN_DELAY_MAX - 4]. */
#define KN_DELAY_MAX 65536 /* samples: 1.36 s at 48 kHz (256 KiB) */
typedef struct kn_delay {
    int pos;     /* next write index */
    float last;  /* last block's delay (glide start); 0 = none yet */
    double rate; /* unused (delays are in samples): every init takes the rate */
    float buf[KN_DELAY_MAX];
} kn_delay;
void kn_delay_init(kn_delay *s, double rate);
void kn_delay_compute(kn_delay *s, float *out, const float *in, int frames, float delay,
                      float feedback);
/* Per sample: write x, return the sample `delay` behind it (delay >= 0). */
float kn_delay_tick(kn_delay *s, float x, float delay);
/* Read without writing: `delay` samples behind the last written one. */
float kn_delay_read(const kn_delay *s, float delay);

/* Feedback comb with a one-pole low-pass in the loop (damp 0..1), as in
 * Freeverb and Karplus-Strong: out[n] = w[n - delay],
 * w[n] = in[n] + feedback * lowpass(out)[n]. Linear interpolation. */
#define KN_COMB_MAX 4096
typedef struct kn_comb {
    int pos;
    float last;
    float lp;
    double rate; /* unused */
    float buf[KN_COMB_MAX];
} kn_comb;
void kn_comb_init(kn_comb *s, double rate);
void kn_comb_compute(kn_comb *s, float *out, const float *in, int frames, float delay,
                     float feedback, float damp);

/* Schroeder allpass: flat magnitude, dispersed phase (diffusers).
 * w[n] = in[n] + gain * w[n - delay]; out[n] = w[n - delay] - gain * w[n]. */
typedef struct kn_allpass {
    int pos;
    float last;
    double rate; /* unused */
    float buf[KN_COMB_MAX];
} kn_allpass;
void kn_allpass_init(kn_allpass *s, double rate);
void kn_allpass_compute(kn_allpass *s, float *out, const float *in, int frames, float delay,
                        float gain);

/* Chorus / flanger: a delay swept by a sine LFO around `delay_ms` by
 * +-depth_ms, with feedback, mixed with the dry input (mix 0..1).
 * Chorus: delay 10-25 ms, depth 2-5 ms, feedback 0. Flanger: delay 1-5 ms,
 * depth 1-3 ms, feedback 0.5-0.9. Two instances with phases 0 and 0.25
 * make a stereo pair. */
#define KN_CHORUS_MAX 4096 /* 85 ms at 48 kHz */
typedef struct kn_chorus {
    double phase;
    int pos;
    double rate;
    float fb; /* last output, fed back */
    float buf[KN_CHORUS_MAX];
} kn_chorus;
void kn_chorus_init(kn_chorus *s, double rate, double phase);
void kn_chorus_compute(kn_chorus *s, float *out, const float *in, int frames, float lfo_hz,
                       float depth_ms, float delay_ms, float feedback, float mix);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_delay_run(kn_delay *s, const float *in, float *out, int frames, float delay,
                  float feedback);
void kn_comb_run(kn_comb *s, const float *in, float *out, int frames, float delay, float feedback,
                 float damp);
void kn_allpass_run(kn_allpass *s, const float *in, float *out, int frames, float delay,
                    float gain);
void kn_chorus_run(kn_chorus *s, const float *in, float *out, int frames, float lfo_hz,
                   float depth_ms, float delay_ms, float feedback, float mix);
/* kn_delay_init(s), kn_comb_init(s), kn_allpass_init(s): rate 0. */
#define kn_delay_init(...)                                                                         \
    KN_PICK2_(__VA_ARGS__, kn_delay_init, kn_delay_init_norate_, )(__VA_ARGS__)
#define kn_delay_init_norate_(s) kn_delay_init(s, 0)
#define kn_comb_init(...)        KN_PICK2_(__VA_ARGS__, kn_comb_init, kn_comb_init_norate_, )(__VA_ARGS__)
#define kn_comb_init_norate_(s)  kn_comb_init(s, 0)
#define kn_allpass_init(...)                                                                       \
    KN_PICK2_(__VA_ARGS__, kn_allpass_init, kn_allpass_init_norate_, )(__VA_ARGS__)
#define kn_allpass_init_norate_(s) kn_allpass_init(s, 0)

#endif
