// link: nodes-c/oscillator.c nodes-c/noise.c
/*
 * test_nodes_osc.c - nodes-c oscillators and noise against references.
 *
 *   - phasor/sine: the phase after any sequence of block sizes equals the
 *     double-precision frac(n f / rate); the sine matches libm's sin to
 *     1e-6 (kn_sine_of too); run and tick agree.
 *   - saw, square, triangle: the fundamental is at the asked frequency with
 *     the analytic amplitude; the aliased power (everything not on a
 *     harmonic) is far below a naive oscillator's at the same frequency.
 *   - wavetable: a 1/h table plays at the right pitch with no aliasing
 *     (every harmonic above Nyquist dropped by the mip level).
 *   - noise: a seed gives the same samples every time; white is uniform
 *     with zero mean; pink falls 3 dB per octave.
 *   - AVX2 == SSE2: oscillator.c is compiled here twice more with renamed
 *     functions, for AVX2 and for SSE2 only, vectorized at -O2 as the
 *     library is (see test_nodes_util.c); every vector loop (phasor, sine,
 *     sine of a phase, saw, square, triangle, wavetable) gives the same
 *     samples in both and in the library's own build, at every tail
 *     length. Skipped without AVX2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

#define RATE 48000.0
#define N    32768 /* analysis length, a power of two */

/* In-place radix-2 FFT. */
static void fft(double *re, double *im, int n) {
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j |= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j], re[j] = t, t = im[i], im[i] = im[j], im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double a = -2 * M_PI / len;
        for (int i = 0; i < n; i += len)
            for (int k = 0; k < len / 2; k++) {
                double wr = cos(a * k), wi = sin(a * k);
                int p = i + k, q = p + len / 2;
                double xr = re[q] * wr - im[q] * wi, xi = re[q] * wi + im[q] * wr;
                re[q] = re[p] - xr, im[q] = im[p] - xi, re[p] += xr, im[p] += xi;
            }
    }
}

/* Power spectrum (Blackman-Harris window, side lobes < -92 dB) of x[N]. */
static void spectrum(const float *x, double *pw) {
    static double re[N], im[N];
    for (int i = 0; i < N; i++) {
        double t = 2 * M_PI * i / N;
        double w = 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) - 0.01168 * cos(3 * t);
        re[i] = x[i] * w, im[i] = 0;
    }
    fft(re, im, N);
    for (int i = 0; i <= N / 2; i++) pw[i] = re[i] * re[i] + im[i] * im[i];
}

/* Power on the harmonics of f (within 4 bins) and everywhere else (the
 * aliases, as a ratio in dB to the harmonic power). */
static double alias_db(const float *x, double f) {
    static double pw[N / 2 + 1];
    spectrum(x, pw);
    double harm = 0, alias = 0;
    for (int i = 1; i <= N / 2; i++) {
        double fi = i * RATE / N, h = floor(fi / f + 0.5);
        double dist = fabs(fi - h * f) / (RATE / N);
        if (h >= 1 && h * f < RATE / 2 && dist <= 4)
            harm += pw[i];
        else
            alias += pw[i];
    }
    return 10 * log10(alias / harm);
}

/* Amplitude of the component at f (integer cycles not needed: long window). */
static double amp_at(const float *x, int n, double f) {
    double s = 0, c = 0;
    for (int i = 0; i < n; i++) {
        double w = 0.5 - 0.5 * cos(2 * M_PI * i / n); /* Hann, gain 1/2 */
        s += x[i] * w * sin(2 * M_PI * f * i / RATE), c += x[i] * w * cos(2 * M_PI * f * i / RATE);
    }
    return 2 * sqrt(s * s + c * c) / (n * 0.5);
}

static float buf[N], ref[N];

/* Runs a generator over N samples in blocks of varying size (1..97). */
#define RUN_BLOCKS(call)                                                                           \
    for (int at = 0, bs = 1; at < N; at += bs, bs = bs % 97 + 13) {                                \
        if (bs > N - at) bs = N - at;                                                              \
        float *out = buf + at;                                                                     \
        int frames = bs;                                                                           \
        call;                                                                                      \
    }

