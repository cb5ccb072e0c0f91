/* A constant level on every channel (knob "level"): sums are easy to check. */
#include <kanon.h>
static kn_param *level;
void setup(kn_ctx *k) { level = kn_param_decl(k, "level", -1, 1, 0.1); }
void process(kn_ctx *k, float **out, int frames) {
    float v = (float)kn_target(level);
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = v;
}
