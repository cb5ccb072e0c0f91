/*
 * bank.c - 8-voice banks: sines, saws and state-variable filters with the
 * voices side by side in vector lanes, and their mix to stereo. See
 * kanon/bank.h.
 *
 * Same samples as the scalar nodes: every lane does, in the same order,
 * the IEEE operations that the scalar node does for that voice. The
 * oscillators run oscillator.c's PHASE_LOOP with the 8 voices as the inner
 * loop (gcc vectorizes it across the voices: one AVX2 vector per frame)
 * and its helpers from knphase.h; the filter runs filter.c's SVF loops on
 * two vectors of 4 doubles (two AVX2 registers) with the coefficients of
 * knfilter.h's svf_block; the mix adds each voice into the stereo pair in
 * voice order, as 8 kn_buf_pan_stereo calls would. -ffp-contract=off (the
 * Makefile's NODE_CFLAGS) keeps gcc from fusing a multiply and an add that
 * the scalar node rounds apart.
 *
 * GCC vector extensions are used here only, never in the header: tcc
 * parses kanon/bank.h. No vector is passed to or returned by a function
 * (the ABI of that differs between the AVX2 and default builds).
 */
#include <string.h>

#include "knfilter.h"
#include "knphase.h"

#define B KN_BANK

typedef float v8f __attribute__((vector_size(B * sizeof(float))));
typedef double v4d __attribute__((vector_size(4 * sizeof(double))));
typedef float v4f __attribute__((vector_size(4 * sizeof(float))));
typedef int v8i __attribute__((vector_size(B * sizeof(int))));

/* ---- oscillators ---- */

void kn_sine8_init(kn_sine8 *s, double rate, const double *phase) {
    s->rate = rate;
    for (int v = 0; v < B; v++) {
        double p = phase ? phase[v] : 0.0;
        s->phase[v] = p - kn_floor(p); /* as kn_phasor_init */
    }
}

void kn_saw8_init(kn_saw8 *s, double rate, const double *phase) {
    kn_sine8_init(s, rate, phase);
}

/* oscillator.c's PHASE_LOOP for 8 voices: in each chunk of
 * KN_PHASE_CHUNK frames voice v's float phase at frame i is
 * FRAC(first[v] + i * d[v]), first[v] = (float)START (START may use v),
 * out[i * B + v] = EXPR of T (which may use per-voice locals indexed by
 * v); then every double phase advances by the chunk. The inner loop runs
 * over the voices, with nothing shared between them: gcc vectorizes it. */
#define BANK_PHASE_LOOP(s, inc, out, frames, START, FRAC, T, EXPR)                                 \
    for (int c_ = 0, f_ = (frames); c_ < f_; c_ += KN_PHASE_CHUNK) {                               \
        int n_ = f_ - c_ < KN_PHASE_CHUNK ? f_ - c_ : KN_PHASE_CHUNK;                              \
        float p0_[B], d_[B], *o_ = (out) + (long)c_ * B;                                           \
        for (int v = 0; v < B; v++) p0_[v] = (float)(START), d_[v] = (float)(inc)[v];              \
        for (int i_ = 0; i_ < n_; i_++, o_ += B)                                                   \
            for (int v = 0; v < B; v++) {                                                          \
                float T = FRAC(p0_[v] + (float)i_ * d_[v]);                                        \
                o_[v] = (EXPR);                                                                    \
            }                                                                                      \
        for (int v = 0; v < B; v++) (s)->phase[v] = kn_phase_advance((s)->phase[v], (inc)[v], n_); \
    }

/* Per-voice amplitudes copied to a local: the loop then reads nothing
 * that `out` could alias, and vectorizes without a runtime check. */
KN_SIMD void kn_sine8_compute(kn_sine8 *s, float *out, int frames, const float *freq,
                              const float *amp) {
    double inc[B];
    float a[B];
    for (int v = 0; v < B; v++) inc[v] = kn_phase_inc(s->rate, freq[v]), a[v] = amp[v];
    BANK_PHASE_LOOP(s, inc, out, frames, s->phase[v] - 0.25, kn_frac, t, a[v] * kn_sin_shifted(t));
}

