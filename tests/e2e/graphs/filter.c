/* Pool: a one-pole low-pass on its input; knob "a" is the coefficient. */
#include <kanon.h>
typedef struct { float y[8]; } lp;
static lp *s;
static kn_param *a;
void setup(kn_ctx *k) {
    s = kn_state(k, "lp", sizeof *s);
    a = kn_param_decl(k, "a", 0.01, 0.99, 0.2);
}
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    float g = (float)kn_target(a);
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = s->y[c] += g * (in[c][i] - s->y[c]);
}
