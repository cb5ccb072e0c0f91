/*
 * kanon/nodes.h - the nodes-c DSP kit: heavy inner loops compiled once by
 * gcc -O2, called block by block from user code that tcc compiles.
 *
 * Every node has the same shape:
 *   typedef struct { ... } kn_X;                  plain state, no pointers:
 *                                                 it can live in kn_state()
 *                                                 and survives swaps
 *   void  kn_X_init(kn_X *s, double rate, ...);   set up (resets the state)
 *   void  kn_X_compute(kn_X *s, out, in, frames, params...);   one block
 *   float kn_X_tick(kn_X *s, x, params...);       one sample, where useful
 *
 * The rules (docs/nodes.md has every node, its cost and an example):
 *   - The rate is a double: k->rate, every init's argument, every state's
 *     `rate` field. Every init takes it, right after the state.
 *   - Arguments come in one order: the state, the outputs, the inputs
 *     (signals, then shared data such as a wavetable or a sample), the
 *     frame count, then the per-block parameters. Out first, as in
 *     memcpy: kn_svf_compute(&s, out, in, frames, cutoff, q, KN_LP).
 *     Generators have no input: kn_saw_compute(&s, out, frames, freq, amp).
 *     Stateless helpers drop the state: kn_buf_gain(out, in, frames, gain).
 *   - A function that writes a stereo pair ends in _stereo and takes outL,
 *     outR (then inL, inR): kn_reverb_compute_stereo, kn_buf_pan_stereo.
 *   - `in` may equal `out` (in-place). compute writes `out`; only the
 *     buffer helpers kn_buf_add and kn_buf_pan_stereo add into it.
 *   - Parameters are per block (read kn_get() once per block and pass it);
 *     nodes whose coefficients would click glide them across the block
 *     (one-pole, SVF, ladder, delays; the biquad switches: sweep a kn_svf).
 *     tick takes its parameters per sample and does not glide.
 *   - Call kn_X_init once per deck, not on every swap: keep a flag in your
 *     state struct (`if (!st->ready) { kn_saw_init(...); st->ready = 1; }`).
 *   - Deterministic: no global state; noise is a seeded generator in state.
 *
 * The names from before these rules (kn_X_run, kn_mix, init without the
 * rate, ...) still compile and give the same samples: each header's "Old
 * names" section, docs/nodes.md's table.
 *
 * Self-contained like kanon.h: no system headers, so tcc reads it fast.
 */
#ifndef KANON_NODES_H
#define KANON_NODES_H

#include <kanon.h>

/* Optional inputs and outputs take NULL; kanon.h includes no stddef.h.
 * Spelled exactly as tcc's stddef.h does, so including it later is fine
 * (gcc's stddef.h #undefs NULL first). */
#ifndef NULL
#define NULL ((void *)0)
#endif

#include "oscillator.h"
#include "noise.h"
#include "filter.h"
#include "env.h"
#include "delay.h"
#include "reverb.h"
#include "dyn.h"
#include "shape.h"
#include "util.h"
#include "clock.h"
#include "sample.h"
#include "voices.h"
#include "bank.h"

#endif
