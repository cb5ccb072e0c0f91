/*
 * knmath.h - private helpers of nodes-c (not installed on tcc's path): the
 * fast math the hot loops use instead of per-sample libm calls. Everything
 * here is branch-free float code that gcc's vectorizer can turn into SSE.
 */
#ifndef KN_NODES_MATH_H
#define KN_NODES_MATH_H

/* Why: under the default -ftrapping-math gcc may not evaluate both arms of
 * a float `c ? a : b` (an arm could raise an FP exception), so it keeps
 * the branch and refuses to vectorize almost every loop here. We never
 * read FP exception flags. The Makefile's NODE_CFLAGS say the same for the
 * library; this keeps other builds of these files (the unit tests, the
 * AVX2/SSE2 comparisons) vectorized alike. It must come before any
 * function of the file, hence first in this header. */
#pragma GCC optimize("no-trapping-math")

#include <stddef.h>

#include "include/kanon/nodes.h"

/* KN_SIMD marks a function whose loop gcc vectorizes: on x86-64 it is also
 * built for AVX2 (8 floats per instruction instead of SSE2's 4), the
 * build being picked when the library loads. AVX2 brings no FMA, and the
 * Makefile keeps -ffp-contract=off, so both builds do the same IEEE
 * operations in the same order: the same samples on every machine. */
#ifndef KN_SIMD /* -DKN_SIMD= builds SSE2 only */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define KN_SIMD __attribute__((target_clones("avx2", "default")))
#endif
#endif
#endif
#ifndef KN_SIMD
#define KN_SIMD
#endif

#define KN_TWO_PI 6.283185307179586

/* x - floor(x) for |x| < 2^31, written without floorf (which SSE2 cannot
 * vectorize): truncate, then step down one where truncation rounded up. */
static inline float kn_frac(float x) {
    float t = (float)(int)x;
    t -= x < t ? 1.0f : 0.0f;
    return x - t;
}

/* The same for 0 <= x < 2^31, where truncation is floor: the BLEP
 * oscillators, whose phases only run forwards, save the correction. */
static inline float kn_frac_pos(float x) {
    return x - (float)(int)x;
}

/* sin(pi/2 * t) for t in [-1, 1]: odd degree-9 least-squares polynomial,
 * error 5e-9 (2e-7 once evaluated in float). */
/* The polynomial itself, for t and t2 = t * t of any float type (bank.c
 * evaluates it on vectors of 8): one copy of the coefficients. */
#define KN_SIN_QUARTER_POLY(t, t2)                                                                 \
    ((t) *                                                                                         \
     (1.57079629498f +                                                                             \
      (t2) * (-0.645963357306f +                                                                   \
              (t2) * (0.0796883292424f + (t2) * (-0.0046718950459f + (t2)*0.000150628416461f)))))

static inline float kn_sin_quarter(float t) {
    float t2 = t * t;
    return KN_SIN_QUARTER_POLY(t, t2);
}

/* sin(2*pi*x) given u = frac(x - 1/4): the triangle 4|u - 1/2| - 1 is 0 at
 * x = 0, 1 at x = 1/4 and -1 at x = 3/4, and sin(2 pi x) is
 * sin(pi/2 * triangle). Oscillators keep their phase shifted by 1/4 so a
 * single frac() per sample serves both the wrap and the fold. */
static inline float kn_sin_shifted(float u) {
    return kn_sin_quarter(4.0f * __builtin_fabsf(u - 0.5f) - 1.0f);
}

/* sin(2*pi*x) for any x with |x| < 2^31. */
static inline float kn_sin2pi(float x) {
    return kn_sin_shifted(kn_frac(x - 0.25f));
}

/* 2^x for x in about [-126, 126]: integer part into the exponent bits,
 * fractional part by a least-squares degree-5 polynomial (relative error
 * < 2e-7). */
