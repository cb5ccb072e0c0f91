/*
 * bank.c - 8-voice banks: sines, saws and state-variable filters, and
 * their mix to stereo. See kanon/bank.h.
 *
 * A bank buffer holds 8 planes, voice v's block at buf + v * frames: any
 * scalar node or buffer helper can work on one voice. Each node keeps the
 * vector lanes where they pay:
 *   - the oscillators run the scalar node's loop on each plane (it is
 *     vectorized across frames already: the phase of sample i is
 *     computed, not accumulated), so a voice is kn_sine's or kn_saw's by
 *     construction; the bank saves the glue 7 calls of 8;
 *   - the filter is a recursion, each sample waiting on the last: one
 *     voice leaves the CPU idle. Here the 8 voices are the lanes of two
 *     vectors of 4 doubles (two AVX2 registers), filter.c's SVF loop
 *     stepping all of them per frame. The planes are turned into frames
 *     of 8 voices (8x8 transposes, 64 frames at a time) and back;
 *   - the mix adds each voice into the stereo pair in voice order, as 8
 *     kn_buf_pan_stereo calls would, 8 frames per vector, with the pair
 *     read and written once for the 8 voices instead of 8 times.
 * Same samples as the scalar nodes: every lane does, in the same order,
 * the IEEE operations the scalar node does for that voice; the filter
 * takes its coefficients and glide from knfilter.h's svf_block, as
 * kn_svf does. -ffp-contract=off (the Makefile's NODE_CFLAGS) keeps gcc
 * from fusing a multiply and an add that the scalar node rounds apart.
 *
 * GCC vector extensions are used here only, never in the header: tcc
 * parses kanon/bank.h. No vector is passed to or returned by a function
 * (the ABI of that differs between the AVX2 and default builds).
 */
#include <string.h>

#include "knfilter.h"

#define B     KN_BANK
#define CHUNK 64 /* frames the filter turns into frames of 8 voices at a time */

typedef float v8f __attribute__((vector_size(B * sizeof(float))));
typedef int v8i __attribute__((vector_size(B * sizeof(int))));
typedef double v4d __attribute__((vector_size(4 * sizeof(double))));
typedef float v4f __attribute__((vector_size(4 * sizeof(float))));

/* ---- oscillators ---- */

void kn_sine8_init(kn_sine8 *s, double rate, const double *phase) {
    for (int v = 0; v < B; v++) {
        kn_phasor one;
        kn_phasor_init(&one, rate, phase ? phase[v] : 0.0);
        s->phase[v] = one.phase;
    }
    s->rate = rate;
}

void kn_saw8_init(kn_saw8 *s, double rate, const double *phase) {
    kn_sine8_init(s, rate, phase);
}

/* Voice v as the scalar node: its phase in a kn_phasor for the call. */
void kn_sine8_compute(kn_sine8 *s, float *out, int frames, const float *freq, const float *amp) {
    for (int v = 0; v < B; v++) {
        kn_phasor one = {s->phase[v], s->rate};
        kn_sine_compute(&one, out + (long)v * frames, frames, freq[v], amp[v]);
        s->phase[v] = one.phase;
    }
}

/* kn_sine8_compute and kn_bank_pan_stereo in one pass, for when only the
 * mix is wanted: no plane is written and read back, and the stereo pair is
 * read and written once per 8 frames for all 8 voices. Each sample is
 * kn_sine_compute's (the phase of frame i of a chunk computed from the
 * chunk's start, PHASE_LOOP) and is added as kn_bank_pan_stereo adds it,
 * voice 0 first: the same IEEE operations in the same order. */
/* *x = kn_frac(*x), lane by lane. (Vectors go by pointer: a vector
 * argument or result would differ between the AVX2 and default builds.) */
static inline __attribute__((always_inline)) void frac8(v8f *x) {
    const v8i one = {0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000,
                     0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000}; /* 1.0f */
    v8f t = __builtin_convertvector(__builtin_convertvector(*x, v8i), v8f);
    t -= (v8f)((*x < t) & one); /* 1 where truncation went up, else 0 */
    *x -= t;
}

/* *u = kn_sin_shifted(*u), lane by lane. */
static inline __attribute__((always_inline)) void sin_shifted8(v8f *u) {
    const v8i abs = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
                     0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    v8f t = 4.0f * (v8f)((v8i)(*u - 0.5f) & abs) - 1.0f, t2 = t * t;
    *u = KN_SIN_QUARTER_POLY(t, t2);
}

