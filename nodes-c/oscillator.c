/*
 * oscillator.c - oscillators: phasor, sine, polyBLEP saw/pulse/triangle,
 * wavetable. See kanon/oscillator.h.
 *
 * Every block loop has the same structure, chosen so that gcc vectorizes
 * it: the phase is double in the state, but inside a chunk of at most
 * CHUNK samples the phase of sample i is computed as frac(p0 + i*inc) in
 * float, with no loop-carried dependency and no branch. Re-deriving p0
 * from the double every chunk keeps float rounding (< 4e-6 of a cycle)
 * from accumulating.
 */
#include "knmath.h"

#define CHUNK KN_PHASE_CHUNK

/* The block loop of every oscillator, written once: in each chunk the
 * float phase T of sample i is FRAC(first + i*inc) (kn_frac, or
 * kn_frac_pos for phases that only run forwards), first = (float)START
 * from the double phase at the chunk's start, and out[i] = EXPR of T;
 * then the double phase advances by the chunk. A macro rather than a
 * function taking the shape, so that the inner loop stays one branch-free
 * expression that gcc vectorizes. */
#define PHASE_LOOP(s, inc, out, frames, START, FRAC, T, EXPR)                                      \
    for (int c_ = 0, f_ = (frames); c_ < f_; c_ += CHUNK) {                                        \
        int n_ = f_ - c_ < CHUNK ? f_ - c_ : CHUNK;                                                \
        float p0_ = (float)(START), d_ = (float)(inc), *o_ = (out) + c_;                           \
        for (int i_ = 0; i_ < n_; i_++) {                                                          \
            float T = FRAC(p0_ + (float)i_ * d_);                                                  \
            o_[i_] = (EXPR);                                                                       \
        }                                                                                          \
        advance((s), (inc), n_);                                                                   \
    }

void kn_phasor_init(kn_phasor *s, double rate, double phase) {
    s->rate = rate;
    s->phase = phase - kn_floor(phase);
}

static double increment(const kn_phasor *s, float freq) {
    return kn_phase_inc(s->rate, freq);
}

static void advance(kn_phasor *s, double inc, int n) {
    kn_phase_advance(&s->phase, inc, n);
}

KN_SIMD void kn_phasor_compute(kn_phasor *s, float *out, int frames, float freq) {
    double inc = increment(s, freq);
    PHASE_LOOP(s, inc, out, frames, s->phase, kn_frac, t, t);
}

/* Frequency modulation needs a running sum: inherently serial. */
void kn_phasor_compute_fm(kn_phasor *s, float *out, const float *freq, int frames) {
    double p = s->phase, k = s->rate > 0 ? 1.0 / s->rate : 0.0;
    for (int i = 0; i < frames; i++) {
        out[i] = (float)p;
        double inc = freq[i] * k;
        p += inc > 0.5 ? 0.5 : inc < -0.5 ? -0.5 : inc;
        p -= kn_floor(p);
    }
    s->phase = p;
}

float kn_phasor_tick(kn_phasor *s, float freq) {
    float v = (float)s->phase;
    advance(s, increment(s, freq), 1);
    return v;
}

/* ---- sine ---- */

void kn_sine_init(kn_sine *s, double rate, double phase) {
    kn_phasor_init(s, rate, phase);
}

KN_SIMD void kn_sine_compute(kn_sine *s, float *out, int frames, float freq, float amp) {
    double inc = increment(s, freq);
    PHASE_LOOP(s, inc, out, frames, s->phase - 0.25, kn_frac, t, amp * kn_sin_shifted(t));
}

float kn_sine_tick(kn_sine *s, float freq) {
    return kn_sin2pi(kn_phasor_tick(s, freq));
}

KN_SIMD void kn_sine_of_phase(float *out, const float *phase, int frames) {
    for (int i = 0; i < frames; i++) out[i] = kn_sin2pi(phase[i]);
}

/* ---- polyBLEP shapes ----
 * The 2-sample polyBLEP is the residual between a step and a step smoothed
 * by a triangular (linear B-spline) kernel one sample wide each side; the
 * polyBLAMP is its integral, for corners. With u the distance to the
 * discontinuity in samples, |u| < 1:
 *   BLEP  residual (unit step): -(1-u)^2/2 after, (1+u)^2/2 before
 *   BLAMP residual (unit slope change per sample): (1-|u|)^3/6
 * The selects below are written as arithmetic plus ?: on values computed
 * anyway, which gcc if-converts and vectorizes. */

/* Correction to add for a -2 step (saw wrap) at t = 0, t the phase:
 * a = 1 - u is > 0 exactly in the sample after the wrap (t < dt), b = 1 + u
 * (u < 0) in the one before, so clamping at 0 selects the residuals with
 * no compare. b is formed from t - 1, exact, rather than from t idt, which
 * would lose its precision at low frequencies (idt large). */
static inline float blep_down(float t, float idt) {
    float a = 1.0f - t * idt, b = 1.0f + (t - 1.0f) * idt;
    a = a > 0.0f ? a : 0.0f;
    b = b > 0.0f ? b : 0.0f;
    return a * a - b * b;
}

