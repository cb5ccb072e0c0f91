/* An effect deck for the audio-input tests: half of what its port "in"
 * receives (kanon route in fx), nothing else, so kanon's output is the
 * input exactly (a halving is exact in float) once through a deck. */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = 0.5f * in[c][i];
}
