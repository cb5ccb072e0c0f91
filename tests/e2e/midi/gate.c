/* Steps to velocity/256 at a note on's sample, to 0 at its note off: an
 * onset's frame is exact in the output. */
#include <kanon.h>

static float *lvl;

void setup(kn_ctx *k) {
    lvl = kn_state(k, "lvl", sizeof(float));
}

void event(kn_ctx *k, const kn_event *e) {
    (void)k;
    if (e->type == KN_EV_NOTE_ON) *lvl = (float)e->velocity / 256.0f;
    if (e->type == KN_EV_NOTE_OFF) *lvl = 0;
}

void process(kn_ctx *k, float **out, int frames) {
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = *lvl;
}
