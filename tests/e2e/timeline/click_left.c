/* click_left.c - an impulse on the left channel at the first sample of
 * every beat (tests/e2e/test_timeline.sh). */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    double step = k->bpm / (60.0 * k->rate);
    for (int i = 0; i < frames; i++) {
        double b = kn_beat_at(k, i);
        if (b - floor(b) < step * 0.999999) out[0][i] = 0.5f;
    }
}
