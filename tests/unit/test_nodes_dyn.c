// link: nodes-c/dyn.c nodes-c/shape.c
/*
 * test_nodes_dyn.c - compressor, limiter and waveshapers.
 *
 *   - compressor: a steady 1 kHz sine below the threshold passes at unity;
 *     above it, the output peak sits at T + (L - T) / ratio dB (+-0.5 dB)
 *     for hard and soft knees; makeup adds; attack is faster than
 *     release; the stereo form applies one gain to both channels.
 *   - limiter: loud noise never exceeds the ceiling; a quiet signal comes
 *     out unchanged, delayed by exactly kn_limiter_latency() samples;
 *     after a loud burst the gain recovers.
 *   - tanh against libm within 2e-6; fold is the identity on [-1, 1] and
 *     reflects beyond (1.5 -> 0.5, 2.5 -> -0.5, -3 -> 1).
 */
#include <math.h>
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0
#define LEN  96000

static float in[LEN], out[LEN], in2[LEN], out2[LEN];

static double peak_db(const float *x, int from, int to) {
    double p = 0;
    for (int i = from; i < to; i++) p = fmax(p, fabs(x[i]));
    return 20 * log10(p);
}

static void sine(float *x, double db, double f) {
    double a = pow(10, db / 20);
    for (int i = 0; i < LEN; i++) x[i] = (float)(a * sin(2 * M_PI * f * i / RATE));
}

static void test_comp(void) {
    kn_comp c;
    double levels[] = {-30, -12, -6, 0};
    for (int knee = 0; knee <= 6; knee += 6)
        for (int k = 0; k < 4; k++) {
            kn_comp_init(&c, RATE, (float)knee);
            sine(in, levels[k], 1000);
            for (int at = 0; at < LEN; at += 64)
                kn_comp_run(&c, in + at, out + at, 64, -20, 4, 1, 200, 0);
            double want = levels[k] < -20 ? levels[k] : -20 + (levels[k] + 20) / 4;
            double got = peak_db(out, LEN / 2, LEN);
            printf("comp knee %d: in %.0f dB -> %.2f dB (want %.2f)\n", knee, levels[k], got, want);
            CHECK(fabs(got - want) < 0.5);
        }
    /* makeup */
    kn_comp_init(&c, RATE, 0);
    sine(in, -6, 1000);
    kn_comp_run(&c, in, out, LEN, -20, 4, 1, 200, 6);
    CHECK(fabs(peak_db(out, LEN / 2, LEN) - (-16.5 + 6)) < 0.5);
    /* attack vs release: a step up is caught within ~5 attack times, the
     * step down recovers slowly */
    kn_comp_init(&c, RATE, 0);
    for (int i = 0; i < LEN; i++) in[i] = i >= 24000 && i < 48000 ? 1.0f : 0.01f;
    kn_comp_run(&c, in, out, LEN, -20, 10, 2, 300, 0);
    CHECK(fabs(out[24000 + 480] - pow(10, (-20 + 20 / 10.0) / 20)) < 0.01); /* 10 ms later */
    CHECK(out[48000 + 480] < 0.005); /* 10 ms after the drop: still reducing */
    /* stereo: one gain */
    kn_comp_init(&c, RATE, 0);
    sine(in, 0, 1000);
    for (int i = 0; i < LEN; i++) in2[i] = 0.1f * in[i];
    kn_comp_run2(&c, in, in2, out, out2, LEN, -20, 4, 1, 200, 0);
    CHECK(fabs(peak_db(out, LEN / 2, LEN) - peak_db(out2, LEN / 2, LEN) - 20) < 0.01);
}

static void test_limiter(void) {
    static kn_limiter l;
    kn_limiter_init(&l, RATE, 2);
    int lat = kn_limiter_latency(&l);
    CHECK(lat == 96);
    unsigned x = 1;
    for (int i = 0; i < LEN; i++) {
        x = x * 1664525u + 1013904223u;
        in[i] = (float)((int)x / 2147483648.0) * (i % 5000 < 300 ? 8.0f : 0.3f); /* bursts */
        in2[i] = -in[i] * 0.5f;
    }
    for (int at = 0; at < LEN; at += 64)
        kn_limiter_run2(&l, in + at, in2 + at, out + at, out2 + at, 64, -1, 50);
    double ceil = pow(10, -1 / 20.0), over = 0;
    for (int i = 0; i < LEN; i++) over = fmax(over, fmax(fabs(out[i]), fabs(out2[i])) / ceil);
    printf("limiter: peak / ceiling = %.6f\n", over);
    CHECK(over <= 1.0 + 1e-5);
    /* quiet: unchanged, delayed */
    kn_limiter_init(&l, RATE, 2);
    for (int i = 0; i < 10000; i++) in[i] = 0.5f * (float)sin(i * 0.01);
    kn_limiter_run(&l, in, out, 10000, -1, 50);
    int same = 1;
    for (int i = lat; i < 10000; i++) same &= fabs(out[i] - in[i - lat]) < 1e-6;
    CHECK(same);
    /* recovery after a burst: back near unity within ~5 release times */
    for (int i = 0; i < LEN; i++) in[i] = i < 1000 ? 4.0f : 0.1f;
    kn_limiter_init(&l, RATE, 2);
    kn_limiter_run(&l, in, out, LEN, 0, 20);
    CHECK(fabs(out[1000 + lat + 4800] - 0.1f) < 1e-3);
}

static void test_shape(void) {
    double maxerr = 0;
    for (int i = -10000; i <= 10000; i++) {
        float v = i * 0.001f;
        maxerr = fmax(maxerr, fabs(kn_tanh(v) - tanh(v)));
    }
    printf("tanh: max error %.2g\n", maxerr);
    CHECK(maxerr < 2e-6);
    for (int i = 0; i < 1000; i++) in[i] = (i - 500) * 0.002f;
    kn_tanh_run(in, out, 1000, 3);
    CHECK(fabs(out[900] - tanh(3 * in[900])) < 2e-6);
    kn_fold_run(in, out, 1000, 1);
    int ident = 1;
    for (int i = 0; i < 1000; i++) ident &= fabs(out[i] - in[i]) < 1e-6;
    CHECK(ident);
    CHECK(fabs(kn_fold(1.5f) - 0.5f) < 1e-6 && fabs(kn_fold(2.5f) + 0.5f) < 1e-6);
    CHECK(fabs(kn_fold(-3.0f) - 1.0f) < 1e-6 && fabs(kn_fold(4.0f)) < 1e-6);
}

int main(void) {
    test_comp();
    test_limiter();
    test_shape();
    return check_report();
}