KN_SIMD void kn_sine8_pan(kn_sine8 *s, float *outL, float *outR, int frames, const float *freq,
                          const float *amp, const float *pan, const float *gain) {
    float l[B], r[B], p0[B], d[B];
    double inc[B];
    for (int v = 0; v < B; v++) {
        kn_pan_gains(pan[v], gain[v], &l[v], &r[v]);
        inc[v] = kn_phase_inc(s->rate, freq[v]);
    }
    const v8f iota = {0, 1, 2, 3, 4, 5, 6, 7};
    for (int c = 0; c < frames; c += KN_PHASE_CHUNK) {
        int n = frames - c < KN_PHASE_CHUNK ? frames - c : KN_PHASE_CHUNK, i = 0;
        float *L = outL + c, *R = outR + c;
        for (int v = 0; v < B; v++) p0[v] = (float)(s->phase[v] - 0.25), d[v] = (float)inc[v];
        for (; i + B <= n; i += B) {
            v8f Lv, Rv, fi = iota + (float)i;
            memcpy(&Lv, L + i, sizeof Lv), memcpy(&Rv, R + i, sizeof Rv);
            for (int v = 0; v < B; v++) {
                v8f x = p0[v] + fi * d[v];
                frac8(&x);
                sin_shifted8(&x);
                x = amp[v] * x;
                Lv += l[v] * x, Rv += r[v] * x;
            }
            memcpy(L + i, &Lv, sizeof Lv), memcpy(R + i, &Rv, sizeof Rv);
        }
        for (; i < n; i++) /* the chunk's last frames, one by one, in the same order */
            for (int v = 0; v < B; v++) {
                float x = amp[v] * kn_sin_shifted(kn_frac(p0[v] + (float)i * d[v]));
                L[i] += l[v] * x, R[i] += r[v] * x;
            }
        for (int v = 0; v < B; v++) kn_phase_advance(&s->phase[v], inc[v], n);
    }
}

void kn_saw8_compute(kn_saw8 *s, float *out, int frames, const float *freq, const float *amp) {
    for (int v = 0; v < B; v++) {
        kn_phasor one = {s->phase[v], s->rate};
        kn_saw_compute(&one, out + (long)v * frames, frames, freq[v], amp[v]);
        s->phase[v] = one.phase;
    }
}

/* ---- planes and frames ---- */

#define SHUF(a, b, ...) __builtin_shuffle((a), (b), (v8i){__VA_ARGS__})

/* An 8x8 transpose: dst row j (8 floats at dst + j * dstride) gets
 * element j of every src row (src + r * sstride), rows in order. Planes
 * to frames (src rows the voices, dst rows the frames) or back. */