static void test_phasor_sine(void) {
    kn_phasor ph;
    kn_phasor_init(&ph, RATE, 0.1);
    RUN_BLOCKS(kn_phasor_run(&ph, out, frames, 1234.5f));
    double expect = fmod(0.1 + N * (double)1234.5f / RATE, 1.0);
    CHECK(fabs(ph.phase - expect) < 1e-9);
    double maxerr = 0;
    for (int i = 0; i < N; i++) {
        double e = fabs(buf[i] - fmod(0.1 + i * (double)1234.5f / RATE, 1.0));
        if (e > 0.5) e = 1 - e; /* across the wrap */
        if (e > maxerr) maxerr = e;
    }
    CHECK(maxerr < 1e-5);

    kn_sine s;
    kn_sine_init(&s, RATE, 0);
    RUN_BLOCKS(kn_sine_run(&s, out, frames, 440.0f, 0.5f));
    maxerr = 0;
    for (int i = 0; i < N; i++) {
        double e = fabs(buf[i] - 0.5 * sin(2 * M_PI * (double)440.0f * i / RATE));
        if (e > maxerr) maxerr = e;
    }
    printf("sine: max error %.2g\n", maxerr);
    CHECK(maxerr < 1e-6);

    kn_sine t;
    kn_sine_init(&t, RATE, 0);
    maxerr = 0;
    for (int i = 0; i < 4800; i++) {
        double e = fabs(kn_sine_tick(&t, 440.0f) - 2 * buf[i]);
        if (e > maxerr) maxerr = e;
    }
    CHECK(maxerr < 1e-5);

    for (int i = 0; i < 1000; i++) ref[i] = (float)(i * 0.0123 - 3.3);
    kn_sine_of(ref, buf, 1000);
    maxerr = 0;
    for (int i = 0; i < 1000; i++) {
        double e = fabs(buf[i] - sin(2 * M_PI * ref[i]));
        if (e > maxerr) maxerr = e;
    }
    CHECK(maxerr < 1e-6);
}

/* Naive references, double precision. */
static void naive(int shape, double f, float *x) {
    for (int i = 0; i < N; i++) {
        double t = fmod(i * f / RATE, 1.0);
        x[i] = (float)(shape == 0   ? 2 * t - 1
                       : shape == 1 ? (t < 0.5 ? 1 : -1)
                                    : 1 - 4 * fabs(fmod(t + 0.25, 1.0) - 0.5));
    }
}

static void test_blep(void) {
    const double f = 1234.5; /* not a divisor of the rate: aliases fall between harmonics */
    const char *name[3] = {"saw", "square", "triangle"};
    /* analytic fundamental amplitudes: 2/pi, 4/pi, 8/pi^2 */
    const double fund[3] = {2 / M_PI, 4 / M_PI, 8 / (M_PI * M_PI)};
    for (int shape = 0; shape < 3; shape++) {
        kn_phasor o;
        kn_phasor_init(&o, RATE, 0);
        if (shape == 0) RUN_BLOCKS(kn_saw_run(&o, out, frames, (float)f, 1));
        if (shape == 1) RUN_BLOCKS(kn_square_run(&o, out, frames, (float)f, 0.5f, 1));
        if (shape == 2) RUN_BLOCKS(kn_tri_run(&o, out, frames, (float)f, 1));
        double a = amp_at(buf, N, f), blep = alias_db(buf, f);
        naive(shape, f, ref);
        double plain = alias_db(ref, f);
        printf("%s: fundamental %.4f (expect %.4f), aliases %.1f dB (naive %.1f dB)\n", name[shape],
               a, fund[shape], blep, plain);
        CHECK(fabs(a - fund[shape]) < 0.01 * fund[shape]);
        /* a 2-point polyBLEP removes ~16 dB of alias power overall (far
         * more at low alias frequencies; least near Nyquist) */
        CHECK(blep < plain - (shape == 2 ? 10 : 14));
        CHECK(blep < (shape == 2 ? -57 : -28));
    }
    /* ticks agree with blocks */
    kn_saw a, b;
    kn_saw_init(&a, RATE, 0.3), kn_saw_init(&b, RATE, 0.3);
    kn_saw_run(&a, buf, 500, 3000, 1);
    double maxerr = 0;
    for (int i = 0; i < 500; i++) maxerr = fmax(maxerr, fabs(kn_saw_tick(&b, 3000) - buf[i]));
    CHECK(maxerr < 1e-4);
    /* pulse width: mean = 2w - 1 */
    kn_square q;
    kn_square_init(&q, RATE, 0);
    kn_square_run(&q, buf, N, 187.5f, 0.25f, 1); /* 256-sample period: whole cycles */
    double mean = 0;
    for (int i = 0; i < N; i++) mean += buf[i] / N;
    CHECK(fabs(mean - (-0.5)) < 1e-3);
}

