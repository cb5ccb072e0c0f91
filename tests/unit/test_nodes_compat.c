// link: nodes-c/*.c
/*
 * test_nodes_compat.c - the old spellings of nodes-c (kn_X_run, run2,
 * kn_mix and the other buffer helpers, inits without the rate, ...; the
 * "Old names" of docs/nodes.md) give exactly the samples of the new ones,
 * and the ladder's new tick and glide.
 *
 *   - Every changed node runs twice from the same init, once per spelling,
 *     over blocks of 64, 1, 7, 100, 3, ... samples with its parameters
 *     changing every block; every block's outputs are compared with
 *     memcmp (bit-identical), stereo outputs and return values too.
 *   - An init without the rate (the old form, a macro that counts its
 *     arguments) and the new one with it: the same samples.
 *   - kn_ladder_run (old) never glides, kn_ladder_compute (new) does: with
 *     fixed parameters they agree bit for bit; after a cutoff and
 *     resonance jump the gliding filter's first sample stays within a
 *     tenth of the switching filter's distance from the old filter's; the
 *     glide lands exactly (the new coefficients, then the switching
 *     filter's samples); a one-sample compute and kn_ladder_tick are the
 *     unglided filter.
 */
#include <math.h>
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0
#define MAXB 256

/* kn_sample_load is not tested here, but sample.c refers to kn_state. */
void *kn_state(kn_ctx *k, const char *name, size_t bytes) {
    (void)k, (void)name, (void)bytes;
    return NULL;
}

static const int sizes[] = {64, 1, 7, 64, 100, 3, 64, 64, 33, 256, 2, 64, 5, 64};
#define NBLK ((int)(sizeof sizes / sizeof sizes[0]))

static float in1[MAXB], in2[MAXB], gate[MAXB];
static float a1[MAXB], a2[MAXB], b1[MAXB], b2[MAXB];

/* Block b's inputs: a sine plus a little deterministic noise, a second
 * channel, and a gate that opens and closes inside blocks. */
static void inputs(int b, int n) {
    static unsigned x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        float r = (float)(x >> 8) / 16777216.0f - 0.5f;
        in1[i] = 0.6f * sinf(0.05f * (float)(b * MAXB + i)) + 0.2f * r;
        in2[i] = 0.5f * cosf(0.031f * (float)(b * MAXB + i)) - 0.1f * r;
        gate[i] = ((b * MAXB + i) / 90) % 3 ? 1.0f : 0.0f;
    }
}

/* A parameter between lo and hi that moves every block. */
static float P(int b, float lo, float hi) {
    return lo + (hi - lo) * (0.5f + 0.5f * sinf(1.7f * (float)b + 0.3f));
}

/* Outputs start as garbage (the same for both spellings), so a write
 * missing from one of them shows. */
static void scribble(int n) {
    for (int i = 0; i < n; i++) a1[i] = b1[i] = 7.0f + (float)i, a2[i] = b2[i] = -7.0f;
}

static int same(const float *x, const float *y, int n) {
    return !memcmp(x, y, (size_t)n * sizeof(float));
}

/* Runs OLD and NEW (statements using b, n, in1, in2, gate; old writes
 * a1 [a2], new writes b1 [b2]) over every block; all must agree. */
#define COMPARE(name, INIT, OLD, NEW)                                                              \
    do {                                                                                           \
        int ok_ = 1;                                                                               \
        INIT;                                                                                      \
        for (int b = 0; b < NBLK; b++) {                                                           \
            int n = sizes[b];                                                                      \
            inputs(b, n);                                                                          \
            scribble(MAXB);                                                                        \
            OLD;                                                                                   \
            NEW;                                                                                   \
            ok_ &= same(a1, b1, MAXB) && same(a2, b2, MAXB);                                       \
            (void)n;                                                                               \
        }                                                                                          \
        if (!ok_) printf("old and new spellings differ: %s\n", name);                              \
        CHECK(ok_);                                                                                \
        checked++;                                                                                 \
    } while (0)

static int checked;

