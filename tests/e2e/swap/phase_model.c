/* phase_model.c - test_swap_phase.sh's reference for a swap from phase440.c
 * to phase660.c at deck frame `start` (render with --set start=FRAME):
 *   channel 0: phase440.c as if it never stopped (the outgoing code),
 *   channel 1: phase660.c from frame `start` on, starting from the phase
 *              phase440.c left in kn_state there (0 before `start`).
 * Same expressions as the two files, so the samples are bit-identical. */
#include <kanon.h>

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
        out[0][i] = 0.2f * sinf(2 * (float)M_PI * (float)pa);
        pa += ia;
        if (pa >= 1) pa -= 1;
        if (f >= s0) {
            out[1][i] = 0.2f * sinf(2 * (float)M_PI * (float)pb);
            pb += ib;
            if (pb >= 1) pb -= 1;
        }
    }
}
