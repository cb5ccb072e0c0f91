/* lo.c - test DSP for tests/e2e/test_stems.sh: a sawtooth locked to the
 * timeline, the same on every channel: at timeline frame T it plays
 * ((T % 256) + 1) / 1024 (0.25 at most, never 0). Every value is a small
 * multiple of a power of two, so it is exact in float and so is its product
 * with a gain: a recording's samples can be checked one by one against the
 * timeline frame they were played at. */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        float v = (float)((k->now + (uint64_t)i) % 256 + 1) / 1024.0f;
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
    }
}