static void test_oscillators(void) {
    static kn_phasor p1, p2;
    static kn_wtable tab;
    float h[24];
    for (int i = 0; i < 24; i++) h[i] = 1.0f / (float)(i + 1);
    kn_wtable_harmonics(&tab, h, 24);
    COMPARE("phasor", (kn_phasor_init(&p1, RATE, 0.3), kn_phasor_init(&p2, RATE, 0.3)),
            kn_phasor_run(&p1, a1, n, P(b, -900, 3000)),
            kn_phasor_compute(&p2, b1, n, P(b, -900, 3000)));
    COMPARE("phasor fm", (kn_phasor_init(&p1, RATE, 0.1), kn_phasor_init(&p2, RATE, 0.1)),
            (kn_gain(in1, a2, n, 2000), kn_phasor_run_fm(&p1, a2, a1, n)),
            (kn_buf_gain(b2, in1, n, 2000), kn_phasor_compute_fm(&p2, b1, b2, n)));
    COMPARE("sine", (kn_sine_init(&p1, RATE, 0.2), kn_sine_init(&p2, RATE, 0.2)),
            kn_sine_run(&p1, a1, n, P(b, 50, 5000), 0.7f),
            kn_sine_compute(&p2, b1, n, P(b, 50, 5000), 0.7f));
    COMPARE("sine of phase", (void)0, kn_sine_of(in1, a1, n), kn_sine_of_phase(b1, in1, n));
    COMPARE("saw", (kn_saw_init(&p1, RATE, 0), kn_saw_init(&p2, RATE, 0)),
            kn_saw_run(&p1, a1, n, P(b, 30, 9000), 0.5f),
            kn_saw_compute(&p2, b1, n, P(b, 30, 9000), 0.5f));
    COMPARE("square", (kn_square_init(&p1, RATE, 0.4), kn_square_init(&p2, RATE, 0.4)),
            kn_square_run(&p1, a1, n, P(b, 30, 9000), P(b, 0.1f, 0.9f), 0.5f),
            kn_square_compute(&p2, b1, n, P(b, 30, 9000), P(b, 0.1f, 0.9f), 0.5f));
    COMPARE("tri", (kn_tri_init(&p1, RATE, 0.6), kn_tri_init(&p2, RATE, 0.6)),
            kn_tri_run(&p1, a1, n, P(b, 30, 9000), 0.5f),
            kn_tri_compute(&p2, b1, n, P(b, 30, 9000), 0.5f));
    COMPARE("wavetable", (kn_wt_init(&p1, RATE, 0), kn_wt_init(&p2, RATE, 0)),
            kn_wt_run(&p1, &tab, a1, n, P(b, -2000, 9000), 0.5f),
            kn_wt_compute(&p2, b1, &tab, n, P(b, -2000, 9000), 0.5f));
}

static void test_noise(void) {
    static kn_noise n1, n2;
    static kn_pink k1, k2;
    COMPARE("noise (init without the rate)", (kn_noise_init(&n1, 77), kn_noise_init(&n2, RATE, 77)),
            kn_noise_run(&n1, a1, n, P(b, 0.1f, 1)), kn_noise_compute(&n2, b1, n, P(b, 0.1f, 1)));
    COMPARE("pink (init without the rate)", (kn_pink_init(&k1, 0), kn_pink_init(&k2, RATE, 0)),
            kn_pink_run(&k1, a1, n, P(b, 0.1f, 1)), kn_pink_compute(&k2, b1, n, P(b, 0.1f, 1)));
}

static void test_filters(void) {
    static kn_onepole o1, o2;
    static kn_svf s1, s2;
    static kn_biquad q1, q2;
    static kn_ladder l1, l2;
    COMPARE("onepole", (kn_onepole_init(&o1, RATE), kn_onepole_init(&o2, RATE)),
            kn_onepole_run(&o1, in1, a1, n, P(b, 40, 15000), b & 1 ? KN_HP : KN_LP),
            kn_onepole_compute(&o2, b1, in1, n, P(b, 40, 15000), b & 1 ? KN_HP : KN_LP));
    COMPARE("svf", (kn_svf_init(&s1, RATE), kn_svf_init(&s2, RATE)),
            kn_svf_run(&s1, in1, a1, n, P(b, 40, 15000), P(b, 0.5f, 8), (b / 3) % 4),
            kn_svf_compute(&s2, b1, in1, n, P(b, 40, 15000), P(b, 0.5f, 8), (b / 3) % 4));
    COMPARE("biquad", (kn_biquad_init(&q1, RATE), kn_biquad_init(&q2, RATE)),
            (kn_biquad_set(&q1, b % 8, P(b, 40, 15000), 2, 6), kn_biquad_run(&q1, in1, a1, n)),
            (kn_biquad_set(&q2, b % 8, P(b, 40, 15000), 2, 6), kn_biquad_compute(&q2, b1, in1, n)));
    /* in place, as examples do */
    COMPARE("svf in place", (kn_svf_init(&s1, RATE), kn_svf_init(&s2, RATE)),
            (kn_copy(in1, a1, n), kn_svf_run(&s1, a1, a1, n, P(b, 40, 9000), 2, KN_LP)),
            (kn_buf_copy(b1, in1, n), kn_svf_compute(&s2, b1, b1, n, P(b, 40, 9000), 2, KN_LP)));
    /* the ladder: bit-identical while its parameters hold (the new one
     * glides only a change); test_ladder checks the glide */
    COMPARE("ladder, fixed parameters", (kn_ladder_init(&l1, RATE), kn_ladder_init(&l2, RATE)),
            kn_ladder_run(&l1, in1, a1, n, 700, 0.8f, 2),
            kn_ladder_compute(&l2, b1, in1, n, 700, 0.8f, 2));
}

