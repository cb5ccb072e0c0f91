/* Pool: a sine from the deck's frame count alone (no state: every block
 * size and every start give the same samples). Knob "freq" in Hz. */
#include <kanon.h>
static kn_param *freq;
void setup(kn_ctx *k) { freq = kn_param_decl(k, "freq", 20, 2000, 220); }
void process(kn_ctx *k, float **out, int frames) {
    double f = kn_target(freq);
    for (int i = 0; i < frames; i++) {
        double t = (double)((k->frame + (uint64_t)i) % 48000) / k->rate;
        float v = 0.2f * (float)sin(2 * M_PI * f * t);
        for (int c = 0; c < k->channels; c++) out[c][i] = c ? 0.5f * v : v;
    }
}
