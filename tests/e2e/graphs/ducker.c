/* Pool: a sidechain ducker: "in" scaled down by the level of "side" (an
 * envelope follower with instant attack and a slow release). */
#include <kanon.h>
typedef struct { float env; } duck;
static duck *d;
void setup(kn_ctx *k) {
    d = kn_state(k, "duck", sizeof *d);
    kn_in(k, "side"); /* declares the port */
}
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in"), *const *side = kn_in(k, "side");
    for (int i = 0; i < frames; i++) {
        float lvl = fabsf(side[0][i]);
        d->env = lvl > d->env ? lvl : d->env * 0.999f;
        float g = 1.0f - (d->env > 0.9f ? 0.9f : d->env);
        for (int c = 0; c < k->channels; c++) out[c][i] = in[c][i] * g;
    }
}
