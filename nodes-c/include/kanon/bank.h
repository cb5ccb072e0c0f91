/*
 * kanon/bank.h - banks: 8 voices of an oscillator or a filter in one node,
 * and a mix of the 8 voices to stereo.
 *
 * Why: a recursive filter (kn_svf) waits on its last sample, so one voice
 * leaves the CPU idle most of the time; kn_svf8 steps 8 voices side by
 * side in vector lanes, in about the time of three. A bank also saves the
 * glue its calls and its passes over memory: one call per 8 voices, and
 * one pass to mix them into the stereo pair.
 *
 * Same samples: voice v of a bank gives exactly (bit for bit) the samples
 * of the scalar node with voice v's parameters (kn_sine, kn_saw, kn_svf),
 * block after block, and kn_bank_pan_stereo adds exactly what 8
 * kn_buf_pan_stereo calls add, in voice order.
 *
 * A bank buffer holds KN_BANK planes of `frames` samples: voice v's block
 * is buf + v * frames (float buf[KN_BANK * frames]), so any scalar node
 * or kn_buf_* helper can work on one voice (an envelope, a gain). Per-voice
 * parameters are arrays of KN_BANK floats (freq[v], cutoff[v], ...). More
 * than 8 voices: several banks.
 */
#ifndef KANON_NODES_BANK_H
#define KANON_NODES_BANK_H

#include <kanon.h>

#define KN_BANK 8 /* voices per bank */

/* Phases of 8 oscillators (double, as kn_phasor's), each in [0, 1). */
typedef struct kn_phasor8 {
    double phase[KN_BANK];
    double rate; /* 0 until init */
} kn_phasor8;

/* 8 sines: voice v is kn_sine at freq[v], amp[v]. phase: 8 start phases,
 * or NULL for 0. */
typedef kn_phasor8 kn_sine8;
void kn_sine8_init(kn_sine8 *s, double rate, const double *phase);
void kn_sine8_compute(kn_sine8 *s, float *out, int frames, const float *freq, const float *amp);

/* The same 8 sines mixed straight into a stereo pair, panned (pan[v]
 * -1..1, equal power) with gain[v]: exactly kn_sine8_compute followed by
 * kn_bank_pan_stereo, in one pass with no bank buffer (faster, when only
 * the mix is wanted). */
void kn_sine8_pan(kn_sine8 *s, float *outL, float *outR, int frames, const float *freq,
                  const float *amp, const float *pan, const float *gain);

/* 8 polyBLEP saws: voice v is kn_saw at freq[v], amp[v]. */
typedef kn_phasor8 kn_saw8;
void kn_saw8_init(kn_saw8 *s, double rate, const double *phase);
void kn_saw8_compute(kn_saw8 *s, float *out, int frames, const float *freq, const float *amp);

/* 8 state-variable filters: voice v is kn_svf at cutoff[v], q[v], one mode
 * for the bank (KN_LP, KN_BP, KN_HP, KN_NOTCH). Coefficients glide across
 * the block as kn_svf's do. `in` may equal `out`. Real-time safe: about
 * 3 KiB of stack, no allocation. */
typedef struct kn_svf8 {
    double ic1[KN_BANK], ic2[KN_BANK];
    double rate;
    float c[KN_BANK][9]; /* each voice's last coefficients, as kn_svf's c */
} kn_svf8;
void kn_svf8_init(kn_svf8 *s, double rate);
void kn_svf8_compute(kn_svf8 *s, float *out, const float *in, int frames, const float *cutoff,
                     const float *q, int mode);

/* Equal-power pan of each voice, added into a stereo pair: exactly 8
 * kn_buf_pan_stereo calls, voice 0 first (the same sums in the same order),
 * pan[v] and gain[v] each voice's. */
void kn_bank_pan_stereo(float *outL, float *outR, const float *in, int frames, const float *pan,
                        const float *gain);

#endif
