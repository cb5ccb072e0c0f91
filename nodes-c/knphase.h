/*
 * knphase.h - private helpers of nodes-c: the phase arithmetic and the
 * polyBLEP residual that the scalar oscillators (oscillator.c) and the
 * 8-voice banks (bank.c) share, so that a bank voice computes exactly
 * what the scalar node computes.
 */
#ifndef KN_NODES_PHASE_H
#define KN_NODES_PHASE_H

#include "knmath.h"

/* Samples per chunk of an oscillator's block loop: inside a chunk the
 * phase of sample i is first + i*inc in float; every chunk re-derives
 * `first` from the double phase, so float rounding never accumulates. */
#define KN_PHASE_CHUNK 64

/* Phase increment per sample at `freq` Hz, limited to +-Nyquist. */
static inline double kn_phase_inc(double rate, float freq) {
    double inc = rate > 0 ? freq / rate : 0.0;
    return inc > 0.5 ? 0.5 : inc < -0.5 ? -0.5 : inc;
}

/* The same for the BLEP shapes, which run forwards only. */
static inline double kn_phase_inc_pos(double rate, float freq) {
    double inc = kn_phase_inc(rate, freq);
    return inc < 0 ? 0 : inc;
}

/* The phase n samples on, wrapped into [0, 1). */
static inline double kn_phase_advance(double phase, double inc, int n) {
    double p = phase + inc * n;
    return p - kn_floor(p);
}

/* The BLEP's dt: the increment as a float, kept from 0. */
static inline float kn_blep_dt(double inc) {
    return inc < 1e-7 ? 1e-7f : (float)inc;
}

/* Correction to add for a -2 step (saw wrap) at t = 0, t the phase:
 * a = 1 - u is > 0 exactly in the sample after the wrap (t < dt), b = 1 + u
 * (u < 0) in the one before, so clamping at 0 selects the residuals with
 * no compare. b is formed from t - 1, exact, rather than from t idt, which
 * would lose its precision at low frequencies (idt large). */
static inline float kn_blep_down(float t, float idt) {
    float a = 1.0f - t * idt, b = 1.0f + (t - 1.0f) * idt;
    a = a > 0.0f ? a : 0.0f;
    b = b > 0.0f ? b : 0.0f;
    return a * a - b * b;
}

/* The saw's sample at phase t (without amp): rising ramp plus BLEP. */
static inline float kn_saw_shape(float t, float idt) {
    return 2.0f * t - 1.0f + kn_blep_down(t, idt);
}

#endif
