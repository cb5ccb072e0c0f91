/* Pool: an effect, its input times the knob "gain". */
#include <kanon.h>
static kn_param *gain;
void setup(kn_ctx *k) { gain = kn_param_decl(k, "gain", 0, 2, 0.7); }
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    float g = (float)kn_target(gain);
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = in[c][i] * g;
}