static void test_wavetable(void) {
    static kn_wtable t;
    float amps[512];
    for (int h = 0; h < 512; h++) amps[h] = 1.0f / (h + 1); /* a saw's series */
    kn_wtable_harmonics(&t, amps, 512);
    CHECK(t.ready);
    const double f = 1234.5;
    kn_wt o;
    kn_wt_init(&o, RATE, 0);
    RUN_BLOCKS(kn_wt_run(&o, &t, out, frames, (float)f, 1));
    double a = amp_at(buf, N, f), al = alias_db(buf, f);
    printf("wavetable: fundamental %.4f (expect 1), aliases %.1f dB\n", a, al);
    CHECK(fabs(a - 1) < 0.01);
    CHECK(al < -70);
    /* from a wave: one cycle of a sine, 100 samples long, is one harmonic */
    float cyc[100];
    for (int i = 0; i < 100; i++) cyc[i] = (float)sin(2 * M_PI * i / 100);
    kn_wtable_wave(&t, cyc, 100);
    kn_wt_init(&o, RATE, 0);
    kn_wt_run(&o, &t, buf, 4800, 480, 1);
    double maxerr = 0;
    for (int i = 0; i < 4800; i++)
        maxerr = fmax(maxerr, fabs(buf[i] - sin(2 * M_PI * 480 * i / RATE)));
    printf("wavetable from a sine cycle: max error %.2g\n", maxerr);
    CHECK(maxerr < 1e-4);
}

static void test_noise(void) {
    kn_noise a, b;
    kn_noise_init(&a, 42), kn_noise_init(&b, 42);
    kn_noise_run(&a, buf, N, 1);
    kn_noise_run(&b, ref, N, 1);
    CHECK(!memcmp(buf, ref, sizeof buf));
    kn_noise_init(&b, 43);
    kn_noise_run(&b, ref, N, 1);
    CHECK(memcmp(buf, ref, sizeof buf) != 0);
    double mean = 0, var = 0, lo = 1, hi = -1;
    for (int i = 0; i < N; i++) {
        mean += buf[i] / N, var += buf[i] * (double)buf[i] / N;
        lo = fmin(lo, buf[i]), hi = fmax(hi, buf[i]);
    }
    CHECK(fabs(mean) < 0.02);
    CHECK(fabs(var - 1.0 / 3) < 0.01); /* uniform on [-1, 1) */
    CHECK(lo >= -1 && hi < 1 && lo < -0.99 && hi > 0.99);

    /* pink: average power spectrum of 16 segments, octave bands from
     * 100 Hz to 12.8 kHz fall 3 dB per octave */
    kn_pink p;
    kn_pink_init(&p, 7);
    static double pw[N / 2 + 1], acc[N / 2 + 1];
    for (int seg = 0; seg < 16; seg++) {
        kn_pink_run(&p, buf, N, 1);
        spectrum(buf, pw);
        for (int i = 0; i <= N / 2; i++) acc[i] += pw[i];
    }
    double prev = 0;
    for (int oct = 0; oct < 7; oct++) {
        double f0 = 100 * pow(2, oct), sum = 0;
        int n = 0;
        for (int i = (int)(f0 * N / RATE); i < (int)(2 * f0 * N / RATE); i++) sum += acc[i], n++;
        double db = 10 * log10(sum / n); /* power density */
        if (oct) {
            printf("pink: %5.0f Hz octave %+.2f dB\n", f0, db - prev);
            CHECK(fabs(db - prev + 3.0) < 0.6);
        }
        prev = db;
    }
}

