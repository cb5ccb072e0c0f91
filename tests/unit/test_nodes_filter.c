// link: nodes-c/filter.c
/*
 * test_nodes_filter.c - nodes-c filters: measured frequency response
 * (magnitude and phase of the steady-state response to a sine) against
 * the analytic response, at several frequencies.
 *
 *   - one-pole, SVF (LP, BP, HP, notch) and ladder (small signal, so the
 *     tanh is linear) are trapezoidal: their response is the bilinear
 *     transform of the analog prototype with the cutoff prewarped, which
 *     is computed here in double precision, independently of the code.
 *   - biquad: the cookbook's defining properties: LP/HP gain 1 at DC /
 *     Nyquist and Q at f0, BP 1 at f0, notch 0 at f0, peak and shelves
 *     gain_db where specified, allpass 1 everywhere.
 *   - SVF: a cutoff sweep block by block stays finite and bounded.
 */
#include <complex.h>
#include <math.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0
#define LEN  48000 /* 1 s: integer cycles for integer frequencies */

typedef void (*run_fn)(void *s, const float *in, float *out, int frames);

static float in[2 * LEN], out[2 * LEN];

/* Complex response at integer frequency f: drive 2 s of sine, correlate
 * the second second (transients gone) with the input. */
static double complex measure(void *s, run_fn run, double f, double amp) {
    for (int i = 0; i < 2 * LEN; i++) in[i] = (float)(amp * sin(2 * M_PI * f * i / RATE));
    for (int at = 0; at < 2 * LEN; at += 64) run(s, in + at, out + at, 64);
    double complex acc = 0;
    for (int i = LEN; i < 2 * LEN; i++) acc += out[i] * cexp(-I * 2 * M_PI * f * i / RATE);
    /* sin = (e^{jw} - e^{-jw}) / 2j: the e^{jw} coefficient of the input is amp/(2j) */
    return acc / LEN / (amp / (2 * I));
}

/* Prewarped analog frequency ratio for the bilinear transform. */
static double omega(double f, double fc) {
    return tan(M_PI * f / RATE) / tan(M_PI * fc / RATE);
}

static int close_to(double complex got, double complex want, double tol, const char *what,
                    double f) {
    double err = cabs(got - want), mag = cabs(want);
    int ok = err <= tol * (mag > 1e-3 ? mag : 1e-3);
    if (!ok)
        printf("%s at %.0f Hz: got %.5f%+.5fi, want %.5f%+.5fi\n", what, f, creal(got), cimag(got),
               creal(want), cimag(want));
    return ok;
}

static const double freqs[] = {50, 300, 1000, 2000, 5000, 12000, 20000};
#define NF (int)(sizeof freqs / sizeof freqs[0])

/* ---- one-pole ---- */
static int op_mode;
static float op_fc;
static void op_run(void *s, const float *i, float *o, int n) {
    kn_onepole_run(s, i, o, n, op_fc, op_mode);
}

static void test_onepole(void) {
    for (op_mode = KN_LP; op_mode <= KN_HP; op_mode += KN_HP - KN_LP) {
        op_fc = 1000;
        for (int k = 0; k < NF; k++) {
            kn_onepole s;
            kn_onepole_init(&s, RATE);
            double complex jw = I * omega(freqs[k], op_fc);
            double complex want = op_mode == KN_LP ? 1 / (1 + jw) : jw / (1 + jw);
            CHECK(close_to(measure(&s, op_run, freqs[k], 0.5), want, 1e-3, "onepole", freqs[k]));
        }
    }
    /* -3 dB exactly at the cutoff */
    kn_onepole s;
    kn_onepole_init(&s, RATE);
    op_mode = KN_LP, op_fc = 2000;
    CHECK(fabs(20 * log10(cabs(measure(&s, op_run, 2000, 0.5))) + 3.0103) < 0.01);
}

/* ---- SVF ---- */
static int svf_mode;
static float svf_fc, svf_q;
static void svf_run(void *s, const float *i, float *o, int n) {
    kn_svf_run(s, i, o, n, svf_fc, svf_q, svf_mode);
}

