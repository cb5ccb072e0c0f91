// link: nodes-c/oscillator.c nodes-c/filter.c nodes-c/util.c nodes-c/bank.c
/*
 * test_bank.c - the 8-voice banks (kanon/bank.h) against the scalar nodes
 * they promise to equal, bit for bit.
 *
 *   - kn_sine8, kn_saw8: each voice's samples (and its double phase after
 *     every block) are exactly kn_sine's / kn_saw's with that voice's
 *     frequency, amplitude and start phase: 8 different frequencies
 *     (negative, 0, near and beyond Nyquist), start phases that wrap at
 *     once (0.9999999), frequencies changing every block, block sizes 1,
 *     63, 64, 65 and more (a chunk boundary inside a block, and not) and
 *     an empty block, each voice in its plane.
 *   - kn_svf8: each voice's output and its state (ic1, ic2, the stored
 *     coefficients) are exactly kn_svf's, with a different input, cutoff
 *     and q per voice, the cutoffs swept every block (the glide), q below
 *     0.5 and cutoffs outside 1 Hz .. 0.49 rate (clamped), every mode and
 *     switches between them (the low-pass shortcut on and off), in place
 *     and not, the same odd block sizes (blocks of 65, 129 and 200 frames
 *     cross the filter's 64-frame chunks mid-glide; sizes that are not a
 *     multiple of 8 leave a tail to its 8x8 transposes).
 *   - kn_bank_pan_stereo: exactly 8 kn_buf_pan_stereo calls, voice 0
 *     first, into a pair that already holds signal, pans out of range too;
 *     at every length 1..40 (every tail of its 32- and 8-frame steps),
 *     63..65, 200. The planes of a bank buffer are `frames` apart.
 *   - kn_sine8_pan: exactly 8 kn_sine voices added by kn_buf_pan_stereo
 *     in voice order (and the same phases after every block), at the
 *     oscillators' block sizes, into a pair that holds signal.
 *   - All of this three times: in the unit build (-O1, sanitizers), and in
 *     bank.c compiled here twice more with renamed functions at -O2 with
 *     vectorization, once for AVX2 and once with KN_SIMD empty (SSE2, the
 *     library's default build): simd_builds.h. Each is compared
 *     with the unit build's scalar nodes, which test_nodes_osc.c shows to
 *     equal theirs in every build. The two -O2 builds are skipped on a CPU
 *     without AVX2.
 */
#include <stdint.h>
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0
#define MAXF 200
#define B    KN_BANK

/* One build of the bank nodes. */
typedef struct {
    const char *name;
    void (*sine8_init)(kn_sine8 *, double, const double *);
    void (*sine8)(kn_sine8 *, float *, int, const float *, const float *);
    void (*saw8_init)(kn_saw8 *, double, const double *);
    void (*saw8)(kn_saw8 *, float *, int, const float *, const float *);
    void (*svf8_init)(kn_svf8 *, double);
    void (*svf8)(kn_svf8 *, float *, const float *, int, const float *, const float *, int);
    void (*pan)(float *, float *, const float *, int, const float *, const float *);
    void (*sine8_pan)(kn_sine8 *, float *, float *, int, const float *, const float *,
                      const float *, const float *);
} bank_build;

static const int lens[] = {1, 63, 64, 65, 1, 200, 7, 0, 64, 129, 2, 65, 64};
#define NLENS ((int)(sizeof lens / sizeof lens[0]))

static long compared; /* samples compared, for the report */

/* Bitwise: -0 and +0, or two NaNs, are not "the same samples". */
static int same_bits(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4), memcpy(&y, &b, 4);
    return x == y;
}

/* Voice v of a bank buffer (its plane, bank + v * n) equals the scalar
 * output, sample for sample. */
static int voice_equals(const float *bank, int v, const float *scalar, int n) {
    int ok = 1;
    for (int i = 0; i < n; i++) ok &= same_bits(bank[v * n + i], scalar[i]);
    compared += n;
    return ok;
}

/* A deterministic signal per voice, not round numbers. */
static float signal(int v, int i) {
    uint32_t h = (uint32_t)(v * 7919 + i) * 2654435761u;
    return (float)(h >> 8) / (float)(1 << 24) * 1.6f - 0.8f;
}

/* ---- oscillators ---- */

static const float freqs[B] = {440.0f, 27.5f, 1234.5f, -300.0f, 0.0f, 11025.3f, 23999.0f, 30000.0f};
static const float amps[B] = {1.0f, 0.5f, 0.123f, 0.7f, 1.0f, 0.01f, 0.9f, 0.33f};
static const double phases[B] = {0.0, 0.25, 0.9999999, 0.5, 0.1, 0.7, 0.33, 1.75};

