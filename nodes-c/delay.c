/*
 * delay.c - delay lines whose buffers live in the state: fractional delay
 * with feedback, comb, allpass, chorus/flanger. See kanon/delay.h.
 *
 * All buffers are power-of-two rings indexed with a mask. A delay that
 * changed since the last block glides linearly across this block (like a
 * tape head moving), so modulation is smooth and sample-accurate.
 */
#include "knmath.h"

/* 4-point cubic Hermite (Catmull-Rom) between b (t = 0) and c (t = 1),
 * a newer than b, d older than c. Exactly b at t = 0. */
static inline float hermite(float a, float b, float c, float d, float t) {
    float c1 = 0.5f * (c - a), c2 = a - 2.5f * b + 2.0f * c - 0.5f * d;
    float c3 = 0.5f * (d - a) + 1.5f * (b - c);
    return ((c3 * t + c2) * t + c1) * t + b;
}

/* The sample `d` behind index w, from a ring of mask+1 floats: buf[w - 1]
 * is one sample behind. Uses buf[w - floor(d) + 1] as its newest point, so
 * that must be written: d >= 1 after writing buf[w], d >= 2 before. */
static inline float read_cubic(const float *buf, int mask, int w, float d) {
    int i = (int)d;
    float t = d - (float)i;
    int j = w - i;
    return hermite(buf[(j + 1) & mask], buf[j & mask], buf[(j - 1) & mask], buf[(j - 2) & mask], t);
}

static inline float read_linear(const float *buf, int mask, int w, float d) {
    int i = (int)d;
    float t = d - (float)i, b = buf[(w - i) & mask];
    return b + t * (buf[(w - i - 1) & mask] - b);
}

/* Glide start and per-sample step from the last block's delay. */
static float glide(float *last, float target, int frames, float *step) {
    float from = *last > 0 ? *last : target;
    *step = frames > 0 ? (target - from) / (float)frames : 0;
    *last = target;
    return from;
}

/* ---- fractional delay ---- */

/* (name): the function, not the header's macro for the old form */
void(kn_delay_init)(kn_delay *s, double rate) {
    s->pos = 0, s->last = 0, s->rate = rate;
    for (int i = 0; i < KN_DELAY_MAX; i++) s->buf[i] = 0;
}

/* Write first, read D behind (the Hermite's newest point is then the
 * input itself when D < 2), then add the feedback into the slot just
 * written: w[n] = in[n] + fb * w[n - D], a loop of exactly D samples. */
void kn_delay_compute(kn_delay *s, float *out, const float *in, int frames, float delay,
                      float feedback) {
    const int mask = KN_DELAY_MAX - 1;
    float dd, d = glide(&s->last, kn_clampf(delay, 1.0f, KN_DELAY_MAX - 4), frames, &dd);
    int w = s->pos;
    for (int i = 0; i < frames; i++) {
        d += dd;
        s->buf[w] = in[i];
        float y = read_cubic(s->buf, mask, w, d);
        s->buf[w] += feedback * y;
        out[i] = y;
        w = (w + 1) & mask;
    }
    s->pos = w;
}

float kn_delay_tick(kn_delay *s, float x, float delay) {
    const int mask = KN_DELAY_MAX - 1;
    float d = kn_clampf(delay, 0.0f, KN_DELAY_MAX - 4);
    s->buf[s->pos] = x;
    s->pos = (s->pos + 1) & mask;
    return kn_delay_read(s, d);
}

float kn_delay_read(const kn_delay *s, float delay) {
    const int mask = KN_DELAY_MAX - 1;
    float d = kn_clampf(delay, 0.0f, KN_DELAY_MAX - 4);
    /* the last written sample is at pos - 1, i.e. "1 behind pos" */
    return d < 1.0f ? read_linear(s->buf, mask, s->pos, d + 1.0f)
                    : read_cubic(s->buf, mask, s->pos, d + 1.0f);
}