static void test_envelopes(void) {
    static kn_adsr d1, d2;
    static kn_ar r1, r2;
    static kn_lfo f1, f2;
    COMPARE("adsr", (kn_adsr_init(&d1, RATE), kn_adsr_init(&d2, RATE)),
            kn_adsr_run(&d1, gate, a1, n, 0.001f, 0.002f, P(b, 0, 1), 0.003f),
            kn_adsr_compute(&d2, b1, gate, n, 0.001f, 0.002f, P(b, 0, 1), 0.003f));
    COMPARE(
        "adsr, gate in the state", (kn_adsr_init(&d1, RATE), kn_adsr_init(&d2, RATE)),
        (kn_adsr_gate(&d1, b % 3 != 2), kn_adsr_run(&d1, NULL, a1, n, 0.001f, 0.01f, 0.5f, 0.01f)),
        (kn_adsr_gate(&d2, b % 3 != 2),
         kn_adsr_compute(&d2, b1, NULL, n, 0.001f, 0.01f, 0.5f, 0.01f)));
    COMPARE("ar", (kn_ar_init(&r1, RATE), kn_ar_init(&r2, RATE)),
            kn_ar_run(&r1, gate, a1, n, 0.0005f, P(b, 0.001f, 0.01f)),
            kn_ar_compute(&r2, b1, gate, n, 0.0005f, P(b, 0.001f, 0.01f)));
    COMPARE("lfo", (kn_lfo_init(&f1, RATE, 0.1, 9), kn_lfo_init(&f2, RATE, 0.1, 9)),
            kn_lfo_run(&f1, a1, n, P(b, 1, 900), b % 5),
            kn_lfo_compute(&f2, b1, n, P(b, 1, 900), b % 5));
}

static void test_delays(void) {
    static kn_delay d1, d2;
    static kn_comb c1, c2;
    static kn_allpass p1, p2;
    static kn_chorus h1, h2;
    COMPARE("delay (init without the rate)", (kn_delay_init(&d1), kn_delay_init(&d2, RATE)),
            kn_delay_run(&d1, in1, a1, n, P(b, 1, 300), 0.6f),
            kn_delay_compute(&d2, b1, in1, n, P(b, 1, 300), 0.6f));
    COMPARE("comb (init without the rate)", (kn_comb_init(&c1), kn_comb_init(&c2, RATE)),
            kn_comb_run(&c1, in1, a1, n, P(b, 1, 300), 0.8f, 0.3f),
            kn_comb_compute(&c2, b1, in1, n, P(b, 1, 300), 0.8f, 0.3f));
    COMPARE("allpass (init without the rate)", (kn_allpass_init(&p1), kn_allpass_init(&p2, RATE)),
            kn_allpass_run(&p1, in1, a1, n, P(b, 1, 300), 0.6f),
            kn_allpass_compute(&p2, b1, in1, n, P(b, 1, 300), 0.6f));
    COMPARE("chorus", (kn_chorus_init(&h1, RATE, 0.25), kn_chorus_init(&h2, RATE, 0.25)),
            kn_chorus_run(&h1, in1, a1, n, 3, 2, P(b, 2, 20), 0.5f, 0.6f),
            kn_chorus_compute(&h2, b1, in1, n, 3, 2, P(b, 2, 20), 0.5f, 0.6f));
}

