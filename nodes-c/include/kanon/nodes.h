/*
 * kanon/nodes.h - the nodes-c DSP kit: heavy inner loops compiled once by
 * gcc -O2, called block by block from user code that tcc compiles.
 *
 * Every node has the same shape:
 *   typedef struct { ... } kn_X;                 plain state, no pointers:
 *                                                it can live in kn_state()
 *                                                and survives swaps
 *   void  kn_X_init(kn_X *s, double rate, ...);  set up (resets the state)
 *   void  kn_X_run(kn_X *s, in, out, frames, params...);   one block
 *   float kn_X_tick(kn_X *s, ...);               one sample, where useful
 *
 * Conventions (docs/nodes.md has every node, its cost and an example):
 *   - Generators have no `in`: kn_saw_run(&s, out, frames, freq, amp).
 *   - `in` may equal `out` (in-place). run() writes `out`; only the mix
 *     helpers (kn_mix, kn_pan) add into it.
 *   - Parameters are per block (read kn_get() once per block and pass it);
 *     nodes whose coefficients would click ramp them across the block.
 *   - Call kn_X_init once per deck, not on every swap: keep a flag in your
 *     state struct (`if (!st->ready) { kn_saw_init(...); st->ready = 1; }`).
 *   - Deterministic: no global state; noise is a seeded generator in state.
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

#endif
