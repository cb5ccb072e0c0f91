/* late.c - test DSP for tests/e2e/test_stems.sh, the deck that starts
 * after the recording: ((T % 300) + 1) / 4096 at timeline frame T. */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        float v = (float)((k->now + (uint64_t)i) % 300 + 1) / 4096.0f;
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
    }
}