static void test_svf(void) {
    const char *names[] = {"svf LP", "svf BP", "svf HP", "svf notch"};
    for (svf_mode = KN_LP; svf_mode <= KN_NOTCH; svf_mode++) {
        svf_fc = 1000, svf_q = 3;
        for (int k = 0; k < NF; k++) {
            kn_svf s;
            kn_svf_init(&s, RATE);
            double complex jw = I * omega(freqs[k], svf_fc), d = 1 + jw / svf_q + jw * jw;
            double complex want = svf_mode == KN_LP   ? 1 / d
                                  : svf_mode == KN_BP ? (jw / svf_q) / d
                                  : svf_mode == KN_HP ? jw * jw / d
                                                      : (1 + jw * jw) / d;
            CHECK(close_to(measure(&s, svf_run, freqs[k], 0.5), want, 1e-3, names[svf_mode],
                           freqs[k]));
        }
    }
    /* resonance: LP gain q at the cutoff */
    kn_svf s;
    kn_svf_init(&s, RATE);
    svf_mode = KN_LP, svf_fc = 3000, svf_q = 8;
    CHECK(fabs(cabs(measure(&s, svf_run, 3000, 0.01)) - 8) < 0.01);
    /* a fast sweep, the cutoff jumping every block, stays bounded */
    kn_svf_init(&s, RATE);
    for (int i = 0; i < LEN; i++) in[i] = (float)((i * 7919 % 200) / 100.0 - 1);
    double peak = 0;
    for (int b = 0; b < LEN / 64; b++) {
        kn_svf_run(&s, in + b * 64, out, 64, b & 1 ? 20000 : 30, 20, KN_LP);
        for (int i = 0; i < 64; i++) peak = fmax(peak, fabs(out[i]));
    }
    CHECK(isfinite(peak) && peak < 100);
}

/* The SVF as documented, sample by sample in the textbook form: Simper's
 * equations with g = tan(pi fc / rate), each of the nine per-sample
 * coefficients (the state update and the mode's output row) gliding
 * linearly from the last block's, which the node keeps as floats. The
 * node's faster loops (the matrix form, the low-pass shortcut) must match
 * it through changes of cutoff, q and mode. */
typedef struct {
    double ic1, ic2;
    float c[9];
} svf_ref;

static void svf_ref_coefs(double fc, double q, int mode, double *c) {
    double g = tan(M_PI * fmin(fmax(fc, 1), 0.49 * RATE) / RATE), k = 1 / fmax(q, 0.5);
    double a1 = 1 / (1 + g * (g + k)), a2 = g * a1, a3 = g * a2;
    double v1[3] = {a2, a1, -a2}, v2[3] = {a3, a2, 1 - a3}, v0[3] = {1, 0, 0};
    c[0] = 2 * a1 - 1, c[1] = -2 * a2, c[2] = 2 * a2, c[3] = 2 * a2, c[4] = 1 - 2 * a3,
    c[5] = 2 * a3;
    for (int j = 0; j < 3; j++)
        c[6 + j] = mode == KN_LP   ? v2[j]
                   : mode == KN_BP ? k * v1[j]
                   : mode == KN_HP ? v0[j] - k * v1[j] - v2[j]
                                   : v0[j] - k * v1[j];
}

static void svf_ref_run(svf_ref *r, const float *x, float *y, int n, double fc, double q,
                        int mode) {
    double c[9], c0[9];
    svf_ref_coefs(fc, q, mode, c);
    for (int j = 0; j < 9; j++) c0[j] = r->c[2] > 0 ? r->c[j] : c[j];
    for (int i = 0; i < n; i++) {
        double w = (i + 1.0) / n, m[9];
        for (int j = 0; j < 9; j++) m[j] = c0[j] + (c[j] - c0[j]) * w;
        y[i] = (float)(m[6] * x[i] + m[7] * r->ic1 + m[8] * r->ic2);
        double ic1 = m[2] * x[i] + m[0] * r->ic1 + m[1] * r->ic2;
        r->ic2 = m[5] * x[i] + m[3] * r->ic1 + m[4] * r->ic2;
        r->ic1 = ic1;
    }
    for (int j = 0; j < 9; j++) r->c[j] = (float)c[j];
}

static void test_svf_glide(void) {
    kn_svf s;
    svf_ref r = {0};
    kn_svf_init(&s, RATE);
    for (int i = 0; i < LEN; i++) in[i] = (float)(0.5 * sin(2 * M_PI * 220 * i / RATE));
    /* LP swept, then BP, HP, notch and back to LP, q changing too */
    static const int modes[] = {KN_LP, KN_LP, KN_BP, KN_LP, KN_HP, KN_NOTCH, KN_LP, KN_LP};
    double worst = 0;
    float want[64];
    for (int b = 0; b < LEN / 64; b++) {
        int mode = modes[b * 8 / (LEN / 64)];
        double fc = 300 * pow(2, 4 * (0.5 + 0.5 * sin(b * 0.05))), q = b & 64 ? 4 : 0.7;
        kn_svf_run(&s, in + b * 64, out + b * 64, 64, (float)fc, (float)q, mode);
        svf_ref_run(&r, in + b * 64, want, 64, fc, q, mode);
        for (int i = 0; i < 64; i++) worst = fmax(worst, fabs(out[b * 64 + i] - want[i]));
    }
    CHECK(worst < 1e-5);
    if (!(worst < 1e-5)) printf("svf glide: max difference from the reference %g\n", worst);
}