/* shape 0: sine, 1: saw. Every block's frequencies differ from the last. */
static void test_osc(const bank_build *bb, int shape) {
    kn_phasor8 bank;
    kn_phasor one[B];
    static float bout[MAXF * B], sout[MAXF];
    (shape ? bb->saw8_init : bb->sine8_init)(&bank, RATE, phases);
    for (int v = 0; v < B; v++) kn_phasor_init(&one[v], RATE, phases[v]);
    int ok = 1;
    for (int v = 0; v < B; v++) ok &= bank.phase[v] == one[v].phase && bank.rate == one[v].rate;
    for (int b = 0; b < NLENS; b++) {
        int n = lens[b];
        float f[B];
        for (int v = 0; v < B; v++) f[v] = freqs[v] * (1.0f + 0.137f * (float)b);
        (shape ? bb->saw8 : bb->sine8)(&bank, bout, n, f, amps);
        for (int v = 0; v < B; v++) {
            if (shape)
                kn_saw_compute(&one[v], sout, n, f[v], amps[v]);
            else
                kn_sine_compute(&one[v], sout, n, f[v], amps[v]);
            ok &= voice_equals(bout, v, sout, n) && bank.phase[v] == one[v].phase;
        }
    }
    /* a bank with no start phases starts every voice at 0 */
    (shape ? bb->saw8_init : bb->sine8_init)(&bank, RATE, NULL);
    for (int v = 0; v < B; v++) ok &= bank.phase[v] == 0.0;
    printf("%s: %s8 voices == kn_%s: %s\n", bb->name, shape ? "saw" : "sine",
           shape ? "saw" : "sine", ok ? "bit-identical" : "DIFFER");
    CHECK(ok);
}

/* ---- state-variable filter ---- */

static const float cut0[B] = {200.0f, 1000.0f, 5000.0f, 0.5f, 30000.0f, 440.0f, 12000.0f, 80.0f};
static const float qs[B] = {0.707f, 4.0f, 0.5f, 2.0f, 0.3f, 20.0f, 1.0f, 8.0f};
/* Modes block by block: low-pass runs (the shortcut), a switch out and
 * back in (the first low-pass block after another mode is not a shortcut). */
static const int modes[NLENS] = {KN_LP, KN_LP, KN_LP,    KN_BP, KN_BP, KN_LP, KN_LP,
                                 KN_LP, KN_HP, KN_NOTCH, KN_LP, KN_LP, KN_HP};

static void test_svf(const bank_build *bb) {
    kn_svf8 bank;
    kn_svf one[B];
    static float bin[MAXF * B], bout[MAXF * B], sin_[MAXF], sout[MAXF];
    bb->svf8_init(&bank, RATE);
    for (int v = 0; v < B; v++) kn_svf_init(&one[v], RATE);
    int ok = bank.rate == RATE, t = 0;
    for (int b = 0; b < NLENS; t += lens[b], b++) {
        int n = lens[b], inplace = b % 3 == 1;
        float cut[B];
        for (int v = 0; v < B; v++) /* a sweep: every block's cutoff differs (glide) */
            cut[v] = cut0[v] * (1.0f + 0.5f * (float)((b * 5 + v) % 7) / 7.0f);
        for (int i = 0; i < n; i++)
            for (int v = 0; v < B; v++) bin[v * n + i] = signal(v, t + i);
        if (inplace) {
            memcpy(bout, bin, sizeof(float) * B * n);
            bb->svf8(&bank, bout, bout, n, cut, qs, modes[b]);
        } else {
            bb->svf8(&bank, bout, bin, n, cut, qs, modes[b]);
        }
        for (int v = 0; v < B; v++) {
            for (int i = 0; i < n; i++) sin_[i] = signal(v, t + i);
            if (inplace) {
                memcpy(sout, sin_, sizeof(float) * n);
                kn_svf_compute(&one[v], sout, sout, n, cut[v], qs[v], modes[b]);
            } else {
                kn_svf_compute(&one[v], sout, sin_, n, cut[v], qs[v], modes[b]);
            }
            ok &= voice_equals(bout, v, sout, n);
            ok &= bank.ic1[v] == one[v].ic1 && bank.ic2[v] == one[v].ic2;
            ok &= !memcmp(bank.c[v], one[v].c, sizeof one[v].c);
        }
    }
    printf("%s: svf8 voices == kn_svf (glide, every mode, in place): %s\n", bb->name,
           ok ? "bit-identical" : "DIFFER");
    CHECK(ok);
}

/* ---- mix ---- */

static const float pans[B] = {-1.0f, -0.75f, -0.3f, 0.0f, 0.123f, 0.5f, -3.0f, 2.0f};
static const float gains[B] = {1.0f, 0.5f, 0.25f, 0.9f, 1.3f, 0.0f, 0.7f, 0.01f};
/* Two stereo pairs: the bank adds into the first, the scalar nodes into
 * the second; both already hold signal (seed s). */
static float l1[MAXF], r1[MAXF], l2[MAXF], r2[MAXF];

static void pairs_fill(int s) {
    for (int i = 0; i < MAXF; i++) l1[i] = l2[i] = signal(s, i), r1[i] = r2[i] = signal(s + 1, i);
}

/* The pairs are the same bits, also past the n frames written (untouched). */
static int pairs_same(int n) {
    int ok = 1;
    for (int i = 0; i < MAXF; i++) ok &= same_bits(l1[i], l2[i]) && same_bits(r1[i], r2[i]);
    compared += 2 * n;
    return ok;
}

