/*
 * dyn.c - compressor and look-ahead limiter. See kanon/dyn.h.
 *
 * Compressor: feed-forward, gain computed in dB from the instantaneous
 * level and then smoothed (attack while the reduction grows, release
 * while it shrinks): the "smooth decoupled" design of Giannoulis, Massberg
 * and Reiss (JAES 2012). dB conversions use the fast log2/exp2 of
 * knmath.h: no libm call per sample.
 *
 * Limiter: for every sample the gain that would keep it at the ceiling;
 * the minimum of that over a window of look-ahead+1 samples, an
 * exponential release, then a moving average over the look-ahead. The
 * average at the moment a peak leaves the delay line covers only samples
 * whose minimum already included that peak, so the output cannot exceed
 * the ceiling, and the gain moves smoothly (no clicks) into every peak.
 */
#include "knmath.h"

#define DB_PER_OCTAVE 6.020599913f /* 20 log10(2): dB = 6.02 * log2(amplitude) */

/* One-pole coefficient for a time constant in ms. The rate is a float
 * here: the value these nodes always computed with. */
static float tc(float ms, float rate) {
    double n = (double)ms * rate / 1000.0;
    return n < 1 ? 0.0f : (float)__builtin_exp(-1.0 / n);
}

void kn_comp_init(kn_comp *s, double rate, float knee_db) {
    *s = (kn_comp){.rate = rate, .knee = knee_db < 0 ? 0 : knee_db};
}

/* Static curve: gain change (dB, <= 0) for a level `over` dB above the
 * threshold, slope = 1 - 1/ratio, quadratic through a knee of width w. */
static inline float curve(float over, float slope, float w) {
    float hard = over > 0 ? -slope * over : 0.0f;
    float k = over + 0.5f * w, soft = -slope * k * k / (2.0f * w + 1e-9f);
    return w > 0 && 2.0f * __builtin_fabsf(over) <= w ? soft : hard;
}

/* level[i] is the detector input (|x|, or the louder channel); returns
 * the linear gain per sample in level[]. */
static void comp_gains(kn_comp *s, float *level, int n, float thresh_db, float ratio,
                       float attack_ms, float release_ms, float makeup_db) {
    float slope = 1.0f - 1.0f / (ratio < 1.0f ? 1.0f : ratio);
    float att = tc(attack_ms, s->rate), rel = tc(release_ms, s->rate), gr = s->gr;
    for (int i = 0; i < n; i++) {
        float db = DB_PER_OCTAVE * kn_log2_fast(level[i] + 1e-20f);
        float target = curve(db - thresh_db, slope, s->knee);
        float a = target < gr ? att : rel;
        gr = target + a * (gr - target);
        level[i] = kn_exp2_fast((gr + makeup_db) * (1.0f / DB_PER_OCTAVE));
    }
    s->gr = gr;
}

#define CHUNK 64

void kn_comp_compute(kn_comp *s, float *out, const float *in, int frames, float thresh_db,
                     float ratio, float attack_ms, float release_ms, float makeup_db) {
    kn_comp_compute_stereo(s, out, NULL, in, NULL, frames, thresh_db, ratio, attack_ms, release_ms,
                           makeup_db);
}

void kn_comp_compute_stereo(kn_comp *s, float *outL, float *outR, const float *inL,
                            const float *inR, int frames, float thresh_db, float ratio,
                            float attack_ms, float release_ms, float makeup_db) {
    for (int c = 0; c < frames; c += CHUNK) {
        int n = frames - c < CHUNK ? frames - c : CHUNK;
        float g[CHUNK];
        for (int i = 0; i < n; i++) {
            float l = __builtin_fabsf(inL[c + i]), r = inR ? __builtin_fabsf(inR[c + i]) : 0.0f;
            g[i] = l > r ? l : r;
        }
        comp_gains(s, g, n, thresh_db, ratio, attack_ms, release_ms, makeup_db);
        for (int i = 0; i < n; i++) outL[c + i] = inL[c + i] * g[i];
        if (inR && outR)
            for (int i = 0; i < n; i++) outR[c + i] = inR[c + i] * g[i];
    }
}

/* ---- limiter ---- */

