/*
 * osc.c - oscillators. See kanon/nodes.h for the node shape.
 */
#include "kanon/nodes.h"

/* sin(2*pi*x) for x in [0,1): odd polynomial on a quarter wave, max error
 * about 1e-6, no libm call and no table. */
static inline float sin2pi(double x) {
    double q = x * 4.0;
    int quadrant = (int)q;
    double t = q - quadrant;
    if (quadrant & 1) t = 1.0 - t;
    double t2 = t * t;
    /* sin(pi/2 * t), minimax coefficients */
    double y = t * (1.5707963267948966 +
                    t2 * (-0.6459640975062462 +
                          t2 * (0.07969262624616704 +
                                t2 * (-0.004681754135318687 + t2 * 0.00016044118478735982))));
    return (float)(quadrant & 2 ? -y : y);
}

void kn_sine_init(kn_sine *s, double rate, double phase) {
    s->rate = rate;
    s->phase = phase - (double)(long)phase;
}

void kn_sine_run(kn_sine *s, float freq, float amp, float *out, int frames) {
    double ph = s->phase, inc = freq / s->rate;
    for (int i = 0; i < frames; i++) {
        out[i] = amp * sin2pi(ph);
        ph += inc;
        if (ph >= 1.0) ph -= 1.0;
    }
    s->phase = ph;
}

float kn_sine_tick(kn_sine *s, float freq) {
    float v = sin2pi(s->phase);
    s->phase += freq / s->rate;
    if (s->phase >= 1.0) s->phase -= 1.0;
    return v;
}
