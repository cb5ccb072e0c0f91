// link: nodes-c/util.c
/*
 * test_nodes_util.c - the buffer helpers of util.c (kn_buf_clear, copy,
 * gain, add, mul, pan_stereo) against plain double-precision references,
 * and the AVX2 and SSE2 builds of the vector loops against each other.
 *
 *   - Lengths 1..9, 63..65, 1001 leave every vector tail (4 and 8 lanes);
 *     in place (in == out) too. The inputs are not round numbers.
 *   - gain, mul: one rounding, so exactly the double product rounded to
 *     float. add: within one rounding of the double sum.
 *   - pan: adds gain cos((pan + 1) pi/4) into left and gain sin(...) into
 *     right (equal power) within 1e-6 of libm, pan clamped to -1..1;
 *     hard left leaves the right untouched.
 *   - AVX2 == SSE2: util.c is compiled here twice more with renamed
 *     functions, once for AVX2 and once with KN_SIMD empty (SSE2 only, as
 *     -DKN_SIMD= would), both at -O2 with vectorization (the unit build is
 *     -O1). The library promises the same samples on every machine, so
 *     both must give bit-identical output. Skipped without AVX2.
 */
#include <math.h>
#include <string.h>

#include "../../nodes-c/knmath.h"
#include "check.h"

#define N 1001

static float in[N], in2[N], out[N], out2[N], prior[N];
static const int lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, N};
#define NLENS ((int)(sizeof lens / sizeof lens[0]))

static void fill(void) {
    for (int i = 0; i < N; i++) {
        in[i] = (float)sin(0.37 * i + 0.1) * 1.7f;
        in2[i] = (float)cos(0.11 * i * i) - 0.25f;
        prior[i] = (float)sin(1.3 * i) * 0.6f;
    }
}

/* out[i] must hold prior[i] wherever i >= n: the helper wrote nothing past n */
static int untouched_from(const float *o, int n) {
    for (int i = n; i < N; i++)
        if (o[i] != prior[i]) return 0;
    return 1;
}

static void test_blocks(void) {
    fill();
    for (int k = 0; k < NLENS; k++) {
        int n = lens[k], ok = 1;
        memcpy(out, prior, sizeof out);
        kn_buf_clear(out, n);
        for (int i = 0; i < n; i++) ok &= out[i] == 0;
        CHECK(ok && untouched_from(out, n));

        memcpy(out, prior, sizeof out);
        kn_buf_copy(out, in, n);
        CHECK(!memcmp(out, in, (size_t)n * sizeof(float)) && untouched_from(out, n));

        const float g = -0.7133f;
        memcpy(out, prior, sizeof out);
        kn_buf_gain(out, in, n, g);
        ok = 1;
        for (int i = 0; i < n; i++) ok &= out[i] == (float)((double)g * in[i]);
        CHECK(ok && untouched_from(out, n));

        memcpy(out, in, sizeof out); /* in place */
        kn_buf_gain(out, out, n, g);
        ok = 1;
        for (int i = 0; i < n; i++) ok &= out[i] == (float)((double)g * in[i]);
        CHECK(ok);

        memcpy(out, prior, sizeof out);
        kn_buf_add(out, in, n, g);
        double maxerr = 0;
        for (int i = 0; i < n; i++) {
            double ref = prior[i] + (double)g * in[i];
            /* two float roundings (product, sum), half an ulp each */
            double ulp = ldexp(1.0, -23) * (fabs(prior[i]) + fabs((double)g * in[i]));
            maxerr = fmax(maxerr, fabs(out[i] - ref) / ulp);
        }
        CHECK(maxerr <= 1.0 && untouched_from(out, n));

        memcpy(out, prior, sizeof out);
        kn_buf_mul(out, in, in2, n);
        ok = 1;
        for (int i = 0; i < n; i++) ok &= out[i] == (float)((double)in[i] * in2[i]);
        CHECK(ok && untouched_from(out, n));
    }
}

static void test_pan(void) {
    fill();
    const float pans[] = {-1, -0.75f, -0.3f, 0, 0.123f, 0.5f, 1, -3, 2};
    for (int p = 0; p < 9; p++)
        for (int k = 0; k < NLENS; k++) {
            int n = lens[k];
            const float gain = 0.8f;
            memcpy(out, prior, sizeof out), memcpy(out2, prior, sizeof out2);
            kn_buf_pan_stereo(out, out2, in, n, pans[p], gain);
            double pan = fmin(1, fmax(-1, pans[p])), th = (pan + 1) * M_PI / 4;
            double gl = gain * cos(th), gr = gain * sin(th), maxerr = 0;
            for (int i = 0; i < n; i++) {
                maxerr = fmax(maxerr, fabs(out[i] - (prior[i] + gl * in[i])));
                maxerr = fmax(maxerr, fabs(out2[i] - (prior[i] + gr * in[i])));
            }
            CHECK(maxerr < 1e-6);
            CHECK(untouched_from(out, n) && untouched_from(out2, n));
            if (pans[p] <= -1) CHECK(!memcmp(out2, prior, sizeof out2)); /* hard left */
        }
    /* equal power: -3 dB each side at the centre */
    float one = 1, l = 0, r = 0;
    kn_buf_pan_stereo(&l, &r, &one, 1, 0, 1);
    CHECK(fabs(l - M_SQRT1_2) < 1e-6 && fabs(r - M_SQRT1_2) < 1e-6);
}