/* ---- AVX2 vs SSE2: oscillator.c twice more, renamed (as test_nodes_util.c) ---- */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_CLONES 1
/* The names oscillator.c defines, its static ones too; the prefix is set
 * before each include. */
#define kn_phasor_init       PFX(phasor_init)
#define kn_phasor_compute    PFX(phasor_compute)
#define kn_phasor_compute_fm PFX(phasor_compute_fm)
#define kn_phasor_tick       PFX(phasor_tick)
#define kn_sine_init         PFX(sine_init)
#define kn_sine_compute      PFX(sine_compute)
#define kn_sine_tick         PFX(sine_tick)
#define kn_sine_of_phase     PFX(sine_of_phase)
#define kn_saw_init          PFX(saw_init)
#define kn_saw_compute       PFX(saw_compute)
#define kn_saw_tick          PFX(saw_tick)
#define kn_square_init       PFX(square_init)
#define kn_square_compute    PFX(square_compute)
#define kn_square_tick       PFX(square_tick)
#define kn_tri_init          PFX(tri_init)
#define kn_tri_compute       PFX(tri_compute)
#define kn_tri_tick          PFX(tri_tick)
#define kn_wtable_harmonics  PFX(wtable_harmonics)
#define kn_wtable_wave       PFX(wtable_wave)
#define kn_wt_init           PFX(wt_init)
#define kn_wt_compute        PFX(wt_compute)
#define kn_wt_tick           PFX(wt_tick)
#define kn_phasor_run        PFX(phasor_run)
#define kn_phasor_run_fm     PFX(phasor_run_fm)
#define kn_sine_run          PFX(sine_run)
#define kn_sine_of           PFX(sine_of)
#define kn_saw_run           PFX(saw_run)
#define kn_square_run        PFX(square_run)
#define kn_tri_run           PFX(tri_run)
#define kn_wt_run            PFX(wt_run)
#define increment            PFX(increment)
#define advance              PFX(advance)
#define blep_down            PFX(blep_down)
#define blep_dt              PFX(blep_dt)
#define pos_increment        PFX(pos_increment)
#define pulse                PFX(pulse)
#define pulse_width          PFX(pulse_width)
#define triangle             PFX(triangle)
#define fft                  PFX(fft)
#define build_levels         PFX(build_levels)
#define wt_lookup            PFX(wt_lookup)
#define wt_level             PFX(wt_level)
#define SIMD_BUILDS_SRC      "../../nodes-c/oscillator.c"
#include "simd_builds.h"
/* from here on the names are the library's again */
#undef kn_phasor_init
#undef kn_phasor_compute
#undef kn_phasor_compute_fm
#undef kn_phasor_tick
#undef kn_sine_init
#undef kn_sine_compute
#undef kn_sine_tick
#undef kn_sine_of_phase
#undef kn_saw_init
#undef kn_saw_compute
#undef kn_saw_tick
#undef kn_square_init
#undef kn_square_compute
#undef kn_square_tick
#undef kn_tri_init
#undef kn_tri_compute
#undef kn_tri_tick
#undef kn_wtable_harmonics
#undef kn_wtable_wave
#undef kn_wt_init
#undef kn_wt_compute
#undef kn_wt_tick
#undef kn_phasor_run
#undef kn_phasor_run_fm
#undef kn_sine_run
#undef kn_sine_of
#undef kn_saw_run
#undef kn_square_run
#undef kn_tri_run
#undef kn_wt_run
#undef increment
#undef advance
#undef blep_down
#undef blep_dt
#undef pos_increment
#undef pulse
#undef pulse_width
#undef triangle
#undef fft
#undef build_levels
#undef wt_lookup
#undef wt_level
#endif