static float blep_dt(double inc) {
    return inc < 1e-7 ? 1e-7f : (float)inc;
}

static double pos_increment(const kn_phasor *s, float freq) {
    double inc = increment(s, freq);
    return inc < 0 ? 0 : inc; /* BLEP shapes run forwards only */
}

void kn_saw_init(kn_saw *s, double rate, double phase) {
    kn_phasor_init(s, rate, phase);
}

KN_SIMD void kn_saw_compute(kn_saw *s, float *out, int frames, float freq, float amp) {
    double inc = pos_increment(s, freq);
    float dt = blep_dt(inc), idt = 1.0f / dt;
    PHASE_LOOP(s, inc, out, frames, s->phase, kn_frac_pos, t,
               amp * (2.0f * t - 1.0f + blep_down(t, idt)));
}

float kn_saw_tick(kn_saw *s, float freq) {
    double inc = pos_increment(s, freq);
    float dt = blep_dt(inc), t = (float)s->phase;
    advance(s, inc, 1);
    return 2.0f * t - 1.0f + blep_down(t, 1.0f / dt);
}

/* Pulse: +1 for t < width, else -1; a +2 step at 0 and a -2 step at width. */
static inline float pulse(float t, float w, float idt) {
    float naive = t < w ? 1.0f : -1.0f;
    float tw = t - w;
    tw += tw < 0.0f ? 1.0f : 0.0f;
    return naive - blep_down(t, idt) + blep_down(tw, idt);
}

static float pulse_width(float w, float dt) {
    float lo = 2.0f * dt < 0.5f ? 2.0f * dt : 0.5f;
    return kn_clampf(w, lo, 1.0f - lo);
}

void kn_square_init(kn_square *s, double rate, double phase) {
    kn_phasor_init(s, rate, phase);
}

KN_SIMD void kn_square_compute(kn_square *s, float *out, int frames, float freq, float width,
                               float amp) {
    double inc = pos_increment(s, freq);
    float dt = blep_dt(inc), idt = 1.0f / dt, w = pulse_width(width, dt);
    PHASE_LOOP(s, inc, out, frames, s->phase, kn_frac_pos, t, amp * pulse(t, w, idt));
}

float kn_square_tick(kn_square *s, float freq, float width) {
    double inc = pos_increment(s, freq);
    float dt = blep_dt(inc), t = (float)s->phase;
    advance(s, inc, 1);
    return pulse(t, pulse_width(width, dt), 1.0f / dt);
}

/* Triangle in sine phase (0 at t = 0, rising): corners at t' = 0 (slope
 * -4 -> +4 per cycle, +8*dt per sample) and t' = 1/2 (-8*dt), t' = t + 1/4. */
static inline float triangle(float t, float dt, float idt) {
    float u = t + 0.25f;
    u -= u >= 1.0f ? 1.0f : 0.0f;
    float naive = 1.0f - 4.0f * __builtin_fabsf(u - 0.5f);
    float e0 = (u < 1.0f - u ? u : 1.0f - u) * idt; /* samples to the low corner */
    float e1 = __builtin_fabsf(u - 0.5f) * idt;     /* ... to the high corner */
    float a = 1.0f - e0, b = 1.0f - e1;
    float r0 = e0 < 1.0f ? a * a * a : 0.0f;
    float r1 = e1 < 1.0f ? b * b * b : 0.0f;
    return naive + (4.0f / 3.0f) * dt * (r0 - r1);
}

void kn_tri_init(kn_tri *s, double rate, double phase) {
    kn_phasor_init(s, rate, phase);
}

KN_SIMD void kn_tri_compute(kn_tri *s, float *out, int frames, float freq, float amp) {
    double inc = pos_increment(s, freq);
    float dt = blep_dt(inc), idt = 1.0f / dt;
    PHASE_LOOP(s, inc, out, frames, s->phase, kn_frac_pos, t, amp * triangle(t, dt, idt));
}

float kn_tri_tick(kn_tri *s, float freq) {
    double inc = pos_increment(s, freq);
    float dt = blep_dt(inc), t = (float)s->phase;
    advance(s, inc, 1);
    return triangle(t, dt, 1.0f / dt);
}

/* ---- wavetable ---- */

/* In-place radix-2 complex FFT (n a power of two), sign -1 forward, +1
 * inverse (unscaled). Setup-time only. */
static void fft(double *re, double *im, int n, int sign) {
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j |= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j], re[j] = t;
            t = im[i], im[i] = im[j], im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double ang = sign * KN_TWO_PI / len, wr = __builtin_cos(ang), wi = __builtin_sin(ang);
        for (int i = 0; i < n; i += len) {
            double cr = 1, ci = 0;
            for (int k = 0; k < len / 2; k++) {
                int a = i + k, b = a + len / 2;
                double xr = re[b] * cr - im[b] * ci, xi = re[b] * ci + im[b] * cr;
                re[b] = re[a] - xr, im[b] = im[a] - xi;
                re[a] += xr, im[a] += xi;
                double t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr, cr = t;
            }
        }
    }
}

