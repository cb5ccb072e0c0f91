/* Pool: a naive saw from the frame count; knob "period" in frames. */
#include <kanon.h>
static kn_param *period;
void setup(kn_ctx *k) { period = kn_param_decl(k, "period", 16, 4800, 200); }
void process(kn_ctx *k, float **out, int frames) {
    uint64_t p = (uint64_t)kn_target(period);
    for (int i = 0; i < frames; i++) {
        float v = 0.3f * ((float)((k->frame + (uint64_t)i) % p) / (float)p - 0.5f);
        for (int c = 0; c < k->channels; c++) out[c][i] = c ? -v : v;
    }
}
