/* p1_plain.c - benchmark patch P1 in plain C, no nodes: 64 sine
 * oscillators at different frequencies, summed, stereo (each panned).
 * The same algorithms as bench/p1_nodes.c (double phase accumulator, the
 * same degree-9 sine polynomial on a folded phase, equal-power pan),
 * written the way a user would write them in a kanon file. Rendered by
 * `kanon render` (tcc) and by bench/driver.c (gcc -O2). */
#include <kanon.h>

#define N 64

typedef struct {
    double phase[N];
} P1;
static P1 *p;

void setup(kn_ctx *k) {
    p = kn_state(k, "p1plain", sizeof *p);
}

void process(kn_ctx *k, float **out, int frames) {
    float *L = out[0], *R = out[1];
    for (int o = 0; o < N; o++) {
        double ph = p->phase[o], inc = (110.0 + 37.0 * o) / k->rate;
        float amp = 1.0f / N, th = (float)M_PI * 0.5f * (float)o / (N - 1);
        float gl = amp * cosf(th), gr = amp * sinf(th);
        for (int i = 0; i < frames; i++) {
            /* sin(2 pi ph) = sin(pi/2 * t), t a triangle of the phase */
            double u = ph - 0.25;
            if (u < 0) u += 1;
            float t = 4.0f * fabsf((float)u - 0.5f) - 1.0f, t2 = t * t;
            float v = t * (1.57079629498f +
                           t2 * (-0.645963357306f +
                                 t2 * (0.0796883292424f +
                                       t2 * (-0.0046718950459f + t2 * 0.000150628416461f))));
            L[i] += gl * v;
            R[i] += gr * v;
            ph += inc;
            if (ph >= 1) ph -= 1;
        }
        p->phase[o] = ph;
    }
}
