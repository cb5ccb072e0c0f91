// link: nodes-c/delay.c nodes-c/reverb.c
/*
 * test_nodes_delay.c - delay lines and the reverb.
 *
 *   - delay: an integer delay is an exact copy, in any block size; a
 *     fractional one delays a low sine by exactly that (cubic
 *     interpolation error < 1e-4); feedback makes echoes of fb^k at k*D;
 *     tick/read agree with run.
 *   - comb: impulse response 1 at D, fb at 2D, fb^2 at 3D (no damping).
 *   - allpass: flat magnitude (the impulse response's energy is 1).
 *   - chorus: mix 0 passes the input; output stays bounded with feedback;
 *     on a ramp input (which cubic interpolation reproduces exactly) the
 *     wet output reveals the delay itself: it follows delay + depth *
 *     sin(2 pi (phase + f t)) ms to 0.01 sample, for chorus and flanger
 *     settings; with feedback and mix, the output of a noise input equals
 *     a double-precision implementation of the documented recurrence.
 *   - reverb: the decay of the impulse response (Schroeder backward
 *     integration, -5 to -35 dB, doubled) is the RT60 asked for, +-15%;
 *     both channels ring, differently (stereo spread).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0
#define LEN  (3 * 48000)

static float in[LEN], out[LEN], out2[LEN];

static void test_delay(void) {
    static kn_delay d;
    for (int i = 0; i < LEN; i++) in[i] = (float)((i * 7919 % 1000) / 500.0 - 1);
    int sizes[] = {1, 7, 64, 1000};
    for (int k = 0; k < 4; k++) {
        kn_delay_init(&d);
        for (int at = 0; at < 20000; at += sizes[k])
            kn_delay_run(&d, in + at, out + at, sizes[k], 100, 0);
        int exact = 1;
        for (int i = 0; i < 20000; i++) exact &= out[i] == (i >= 100 ? in[i - 100] : 0.0f);
        CHECK(exact);
    }
    /* fractional */
    for (int i = 0; i < 48000; i++) in[i] = (float)sin(2 * M_PI * 200 * i / RATE);
    kn_delay_init(&d);
    for (int at = 0; at < 48000; at += 64) kn_delay_run(&d, in + at, out + at, 64, 10.37f, 0);
    double maxerr = 0;
    for (int i = 100; i < 48000; i++)
        maxerr = fmax(maxerr, fabs(out[i] - sin(2 * M_PI * 200 * (i - (double)10.37f) / RATE)));
    printf("delay 10.37 samples, 200 Hz: max error %.2g\n", maxerr);
    CHECK(maxerr < 1e-4);
    /* feedback echoes */
    memset(in, 0, sizeof in);
    in[0] = 1;
    kn_delay_init(&d);
    for (int at = 0; at < 4000; at += 64) kn_delay_run(&d, in + at, out + at, 64, 1000, 0.5f);
    CHECK(out[1000] == 1.0f && out[2000] == 0.5f && out[3000] == 0.25f && out[999] == 0 &&
          out[1500] == 0);
    /* tick and read */
    kn_delay_init(&d);
    for (int i = 0; i < 300; i++) out[i] = kn_delay_tick(&d, (float)i, 0);
    CHECK(out[299] == 299.0f && kn_delay_read(&d, 10) == 289.0f &&
          kn_delay_read(&d, 2.5f) == 296.5f);
}

static void test_comb_allpass(void) {
    static kn_comb c;
    static kn_allpass a;
    memset(in, 0, sizeof in);
    in[0] = 1;
    kn_comb_init(&c);
    for (int at = 0; at < 2000; at += 64) kn_comb_run(&c, in + at, out + at, 64, 500, 0.7f, 0);
    CHECK(out[500] == 1.0f && fabs(out[1000] - 0.7f) < 1e-6 && fabs(out[1500] - 0.49f) < 1e-6);
    CHECK(out[0] == 0 && out[499] == 0);
    kn_allpass_init(&a);
    for (int at = 0; at < LEN; at += 64) kn_allpass_run(&a, in + at, out + at, 64, 123, 0.7f);
    double e = 0;
    for (int i = 0; i < LEN; i++) e += out[i] * (double)out[i];
    CHECK(fabs(e - 1) < 1e-4);
    CHECK(fabs(out[0] + 0.7f) < 1e-6); /* -g, then (1 - g^2) at D */
    CHECK(fabs(out[123] - 0.51f) < 1e-6);
}

static void check_chorus_delay(double phase, double hz, double depth_ms, double delay_ms);
static void check_chorus_feedback(void);

static void test_chorus(void) {
    static kn_chorus ch;
    for (int i = 0; i < 48000; i++) in[i] = (float)sin(2 * M_PI * 440 * i / RATE);
    kn_chorus_init(&ch, RATE, 0);
    kn_chorus_run(&ch, in, out, 48000, 0.5f, 3, 15, 0, 0);
    CHECK(!memcmp(in, out, 48000 * sizeof(float)));
    kn_chorus_init(&ch, RATE, 0.25);
    double peak = 0;
    for (int at = 0; at < 48000; at += 64)
        kn_chorus_run(&ch, in + at, out + at, 64, 2, 2, 3, 0.9f, 0.5f);
    for (int i = 0; i < 48000; i++) peak = fmax(peak, fabs(out[i]));
    CHECK(isfinite(peak) && peak < 10 && peak > 0.1);
    check_chorus_delay(0, 0.8, 3, 15);     /* chorus */
    check_chorus_delay(0.25, 0.3, 1.5, 2); /* flanger */
    check_chorus_feedback();
}