static inline __attribute__((always_inline)) void transpose8(float *dst, long dstride,
                                                             const float *src, long sstride) {
    v8f x0, x1, x2, x3, x4, x5, x6, x7;
    memcpy(&x0, src + 0 * sstride, sizeof x0), memcpy(&x1, src + 1 * sstride, sizeof x1);
    memcpy(&x2, src + 2 * sstride, sizeof x2), memcpy(&x3, src + 3 * sstride, sizeof x3);
    memcpy(&x4, src + 4 * sstride, sizeof x4), memcpy(&x5, src + 5 * sstride, sizeof x5);
    memcpy(&x6, src + 6 * sstride, sizeof x6), memcpy(&x7, src + 7 * sstride, sizeof x7);
    /* pairs of rows interleaved, then quads, then the 128-bit halves */
    v8f t0 = SHUF(x0, x1, 0, 8, 1, 9, 4, 12, 5, 13), t1 = SHUF(x0, x1, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t2 = SHUF(x2, x3, 0, 8, 1, 9, 4, 12, 5, 13), t3 = SHUF(x2, x3, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t4 = SHUF(x4, x5, 0, 8, 1, 9, 4, 12, 5, 13), t5 = SHUF(x4, x5, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t6 = SHUF(x6, x7, 0, 8, 1, 9, 4, 12, 5, 13), t7 = SHUF(x6, x7, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f u0 = SHUF(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13), u1 = SHUF(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u2 = SHUF(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13), u3 = SHUF(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u4 = SHUF(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13), u5 = SHUF(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u6 = SHUF(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13), u7 = SHUF(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f y;
#define ROW(j, a, b, ...) (y = SHUF(a, b, __VA_ARGS__), memcpy(dst + (j)*dstride, &y, sizeof y))
    ROW(0, u0, u4, 0, 1, 2, 3, 8, 9, 10, 11), ROW(1, u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
    ROW(2, u2, u6, 0, 1, 2, 3, 8, 9, 10, 11), ROW(3, u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
    ROW(4, u0, u4, 4, 5, 6, 7, 12, 13, 14, 15), ROW(5, u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
    ROW(6, u2, u6, 4, 5, 6, 7, 12, 13, 14, 15), ROW(7, u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
#undef ROW
}

/* Frames i0 .. i0+n-1 of the planes at p (stride `frames`) as frames of 8
 * voices: f[i * B + v] = p[v * frames + i0 + i]. */
static inline __attribute__((always_inline)) void to_frames(float *f, const float *p, long frames,
                                                            long i0, int n) {
    int i = 0;
    for (; i + B <= n; i += B) transpose8(f + i * B, B, p + i0 + i, frames);
    for (; i < n; i++)
        for (int v = 0; v < B; v++) f[i * B + v] = p[v * frames + i0 + i];
}

/* And back: p[v * frames + i0 + i] = f[i * B + v]. */
static inline __attribute__((always_inline)) void to_planes(float *p, long frames, long i0,
                                                            const float *f, int n) {
    int i = 0;
    for (; i + B <= n; i += B) transpose8(p + i0 + i, frames, f + i * B, B);
    for (; i < n; i++)
        for (int v = 0; v < B; v++) p[v * frames + i0 + i] = f[i * B + v];
}

/* ---- state-variable filter ---- */

void kn_svf8_init(kn_svf8 *s, double rate) {
    memset(s, 0, sizeof *s);
    s->rate = rate;
}

/* Half a bank (4 voices): the coefficients as filter.c's loops name them
 * (or their steps per sample), and the state. The matrix has m12 = -n1
 * and m21 = n1, so four of its six ramp. */
typedef struct {
    v4d m11, n1, m22, n2, o0, o1, o2;
    v4d ic1, ic2;
} svf4;

/* Half h from per-voice coefficient rows c[v][0..8] and the state. */
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

/* One frame of filter.c's svf_loop on half a bank: the 4 inputs at x,
 * the output row's 4 samples to y. */
static inline __attribute__((always_inline)) void svf4_step(svf4 *k, const svf4 *d, const float *x,
                                                            float *y) {
    k->m11 += d->m11, k->n1 += d->n1, k->m22 += d->m22, k->n2 += d->n2;
    k->o0 += d->o0, k->o1 += d->o1, k->o2 += d->o2;
    v4f xf, yf;
    memcpy(&xf, x, sizeof xf);
    v4d xd = __builtin_convertvector(xf, v4d);
    yf = __builtin_convertvector(k->o0 * xd + k->o1 * k->ic1 + k->o2 * k->ic2, v4f);
    memcpy(y, &yf, sizeof yf);
    v4d next1 = k->n1 * (xd - k->ic2) + k->m11 * k->ic1;
    k->ic2 = k->n2 * xd + k->n1 * k->ic1 + k->m22 * k->ic2;
    k->ic1 = next1;
}

/* One frame of filter.c's svf_loop_lp: the low-pass output (ic2 + ic2')/2. */
static inline __attribute__((always_inline)) void svf4_step_lp(svf4 *k, const svf4 *d,
                                                               const float *x, float *y) {
    k->m11 += d->m11, k->n1 += d->n1, k->m22 += d->m22, k->n2 += d->n2;
    v4f xf, yf;
    memcpy(&xf, x, sizeof xf);
    v4d xd = __builtin_convertvector(xf, v4d);
    v4d next1 = k->n1 * (xd - k->ic2) + k->m11 * k->ic1;
    v4d next2 = k->n2 * xd + k->n1 * k->ic1 + k->m22 * k->ic2;
    yf = __builtin_convertvector(0.5 * (k->ic2 + next2), v4f);
    memcpy(y, &yf, sizeof yf);
    k->ic1 = next1, k->ic2 = next2;
}

/* Each voice's block coefficients as kn_svf_compute finds them. The mode
 * is the bank's, so every voice's stored row is the same mode's and the
 * low-pass shortcut applies to all voices or to none; all must agree for
 * it to be taken, so no voice takes a loop its kn_svf would not. The two
 * halves step in the same loop, so their recursions overlap. Each chunk
 * is read whole before it is written: `in` may equal `out`. */
KN_SIMD void kn_svf8_compute(kn_svf8 *s, float *out, const float *in, int frames,
                             const float *cutoff, const float *q, int mode) {
    double c0[B][9], dc[B][9];
    int lp = 1;
    for (int v = 0; v < B; v++)
        lp &= svf_block(s->c[v], s->rate, frames, cutoff[v], q[v], mode, c0[v], dc[v]);
    svf4 k0, k1, d0, d1; /* the halves, and their steps per sample */
    svf4_gather(&k0, (const double(*)[9])c0, s, 0), svf4_gather(&k1, (const double(*)[9])c0, s, 1);
    svf4_gather(&d0, (const double(*)[9])dc, s, 0), svf4_gather(&d1, (const double(*)[9])dc, s, 1);
    float f[CHUNK * B]; /* a chunk as frames of 8 voices, filtered in place */
    for (int c = 0; c < frames; c += CHUNK) {
        int n = frames - c < CHUNK ? frames - c : CHUNK;
        to_frames(f, in, frames, c, n);
        if (lp)
            for (int i = 0; i < n; i++) {
                svf4_step_lp(&k0, &d0, f + i * B, f + i * B);
                svf4_step_lp(&k1, &d1, f + i * B + 4, f + i * B + 4);
            }
        else
            for (int i = 0; i < n; i++) {
                svf4_step(&k0, &d0, f + i * B, f + i * B);
                svf4_step(&k1, &d1, f + i * B + 4, f + i * B + 4);
            }
        to_planes(out, frames, c, f, n);
    }
    svf4_scatter(s, &k0, 0), svf4_scatter(s, &k1, 1);
}

/* ---- mix ---- */

/* Frames i .. i+7 (one vector) of the pair, read or written. */
#define PAIR_LOAD(j)                                                                               \
    (memcpy(&L##j, outL + i + (j)*B, sizeof x), memcpy(&R##j, outR + i + (j)*B, sizeof x))
#define PAIR_STORE(j)                                                                              \
    (memcpy(outL + i + (j)*B, &L##j, sizeof x), memcpy(outR + i + (j)*B, &R##j, sizeof x))
/* Voice v's frames i + 8j .. added in, as kn_buf_pan_stereo adds them. */
#define PAIR_ADD(j)                                                                                \
    (memcpy(&x, in + (long)v * frames + i + (j)*B, sizeof x), L##j += l[v] * x, R##j += r[v] * x)

/* The pair read once, each voice's plane added in voice order, the pair
 * written once; 32 frames at a time (four vectors side by side, so that
 * four chains of adds overlap), then 8, then one by one. */
KN_SIMD void kn_bank_pan_stereo(float *outL, float *outR, const float *in, int frames,
                                const float *pan, const float *gain) {
    float l[B], r[B];
    for (int v = 0; v < B; v++) kn_pan_gains(pan[v], gain[v], &l[v], &r[v]);
    int i = 0;
    v8f L0, R0, L1, R1, L2, R2, L3, R3, x;
    for (; i + 4 * B <= frames; i += 4 * B) {
        PAIR_LOAD(0), PAIR_LOAD(1), PAIR_LOAD(2), PAIR_LOAD(3);
        for (int v = 0; v < B; v++) PAIR_ADD(0), PAIR_ADD(1), PAIR_ADD(2), PAIR_ADD(3);
        PAIR_STORE(0), PAIR_STORE(1), PAIR_STORE(2), PAIR_STORE(3);
    }
    for (; i + B <= frames; i += B) {
        PAIR_LOAD(0);
        for (int v = 0; v < B; v++) PAIR_ADD(0);
        PAIR_STORE(0);
    }
    for (; i < frames; i++) /* the tail, in the same order */
        for (int v = 0; v < B; v++) {
            outL[i] += l[v] * in[(long)v * frames + i];
            outR[i] += r[v] * in[(long)v * frames + i];
        }
}
