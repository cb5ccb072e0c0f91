/*
 * kanon/oscillator.h - oscillators: phasor, sine, band-limited saw/square/triangle
 * (polyBLEP), wavetable. Phases are double (no drift over a deck's life);
 * inside a block the loops run in float so gcc vectorizes them.
 */
#ifndef KANON_NODES_OSCILLATOR_H
#define KANON_NODES_OSCILLATOR_H

#include <kanon.h>

/* The phase accumulator every oscillator shares: phase in [0, 1). */
typedef struct kn_phasor {
    double phase;
    double rate; /* 0 until init */
} kn_phasor;
void kn_phasor_init(kn_phasor *s, double rate, double phase);
/* out[i] = phase (0..1) at `freq` Hz (negative freq runs backwards). */
void kn_phasor_compute(kn_phasor *s, float *out, int frames, float freq);
/* Per-sample frequency (Hz) from `freq`: for FM and glides. */
void kn_phasor_compute_fm(kn_phasor *s, float *out, const float *freq, int frames);
float kn_phasor_tick(kn_phasor *s, float freq);

/* Sine: amp*sin(2*pi*phase), by polynomial (error < 1e-7, no libm). */
typedef kn_phasor kn_sine;
void kn_sine_init(kn_sine *s, double rate, double phase);
void kn_sine_compute(kn_sine *s, float *out, int frames, float freq, float amp);
float kn_sine_tick(kn_sine *s, float freq);
/* out[i] = sin(2*pi*phase[i]), any real phase: turns a phasor into a sine. */
void kn_sine_of_phase(float *out, const float *phase, int frames);

/* PolyBLEP saw (rising, -1..1), pulse (width 0..1; 0.5 = square) and
 * triangle (polyBLAMP); aliasing far below a naive oscillator's. */
typedef kn_phasor kn_saw;
typedef kn_phasor kn_square;
typedef kn_phasor kn_tri;
void kn_saw_init(kn_saw *s, double rate, double phase);
void kn_saw_compute(kn_saw *s, float *out, int frames, float freq, float amp);
float kn_saw_tick(kn_saw *s, float freq);
void kn_square_init(kn_square *s, double rate, double phase);
void kn_square_compute(kn_square *s, float *out, int frames, float freq, float width, float amp);
float kn_square_tick(kn_square *s, float freq, float width);
void kn_tri_init(kn_tri *s, double rate, double phase);
void kn_tri_compute(kn_tri *s, float *out, int frames, float freq, float amp);
float kn_tri_tick(kn_tri *s, float freq);

/* Wavetable: a table of one cycle, band-limited per octave (mip levels,
 * built at setup by an FFT), shared by any number of kn_wt oscillators.
 * Keep the table in its own kn_state region and pass it to each compute. */
#define KN_WT_SIZE   2048
#define KN_WT_LEVELS 10 /* level l keeps harmonics 1..(512 >> l) */
typedef struct kn_wtable {
    int ready;
    float level[KN_WT_LEVELS][KN_WT_SIZE + 1]; /* +1: a guard copy of [0] */
} kn_wtable;
/* From harmonic amplitudes amp[0..n-1] (amp[0] = fundamental), sine phase. */
void kn_wtable_harmonics(kn_wtable *t, const float *amp, int n);
/* From one cycle of `len` samples (any length >= 2): its spectrum is
 * taken, DC removed, and each level keeps what is below its limit. */
void kn_wtable_wave(kn_wtable *t, const float *wave, int len);
typedef kn_phasor kn_wt;
void kn_wt_init(kn_wt *s, double rate, double phase);
void kn_wt_compute(kn_wt *s, float *out, const kn_wtable *t, int frames, float freq, float amp);
float kn_wt_tick(kn_wt *s, const kn_wtable *t, float freq);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_phasor_run(kn_phasor *s, float *out, int frames, float freq);
void kn_phasor_run_fm(kn_phasor *s, const float *freq, float *out, int frames);
void kn_sine_run(kn_sine *s, float *out, int frames, float freq, float amp);
void kn_sine_of(const float *phase, float *out, int frames);
void kn_saw_run(kn_saw *s, float *out, int frames, float freq, float amp);
void kn_square_run(kn_square *s, float *out, int frames, float freq, float width, float amp);
void kn_tri_run(kn_tri *s, float *out, int frames, float freq, float amp);
void kn_wt_run(kn_wt *s, const kn_wtable *t, float *out, int frames, float freq, float amp);

#endif