static void test_stereo(void) {
    static kn_reverb v1, v2;
    static kn_comp c1, c2;
    static kn_limiter l1, l2;
    COMPARE("reverb", (kn_reverb_init(&v1, RATE), kn_reverb_init(&v2, RATE)),
            kn_reverb_run(&v1, in1, b & 1 ? NULL : in2, a1, a2, n, P(b, 0.1f, 3), 0.4f, 0.7f),
            kn_reverb_compute_stereo(&v2, b1, b2, in1, b & 1 ? NULL : in2, n, P(b, 0.1f, 3), 0.4f,
                                     0.7f));
    COMPARE("comp", (kn_comp_init(&c1, RATE, 6), kn_comp_init(&c2, RATE, 6)),
            kn_comp_run(&c1, in1, a1, n, P(b, -30, -5), 4, 1, 20, 3),
            kn_comp_compute(&c2, b1, in1, n, P(b, -30, -5), 4, 1, 20, 3));
    COMPARE("comp stereo", (kn_comp_init(&c1, RATE, 0), kn_comp_init(&c2, RATE, 0)),
            kn_comp_run2(&c1, in1, in2, a1, a2, n, P(b, -30, -5), 8, 1, 20, 0),
            kn_comp_compute_stereo(&c2, b1, b2, in1, in2, n, P(b, -30, -5), 8, 1, 20, 0));
    COMPARE("limiter", (kn_limiter_init(&l1, RATE, 2), kn_limiter_init(&l2, RATE, 2)),
            (kn_gain(in1, a2, n, 4), kn_limiter_run(&l1, a2, a1, n, P(b, -12, 0), 30)),
            (kn_buf_gain(b2, in1, n, 4), kn_limiter_compute(&l2, b1, b2, n, P(b, -12, 0), 30)));
    COMPARE("limiter stereo", (kn_limiter_init(&l1, RATE, 1), kn_limiter_init(&l2, RATE, 1)),
            kn_limiter_run2(&l1, in1, in2, a1, a2, n, P(b, -12, 0), 30),
            kn_limiter_compute_stereo(&l2, b1, b2, in1, in2, n, P(b, -12, 0), 30));
}

static void test_helpers(void) {
    static kn_smoother m1, m2;
    COMPARE("tanh", (void)0, kn_tanh_run(in1, a1, n, P(b, 1, 8)),
            kn_tanh_compute(b1, in1, n, P(b, 1, 8)));
    COMPARE("fold", (void)0, kn_fold_run(in1, a1, n, P(b, 1, 8)),
            kn_fold_compute(b1, in1, n, P(b, 1, 8)));
    COMPARE("clear", (void)0, kn_clear(a1, n), kn_buf_clear(b1, n));
    COMPARE("copy", (void)0, kn_copy(in1, a1, n), kn_buf_copy(b1, in1, n));
    COMPARE("gain", (void)0, kn_gain(in1, a1, n, P(b, -2, 2)),
            kn_buf_gain(b1, in1, n, P(b, -2, 2)));
    COMPARE("mix / buf_add", (void)0, kn_mix(in1, a1, n, P(b, -2, 2)),
            kn_buf_add(b1, in1, n, P(b, -2, 2)));
    COMPARE("mul", (void)0, kn_mul(in1, in2, a1, n), kn_buf_mul(b1, in1, in2, n));
    COMPARE("pan / buf_pan_stereo", (void)0, kn_pan(in1, a1, a2, n, P(b, -1.2f, 1.2f), 0.8f),
            kn_buf_pan_stereo(b1, b2, in1, n, P(b, -1.2f, 1.2f), 0.8f));
    COMPARE("smoother", (kn_smoother_init(&m1, RATE, 0), kn_smoother_init(&m2, RATE, 0)),
            kn_smoother_run(&m1, a1, n, P(b, -1, 1), 0.002f),
            kn_smoother_compute(&m2, b1, n, P(b, -1, 1), 0.002f));
}

static void test_clock_player(void) {
    static kn_clock k1, k2;
    static kn_player p1, p2;
    static struct {
        kn_sample h;
        float d[3000 * 2];
    } st, mono;
    uint64_t frame = 0;
    int ticks_same = 1;
    COMPARE("clock", (kn_clock_init(&k1, RATE, 120), kn_clock_init(&k2, RATE, 120), frame = 0),
            (ticks_same &= kn_clock_run(&k1, frame, a1, a2, n, b < 6 ? 7000 : 9000, 4) ==
                           kn_clock_compute(&k2, b1, b2, frame, n, b < 6 ? 7000 : 9000, 4)),
            frame += (uint64_t)n);
    CHECK(ticks_same);
    /* samples held in memory like loaded ones: stereo and mono */
    st.h.magic = mono.h.magic = KN_SAMPLE_MAGIC;
    st.h.channels = 2, mono.h.channels = 1;
    st.h.frames = mono.h.frames = 3000;
    for (int i = 0; i < 6000; i++)
        st.h.data[i] = mono.h.data[i] = sinf(0.01f * (float)i * (float)i);
    COMPARE("player stereo (init without the rate)",
            (kn_player_init(&p1, 1), kn_player_init(&p2, RATE, 1)),
            kn_player_run(&p1, &st.h, gate, a1, a2, n, P(b, -2, 2), 0.8f),
            kn_player_compute_stereo(&p2, b1, b2, gate, &st.h, n, P(b, -2, 2), 0.8f));
    COMPARE("player mono mix", (kn_player_init(&p1, 0), kn_player_init(&p2, RATE, 0)),
            (b % 4 == 0 ? kn_player_trigger(&p1) : (void)0,
             kn_player_run(&p1, &st.h, NULL, a1, NULL, n, 1.3f, 0.8f)),
            (b % 4 == 0 ? kn_player_trigger(&p2) : (void)0,
             kn_player_compute(&p2, b1, NULL, &st.h, n, 1.3f, 0.8f)));
    COMPARE("player mono file", (kn_player_init(&p1, 1), kn_player_init(&p2, RATE, 1)),
            kn_player_run(&p1, &mono.h, gate, a1, a2, n, 0.7f, 0.8f),
            kn_player_compute_stereo(&p2, b1, b2, gate, &mono.h, n, 0.7f, 0.8f));
}

