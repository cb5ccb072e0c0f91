// link: nodes-c/env.c nodes-c/util.c nodes-c/clock.c
/*
 * test_nodes_env.c - envelopes, LFO, smoother, mix helpers and the clock.
 *
 *   - ADSR: the attack reaches 1 after exactly attack*rate samples; the
 *     decay is 60 dB of the way to the sustain after `decay`; the release
 *     60 dB down after `release`; gates are sample-accurate from a signal
 *     and block-accurate from kn_adsr_gate.
 *   - AR: a trigger restarts it; it ends silent.
 *   - LFO: period and shapes; the random shape is seeded (same seed, same
 *     values); kn_lfo_step equals running the block.
 *   - smoother: 60 dB in `time`; step == run's last value.
 *   - pan: equal power (L^2 + R^2 = gain^2), hard left/right.
 *   - clock: 120 bpm at 48 kHz ticks exactly every 24000 frames (div 1)
 *     and 6000 (div 4), whatever the block size; a copy of the state used
 *     from a later frame (a swap) gives the same ticks; a tempo change
 *     keeps the beat position continuous.
 */
#include <math.h>
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0

static float buf[96000], gate[96000];

/* First index at which x crosses below/above v, or -1. */
static int first_at_least(const float *x, int n, float v) {
    for (int i = 0; i < n; i++)
        if (x[i] >= v) return i;
    return -1;
}

static void test_adsr(void) {
    kn_adsr e;
    kn_adsr_init(&e, RATE);
    for (int i = 0; i < 96000; i++) gate[i] = i >= 100 && i < 48100; /* 1 s gate from 100 */
    for (int at = 0; at < 96000; at += 64)
        kn_adsr_run(&e, gate + at, buf + at, 64, 0.01f, 0.1f, 0.5f, 0.2f);
    CHECK(buf[99] == 0);
    CHECK(first_at_least(buf, 96000, 1.0f) == 100 + 480 - 1); /* 480 steps of 1/480 */
    /* decay: 0.1 s after the peak, (level - 0.5) is 1/1000 of 0.5 */
    double d = buf[579 + 4800] - 0.5;
    CHECK(fabs(d / 0.5 - 1e-3) < 1e-4);
    CHECK(fabs(buf[48099] - 0.5) < 1e-6);
    /* release: 60 dB down 0.2 s after the gate falls */
    double r = buf[48099 + 9600] / buf[48099];
    CHECK(fabs(20 * log10(r) + 60) < 0.1);
    CHECK(buf[95999] == 0 && e.stage == KN_ENV_IDLE);

    /* gate from the state, applied at the next block */
    kn_adsr_init(&e, RATE);
    kn_adsr_gate(&e, 1);
    kn_adsr_run(&e, NULL, buf, 64, 0, 0.1f, 0.7f, 0.1f);
    CHECK(buf[0] == 1.0f); /* zero attack: full at once */
    kn_adsr_gate(&e, 0);
    kn_adsr_run(&e, NULL, buf, 64, 0, 0.1f, 0.7f, 0.1f);
    CHECK(e.stage == KN_ENV_RELEASE && buf[63] < buf[0]);
}

static void test_ar(void) {
    kn_ar e;
    kn_ar_init(&e, RATE);
    memset(gate, 0, sizeof gate);
    gate[10] = 1, gate[20000] = 1;
    kn_ar_run(&e, gate, buf, 48000, 0.005f, 0.1f);
    CHECK(buf[9] == 0 && buf[10] > 0);
    CHECK(first_at_least(buf, 48000, 1.0f) == 10 + 240 - 1);
    CHECK(fabs(20 * log10(buf[249 + 4800] / buf[249]) + 60) < 0.1);
    CHECK(buf[19999] < 1e-5 && buf[20000] > 0); /* retriggered */
    kn_ar_init(&e, RATE);
    kn_ar_trigger(&e);
    kn_ar_run(&e, NULL, buf, 64, 0.001f, 0.01f);
    CHECK(buf[0] > 0);
}

static void test_lfo(void) {
    kn_lfo l;
    kn_lfo_init(&l, RATE, 0, 1);
    kn_lfo_run(&l, buf, 48000, 4, KN_LFO_SINE);
    double maxerr = 0;
    for (int i = 0; i < 48000; i++)
        maxerr = fmax(maxerr, fabs(buf[i] - sin(2 * M_PI * 4 * i / RATE)));
    CHECK(maxerr < 1e-5);
    kn_lfo_init(&l, RATE, 0, 1);
    kn_lfo_run(&l, buf, 12000, 1, KN_LFO_TRI);
    CHECK(fabs(buf[0]) < 1e-6 && fabs(buf[6000] - 0.5) < 1e-3 && fabs(buf[11999] - 1) < 1e-3);
    kn_lfo_init(&l, RATE, 0, 1);
    kn_lfo_run(&l, buf, 48000, 1, KN_LFO_SQUARE);
    CHECK(buf[0] == 1 && buf[23999] == 1 && buf[24001] == -1);
    /* random: seeded, a new value per cycle, in [-1, 1) */
    kn_lfo a, b;
    kn_lfo_init(&a, RATE, 0, 99), kn_lfo_init(&b, RATE, 0, 99);
    kn_lfo_run(&a, buf, 48000, 10, KN_LFO_RANDOM);
    int changes = 0, same = 1;
    for (int i = 1; i < 48000; i++) changes += buf[i] != buf[i - 1];
    for (int i = 0; i < 48000; i++) same &= kn_lfo_tick(&b, 10, KN_LFO_RANDOM) == buf[i];
    CHECK(changes == 9 || changes == 10);
    CHECK(same);
    /* step == the first value of a block run, and advances the same */
    kn_lfo_init(&a, RATE, 0.3, 5), kn_lfo_init(&b, RATE, 0.3, 5);
    for (int k = 0; k < 100; k++) {
        float v = kn_lfo_step(&a, 2.5f, KN_LFO_SAW, 64);
        kn_lfo_run(&b, buf, 64, 2.5f, KN_LFO_SAW);
        CHECK(fabs(v - buf[0]) < 1e-6);
    }
}

