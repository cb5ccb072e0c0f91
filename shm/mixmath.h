/*
 * mixmath.h - the mixing arithmetic that must give the same samples live
 * and offline: a deck's fader (gain, mute, solo, pan -> three linear
 * gains), linear gain ramps stepped once per frame, and the master's
 * safety limiter. The conductor's mixer (live) and `kanon render` of a
 * session (offline, cartridge/session.c) both call these, in the same
 * order, so a recording of a session equals its render bit for bit.
 *
 * Header-only, libc only. Real-time safe: no allocation, no locks, no
 * system calls; loops are bounded by their arguments.
 */
#ifndef KANON_MIXMATH_H
#define KANON_MIXMATH_H

#include <math.h>
#include <stdint.h>

#define KN_LIMIT_KNEE 0.5f /* -6 dBFS: below it the limiter leaves samples untouched */

/* The three fader gains of a deck: channel 0 (left), channel 1 (right) and
 * any other channel. `silent`: muted, or another deck is soloed. Pan takes
 * level away from the other side only (centre is unity on both), and
 * means nothing in mono. */
static inline void kn_fader_gains(double gain_db, int silent, double pan, int channels,
                                  float out[3]) {
    double g = silent ? 0 : pow(10, gain_db / 20);
    double l = pan > 0 ? 1 - pan : 1, r = pan < 0 ? 1 + pan : 1;
    if (channels < 2) l = r = 1;
    out[0] = (float)(g * l);
    out[1] = (float)(g * r);
    out[2] = (float)g;
}

/* The fader gain that applies to channel c. */
static inline int kn_fader_index(int c) {
    return c < 2 ? c : 2;
}

/* A gain that glides linearly to its target: `g` now, `step` per frame,
 * `to` the target. */
typedef struct kn_glide {
    float g, step, to;
} kn_glide;

/* Aims a glide at `target` over `ramp` frames (a new target only; an
 * unchanged one keeps its glide). A target that is not a finite gain
 * between 0 and 16 (+24 dB) counts as 0: never trust a gain from shared
 * memory. Returns 1 while the gain is not exactly unity. */
static inline int kn_glide_aim(kn_glide *gl, float target, uint32_t ramp) {
    if (!(target >= 0 && target <= 16)) target = 0;
    if (target != gl->to) {
        gl->to = target;
        gl->step = (target - gl->g) / (float)(ramp ? ramp : 1);
    }
    return gl->g != 1 || gl->to != 1;
}

/* Jumps to the target at once (nothing has been heard at the old gain). */
static inline void kn_glide_snap(kn_glide *gl, float target) {
    if (!(target >= 0 && target <= 16)) target = 0;
    gl->g = gl->to = target;
    gl->step = 0;
}

/* The gain for this frame; then one frame's step towards the target. */
static inline float kn_glide_tick(kn_glide *gl) {
    float v = gl->g;
    if (v != gl->to) {
        float n = v + gl->step;
        gl->g = (gl->step > 0 ? n >= gl->to : n <= gl->to) ? gl->to : n;
    }
    return v;
}

/* The master's safety limiter: an instant-attack peak envelope with a
 * 50 ms release; below the knee the signal is untouched (bit-exact), above
 * it the gain maps the envelope through 0.5 + 0.5 tanh((e - 0.5) / 0.5),
 * smooth at the knee and never past 1.0 (0 dBFS). */
typedef struct kn_limiter_state {
    float env, release;
} kn_limiter_state;

static inline void kn_limiter_init(kn_limiter_state *l, double rate) {
    l->env = 0;
    l->release = (float)exp(-1.0 / (0.05 * rate));
}

/* Limits `frames` interleaved frames in place; returns the frames it
 * touched. */
static inline uint64_t kn_limiter_run(kn_limiter_state *l, float *x, int frames, int ch) {
    float env = l->env, rel = l->release;
    uint64_t touched = 0;
    for (int i = 0; i < frames; i++) {
        float *f = x + i * ch, peak = 0;
        for (int c = 0; c < ch; c++) peak = fmaxf(peak, fabsf(f[c]));
        env = fmaxf(peak, env * rel);
        if (env > KN_LIMIT_KNEE) {
            float g =
                (KN_LIMIT_KNEE + KN_LIMIT_KNEE * tanhf((env - KN_LIMIT_KNEE) / KN_LIMIT_KNEE)) /
                env;
            for (int c = 0; c < ch; c++) f[c] = fminf(fmaxf(f[c] * g, -1.0f), 1.0f);
            touched++;
        }
    }
    if (env < 1e-30f) env = 0; /* no denormals in the envelope */
    l->env = env;
    return touched;
}

/* NaN and Inf become 0; returns how many there were. */
static inline uint64_t kn_scrub(float *x, int n) {
    uint64_t bad = 0;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            x[i] = 0;
            bad++;
        }
    return bad;
}

#endif
