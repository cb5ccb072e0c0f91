/* hi.c - test DSP for tests/e2e/test_stems.sh: like lo.c with another
 * period and level: ((T % 200) + 1) / 2048 at timeline frame T. */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        float v = (float)((k->now + (uint64_t)i) % 200 + 1) / 2048.0f;
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
    }
}