KN_SIMD void kn_saw8_compute(kn_saw8 *s, float *out, int frames, const float *freq,
                             const float *amp) {
    double inc[B];
    float a[B], idt[B];
    for (int v = 0; v < B; v++) {
        inc[v] = kn_phase_inc_pos(s->rate, freq[v]);
        idt[v] = 1.0f / kn_blep_dt(inc[v]), a[v] = amp[v];
    }
    BANK_PHASE_LOOP(s, inc, out, frames, s->phase[v], kn_frac_pos, t,
                    a[v] * kn_saw_shape(t, idt[v]));
}

/* ---- state-variable filter ---- */

void kn_svf8_init(kn_svf8 *s, double rate) {
    memset(s, 0, sizeof *s);
    s->rate = rate;
}

/* The SVF runs in double, as kn_svf does: 8 voices are two vectors of 4
 * (one AVX2 register each). A half-bank's coefficients as filter.c's loops
 * name them, and its state. The matrix has m12 = -n1 and m21 = n1, so
 * four of its six ramp. The two halves step in the same loop, so their
 * two recursions overlap. */
typedef struct {
    v4d m11, n1, m22, n2, o0, o1, o2; /* coefficients (or their steps) */
    v4d ic1, ic2;                     /* state */
} svf4;

/* Half h of the bank from per-voice arrays: coefficient rows c[v][0..8]
 * and the state. */
static void svf4_gather(svf4 *k, const double (*c)[9], const kn_svf8 *s, int h) {
    static const int row[7] = {0, 2, 4, 5, 6, 7, 8};
    v4d *dst[7] = {&k->m11, &k->n1, &k->m22, &k->n2, &k->o0, &k->o1, &k->o2};
    double t[4];
    for (int r = 0; r < 7; r++) {
        for (int v = 0; v < 4; v++) t[v] = c[4 * h + v][row[r]];
        memcpy(dst[r], t, sizeof t);
    }
    memcpy(&k->ic1, s->ic1 + 4 * h, sizeof k->ic1), memcpy(&k->ic2, s->ic2 + 4 * h, sizeof k->ic2);
}

static void svf4_scatter(kn_svf8 *s, const svf4 *k, int h) {
    memcpy(s->ic1 + 4 * h, &k->ic1, sizeof k->ic1), memcpy(s->ic2 + 4 * h, &k->ic2, sizeof k->ic2);
}

/* One frame of filter.c's svf_loop on a half-bank: x the 4 inputs at in,
 * y = the output row, to out. */
static inline __attribute__((always_inline)) void svf4_step(svf4 *k, const svf4 *d, const float *in,
                                                            float *out) {
    k->m11 += d->m11, k->n1 += d->n1, k->m22 += d->m22, k->n2 += d->n2;
    k->o0 += d->o0, k->o1 += d->o1, k->o2 += d->o2;
    v4f xf, yf;
    memcpy(&xf, in, sizeof xf);
    v4d x = __builtin_convertvector(xf, v4d);
    yf = __builtin_convertvector(k->o0 * x + k->o1 * k->ic1 + k->o2 * k->ic2, v4f);
    memcpy(out, &yf, sizeof yf);
    v4d next1 = k->n1 * (x - k->ic2) + k->m11 * k->ic1;
    k->ic2 = k->n2 * x + k->n1 * k->ic1 + k->m22 * k->ic2;
    k->ic1 = next1;
}

/* One frame of filter.c's svf_loop_lp: the low-pass output (ic2 + ic2')/2. */
static inline __attribute__((always_inline)) void svf4_step_lp(svf4 *k, const svf4 *d,
                                                               const float *in, float *out) {
    k->m11 += d->m11, k->n1 += d->n1, k->m22 += d->m22, k->n2 += d->n2;
    v4f xf, yf;
    memcpy(&xf, in, sizeof xf);
    v4d x = __builtin_convertvector(xf, v4d);
    v4d next1 = k->n1 * (x - k->ic2) + k->m11 * k->ic1;
    v4d next2 = k->n2 * x + k->n1 * k->ic1 + k->m22 * k->ic2;
    yf = __builtin_convertvector(0.5 * (k->ic2 + next2), v4f);
    memcpy(out, &yf, sizeof yf);
    k->ic1 = next1, k->ic2 = next2;
}

/* Each voice's block coefficients as kn_svf_compute finds them. The mode
 * is the bank's, so every voice's stored row is the same mode's and the
 * low-pass shortcut applies to all voices or to none; all of them must
 * agree for it to be taken, so a voice never takes a loop its kn_svf
 * would not. */
