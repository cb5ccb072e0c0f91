/* A sidechain probe: the left channel plays what arrives on port "in", the
 * right channel what arrives on port "side" (declared in setup()). */
#include <kanon.h>
void setup(kn_ctx *k) {
    kn_in(k, "side");
}
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in"), *const *side = kn_in(k, "side");
    for (int i = 0; i < frames; i++) {
        out[0][i] = in[0][i];
        if (k->channels > 1) out[1][i] = side[0][i];
    }
}