/* ---- the ladder's tick and glide ---- */

static void test_ladder(void) {
    static kn_ladder A, B, C, S;
    static float y0[MAXB], y1[MAXB], y2[MAXB];
    /* at each block the cutoff and resonance jump; from the same state, C
     * continues with the last block's parameters, A (run) switches, B
     * (compute) glides: B's first sample stays near C's, A's does not */
    kn_ladder_init(&S, RATE);
    double jump_switch = 0, jump_glide = 0;
    float c0 = 500, r0 = 0;
    for (int b = 0; b < 24; b++) {
        float c = b & 1 ? 300 : 5000, r = b & 2 ? 0.9f : 0.2f;
        inputs(b, 64);
        C = S, A = S;
        kn_ladder_run(&C, in1, y0, 64, c0, r0, 1);
        kn_ladder_run(&A, in1, y1, 64, c, r, 1);
        kn_ladder_compute(&S, y2, in1, 64, c, r, 1);
        CHECK(A.G == S.G && A.k == S.k); /* the glide ends on the new coefficients */
        if (b > 0) jump_switch += fabs(y1[0] - y0[0]), jump_glide += fabs(y2[0] - y0[0]);
        c0 = c, r0 = r;
    }
    printf("ladder: first sample after a cutoff/resonance jump, off the old filter's by %.3g "
           "switching, %.3g gliding\n",
           jump_switch, jump_glide);
    CHECK(jump_switch > 0.1 && jump_glide < 0.1 * jump_switch);
    /* once landed, the gliding filter is the switching one */
    A = S, B = S;
    inputs(30, MAXB);
    kn_ladder_run(&A, in1, y1, MAXB, c0, r0, 1);
    kn_ladder_compute(&B, y2, in1, MAXB, c0, r0, 1);
    CHECK(same(y1, y2, MAXB));
    /* one sample with new parameters: nothing to glide across */
    A = S, B = S;
    kn_ladder_run(&A, in1, y1, 1, 3000, 0.5f, 2);
    kn_ladder_compute(&B, y2, in1, 1, 3000, 0.5f, 2);
    CHECK(same(y1, y2, 1));
    /* tick: per-sample parameters, unglided, as run in blocks of one */
    A = S, B = S;
    for (int i = 0; i < MAXB; i++) {
        float c = 200 + 20 * (float)i, r = (float)i / MAXB, d = 1 + (float)(i % 3);
        kn_ladder_run(&A, in1 + i, y1 + i, 1, c, r, d);
        y2[i] = kn_ladder_tick(&B, in1[i], c, r, d);
    }
    CHECK(same(y1, y2, MAXB));
    /* with parameters held, tick is compute sample by sample */
    A = S, B = S;
    kn_ladder_compute(&A, y1, in1, MAXB, 900, 0.7f, 3); /* glides to them */
    kn_ladder_compute(&B, y1, in1, MAXB, 900, 0.7f, 3);
    inputs(31, MAXB);
    kn_ladder_compute(&A, y1, in1, MAXB, 900, 0.7f, 3);
    for (int i = 0; i < MAXB; i++) y2[i] = kn_ladder_tick(&B, in1[i], 900, 0.7f, 3);
    CHECK(same(y1, y2, MAXB));
}

int main(void) {
    test_oscillators();
    test_noise();
    test_filters();
    test_envelopes();
    test_delays();
    test_stereo();
    test_helpers();
    test_clock_player();
    printf("%d nodes and helpers: old and new spellings bit-identical over %d blocks each\n",
           checked, NBLK);
    test_ladder();
    return check_report();
}
