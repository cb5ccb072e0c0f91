/*
 * shape.c - waveshapers: tanh saturation and a triangle wavefolder. See
 * kanon/shape.h. Both are branch-free polynomials/rationals, so the block
 * forms vectorize.
 */
#include "knmath.h"

float kn_tanh(float x) {
    return kn_tanh_fast(x);
}

void kn_tanh_compute(float *out, const float *in, int frames, float drive) {
    for (int i = 0; i < frames; i++) out[i] = kn_tanh_fast(drive * in[i]);
}

/* 1 - 4 |frac((x + 1) / 4) - 1/2|: a triangle of period 4 through the
 * origin with slope 1, i.e. x itself on [-1, 1] and reflections beyond. */
float kn_fold(float x) {
    return 1.0f - 4.0f * __builtin_fabsf(kn_frac((x + 1.0f) * 0.25f) - 0.5f);
}

void kn_fold_compute(float *out, const float *in, int frames, float drive) {
    for (int i = 0; i < frames; i++) {
        float v = kn_clampf(drive * in[i], -1e6f, 1e6f); /* keeps the int conversion in range */
        out[i] = 1.0f - 4.0f * __builtin_fabsf(kn_frac((v + 1.0f) * 0.25f) - 0.5f);
    }
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_tanh_run(const float *in, float *out, int frames, float drive) {
    kn_tanh_compute(out, in, frames, drive);
}
void kn_fold_run(const float *in, float *out, int frames, float drive) {
    kn_fold_compute(out, in, frames, drive);
}
