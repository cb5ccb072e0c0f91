/* gated.c - test DSP for the control-surface tests: a sine gated by a knob
 * that the code itself puts on the surface (kn_bind), no map needed.
 *   gate  0..1, default 0: button 1, momentary (read unsmoothed: kn_target)
 *   freq  20..2000 Hz, default 440: knob 1, log scale
 *   amp   0..1, default 0.2: knob 1 on the shift layer
 *   tilt  -1..1, default 0: the main knob (not heard: it only shows that
 *         "main" binds) */
#include <kanon.h>

typedef struct {
    double phase;
} Gated;
static Gated *s;
static kn_param *gate, *freq, *amp, *tilt;

void setup(kn_ctx *k) {
    s = kn_state(k, "gated", sizeof *s);
    gate = kn_param_decl(k, "gate", 0, 1, 0);
    freq = kn_param_decl(k, "freq", 20, 2000, 440);
    amp = kn_param_decl(k, "amp", 0, 1, 0.2);
    tilt = kn_param_decl(k, "tilt", -1, 1, 0);
    kn_bind(gate, "button 1 momentary");
    kn_bind(freq, "knob 1 log");
    kn_bind(amp, "shift knob 1");
    kn_bind(tilt, "main");
}

void process(kn_ctx *k, float **out, int frames) {
    double inc = kn_get(freq) / k->rate;
    float g = (float)(kn_target(gate) * kn_get(amp));
    for (int i = 0; i < frames; i++) {
        float v = g * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
    }
}
