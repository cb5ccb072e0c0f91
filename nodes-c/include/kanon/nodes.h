/*
 * kanon/nodes.h - the nodes-c DSP kit: heavy inner loops compiled once by
 * gcc -O2, called block by block from user code that tcc compiles.
 *
 * Every node has the same shape:
 *   typedef struct { ... } kn_X;                 plain state, no pointers:
 *                                                it can live in kn_state()
 *                                                and survives swaps
 *   void  kn_X_init(kn_X *s, double rate, ...);  set up
 *   void  kn_X_run(kn_X *s, ..., float *out, int frames);  a block
 *   float kn_X_tick(kn_X *s, ...);               one sample, where useful
 *
 * Self-contained like kanon.h: no system headers, so tcc reads it fast.
 */
#ifndef KANON_NODES_H
#define KANON_NODES_H

#include <kanon.h>

/* ---- oscillators ---- */

/* Sine: a phase accumulator in double precision and a polynomial sine. */
typedef struct kn_sine {
    double phase; /* 0..1 */
    double rate;
} kn_sine;
void kn_sine_init(kn_sine *s, double rate, double phase);
/* Adds nothing: writes amp*sin(2*pi*phase) at `freq` Hz into out. */
void kn_sine_run(kn_sine *s, float freq, float amp, float *out, int frames);
float kn_sine_tick(kn_sine *s, float freq);

#endif