void kn_limiter_init(kn_limiter *s, double rate, float lookahead_ms) {
    int look = (int)(lookahead_ms * rate / 1000.0 + 0.5);
    look = look < 1 ? 1 : look > KN_LIMITER_MAX - 1 ? KN_LIMITER_MAX - 1 : look;
    *s = (kn_limiter){.rate = rate, .look = look, .gain = 1, .sum = look};
    for (int i = 0; i < KN_LIMITER_MAX; i++) s->avg[i] = 1;
}

int kn_limiter_latency(const kn_limiter *s) {
    return s->look;
}

/* Sliding-window minimum by a monotonic queue: values increase from head
 * to tail, each with the sample index at which it leaves the window. */
static float window_min(kn_limiter *s, float g) {
    const int mask = KN_LIMITER_MAX - 1;
    while (s->qlen > 0 && s->qval[(s->qhead + s->qlen - 1) & mask] >= g) s->qlen--;
    int tail = (s->qhead + s->qlen) & mask;
    s->qval[tail] = g, s->qexp[tail] = s->n + s->look;
    s->qlen++;
    while (s->qexp[s->qhead] < s->n) s->qhead = (s->qhead + 1) & mask, s->qlen--;
    return s->qval[s->qhead];
}

static void limit(kn_limiter *s, const float *in[2], float *out[2], int nch, int frames,
                  float ceiling_db, float release_ms) {
    float ceil = kn_exp2_fast(ceiling_db * (1.0f / DB_PER_OCTAVE));
    float rel = tc(release_ms, s->rate), gain = s->gain, inv = 1.0f / (float)s->look;
    int pos = s->pos;
    for (int i = 0; i < frames; i++) {
        float peak = 0;
        for (int c = 0; c < nch; c++) {
            float a = __builtin_fabsf(in[c][i]);
            peak = a > peak ? a : peak;
        }
        float need = peak > ceil ? ceil / peak : 1.0f;
        float m = window_min(s, need);
        s->n++;
        float released = 1.0f - (1.0f - gain) * rel;
        gain = m < released ? m : released;
        s->sum += gain - s->avg[pos];
        s->avg[pos] = gain;
        float g = (float)(s->sum * inv);
        for (int c = 0; c < nch; c++) {
            float x = in[c][i];
            out[c][i] = s->dl[c][pos] * g;
            s->dl[c][pos] = x;
        }
        pos = pos + 1 == s->look ? 0 : pos + 1;
    }
    s->gain = gain, s->pos = pos;
}

void kn_limiter_compute(kn_limiter *s, float *out, const float *in, int frames, float ceiling_db,
                        float release_ms) {
    const float *i2[2] = {in, in};
    float *o2[2] = {out, out};
    limit(s, i2, o2, 1, frames, ceiling_db, release_ms);
}

void kn_limiter_compute_stereo(kn_limiter *s, float *outL, float *outR, const float *inL,
                               const float *inR, int frames, float ceiling_db, float release_ms) {
    const float *i2[2] = {inL, inR};
    float *o2[2] = {outL, outR};
    limit(s, i2, o2, 2, frames, ceiling_db, release_ms);
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_comp_run(kn_comp *s, const float *in, float *out, int frames, float thresh_db, float ratio,
                 float attack_ms, float release_ms, float makeup_db) {
    kn_comp_compute(s, out, in, frames, thresh_db, ratio, attack_ms, release_ms, makeup_db);
}
void kn_comp_run2(kn_comp *s, const float *inL, const float *inR, float *outL, float *outR,
                  int frames, float thresh_db, float ratio, float attack_ms, float release_ms,
                  float makeup_db) {
    kn_comp_compute_stereo(s, outL, outR, inL, inR, frames, thresh_db, ratio, attack_ms, release_ms,
                           makeup_db);
}
void kn_limiter_run(kn_limiter *s, const float *in, float *out, int frames, float ceiling_db,
                    float release_ms) {
    kn_limiter_compute(s, out, in, frames, ceiling_db, release_ms);
}
void kn_limiter_run2(kn_limiter *s, const float *inL, const float *inR, float *outL, float *outR,
                     int frames, float ceiling_db, float release_ms) {
    kn_limiter_compute_stereo(s, outL, outR, inL, inR, frames, ceiling_db, release_ms);
}
