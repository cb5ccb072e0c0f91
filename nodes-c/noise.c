/*
 * noise.c - white and pink noise. See kanon/noise.h.
 *
 * xorshift32 (Marsaglia): three shifts and xors per sample, period 2^32-1,
 * good enough spectrally for audio, and the seed lives in the state.
 */
#include "knmath.h"

#define DEFAULT_SEED 0x9e3779b9u

static inline unsigned xorshift(unsigned x) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* The state as a signed integer scaled to [-1, 1). */
static inline float to_unit(unsigned x) {
    return (float)(int)x * (1.0f / 2147483648.0f);
}

/* (name): the function, not the header's macro for the old form */
void(kn_noise_init)(kn_noise *s, double rate, unsigned seed) {
    *s = (kn_noise){.seed = seed ? seed : DEFAULT_SEED, .rate = rate};
}

void kn_noise_compute(kn_noise *s, float *out, int frames, float amp) {
    unsigned x = s->seed ? s->seed : DEFAULT_SEED;
    for (int i = 0; i < frames; i++) {
        x = xorshift(x);
        out[i] = amp * to_unit(x);
    }
    s->seed = x;
}

float kn_noise_tick(kn_noise *s) {
    s->seed = xorshift(s->seed ? s->seed : DEFAULT_SEED);
    return to_unit(s->seed);
}

void(kn_pink_init)(kn_pink *s, double rate, unsigned seed) {
    *s = (kn_pink){.seed = seed ? seed : DEFAULT_SEED, .rate = rate};
}

/* Paul Kellet's "refined" pink filter: six one-poles spread over the
 * audio band plus a direct term sum to -3 dB/octave within +-0.05 dB
 * above 9 Hz (at 44.1 kHz; at 48 kHz the poles shift by under 10%). */
static inline float pink_step(float *b, float w) {
    b[0] = 0.99886f * b[0] + w * 0.0555179f;
    b[1] = 0.99332f * b[1] + w * 0.0750759f;
    b[2] = 0.96900f * b[2] + w * 0.1538520f;
    b[3] = 0.86650f * b[3] + w * 0.3104856f;
    b[4] = 0.55000f * b[4] + w * 0.5329522f;
    b[5] = -0.7616f * b[5] - w * 0.0168980f;
    float p = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362f;
    b[6] = w * 0.115926f;
    return p * 0.11f; /* about unit peak */
}

void kn_pink_compute(kn_pink *s, float *out, int frames, float amp) {
    unsigned x = s->seed ? s->seed : DEFAULT_SEED;
    float b[7];
    for (int j = 0; j < 7; j++) b[j] = s->b[j];
    for (int i = 0; i < frames; i++) {
        x = xorshift(x);
        out[i] = amp * pink_step(b, to_unit(x));
    }
    for (int j = 0; j < 7; j++) s->b[j] = b[j];
    s->seed = x;
}

float kn_pink_tick(kn_pink *s) {
    s->seed = xorshift(s->seed ? s->seed : DEFAULT_SEED);
    return pink_step(s->b, to_unit(s->seed));
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_noise_run(kn_noise *s, float *out, int frames, float amp) {
    kn_noise_compute(s, out, frames, amp);
}
void kn_pink_run(kn_pink *s, float *out, int frames, float amp) {
    kn_pink_compute(s, out, frames, amp);
}
