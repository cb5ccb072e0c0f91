/* A click: one sample of 0.3 every 4800 frames (10 per second at 48 kHz),
 * silence in between: where it lands in a recording is exact. */
#include <kanon.h>
void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        float v = (k->frame + (uint64_t)i) % 4800 == 0 ? 0.3f : 0.0f;
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
    }
}
