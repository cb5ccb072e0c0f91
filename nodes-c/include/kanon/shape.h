/*
 * kanon/shape.h - waveshapers. Stateless, so no struct and no init: plain
 * functions over a block, and per-sample forms.
 */
#ifndef KANON_NODES_SHAPE_H
#define KANON_NODES_SHAPE_H

#include <kanon.h>

/* out = tanh(drive * in), by a rational approximation (error < 1.1e-6). */
void kn_tanh_compute(float *out, const float *in, int frames, float drive);
float kn_tanh(float x);
/* Triangle wavefolder: drive * in reflected back into [-1, 1] as often as
 * it overshoots (identity for |drive * in| <= 1). */
void kn_fold_compute(float *out, const float *in, int frames, float drive);
float kn_fold(float x);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_tanh_run(const float *in, float *out, int frames, float drive);
void kn_fold_run(const float *in, float *out, int frames, float drive);

#endif
