/* tone.c - test DSP for the Control tests: a sine with two knobs.
 *   freq  20..2000 Hz, default 660 (read once per block with kn_get)
 *   amp   0..1, default 0.2 (read per sample with kn_smooth)
 * Its phase lives in kn_state, so swaps and glides never restart the wave. */
#include <kanon.h>

typedef struct {
    double phase;
} Tone;
static Tone *s;
static kn_param *freq, *amp;

void setup(kn_ctx *k) {
    s = kn_state(k, "tone", sizeof *s);
    freq = kn_param_decl(k, "freq", 20, 2000, 660);
    amp = kn_param_decl(k, "amp", 0, 1, 0.2);
}

void process(kn_ctx *k, float **out, int frames) {
    double inc = kn_get(freq) / k->rate;
    for (int i = 0; i < frames; i++) {
        float v = (float)kn_smooth(amp) * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
    }
}
