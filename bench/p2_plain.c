/* p2_plain.c - benchmark patch P2 in plain C, no nodes: 16 sawtooth
 * voices (polyBLEP) through resonant 2-pole low-passes (Simper's
 * state-variable filter, coefficients gliding across each block) whose
 * cutoff a sine LFO sweeps once per block, panned. The same algorithms as
 * bench/p2_nodes.c, written the way a user would. Rendered by `kanon
 * render` (tcc) and by bench/driver.c (gcc -O2). */
#include <kanon.h>

#define V 16

typedef struct {
    double lfo;
    double phase[V];
    double ic1[V], ic2[V];
    float a[3]; /* last block's a1, a2, a3 */
} P2;
static P2 *p;

void setup(kn_ctx *k) {
    p = kn_state(k, "p2plain", sizeof *p);
}

void process(kn_ctx *k, float **out, int frames) {
    float *L = out[0], *R = out[1];
    float lfo = sinf(2.0f * (float)M_PI * (float)p->lfo);
    p->lfo += 0.2 * frames / k->rate;
    if (p->lfo >= 1) p->lfo -= 1;
    float cutoff = 1600.0f * powf(4.0f, lfo);
    /* Simper SVF coefficients for this block, ramped from the last one's */
    double g = tan(M_PI * cutoff / k->rate), kq = 1.0 / 4.0;
    double a1 = 1 / (1 + g * (g + kq)), a2 = g * a1, a3 = g * a2;
    if (p->a[0] == 0) p->a[0] = (float)a1, p->a[1] = (float)a2, p->a[2] = (float)a3;
    double d1 = (a1 - p->a[0]) / frames, d2 = (a2 - p->a[1]) / frames, d3 = (a3 - p->a[2]) / frames;
    for (int v = 0; v < V; v++) {
        double ph = p->phase[v], inc = 55.0 * pow(2.0, v * 0.25) / k->rate;
        double ic1 = p->ic1[v], ic2 = p->ic2[v], c1 = p->a[0], c2 = p->a[1], c3 = p->a[2];
        float th = (float)M_PI * 0.5f * (float)v / (V - 1);
        float gl = cosf(th), gr = sinf(th), dt = (float)inc;
        for (int i = 0; i < frames; i++) {
            /* polyBLEP saw */
            float t = (float)ph, x = 2.0f * t - 1.0f;
            if (t < dt) {
                float u = t / dt;
                x += (1 - u) * (1 - u);
            } else if (t > 1.0f - dt) {
                float u = (t - 1.0f) / dt;
                x -= (1 + u) * (1 + u);
            }
            x *= 0.04f;
            ph += inc;
            if (ph >= 1) ph -= 1;
            /* SVF low-pass */
            c1 += d1, c2 += d2, c3 += d3;
            double v3 = x - ic2, v1 = c1 * ic1 + c2 * v3, v2 = ic2 + c2 * ic1 + c3 * v3;
            ic1 = 2 * v1 - ic1;
            ic2 = 2 * v2 - ic2;
            L[i] += gl * (float)v2;
            R[i] += gr * (float)v2;
        }
        p->phase[v] = ph, p->ic1[v] = ic1, p->ic2[v] = ic2;
    }
    p->a[0] = (float)a1, p->a[1] = (float)a2, p->a[2] = (float)a3;
}