static void test_pan(const bank_build *bb) {
    static float in[MAXF * B];
    int ok = 1;
    for (int n = 1; n <= MAXF; n = n == 40 ? 63 : n == 65 ? MAXF : n + 1) {
        for (int v = 0; v < B; v++)
            for (int i = 0; i < n; i++) in[v * n + i] = signal(v, i);
        pairs_fill(11);
        bb->pan(l1, r1, in, n, pans, gains);
        for (int v = 0; v < B; v++) kn_buf_pan_stereo(l2, r2, in + v * n, n, pans[v], gains[v]);
        ok &= pairs_same(n);
    }
    printf("%s: bank_pan_stereo == 8 kn_buf_pan_stereo: %s\n", bb->name,
           ok ? "bit-identical" : "DIFFER");
    CHECK(ok);
}

/* kn_sine8_pan: exactly 8 kn_sine voices, each added by kn_buf_pan_stereo
 * in voice order, into a pair that holds signal; every block's
 * frequencies differ, the block sizes cross the 64-frame phase chunks. */
static void test_sine_pan(const bank_build *bb) {
    static float sout[MAXF];
    kn_sine8 bank;
    kn_phasor one[B];
    bb->sine8_init(&bank, RATE, phases);
    for (int v = 0; v < B; v++) kn_phasor_init(&one[v], RATE, phases[v]);
    int ok = 1;
    for (int b = 0; b < NLENS; b++) {
        int n = lens[b];
        float f[B];
        for (int v = 0; v < B; v++) f[v] = freqs[v] * (1.0f + 0.137f * (float)b);
        pairs_fill(11 + b);
        bb->sine8_pan(&bank, l1, r1, n, f, amps, pans, gains);
        for (int v = 0; v < B; v++) {
            kn_sine_compute(&one[v], sout, n, f[v], amps[v]);
            kn_buf_pan_stereo(l2, r2, sout, n, pans[v], gains[v]);
            ok &= bank.phase[v] == one[v].phase;
        }
        ok &= pairs_same(n);
    }
    printf("%s: sine8_pan == 8 kn_sine + kn_buf_pan_stereo: %s\n", bb->name,
           ok ? "bit-identical" : "DIFFER");
    CHECK(ok);
}

static void test_build(const bank_build *bb) {
    test_osc(bb, 0);
    test_osc(bb, 1);
    test_svf(bb);
    test_pan(bb);
    test_sine_pan(bb);
}

/* ---- bank.c twice more, renamed, at -O2: AVX2 and SSE2 (simd_builds.h) ---- */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_CLONES        1
#define kn_sine8_init      PFX(sine8_init)
#define kn_sine8_compute   PFX(sine8_compute)
#define kn_saw8_init       PFX(saw8_init)
#define kn_saw8_compute    PFX(saw8_compute)
#define kn_svf8_init       PFX(svf8_init)
#define kn_svf8_compute    PFX(svf8_compute)
#define kn_bank_pan_stereo PFX(bank_pan_stereo)
#define kn_sine8_pan       PFX(sine8_pan)
#define frac8              PFX(frac8)
#define sin_shifted8       PFX(sin_shifted8)
#define svf4               PFX(svf4)
#define svf4_gather        PFX(svf4_gather)
#define svf4_scatter       PFX(svf4_scatter)
#define svf4_step          PFX(svf4_step)
#define svf4_step_lp       PFX(svf4_step_lp)
#define transpose8         PFX(transpose8)
#define to_frames          PFX(to_frames)
#define to_planes          PFX(to_planes)
#define SIMD_BUILDS_SRC    "../../nodes-c/bank.c"
#include "simd_builds.h"
#undef kn_sine8_init
#undef kn_sine8_compute
#undef kn_saw8_init
#undef kn_saw8_compute
#undef kn_svf8_init
#undef kn_svf8_compute
#undef kn_bank_pan_stereo
#undef kn_sine8_pan
#endif

int main(void) {
    static const bank_build unit = {"unit build",    kn_sine8_init,      kn_sine8_compute,
                                    kn_saw8_init,    kn_saw8_compute,    kn_svf8_init,
                                    kn_svf8_compute, kn_bank_pan_stereo, kn_sine8_pan};
    test_build(&unit);
#ifdef HAVE_CLONES
    if (__builtin_cpu_supports("avx2")) {
        static const bank_build avx2 = {"AVX2 -O2",        avx2_sine8_init,      avx2_sine8_compute,
                                        avx2_saw8_init,    avx2_saw8_compute,    avx2_svf8_init,
                                        avx2_svf8_compute, avx2_bank_pan_stereo, avx2_sine8_pan};
        static const bank_build sse2 = {"SSE2 -O2",        sse2_sine8_init,      sse2_sine8_compute,
                                        sse2_saw8_init,    sse2_saw8_compute,    sse2_svf8_init,
                                        sse2_svf8_compute, sse2_bank_pan_stereo, sse2_sine8_pan};
        test_build(&avx2);
        test_build(&sse2);
    } else {
        printf("AVX2 and SSE2 -O2 builds: skipped, this CPU has no AVX2\n");
    }
#endif
    printf("%ld samples compared\n", compared);
    return check_report();
}
