/* phase_model.c - test_swap_phase.sh's reference for a swap from phase440.c
 * to phase660.c at deck frame `start` (render with --set start=FRAME):
 *   channel 0: phase440.c as if it never stopped (the outgoing code),
 *   channel 1: phase660.c from frame `start` on, starting from the phase
 *              phase440.c left in kn_state there (0 before `start`).
 * Same expressions as the two files, so the samples are bit-identical. */
#include <kanon.h>

/* TREM, as in phase440.c: a 2 Hz tremolo of that depth,
 * read from k->frame, so that a crossfade rendered at the wrong frame shows. */
#ifndef TREM
#define TREM 0
#endif

/* The tremolo's gain at deck frame f: the files' expression, to the bit. */
static float trem(uint64_t f) {
#if TREM
    return 1.0f - TREM * (0.5f + 0.5f * cosf((float)(f % 24000u) * (2 * (float)M_PI / 24000.0f)));
#else
    (void)f;
    return 1.0f;
#endif
}

static double pa, pb;
static kn_param *start;

void setup(kn_ctx *k) {
    start = kn_param_decl(k, "start", 0, 1e12, 1e12);
}

void process(kn_ctx *k, float **out, int frames) {
    double ia = 440.0 / k->rate, ib = 660.0 / k->rate;
    uint64_t s0 = (uint64_t)kn_get(start);
    for (int i = 0; i < frames; i++) {
        uint64_t f = k->frame + (uint64_t)i;
        if (f == s0) pb = pa;
        float v = 0.2f * sinf(2 * (float)M_PI * (float)pa);
        v *= trem(f);
        out[0][i] = v;
        pa += ia;
        if (pa >= 1) pa -= 1;
        if (f >= s0) {
            float w = 0.2f * sinf(2 * (float)M_PI * (float)pb);
            w *= trem(f);
            out[1][i] = w;
            pb += ib;
            if (pb >= 1) pb -= 1;
        }
    }
}
