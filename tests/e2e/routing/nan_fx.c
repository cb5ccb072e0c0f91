/* gain_fx.c gone wrong: the same effect, but from its 200th block on (about
 * 0.27 s into its live run, after its test render) it outputs NaN. Saved
 * over a good gain_fx.c, it is faulted and reverted to the good version. */
#include <kanon.h>
static kn_param *gain;
static int calls;
void setup(kn_ctx *k) {
    gain = kn_param_decl(k, "gain", 0, 4, 1);
}
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    float g = (float)kn_target(gain);
    volatile float zero = 0;
    int bad = ++calls > 200;
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = bad ? zero / zero : in[c][i] * g;
}
