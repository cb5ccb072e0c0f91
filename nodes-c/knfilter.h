/*
 * knfilter.h - private helpers of nodes-c: the cutoff prewarp and the
 * state-variable filter's coefficients, shared by the scalar filters
 * (filter.c) and the 8-voice bank (bank.c), so that a bank voice computes
 * exactly what kn_svf computes.
 */
#ifndef KN_NODES_FILTER_H
#define KN_NODES_FILTER_H

#include "knmath.h"

/* tan(x) for 0 < x <= 0.49 pi: Lambert's continued fraction cut after
 * 17, as one rational function of x^2 (relative error < 5e-12). Its two
 * short polynomials evaluate side by side; a libm tan() call costs more
 * than a whole block of some filters, and polyphonic patches pay it per
 * voice per block. */
static inline double tan_small(double x) {
    double y = x * x;
    double p = 34459425 + y * (-4729725 + y * (135135 + y * (-990 + y)));
    double q = 34459425 + y * (-16216200 + y * (945945 + y * (-13860 + y * 45)));
    return x * p / q;
}

/* g = tan(pi * fc / fs), the prewarped integrator gain; fc kept inside
 * (1 Hz, 0.49 fs) so g stays finite and positive. The one-pole, SVF and
 * ladder pass the rate as a float: the value they always computed with. */
static inline double prewarp(double rate, float cutoff) {
    double fc = cutoff < 1.0f ? 1.0 : cutoff, top = 0.49 * rate;
    if (fc > top) fc = top;
    return tan_small(3.141592653589793 * fc / rate);
}

/* ---- state-variable filter ----
 * Simper's SVF per sample, with v0 the input and (ic1, ic2) the state:
 *   v1 = a1 ic1 + a2 (v0 - ic2),  v2 = ic2 + a2 ic1 + a3 (v0 - ic2)
 *   ic1' = 2 v1 - ic1,            ic2' = 2 v2 - ic2
 * a1 = 1/(1 + g(g + k)), a2 = g a1, a3 = g a2, k = 1/q. It is linear, so
 * the update is written as a 2x2 matrix on the state plus the input
 * (c[0..5]) and every output mode as one row (c[6..8]) on (v0, ic1, ic2).
 * That shortens the serial dependency per sample from about five
 * operations to three (a subtract, a multiply and an add): about twice as
 * fast. The output rows follow v1 = (a2, a1, -a2) and v2 = (a3, a2, 1 - a3)
 * on (v0, ic1, ic2): LP v2, BP k v1, HP v0 - k v1 - v2, notch v0 - k v1. */
static inline void svf_coefs(double g, double q, int mode, double *c) {
    double k = 1.0 / (q < 0.5 ? 0.5 : q), a1 = 1.0 / (1.0 + g * (g + k)), a2 = g * a1, a3 = g * a2;
    c[0] = 2 * a1 - 1, c[1] = -2 * a2, c[2] = 2 * a2; /* ic1' */
    c[3] = 2 * a2, c[4] = 1 - 2 * a3, c[5] = 2 * a3;  /* ic2' */
    switch (mode) {
    case KN_LP: c[6] = a3, c[7] = a2, c[8] = 1 - a3; break;
    case KN_BP: c[6] = k * a2, c[7] = k * a1, c[8] = k * -a2; break; /* k v1: 0 dB at the peak */
    case KN_HP: c[6] = 1 - k * a2 - a3, c[7] = -k * a1 - a2, c[8] = k * a2 - (1 - a3); break;
    default: c[6] = 1 - k * a2, c[7] = -k * a1, c[8] = k * a2; /* notch */
    }
}

/* One block's coefficients: from `stored` (the last block's, as floats;
 * stored[2] == 0 before the first block) to this block's, which replace
 * them. c0 and dc are where each starts and its step per sample, a linear
 * glide over `frames` (no glide on the first block). Returns whether the
 * block may take the low-pass shortcut: mode is KN_LP and the stored row
 * is the low-pass one, (a3, a2, 1 - a3), exactly so in its first two
 * (halving a float is exact); every other mode's row has c[7] < 0 or
 * c[8] < 0. */
static inline int svf_block(float *stored, double rate, int frames, float cutoff, float q, int mode,
                            double *c0, double *dc) {
    double c[9];
    svf_coefs(prewarp((float)rate, cutoff), q, mode, c);
    int glide = stored[2] > 0 && frames > 0;
    int lp = mode == KN_LP && (!glide || (stored[6] == 0.5f * stored[5] &&
                                          stored[7] == 0.5f * stored[2] && stored[8] > 0));
    if (glide) {
        double inv = 1.0 / frames;
        for (int j = 0; j < 9; j++) c0[j] = stored[j], dc[j] = (c[j] - c0[j]) * inv;
    } else {
        for (int j = 0; j < 9; j++) c0[j] = c[j], dc[j] = 0;
    }
    for (int j = 0; j < 9; j++) stored[j] = (float)c[j];
    return lp;
}

#endif