/* ---- biquad ---- */
static void bq_run(void *s, const float *i, float *o, int n) {
    kn_biquad_run(s, i, o, n);
}

static double bq_gain(int type, float f0, float q, float db, double f) {
    kn_biquad s;
    kn_biquad_init(&s, RATE);
    kn_biquad_set(&s, type, f0, q, db);
    return cabs(measure(&s, bq_run, f, 0.25));
}

static void test_biquad(void) {
    CHECK(fabs(bq_gain(KN_BQ_LP, 1000, 2, 0, 1000) - 2) < 2e-3);
    CHECK(fabs(bq_gain(KN_BQ_LP, 1000, 2, 0, 10) - 1) < 1e-3);
    CHECK(bq_gain(KN_BQ_LP, 1000, 0.707f, 0, 16000) < 0.01);
    CHECK(fabs(bq_gain(KN_BQ_HP, 1000, 2, 0, 1000) - 2) < 2e-3);
    CHECK(bq_gain(KN_BQ_HP, 1000, 0.707f, 0, 20) < 1e-3);
    CHECK(fabs(bq_gain(KN_BQ_BP, 1000, 5, 0, 1000) - 1) < 1e-3);
    CHECK(bq_gain(KN_BQ_BP, 1000, 5, 0, 100) < 0.03);
    CHECK(bq_gain(KN_BQ_NOTCH, 1000, 2, 0, 1000) < 1e-3);
    CHECK(fabs(bq_gain(KN_BQ_NOTCH, 1000, 2, 0, 100) - 1) < 0.01);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_PEAK, 1000, 1, 9, 1000)) - 9) < 0.01);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_PEAK, 1000, 1, -9, 1000)) + 9) < 0.01);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_PEAK, 1000, 1, 9, 30)) - 0) < 0.1);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_LOWSHELF, 1000, 0.707f, 6, 10)) - 6) < 0.05);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_LOWSHELF, 1000, 0.707f, 6, 20000)) - 0) < 0.05);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_HIGHSHELF, 1000, 0.707f, -6, 20000)) + 6) < 0.05);
    CHECK(fabs(20 * log10(bq_gain(KN_BQ_HIGHSHELF, 1000, 0.707f, -6, 10)) - 0) < 0.05);
    for (int k = 0; k < NF; k++)
        CHECK(fabs(bq_gain(KN_BQ_ALLPASS, 1000, 1, 0, freqs[k]) - 1) < 1e-3);
    /* tick equals run */
    kn_biquad a, b;
    kn_biquad_init(&a, RATE), kn_biquad_init(&b, RATE);
    kn_biquad_set(&a, KN_BQ_LP, 500, 1, 0), kn_biquad_set(&b, KN_BQ_LP, 500, 1, 0);
    kn_biquad_run(&a, in, out, 100);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= kn_biquad_tick(&b, in[i]) == out[i];
    CHECK(same);
}

/* ---- ladder ---- */
static float ld_fc, ld_res;
static void ld_run(void *s, const float *i, float *o, int n) {
    kn_ladder_run(s, i, o, n, ld_fc, ld_res, 1);
}

static void test_ladder(void) {
    for (int r = 0; r < 3; r++) {
        ld_fc = 1500, ld_res = r * 0.4f;
        double k = 4 * ld_res;
        for (int j = 0; j < NF; j++) {
            kn_ladder s;
            kn_ladder_init(&s, RATE);
            double complex h1 = 1 / (1 + I * omega(freqs[j], ld_fc)), h4 = h1 * h1 * h1 * h1;
            /* 1e-4 input: tanh is linear to 1e-8 */
            CHECK(close_to(measure(&s, ld_run, freqs[j], 1e-4), h4 / (1 + k * h4), 2e-3, "ladder",
                           freqs[j]));
        }
    }
    /* near full resonance it rings but stays bounded (the tanh) */
    kn_ladder s;
    kn_ladder_init(&s, RATE);
    for (int i = 0; i < LEN; i++) in[i] = i < 10 ? 1.0f : 0.0f;
    kn_ladder_run(&s, in, out, LEN, 1000, 1.0f, 1);
    double late = 0;
    for (int i = LEN / 2; i < LEN; i++) late = fmax(late, fabs(out[i]));
    CHECK(isfinite(late) && late < 2);
}

int main(void) {
    test_onepole();
    test_svf();
    test_svf_glide();
    test_biquad();
    test_ladder();
    return check_report();
}