/* ---- comb and allpass (read before write: delays of at least 1) ---- */

void(kn_comb_init)(kn_comb *s, double rate) {
    *s = (kn_comb){.rate = rate};
}

void kn_comb_compute(kn_comb *s, float *out, const float *in, int frames, float delay,
                     float feedback, float damp) {
    const int mask = KN_COMB_MAX - 1;
    float dd, d = glide(&s->last, kn_clampf(delay, 1.0f, KN_COMB_MAX - 2), frames, &dd);
    float lp = s->lp, dm = kn_clampf(damp, 0.0f, 1.0f);
    int w = s->pos;
    for (int i = 0; i < frames; i++) {
        d += dd;
        float y = read_linear(s->buf, mask, w, d);
        lp = y + dm * (lp - y);
        s->buf[w] = in[i] + feedback * lp;
        out[i] = y;
        w = (w + 1) & mask;
    }
    s->pos = w, s->lp = lp;
}

void(kn_allpass_init)(kn_allpass *s, double rate) {
    *s = (kn_allpass){.rate = rate};
}

void kn_allpass_compute(kn_allpass *s, float *out, const float *in, int frames, float delay,
                        float gain) {
    const int mask = KN_COMB_MAX - 1;
    float dd, d = glide(&s->last, kn_clampf(delay, 1.0f, KN_COMB_MAX - 2), frames, &dd);
    int w = s->pos;
    for (int i = 0; i < frames; i++) {
        d += dd;
        float wd = read_linear(s->buf, mask, w, d), wn = in[i] + gain * wd;
        s->buf[w] = wn;
        out[i] = wd - gain * wn;
        w = (w + 1) & mask;
    }
    s->pos = w;
}

/* ---- chorus / flanger ---- */

void kn_chorus_init(kn_chorus *s, double rate, double phase) {
    *s = (kn_chorus){.rate = rate, .phase = phase - kn_floor(phase)};
}

void kn_chorus_compute(kn_chorus *s, float *out, const float *in, int frames, float lfo_hz,
                       float depth_ms, float delay_ms, float feedback, float mix) {
    const int mask = KN_CHORUS_MAX - 1;
    float rate = (float)s->rate; /* float: the arithmetic the chorus always did */
    float ms = rate / 1000.0f, centre = delay_ms * ms, depth = depth_ms * ms;
    double inc = rate > 0 ? lfo_hz / rate : 0;
    float p0 = (float)s->phase, dp = (float)inc, fb = s->fb, m = kn_clampf(mix, 0.0f, 1.0f);
    int w = s->pos;
    for (int i = 0; i < frames; i++) {
        float d = centre + depth * kn_sin2pi(p0 + (float)i * dp);
        float y = read_cubic(s->buf, mask, w, kn_clampf(d, 2.0f, KN_CHORUS_MAX - 4));
        s->buf[w] = in[i] + feedback * y;
        out[i] = in[i] + m * (y - in[i]);
        fb = y;
        w = (w + 1) & mask;
    }
    double p = s->phase + inc * frames;
    s->phase = p - kn_floor(p);
    s->pos = w, s->fb = fb;
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_delay_run(kn_delay *s, const float *in, float *out, int frames, float delay,
                  float feedback) {
    kn_delay_compute(s, out, in, frames, delay, feedback);
}
void kn_comb_run(kn_comb *s, const float *in, float *out, int frames, float delay, float feedback,
                 float damp) {
    kn_comb_compute(s, out, in, frames, delay, feedback, damp);
}
void kn_allpass_run(kn_allpass *s, const float *in, float *out, int frames, float delay,
                    float gain) {
    kn_allpass_compute(s, out, in, frames, delay, gain);
}
void kn_chorus_run(kn_chorus *s, const float *in, float *out, int frames, float lfo_hz,
                   float depth_ms, float delay_ms, float feedback, float mix) {
    kn_chorus_compute(s, out, in, frames, lfo_hz, depth_ms, delay_ms, feedback, mix);
}
