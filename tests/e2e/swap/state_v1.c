/* state_v1.c - test_swap_state.sh, version 1 of a deck whose state struct
 * grows. Four channels (the test's conductor runs with --channels 4):
 *   0: 0.2 * sine at 440 Hz, phase in kn_state
 *   1: +counter / 2^16, counter = blocks played (kn_state), so a reset shows
 *   2: (k->frame mod 65536) / 2^18, a sawtooth of the absolute frame index
 *   3: 0 (the marker channel: v1 writes nothing)
 * Every value is exact in float, so the recording decodes exactly. */
#include <kanon.h>

typedef struct {
    double phase;
    int counter;
} St;
static St *s;

void setup(kn_ctx *k) {
    s = kn_state(k, "st", sizeof *s);
}

void process(kn_ctx *k, float **out, int frames) {
    double inc = 440.0 / k->rate;
    s->counter++;
    for (int i = 0; i < frames; i++) {
        out[0][i] = 0.2f * sinf(2 * (float)M_PI * (float)s->phase);
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
        out[1][i] = (float)s->counter * (1.0f / 65536.0f);
        out[2][i] = (float)((k->frame + (uint64_t)i) % 65536u) * (1.0f / 262144.0f);
    }
}