static void test_smoother_pan(void) {
    kn_smoother s;
    kn_smoother_init(&s, RATE, 0);
    kn_smoother_run(&s, buf, 4800, 1, 0.1f); /* 60 dB in 0.1 s = 4800 samples */
    CHECK(fabs((1 - buf[4799]) - 1e-3) < 1e-5);
    kn_smoother t;
    kn_smoother_init(&t, RATE, 0);
    float v = kn_smoother_step(&t, 1, 0.1f, 4800);
    CHECK(fabs(v - buf[4799]) < 1e-5);

    float in[64], l[64] = {0}, r[64] = {0};
    for (int i = 0; i < 64; i++) in[i] = 1;
    for (int k = -4; k <= 4; k++) {
        memset(l, 0, sizeof l), memset(r, 0, sizeof r);
        kn_pan(in, l, r, 64, k / 4.0f, 0.5f);
        CHECK(fabs(l[7] * l[7] + r[7] * r[7] - 0.25) < 1e-6);
    }
    memset(l, 0, sizeof l), memset(r, 0, sizeof r);
    kn_pan(in, l, r, 64, -1, 1);
    CHECK(fabs(l[0] - 1) < 1e-6 && fabs(r[0]) < 1e-6);
    kn_mix(in, l, 64, 0.5f);
    CHECK(fabs(l[0] - 1.5) < 1e-6);
    kn_mul(in, l, r, 64);
    CHECK(r[3] == l[3]);
    CHECK(fabs(kn_mtof(69) - 440) < 1e-3 && fabs(kn_mtof(81) - 880) < 1e-3);
    CHECK(fabs(kn_dbtoa(-6.0206f) - 0.5) < 1e-4 && fabs(kn_atodb(0.1f) + 20) < 1e-4);
}

/* Ticks over `frames` frames from `start` in blocks of `block`: collects
 * the frames where trig is 1. */
static int ticks(kn_clock *c, uint64_t start, int frames, int block, double bpm, double div,
                 uint64_t *at, int max) {
    int n = 0;
    float trig[4096];
    for (int done = 0; done < frames; done += block) {
        int b = frames - done < block ? frames - done : block;
        kn_clock_run(c, start + done, trig, NULL, b, bpm, div);
        for (int i = 0; i < b; i++)
            if (trig[i] && n < max) at[n++] = start + done + i;
    }
    return n;
}

static void test_clock(void) {
    uint64_t at[64];
    int blocks[] = {1, 64, 100, 4096};
    for (int k = 0; k < 4; k++) {
        kn_clock c;
        kn_clock_init(&c, RATE, 120);
        int n = ticks(&c, 0, 240000, blocks[k], 120, 1, at, 64);
        CHECK(n == 10);
        for (int i = 0; i < n; i++) CHECK(at[i] == (uint64_t)i * 24000);
        kn_clock_init(&c, RATE, 120);
        n = ticks(&c, 0, 48000, blocks[k], 120, 4, at, 64);
        CHECK(n == 8);
        for (int i = 0; i < n; i++) CHECK(at[i] == (uint64_t)i * 6000);
    }
    /* beat positions, steps and phase */
    kn_clock c;
    kn_clock_init(&c, RATE, 120);
    CHECK(kn_clock_beat(&c, 24000) == 1.0 && kn_clock_beat(&c, 36000) == 1.5);
    CHECK(kn_clock_step(&c, 23999, 4) == 3 && kn_clock_step(&c, 24000, 4) == 4);
    float ph[64];
    kn_clock_run(&c, 3000, NULL, ph, 64, 120, 1);
    CHECK(fabs(ph[0] - 0.125) < 1e-9);
    /* a swap: the next cartridge continues at an arbitrary frame, from a
     * copy of the state, and lands on the same grid */
    kn_clock d = c;
    int n = ticks(&d, 1000003, 48000, 64, 120, 1, at, 64);
    CHECK(n == 2 && at[0] == 1008000 && at[1] == 1032000);
    /* tempo change at frame 48000 (beat 2): continuous, then 60 bpm ticks
     * every 48000 frames */
    kn_clock_init(&c, RATE, 120);
    n = ticks(&c, 0, 48000, 64, 120, 1, at, 64);
    n = ticks(&c, 48000, 144000, 64, 60, 1, at, 64);
    CHECK(n == 3 && at[0] == 48000 && at[1] == 96000 && at[2] == 144000);
    CHECK(fabs(kn_clock_beat(&c, 48000) - 2) < 1e-12);
}

int main(void) {
    test_adsr();
    test_ar();
    test_lfo();
    test_smoother_pan();
    test_clock();
    return check_report();
}