/* ---- AVX2 vs SSE2: util.c twice more, renamed ---- */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_CLONES 1
/* The names util.c defines; the prefix is set before each include. */
#define kn_buf_clear        PFX(buf_clear)
#define kn_buf_copy         PFX(buf_copy)
#define kn_buf_gain         PFX(buf_gain)
#define kn_buf_add          PFX(buf_add)
#define kn_buf_mul          PFX(buf_mul)
#define kn_buf_pan_stereo   PFX(buf_pan_stereo)
#define kn_clear            PFX(clear)
#define kn_copy             PFX(copy)
#define kn_gain             PFX(gain)
#define kn_mix              PFX(mix)
#define kn_mul              PFX(mul)
#define kn_pan              PFX(pan)
#define kn_smoother_init    PFX(smoother_init)
#define kn_smoother_compute PFX(smoother_compute)
#define kn_smoother_run     PFX(smoother_run)
#define kn_smoother_tick    PFX(smoother_tick)
#define kn_smoother_step    PFX(smoother_step)
#define kn_mtof             PFX(mtof)
#define kn_dbtoa            PFX(dbtoa)
#define kn_atodb            PFX(atodb)
#define smooth_coef         PFX(smooth_coef)
#define SIMD_BUILDS_SRC     "../../nodes-c/util.c"
#include "simd_builds.h"
/* from here on kn_* are the library's again (target_clones, dispatched) */
#undef kn_buf_clear
#undef kn_buf_copy
#undef kn_buf_gain
#undef kn_buf_add
#undef kn_buf_mul
#undef kn_buf_pan_stereo
#undef kn_clear
#undef kn_copy
#undef kn_gain
#undef kn_mix
#undef kn_mul
#undef kn_pan
#undef kn_smoother_init
#undef kn_smoother_compute
#undef kn_smoother_run
#undef kn_smoother_tick
#undef kn_smoother_step
#undef kn_mtof
#undef kn_dbtoa
#undef kn_atodb
#endif

static void test_avx2_sse2(void) {
#ifdef HAVE_CLONES
    if (!__builtin_cpu_supports("avx2")) {
        printf("AVX2 vs SSE2: skipped, this CPU has no AVX2\n");
        return;
    }
    fill();
    int same = 1;
    for (int k = 0; k < NLENS; k++) {
        int n = lens[k];
        /* both outputs start equal, so a stray write past n shows too */
        memcpy(out, prior, sizeof out), memcpy(out2, prior, sizeof out2);
        sse2_buf_gain(out, in, n, -0.7133f), avx2_buf_gain(out2, in, n, -0.7133f);
        same &= !memcmp(out, out2, sizeof out);
        memcpy(out, prior, sizeof out), memcpy(out2, prior, sizeof out2);
        sse2_buf_add(out, in, n, 1.37f), avx2_buf_add(out2, in, n, 1.37f);
        same &= !memcmp(out, out2, sizeof out);
        memcpy(out, prior, sizeof out), memcpy(out2, prior, sizeof out2);
        sse2_buf_mul(out, in, in2, n), avx2_buf_mul(out2, in, in2, n);
        same &= !memcmp(out, out2, sizeof out);
        static float l1[N], r1[N], l2[N], r2[N];
        memcpy(l1, prior, sizeof l1), memcpy(r1, in2, sizeof r1);
        memcpy(l2, prior, sizeof l2), memcpy(r2, in2, sizeof r2);
        sse2_buf_pan_stereo(l1, r1, in, n, 0.3f, 0.9f),
            avx2_buf_pan_stereo(l2, r2, in, n, 0.3f, 0.9f);
        same &= !memcmp(l1, l2, sizeof l1) && !memcmp(r1, r2, sizeof r1);
        /* and the library's own build (dispatched at load) agrees */
        memcpy(out2, prior, sizeof out2);
        kn_buf_add(out2, in, n, 1.37f);
        memcpy(out, prior, sizeof out);
        sse2_buf_add(out, in, n, 1.37f);
        same &= !memcmp(out, out2, sizeof out);
        /* the old names too (their own copies of the loops), in either build */
        memcpy(out2, prior, sizeof out2);
        kn_mix(in, out2, n, 1.37f);
        same &= !memcmp(out, out2, sizeof out);
        memcpy(out2, prior, sizeof out2);
        avx2_mix(in, out2, n, 1.37f);
        same &= !memcmp(out, out2, sizeof out);
        sse2_buf_gain(out, in, n, 0.61f), avx2_gain(in, out2, n, 0.61f);
        same &= !memcmp(out, out2, sizeof out);
        sse2_buf_mul(out, in, in2, n), avx2_mul(in, in2, out2, n);
        same &= !memcmp(out, out2, sizeof out);
    }
    printf("AVX2 vs SSE2: buf_gain, buf_add, buf_mul, buf_pan_stereo (and the old gain, mix, "
           "mul) %s\n",
           same ? "bit-identical" : "DIFFER");
    CHECK(same);
#endif
}

int main(void) {
    test_blocks();
    test_pan();
    test_avx2_sse2();
    return check_report();
}