static inline float kn_exp2_fast(float x) {
    x = x < -126.0f ? -126.0f : x;
    x = x > 126.0f ? 126.0f : x;
    float fl = (float)(int)x;
    fl -= x < fl ? 1.0f : 0.0f;
    float f = x - fl;
    float p = 0.9999999909f +
              f * (0.6931524112f +
                   f * (0.2401508808f +
                        f * (0.05584812856f + f * (0.008952664141f + f * 0.001895914839f))));
    union {
        float f;
        unsigned i; /* unsigned: shifting a negative int is undefined */
    } u = {p};
    u.i += (unsigned)(int)fl << 23;
    return u.f;
}

/* tanh(x), absolute error < 1.1e-6: for |x| < 2 Lambert's continued
 * fraction to order 7 (its error grows fast beyond), else (e - 1)/(e + 1)
 * with e = e^{2|x|} from kn_exp2_fast; both are fractions, so one select
 * picks numerator and denominator and a single division follows. */
static inline float kn_tanh_fast(float x) {
    float ax = __builtin_fabsf(x);
    ax = ax > 9.0f ? 9.0f : ax; /* tanh(9) = 1 - 3e-8 */
    float x2 = ax * ax;
    float p = ax * (135135.0f + x2 * (17325.0f + x2 * (378.0f + x2)));
    float q = 135135.0f + x2 * (62370.0f + x2 * (3150.0f + x2 * 28.0f));
    float e = kn_exp2_fast(2.8853900817779268f * ax); /* 2 / ln 2 */
    int near = ax < 2.0f;
    float t = (near ? p : e - 1.0f) / (near ? q : e + 1.0f);
    return x < 0.0f ? -t : t;
}

/* log2(x) for x > 0 normal: exponent bits plus a degree-5 polynomial of
 * the mantissa m in [1, 2) (absolute error < 2e-5, 1e-4 dB: plenty for
 * level detectors). */
static inline float kn_log2_fast(float x) {
    union {
        float f;
        int i;
    } u = {x};
    float e = (float)((u.i >> 23) & 255) - 127.0f;
    u.i = (u.i & 0x007fffff) | 0x3f800000;
    float m = u.f;
    return e + (-2.802394232f +
                m * (5.095581263f +
                     m * (-3.551599204f +
                          m * (1.628604425f + m * (-0.4146816254f + m * 0.04449062744f)))));
}

/* floor() for |x| < 2^63 without a libm call (SSE2 has no rounding
 * instruction, so __builtin_floor becomes a call). */
static inline double kn_floor(double x) {
    double t = (double)(long)x;
    return t > x ? t - 1.0 : t;
}

static inline float kn_clampf(float x, float lo, float hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* Equal-power pan: left = gain cos(theta), right = gain sin(theta),
 * theta = (pan + 1) pi/4, pan clamped to -1..1 (kn_buf_pan_stereo and the
 * bank's kn_bank_pan_stereo). */
/* The oscillators' phase is a double, advanced once per chunk of this many
 * frames; inside a chunk sample i's phase is computed in float from the
 * chunk's start (oscillator.c's PHASE_LOOP; bank.c's kn_sine8_pan). */
#define KN_PHASE_CHUNK 64

/* A phasor's increment per sample at `freq` Hz, limited to +-Nyquist. */
static inline double kn_phase_inc(double rate, float freq) {
    double inc = rate > 0 ? freq / rate : 0.0;
    return inc > 0.5 ? 0.5 : inc < -0.5 ? -0.5 : inc;
}

/* Advances a phasor's double phase by n samples, wrapped into [0, 1). */
static inline void kn_phase_advance(double *phase, double inc, int n) {
    double p = *phase + inc * n;
    *phase = p - kn_floor(p);
}

static inline void kn_pan_gains(float pan, float gain, float *l, float *r) {
    float th = (kn_clampf(pan, -1.0f, 1.0f) + 1.0f) * 0.125f; /* in cycles: 0 .. 1/4 */
    *l = gain * kn_sin2pi(th + 0.25f), *r = gain * kn_sin2pi(th);
}

#endif