KN_SIMD void kn_svf8_compute(kn_svf8 *s, float *out, const float *in, int frames,
                             const float *cutoff, const float *q, int mode) {
    double c0[B][9], dc[B][9];
    int lp = 1;
    for (int v = 0; v < B; v++)
        lp &= svf_block(s->c[v], s->rate, frames, cutoff[v], q[v], mode, c0[v], dc[v]);
    svf4 k0, k1, d0, d1; /* the halves, and their steps per sample */
    svf4_gather(&k0, (const double(*)[9])c0, s, 0), svf4_gather(&k1, (const double(*)[9])c0, s, 1);
    svf4_gather(&d0, (const double(*)[9])dc, s, 0), svf4_gather(&d1, (const double(*)[9])dc, s, 1);
    if (lp)
        for (long i = 0; i < frames; i++) {
            svf4_step_lp(&k0, &d0, in + i * B, out + i * B);
            svf4_step_lp(&k1, &d1, in + i * B + 4, out + i * B + 4);
        }
    else
        for (long i = 0; i < frames; i++) {
            svf4_step(&k0, &d0, in + i * B, out + i * B);
            svf4_step(&k1, &d1, in + i * B + 4, out + i * B + 4);
        }
    svf4_scatter(s, &k0, 0), svf4_scatter(s, &k1, 1);
}

/* ---- mix ---- */

#define SHUF(a, b, ...) __builtin_shuffle((a), (b), (v8i){__VA_ARGS__})

/* Frames i..i+7 of the bank as 8 vectors of one voice each (an 8x8
 * transpose: rows are frames, columns voices), then added into the pair
 * voice by voice: out += l[v] * voice v, as kn_buf_pan_stereo adds. */
static inline __attribute__((always_inline)) void
pan8_frames(float *outL, float *outR, const float *in, const float *l, const float *r) {
    v8f x0, x1, x2, x3, x4, x5, x6, x7;
    memcpy(&x0, in + 0 * B, sizeof x0), memcpy(&x1, in + 1 * B, sizeof x1);
    memcpy(&x2, in + 2 * B, sizeof x2), memcpy(&x3, in + 3 * B, sizeof x3);
    memcpy(&x4, in + 4 * B, sizeof x4), memcpy(&x5, in + 5 * B, sizeof x5);
    memcpy(&x6, in + 6 * B, sizeof x6), memcpy(&x7, in + 7 * B, sizeof x7);
    /* pairs of frames interleaved, then quads, then halves swapped */
    v8f t0 = SHUF(x0, x1, 0, 8, 1, 9, 4, 12, 5, 13), t1 = SHUF(x0, x1, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t2 = SHUF(x2, x3, 0, 8, 1, 9, 4, 12, 5, 13), t3 = SHUF(x2, x3, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t4 = SHUF(x4, x5, 0, 8, 1, 9, 4, 12, 5, 13), t5 = SHUF(x4, x5, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t6 = SHUF(x6, x7, 0, 8, 1, 9, 4, 12, 5, 13), t7 = SHUF(x6, x7, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f u0 = SHUF(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13), u1 = SHUF(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u2 = SHUF(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13), u3 = SHUF(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u4 = SHUF(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13), u5 = SHUF(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u6 = SHUF(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13), u7 = SHUF(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f v[B] = {SHUF(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11),   SHUF(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11),
                SHUF(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11),   SHUF(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11),
                SHUF(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15), SHUF(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15),
                SHUF(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15), SHUF(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15)};
    v8f L, R;
    memcpy(&L, outL, sizeof L), memcpy(&R, outR, sizeof R);
    for (int k = 0; k < B; k++) L += l[k] * v[k], R += r[k] * v[k];
    memcpy(outL, &L, sizeof L), memcpy(outR, &R, sizeof R);
}

KN_SIMD void kn_bank_pan_stereo(float *outL, float *outR, const float *in, int frames,
                                const float *pan, const float *gain) {
    float l[B], r[B];
    for (int v = 0; v < B; v++) kn_pan_gains(pan[v], gain[v], &l[v], &r[v]);
    int i = 0;
    for (; i + B <= frames; i += B) pan8_frames(outL + i, outR + i, in + (long)i * B, l, r);
    for (; i < frames; i++) /* the tail, frame by frame, in the same order */
        for (int v = 0; v < B; v++) {
            outL[i] += l[v] * in[(long)i * B + v];
            outR[i] += r[v] * in[(long)i * B + v];
        }
}
