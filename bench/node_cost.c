/*
 * node_cost.c - cost of every nodes-c node in ns per sample (per output
 * frame), linked against the real build/lib/libkanon-nodes.so. Built and
 * run by scripts/bench_nodes.py:
 *   gcc -O2 -Icartridge/include -Inodes-c/include bench/node_cost.c \
 *       -Lbuild/lib -lkanon-nodes -Wl,-rpath,build/lib -lm
 * Each node renders blocks of 64 frames at 48 kHz, with parameters
 * changing every block where the node ramps them (so the ramps are paid
 * for); the figure is the best of 5 runs of 2 s of audio (the minimum
 * filters out interruptions on a shared machine). Prints "name ns" lines.
 * The 8-voice banks (kanon/bank.h) print ns per voice-sample (a block's
 * time over frames * 8), to compare with their scalar nodes.
 */
#define _POSIX_C_SOURCE 200809L
#include <kanon/nodes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE   48000.0
#define BLOCK  64
#define BLOCKS (2 * 48000 / BLOCK)

/* kn_sample_load is not measured, but the library refers to kn_state. */
void *kn_state(kn_ctx *k, const char *name, size_t bytes) {
    (void)k, (void)name;
    return calloc(1, bytes);
}

static float in[BLOCK], in2[BLOCK], out[BLOCK], out2[BLOCK];
static float bank_in[BLOCK * KN_BANK], bank_out[BLOCK * KN_BANK];
static double sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Runs body for BLOCKS blocks (b = block index), 5 times; prints the
 * best, per sample of `per` voices. */
#define MEASURE(name, setup, body) MEASURE_PER(name, 1, setup, body)
#define MEASURE_PER(name, per, setup, body)                                                        \
    do {                                                                                           \
        double best = 1e9;                                                                         \
        for (int rep = 0; rep < 5; rep++) {                                                        \
            setup;                                                                                 \
            double t0 = now();                                                                     \
            for (int b = 0; b < BLOCKS; b++) {                                                     \
                body;                                                                              \
                sink += out[b & (BLOCK - 1)];                                                      \
            }                                                                                      \
            double dt = now() - t0;                                                                \
            if (dt < best) best = dt;                                                              \
        }                                                                                          \
        printf("%s %.3f\n", name, best * 1e9 / ((double)BLOCKS * BLOCK * (per)));                  \
        fflush(stdout);                                                                            \
    } while (0)

/* One block of a 32-voice allocator's work, all voices held: a note on
 * (stealing the quietest), a note off, and each voice read and reported
 * as a synth's process() does. */
static void voices_block(kn_voices *vc, int b) {
    kn_voices_note_on(vc, 30 + b % 64, 100, 0);
    kn_voices_note_off(vc, 30 + (b + 32) % 64, 0);
    for (int v = 0; v < KN_VOICES_MAX; v++) {
        if (!kn_voices_active(vc, v)) continue;
        out[v] = (float)(kn_voices_started(vc, v) + kn_voices_gate(vc, v) + kn_voices_note(vc, v));
        kn_voices_level(vc, v, 0.5f + (float)((b + v) & 7) * 0.01f);
    }
}

static void voices_fill(kn_voices *vc) {
    kn_voices_init(vc, RATE, KN_VOICES_MAX, KN_VOICES_POLY, KN_STEAL_QUIETEST);
    for (int i = 0; i < KN_VOICES_MAX; i++) kn_voices_note_on(vc, 30 + i, 100, 0);
}

/* The banks, per voice-sample; "8x scalar" is the same work done by 8
 * scalar nodes one after another, for comparison in the same run. */