/* The documented delay of a chorus at sample n, in samples. */
static double chorus_delay(double n, double phase, double hz, double depth_ms, double delay_ms) {
    return RATE / 1000 * (delay_ms + depth_ms * sin(2 * M_PI * (phase + hz * n / RATE)));
}

/* Mix 1, no feedback, input x[n] = n: the output is n - d(n), so the
 * delay the node applied can be read off every sample. */
static void check_chorus_delay(double phase, double hz, double depth_ms, double delay_ms) {
    static kn_chorus ch;
    int n = 24000;
    for (int i = 0; i < n; i++) in[i] = (float)i;
    kn_chorus_init(&ch, RATE, phase);
    for (int at = 0; at < n; at += 64)
        kn_chorus_run(&ch, in + at, out + at, 64, (float)hz, (float)depth_ms, (float)delay_ms, 0,
                      1);
    double worst = 0;
    for (int i = 4096; i < n; i++) { /* past the first fill of the buffer */
        double d = (double)i - out[i];
        worst = fmax(worst, fabs(d - chorus_delay(i, phase, hz, depth_ms, delay_ms)));
    }
    CHECK(worst < 0.01);
    if (worst >= 0.01) printf("  chorus delay off by %.4f samples\n", worst);
}

/* x at fractional index t, Catmull-Rom through the 4 samples around it. */
static double catmull_rom(const double *x, double t) {
    int i = (int)floor(t);
    double u = t - i, a = x[i - 1], b = x[i], c = x[i + 1], d = x[i + 2];
    return b + 0.5 * u * (c - a + u * (2 * a - 5 * b + 4 * c - d + u * (3 * (b - c) + d - a)));
}

/* With feedback and mix: w[n] = x[n] + fb * y[n], y[n] = w(n - d(n)),
 * out[n] = x[n] + mix * (y[n] - x[n]), in double precision. */
static void check_chorus_feedback(void) {
    static kn_chorus ch;
    static double w[LEN];
    int n = 24000, pad = 256; /* more than the longest delay (4 ms) */
    double fb = 0.7, mix = 0.6, hz = 1.5, depth = 1.0, delay = 3.0, phase = 0.1, worst = 0;
    for (int i = 0; i < n; i++) in[i] = (float)((i * 7919 % 1000) / 500.0 - 1);
    kn_chorus_init(&ch, RATE, phase);
    for (int at = 0; at < n; at += 64)
        kn_chorus_run(&ch, in + at, out + at, 64, (float)hz, (float)depth, (float)delay, (float)fb,
                      (float)mix);
    memset(w, 0, sizeof w);
    for (int i = 0; i < n; i++) {
        double y = catmull_rom(w, pad + i - chorus_delay(i, phase, hz, depth, delay));
        w[pad + i] = in[i] + fb * y;
        double ref = in[i] + mix * (y - in[i]);
        worst = fmax(worst, fabs(ref - out[i]));
    }
    CHECK(worst < 1e-4);
    if (worst >= 1e-4) printf("  chorus with feedback off by %.2e\n", worst);
}

/* RT60 from the energy decay curve of y[0..n). */
static double rt60_of(const float *y, int n) {
    double *edc = malloc(sizeof(double) * (size_t)n), sum = 0;
    for (int i = n - 1; i >= 0; i--) edc[i] = sum += y[i] * (double)y[i];
    int t5 = -1, t35 = -1;
    for (int i = 0; i < n; i++) {
        double db = 10 * log10(edc[i] / edc[0]);
        if (t5 < 0 && db <= -5) t5 = i;
        if (t35 < 0 && db <= -35) t35 = i;
    }
    free(edc);
    return 2.0 * (t35 - t5) / RATE;
}

static void test_reverb(void) {
    static kn_reverb r;
    float rts[] = {0.8f, 2.0f};
    for (int k = 0; k < 2; k++) {
        memset(in, 0, sizeof in);
        in[0] = 1;
        kn_reverb_init(&r, RATE);
        for (int at = 0; at < LEN; at += 64)
            kn_reverb_run(&r, in + at, NULL, out + at, out2 + at, 64, rts[k], 0, 1);
        /* an RT60 of 2 s needs more than 3 s of tail for -35 dB: fine, the
         * EDC of a pure exponential is exponential over any window. */
        double t = rt60_of(out, LEN), tr = rt60_of(out2, LEN);
        printf("reverb: RT60 asked %.2f s, measured %.3f s (L) %.3f s (R)\n", rts[k], t, tr);
        CHECK(fabs(t - rts[k]) < 0.15 * rts[k]);
        CHECK(fabs(tr - rts[k]) < 0.15 * rts[k]);
        int differ = 0;
        for (int i = 0; i < LEN; i++) differ += out[i] != out2[i];
        CHECK(differ > LEN / 2);
    }
    /* damping shortens the decay */
    memset(in, 0, sizeof in);
    in[0] = 1;
    kn_reverb_init(&r, RATE);
    for (int at = 0; at < LEN; at += 64)
        kn_reverb_run(&r, in + at, in + at, out + at, out2 + at, 64, 2.0f, 0.8f, 1);
    CHECK(rt60_of(out, LEN) < 1.8);
    /* mix 0: dry */
    for (int i = 0; i < 1000; i++) in[i] = (float)i;
    kn_reverb_run(&r, in, in, out, out2, 1000, 2, 0.5f, 0);
    CHECK(out[999] == 999.0f && out2[10] == 10.0f);
}

int main(void) {
    test_delay();
    test_comb_allpass();
    test_chorus();
    test_reverb();
    return check_report();
}
