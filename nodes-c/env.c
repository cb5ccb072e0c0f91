/*
 * env.c - ADSR and AR envelopes, the LFO. See kanon/env.h.
 *
 * Envelopes are small per-sample state machines (the stage changes at
 * sample-exact gate edges), so they stay scalar; the per-stage
 * coefficients are computed once per block (one exp each), never per
 * sample.
 */
#include "knmath.h"

#define SILENT 1e-6         /* -120 dB: a release below this has ended */
#define FULL   (1.0 - 1e-9) /* the attack's n-th step of 1/n is 1, up to rounding */

/* Per-sample factor that shrinks a distance by 60 dB in `seconds`. The
 * envelopes' rate is a float here: the value they always computed with. */
static double coef60(float seconds, float rate) {
    double n = (double)seconds * rate;
    return n < 1 ? 0.0 : __builtin_exp(-6.907755278982137 / n); /* ln(1000) */
}

static double ramp_step(float seconds, float rate) {
    double n = (double)seconds * rate;
    return n < 1 ? 1.0 : 1.0 / n;
}

/* Gate value of sample i: the signal, or the state's gate. */
static inline float gate_at(const float *in, int i, float held) {
    return in ? in[i] : held;
}

/* ---- ADSR ---- */

void kn_adsr_init(kn_adsr *s, double rate) {
    *s = (kn_adsr){.rate = rate};
}
void kn_adsr_gate(kn_adsr *s, int on) {
    s->gate = on != 0;
}
void kn_adsr_retrigger(kn_adsr *s) {
    s->last = 0; /* the first sample with the gate on is a rising edge */
}

void kn_adsr_compute(kn_adsr *s, float *out, const float *in, int frames, float attack, float decay,
                     float sustain, float release) {
    double up = ramp_step(attack, s->rate), dc = coef60(decay, s->rate),
           rc = coef60(release, s->rate), sus = kn_clampf(sustain, 0.0f, 1.0f), level = s->level;
    float last = s->last, held = (float)s->gate;
    int stage = s->stage;
    for (int i = 0; i < frames; i++) {
        float g = gate_at(in, i, held);
        if (g > 0 && !(last > 0))
            stage = KN_ENV_ATTACK; /* rising edge: from where we are */
        else if (!(g > 0) && last > 0 && stage != KN_ENV_IDLE)
            stage = KN_ENV_RELEASE;
        last = g;
        switch (stage) {
        case KN_ENV_ATTACK:
            level += up;
            if (level >= FULL) level = 1.0, stage = KN_ENV_DECAY;
            break;
        case KN_ENV_DECAY:
        case KN_ENV_SUSTAIN: /* keeps gliding, so a changed sustain never jumps */
            level = sus + (level - sus) * dc;
            break;
        case KN_ENV_RELEASE:
            level *= rc;
            if (level < SILENT) level = 0, stage = KN_ENV_IDLE;
            break;
        default: level = 0;
        }
        out[i] = (float)level;
    }
    s->level = level, s->last = last, s->stage = stage;
}

/* ---- AR ---- */

void kn_ar_init(kn_ar *s, double rate) {
    *s = (kn_ar){.rate = rate};
}
void kn_ar_trigger(kn_ar *s) {
    s->pending = 1;
}

void kn_ar_compute(kn_ar *s, float *out, const float *in, int frames, float attack, float release) {
    double up = ramp_step(attack, s->rate), rc = coef60(release, s->rate), level = s->level;
    float last = s->last;
    int stage = s->stage;
    if (!in && s->pending) stage = KN_ENV_ATTACK;
    s->pending = 0;
    for (int i = 0; i < frames; i++) {
        if (in) {
            if (in[i] > 0 && !(last > 0)) stage = KN_ENV_ATTACK;
            last = in[i];
        }
        if (stage == KN_ENV_ATTACK) {
            level += up;
            if (level >= FULL) level = 1.0, stage = KN_ENV_RELEASE;
        } else if (stage == KN_ENV_RELEASE) {
            level *= rc;
            if (level < SILENT) level = 0, stage = KN_ENV_IDLE;
        } else {
            level = 0;
        }
        out[i] = (float)level;
    }
    s->level = level, s->last = last, s->stage = stage;
}

/* ---- LFO ---- */

static inline unsigned lfo_rand(unsigned x) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

void kn_lfo_init(kn_lfo *s, double rate, double phase, unsigned seed) {
    *s = (kn_lfo){.rate = rate, .phase = phase - kn_floor(phase), .seed = seed ? seed : 1};
    s->seed = lfo_rand(s->seed);
    s->held = (float)(int)s->seed * (1.0f / 2147483648.0f);
}

static inline float lfo_shape(float t, int shape, float held) {
    switch (shape) {
    case KN_LFO_TRI: {
        float u = t + 0.25f;
        u -= u >= 1.0f ? 1.0f : 0.0f;
        return 1.0f - 4.0f * __builtin_fabsf(u - 0.5f);
    }
    case KN_LFO_SAW: return 2.0f * t - 1.0f;
    case KN_LFO_SQUARE: return t < 0.5f ? 1.0f : -1.0f;
    case KN_LFO_RANDOM: return held;
    default: return kn_sin2pi(t);
    }
}

/* Advance by n samples; a new random value each time the phase wraps. */
static void lfo_advance(kn_lfo *s, double inc, int n) {
    double p = s->phase + inc * n, w = kn_floor(p);
    if (w != 0) {
        s->seed = lfo_rand(s->seed ? s->seed : 1);
        s->held = (float)(int)s->seed * (1.0f / 2147483648.0f);
    }
    s->phase = p - w;
}

void kn_lfo_compute(kn_lfo *s, float *out, int frames, float freq, int shape) {
    double inc = s->rate > 0 ? freq / s->rate : 0, p = s->phase;
    for (int i = 0; i < frames; i++) {
        out[i] = lfo_shape((float)p, shape, s->held);
        p += inc;
        if (p >= 1.0 || p < 0.0) { /* rare: a wrap, and a new random value */
            s->phase = p - inc;
            lfo_advance(s, inc, 1);
            p = s->phase;
        }
    }
    s->phase = p;
}

float kn_lfo_tick(kn_lfo *s, float freq, int shape) {
    return kn_lfo_step(s, freq, shape, 1);
}

float kn_lfo_step(kn_lfo *s, float freq, int shape, int frames) {
    float v = lfo_shape((float)s->phase, shape, s->held);
    lfo_advance(s, s->rate > 0 ? freq / s->rate : 0, frames);
    return v;
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_adsr_run(kn_adsr *s, const float *in, float *out, int frames, float attack, float decay,
                 float sustain, float release) {
    kn_adsr_compute(s, out, in, frames, attack, decay, sustain, release);
}
void kn_ar_run(kn_ar *s, const float *in, float *out, int frames, float attack, float release) {
    kn_ar_compute(s, out, in, frames, attack, release);
}
void kn_lfo_run(kn_lfo *s, float *out, int frames, float freq, int shape) {
    kn_lfo_compute(s, out, frames, freq, shape);
}
