/*
 * util.c - block helpers (gain, mix, pan, multiply), the parameter
 * smoother and unit conversions. See kanon/util.h.
 *
 * These exist because a loop over a block costs 2-4x more in tcc-compiled
 * glue than here, where gcc vectorizes it.
 */
#include "knmath.h"

void kn_buf_clear(float *out, int frames) {
    for (int i = 0; i < frames; i++) out[i] = 0;
}

void kn_buf_copy(float *out, const float *in, int frames) {
    for (int i = 0; i < frames; i++) out[i] = in[i];
}

KN_SIMD void kn_buf_gain(float *out, const float *in, int frames, float gain) {
    for (int i = 0; i < frames; i++) out[i] = gain * in[i];
}

KN_SIMD void kn_buf_add(float *out, const float *in, int frames, float gain) {
    for (int i = 0; i < frames; i++) out[i] += gain * in[i];
}

KN_SIMD void kn_buf_mul(float *out, const float *a, const float *b, int frames) {
    for (int i = 0; i < frames; i++) out[i] = a[i] * b[i];
}

/* Equal power: left = cos(theta), right = sin(theta), theta = (pan+1) pi/4. */
KN_SIMD void kn_buf_pan_stereo(float *outL, float *outR, const float *in, int frames, float pan,
                               float gain) {
    float l, r;
    kn_pan_gains(pan, gain, &l, &r);
    for (int i = 0; i < frames; i++) {
        outL[i] += l * in[i];
        outR[i] += r * in[i];
    }
}

/* ---- smoother ---- */

/* rate is a float here: the value the smoother always computed with. */
static float smooth_coef(float time, float rate) {
    double n = (double)time * rate;
    return n < 1 ? 0.0f : (float)__builtin_exp(-6.907755278982137 / n); /* 60 dB in `time` */
}

void kn_smoother_init(kn_smoother *s, double rate, float value) {
    *s = (kn_smoother){.value = value, .rate = rate};
}

void kn_smoother_compute(kn_smoother *s, float *out, int frames, float target, float time) {
    float c = smooth_coef(time, s->rate), v = s->value;
    for (int i = 0; i < frames; i++) out[i] = v = target + c * (v - target);
    s->value = v;
}

float kn_smoother_tick(kn_smoother *s, float target, float time) {
    float c = smooth_coef(time, s->rate);
    return s->value = target + c * (s->value - target);
}

/* n steps at once: the distance shrinks by c^n. */
float kn_smoother_step(kn_smoother *s, float target, float time, int frames) {
    double c = smooth_coef(time, s->rate);
    return s->value = target + (float)__builtin_pow(c, frames) * (s->value - target);
}

/* ---- conversions ---- */

float kn_mtof(float note) {
    return 440.0f * (float)__builtin_exp2((note - 69.0) / 12.0);
}
float kn_dbtoa(float db) {
    return (float)__builtin_pow(10.0, db / 20.0);
}
float kn_atodb(float amp) {
    return amp > 0 ? 20.0f * (float)__builtin_log10(amp) : -1000.0f;
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

/* The one-line loops are repeated rather than wrapped: at 0.07 ns a
 * sample, one more call per block costs these a quarter of their time. */
void kn_clear(float *out, int frames) {
    for (int i = 0; i < frames; i++) out[i] = 0;
}
void kn_copy(const float *in, float *out, int frames) {
    for (int i = 0; i < frames; i++) out[i] = in[i];
}
KN_SIMD void kn_gain(const float *in, float *out, int frames, float gain) {
    for (int i = 0; i < frames; i++) out[i] = gain * in[i];
}
/* kn_mix: also the name of the conductor's mixer struct (conductor/conductor.h);
 * the two never meet in one program, but the kit's function is kn_buf_add now. */
KN_SIMD void kn_mix(const float *in, float *out, int frames, float gain) {
    for (int i = 0; i < frames; i++) out[i] += gain * in[i];
}
KN_SIMD void kn_mul(const float *a, const float *b, float *out, int frames) {
    for (int i = 0; i < frames; i++) out[i] = a[i] * b[i];
}
void kn_pan(const float *in, float *outL, float *outR, int frames, float pan, float gain) {
    kn_buf_pan_stereo(outL, outR, in, frames, pan, gain);
}
void kn_smoother_run(kn_smoother *s, float *out, int frames, float target, float time) {
    kn_smoother_compute(s, out, frames, target, time);
}
