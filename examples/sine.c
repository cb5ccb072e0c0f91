/* sine.c - the hello world of kanon: a 440 Hz sine whose phase lives in
 * persistent state, so a save never restarts the wave.
 *   kanon play examples/sine.c        kanon set sine.freq 220 */
#include <kanon.h>

typedef struct {
    double phase;
} Sine;
static Sine *s;
static kn_param *freq;

void setup(kn_ctx *k) {
    s = kn_state(k, "sine", sizeof *s);
    freq = kn_param_decl(k, "freq", 20, 2000, 440);
}

void process(kn_ctx *k, float **out, int frames) {
    double inc = kn_get(freq) / k->rate;
    for (int i = 0; i < frames; i++) {
        float v = 0.2f * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
    }
}