static void test_avx2_sse2(void) {
#ifdef HAVE_CLONES
    if (!__builtin_cpu_supports("avx2")) {
        printf("AVX2 vs SSE2: skipped, this CPU has no AVX2\n");
        return;
    }
    static const int lens[] = {1, 2, 3, 5, 7, 8, 9, 63, 64, 65, 200, 1001};
    static float o1[1001], o2[1001], o3[1001], ph[1001];
    static kn_wtable tab;
    float h[40];
    for (int i = 0; i < 40; i++) h[i] = 1.0f / (float)(i + 1);
    kn_wtable_harmonics(&tab, h, 40);
    for (int i = 0; i < 1001; i++) ph[i] = 3.7f * sinf(0.013f * (float)i) + 0.001f * (float)i;
    int same = 1;
    for (int shape = 0; shape < 7; shape++)
        for (int k = 0; k < (int)(sizeof lens / sizeof lens[0]); k++) {
            int n = lens[k];
            /* three oscillators from the same phase: SSE2, AVX2, the library */
            kn_phasor s1, s2, s3;
            kn_phasor_init(&s1, 48000, 0.123), s2 = s3 = s1;
            float f = 37.0f + 1234.5f * (float)k, w = 0.3f, a = 0.7f;
            for (int b = 0; b < 3; b++, f *= 1.7f) { /* three blocks: the phase carries over */
                memset(o1, 0, sizeof o1), memset(o2, 0, sizeof o2), memset(o3, 0, sizeof o3);
                switch (shape) {
                case 0:
                    sse2_phasor_compute(&s1, o1, n, f), avx2_phasor_compute(&s2, o2, n, f);
                    kn_phasor_compute(&s3, o3, n, f);
                    break;
                case 1:
                    sse2_sine_compute(&s1, o1, n, f, a), avx2_sine_compute(&s2, o2, n, f, a);
                    kn_sine_compute(&s3, o3, n, f, a);
                    break;
                case 2:
                    sse2_sine_of_phase(o1, ph, n), avx2_sine_of_phase(o2, ph, n);
                    kn_sine_of_phase(o3, ph, n);
                    break;
                case 3:
                    sse2_saw_compute(&s1, o1, n, f, a), avx2_saw_compute(&s2, o2, n, f, a);
                    kn_saw_compute(&s3, o3, n, f, a);
                    break;
                case 4:
                    sse2_square_compute(&s1, o1, n, f, w, a);
                    avx2_square_compute(&s2, o2, n, f, w, a);
                    kn_square_compute(&s3, o3, n, f, w, a);
                    break;
                case 5:
                    sse2_tri_compute(&s1, o1, n, f, a), avx2_tri_compute(&s2, o2, n, f, a);
                    kn_tri_compute(&s3, o3, n, f, a);
                    break;
                default:
                    sse2_wt_compute(&s1, o1, &tab, n, f, a),
                        avx2_wt_compute(&s2, o2, &tab, n, f, a);
                    kn_wt_compute(&s3, o3, &tab, n, f, a);
                }
                same &= !memcmp(o1, o2, sizeof o1) && !memcmp(o1, o3, sizeof o1);
                same &= s1.phase == s2.phase && s1.phase == s3.phase;
            }
        }
    printf("AVX2 vs SSE2: phasor, sine, sine_of_phase, saw, square, tri, wt %s\n",
           same ? "bit-identical" : "DIFFER");
    CHECK(same);
#endif
}

int main(void) {
    test_phasor_sine();
    test_blep();
    test_wavetable();
    test_noise();
    test_avx2_sse2();
    return check_report();
}