#define WT_HARM (512) /* harmonics kept by level 0: 4 table samples per cycle of the highest */

/* Fill every level from the spectrum (hr, hi) of harmonics 1..WT_HARM:
 * level l keeps harmonics 1..WT_HARM >> l. One inverse FFT per level. */
static void build_levels(kn_wtable *t, const double *hr, const double *hi) {
    static const int n = KN_WT_SIZE;
    double re[KN_WT_SIZE], im[KN_WT_SIZE];
    for (int l = 0; l < KN_WT_LEVELS; l++) {
        int keep = WT_HARM >> l;
        for (int i = 0; i < n; i++) re[i] = im[i] = 0;
        for (int h = 1; h <= keep; h++) re[h] = hr[h], im[h] = hi[h];
        fft(re, im, n, +1);
        for (int i = 0; i < n; i++) t->level[l][i] = (float)re[i];
        t->level[l][n] = t->level[l][0];
    }
    t->ready = 1;
}

/* A harmonic of amplitude a in sine phase: X[h] = -i*a/2 for the positive
 * frequency; taking the real part of sum X[h] e^{+i..} needs twice that. */
void kn_wtable_harmonics(kn_wtable *t, const float *amp, int n) {
    double hr[WT_HARM + 1] = {0}, hi[WT_HARM + 1] = {0};
    for (int h = 1; h <= WT_HARM && h <= n; h++) hi[h] = -amp[h - 1];
    build_levels(t, hr, hi);
}

/* Direct DFT of the given cycle at harmonics 1..WT_HARM (any length, so no
 * resampling), by a rotating phasor per harmonic. */
void kn_wtable_wave(kn_wtable *t, const float *wave, int len) {
    double hr[WT_HARM + 1] = {0}, hi[WT_HARM + 1] = {0};
    for (int h = 1; h <= WT_HARM && 2 * h < len; h++) {
        double ang = -KN_TWO_PI * h / len, wr = __builtin_cos(ang), wi = __builtin_sin(ang);
        double cr = 1, ci = 0, sr = 0, si = 0;
        for (int i = 0; i < len; i++) {
            sr += wave[i] * cr, si += wave[i] * ci;
            double tmp = cr * wr - ci * wi;
            ci = cr * wi + ci * wr, cr = tmp;
        }
        hr[h] = 2 * sr / len, hi[h] = 2 * si / len;
    }
    build_levels(t, hr, hi);
}

void kn_wt_init(kn_wt *s, double rate, double phase) {
    kn_phasor_init(s, rate, phase);
}

/* Linear interpolation in one level at phase t in [0, 1). */
static inline float wt_lookup(const float *tab, float t) {
    float x = t * KN_WT_SIZE;
    int j = (int)x;
    j = j > KN_WT_SIZE - 1 ? KN_WT_SIZE - 1 : j;
    float f = x - (float)j;
    return tab[j] + f * (tab[j + 1] - tab[j]);
}

/* The coarsest level whose top harmonic stays below Nyquist. */
static int wt_level(double inc) {
    double a = inc < 0 ? -inc : inc;
    int l = 0;
    while (l < KN_WT_LEVELS - 1 && (WT_HARM >> l) * a > 0.5) l++;
    return l;
}

KN_SIMD void kn_wt_compute(kn_wt *s, float *out, const kn_wtable *t, int frames, float freq,
                           float amp) {
    if (!t || !t->ready) {
        for (int i = 0; i < frames; i++) out[i] = 0;
        return;
    }
    double inc = increment(s, freq);
    const float *tab = t->level[wt_level(inc)];
    PHASE_LOOP(s, inc, out, frames, s->phase, kn_frac, ph, amp * wt_lookup(tab, ph));
}

float kn_wt_tick(kn_wt *s, const kn_wtable *t, float freq) {
    float v;
    kn_wt_compute(s, &v, t, 1, freq, 1.0f);
    return v;
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_phasor_run(kn_phasor *s, float *out, int frames, float freq) {
    kn_phasor_compute(s, out, frames, freq);
}
void kn_phasor_run_fm(kn_phasor *s, const float *freq, float *out, int frames) {
    kn_phasor_compute_fm(s, out, freq, frames);
}
void kn_sine_run(kn_sine *s, float *out, int frames, float freq, float amp) {
    kn_sine_compute(s, out, frames, freq, amp);
}
void kn_sine_of(const float *phase, float *out, int frames) {
    kn_sine_of_phase(out, phase, frames);
}
void kn_saw_run(kn_saw *s, float *out, int frames, float freq, float amp) {
    kn_saw_compute(s, out, frames, freq, amp);
}
void kn_square_run(kn_square *s, float *out, int frames, float freq, float width, float amp) {
    kn_square_compute(s, out, frames, freq, width, amp);
}
void kn_tri_run(kn_tri *s, float *out, int frames, float freq, float amp) {
    kn_tri_compute(s, out, frames, freq, amp);
}
void kn_wt_run(kn_wt *s, const kn_wtable *t, float *out, int frames, float freq, float amp) {
    kn_wt_compute(s, out, t, frames, freq, amp);
}
