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
    test_biquad();
    test_ladder();
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