static void bank_costs(void) {
    static kn_sine8 s8;
    static kn_svf8 f8;
    static kn_phasor ph[KN_BANK];
    static kn_svf sv[KN_BANK];
    float freq[KN_BANK], amp[KN_BANK], cut[KN_BANK], q[KN_BANK], pan[KN_BANK];
    for (int v = 0; v < KN_BANK; v++) {
        freq[v] = 110.0f + 37.0f * v, amp[v] = 0.125f, q[v] = 4, pan[v] = -1 + 2 * v / 7.0f;
        cut[v] = 500.0f + 100.0f * v;
    }
    for (int i = 0; i < BLOCK * KN_BANK; i++) bank_in[i] = in[i % BLOCK];
/* An oscillator bank, then the same 8 voices as scalar nodes. */
#define BANK_OSC(X)                                                                                \
    MEASURE_PER(#X "8 (per voice)", KN_BANK, kn_##X##8_init(&s8, RATE, NULL),                      \
                kn_##X##8_compute(&s8, bank_out, BLOCK, freq, amp));                               \
    MEASURE_PER(#X " 8x scalar (per voice)", KN_BANK,                                              \
                for (int v = 0; v < KN_BANK; v++) kn_##X##_init(&ph[v], RATE, 0),                  \
                for (int v = 0; v < KN_BANK; v++)                                                  \
                    kn_##X##_compute(&ph[v], bank_out + v * BLOCK, BLOCK, freq[v], amp[v]))
    BANK_OSC(sine);
    BANK_OSC(saw);
    MEASURE_PER(
        "svf8 LP (per voice)", KN_BANK, kn_svf8_init(&f8, RATE),
        (cut[0] = 500 + (b & 255), kn_svf8_compute(&f8, bank_out, bank_in, BLOCK, cut, q, KN_LP)));
    MEASURE_PER(
        "svf8 BP (per voice)", KN_BANK, kn_svf8_init(&f8, RATE),
        (cut[0] = 500 + (b & 255), kn_svf8_compute(&f8, bank_out, bank_in, BLOCK, cut, q, KN_BP)));
    MEASURE_PER("svf 8x scalar (per voice)", KN_BANK,
                for (int v = 0; v < KN_BANK; v++) kn_svf_init(&sv[v], RATE),
                for (int v = 0; v < KN_BANK; v++) kn_svf_compute(
                    &sv[v], bank_out + v * BLOCK, in, BLOCK, cut[v] + (b & 255), 4, KN_LP));
    MEASURE_PER("sine8_pan (stereo, per voice)", KN_BANK, kn_sine8_init(&s8, RATE, NULL),
                kn_sine8_pan(&s8, out, out2, BLOCK, freq, amp, pan, amp));
    MEASURE_PER("sine8 + bank_pan (stereo, per voice)", KN_BANK, kn_sine8_init(&s8, RATE, NULL),
                (kn_sine8_compute(&s8, bank_out, BLOCK, freq, amp),
                 kn_bank_pan_stereo(out, out2, bank_out, BLOCK, pan, amp)));
    MEASURE_PER("bank_pan (stereo, per voice)", KN_BANK, (void)0,
                kn_bank_pan_stereo(out, out2, bank_in, BLOCK, pan, amp));
    MEASURE_PER("pan 8x scalar (stereo, per voice)", KN_BANK, (void)0,
                for (int v = 0; v < KN_BANK; v++)
                    kn_buf_pan_stereo(out, out2, bank_in + v * BLOCK, BLOCK, pan[v], amp[v]));
}

int main(void) {
    kn_noise nz;
    kn_noise_init(&nz, 1);
    kn_noise_run(&nz, in, BLOCK, 0.5f);
    kn_noise_run(&nz, in2, BLOCK, 0.5f);
    static kn_phasor ph;
    static kn_wtable wt;
    static kn_pink pk;
    static kn_onepole op;
    static kn_svf sv;
    static kn_biquad bq;
    static kn_ladder ld;
    static kn_adsr ad;
    static kn_ar ar;
    static kn_lfo lf;
    static kn_delay dl;
    static kn_comb cb;
    static kn_allpass ap;
    static kn_reverb rv;
    static kn_chorus ch;
    static kn_comp cp;
    static kn_limiter lm;
    static kn_smoother sm;
    static kn_clock ck;
    static kn_player pl;
    float amps[64];
    for (int h = 0; h < 64; h++) amps[h] = 1.0f / (h + 1);
    kn_wtable_harmonics(&wt, amps, 64);
    float gate[BLOCK];
    for (int i = 0; i < BLOCK; i++) gate[i] = i < 32;

    MEASURE("phasor", kn_phasor_init(&ph, RATE, 0), kn_phasor_run(&ph, out, BLOCK, 440));
    MEASURE("sine", kn_sine_init(&ph, RATE, 0), kn_sine_run(&ph, out, BLOCK, 440, 1));
    MEASURE("saw", kn_saw_init(&ph, RATE, 0), kn_saw_run(&ph, out, BLOCK, 440, 1));
    MEASURE("square", kn_square_init(&ph, RATE, 0), kn_square_run(&ph, out, BLOCK, 440, 0.3f, 1));
    MEASURE("tri", kn_tri_init(&ph, RATE, 0), kn_tri_run(&ph, out, BLOCK, 440, 1));
    MEASURE("wt", kn_wt_init(&ph, RATE, 0), kn_wt_run(&ph, &wt, out, BLOCK, 440, 1));
    MEASURE("sine_tick", kn_sine_init(&ph, RATE, 0),
            for (int i = 0; i < BLOCK; i++) out[i] = kn_sine_tick(&ph, 440));
    MEASURE("noise", kn_noise_init(&nz, 7), kn_noise_run(&nz, out, BLOCK, 1));
    MEASURE("pink", kn_pink_init(&pk, 7), kn_pink_run(&pk, out, BLOCK, 1));
    MEASURE("onepole", kn_onepole_init(&op, RATE),
            kn_onepole_run(&op, in, out, BLOCK, 500 + (b & 255), KN_LP));
    MEASURE("svf", kn_svf_init(&sv, RATE),
            kn_svf_run(&sv, in, out, BLOCK, 500 + (b & 255), 4, KN_LP));
    MEASURE("biquad", (kn_biquad_init(&bq, RATE), kn_biquad_set(&bq, KN_BQ_LP, 1000, 0.7f, 0)),
            kn_biquad_run(&bq, in, out, BLOCK));
    MEASURE("biquad+set", kn_biquad_init(&bq, RATE),
            (kn_biquad_set(&bq, KN_BQ_PEAK, 500 + (b & 255), 2, 6),
             kn_biquad_run(&bq, in, out, BLOCK)));
    MEASURE("ladder", kn_ladder_init(&ld, RATE),
            kn_ladder_run(&ld, in, out, BLOCK, 500 + (b & 255), 0.5f, 1));
    MEASURE("adsr", kn_adsr_init(&ad, RATE),
            kn_adsr_run(&ad, gate, out, BLOCK, 0.01f, 0.1f, 0.5f, 0.2f));
    MEASURE("ar", kn_ar_init(&ar, RATE), kn_ar_run(&ar, gate, out, BLOCK, 0.01f, 0.2f));
    MEASURE("lfo", kn_lfo_init(&lf, RATE, 0, 1), kn_lfo_run(&lf, out, BLOCK, 3, KN_LFO_SINE));
    MEASURE("delay", kn_delay_init(&dl),
            kn_delay_run(&dl, in, out, BLOCK, 1000.5f + (b & 1), 0.5f));
    MEASURE("comb", kn_comb_init(&cb), kn_comb_run(&cb, in, out, BLOCK, 1000.5f, 0.8f, 0.3f));
    MEASURE("allpass", kn_allpass_init(&ap), kn_allpass_run(&ap, in, out, BLOCK, 500.5f, 0.6f));
    MEASURE("chorus", kn_chorus_init(&ch, RATE, 0),
            kn_chorus_run(&ch, in, out, BLOCK, 0.5f, 3, 15, 0.2f, 0.5f));
    MEASURE("reverb (stereo)", kn_reverb_init(&rv, RATE),
            kn_reverb_run(&rv, in, in2, out, out2, BLOCK, 2.0f, 0.3f, 0.3f));
    MEASURE("comp", kn_comp_init(&cp, RATE, 6),
            kn_comp_run(&cp, in, out, BLOCK, -20, 4, 5, 100, 0));
    MEASURE("comp (stereo)", kn_comp_init(&cp, RATE, 6),
            kn_comp_run2(&cp, in, in2, out, out2, BLOCK, -20, 4, 5, 100, 0));
    MEASURE("limiter", kn_limiter_init(&lm, RATE, 2), kn_limiter_run(&lm, in, out, BLOCK, -6, 50));
    MEASURE("limiter (stereo)", kn_limiter_init(&lm, RATE, 2),
            kn_limiter_run2(&lm, in, in2, out, out2, BLOCK, -6, 50));
    MEASURE("tanh", (void)0, kn_tanh_run(in, out, BLOCK, 3));
    MEASURE("fold", (void)0, kn_fold_run(in, out, BLOCK, 3));
    MEASURE("gain", (void)0, kn_gain(in, out, BLOCK, 0.5f));
    MEASURE("mix", (void)0, kn_mix(in, out, BLOCK, 0.5f));
    MEASURE("mul", (void)0, kn_mul(in, in2, out, BLOCK));
    MEASURE("pan (stereo)", (void)0, kn_pan(in, out, out2, BLOCK, 0.3f, 0.5f));
    MEASURE("smoother", kn_smoother_init(&sm, RATE, 0),
            kn_smoother_run(&sm, out, BLOCK, (float)(b & 1), 0.05f));
    MEASURE("clock", kn_clock_init(&ck, RATE, 120),
            kn_clock_run(&ck, (uint64_t)b * BLOCK, out, out2, BLOCK, 120, 4));
    /* a 1 s sample held in memory like a loaded one */
    static struct {
        kn_sample h;
        float d[48000 * 2];
    } smp;
    smp.h.magic = KN_SAMPLE_MAGIC, smp.h.channels = 2, smp.h.frames = 48000, smp.h.rate = RATE;
    for (int i = 0; i < 96000; i++) smp.h.data[i] = (float)((i * 7919) % 2000) / 1000.0f - 1.0f;
    MEASURE("player (stereo)", (kn_player_init(&pl, 1), kn_player_trigger(&pl)),
            kn_player_run(&pl, &smp.h, NULL, out, out2, BLOCK, 1.2345f, 1));
    static kn_voices vc;
    MEASURE("voices (32 held: a stealing note on, a note off and 32 voices read per block)",
            voices_fill(&vc), voices_block(&vc, b));
    bank_costs();
    fprintf(stderr, "(sink %g)\n", sink);
    return 0;
}
