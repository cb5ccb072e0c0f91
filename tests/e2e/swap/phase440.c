/* phase440.c - test_swap_phase.sh: a 0.2-amplitude sine whose phase lives in
 * kn_state. phase660.c is the same file with 660 in place of 440. */
#include <kanon.h>

/* TREM, when test_swap_phase.sh defines it: a 2 Hz tremolo of that depth,
 * read from k->frame, so that a crossfade rendered at the wrong frame shows. */
#ifndef TREM
#define TREM 0
#endif

typedef struct {
    double phase;
} Sine;
static Sine *s;

void setup(kn_ctx *k) {
    s = kn_state(k, "sine", sizeof *s);
}

void process(kn_ctx *k, float **out, int frames) {
    double inc = 440.0 / k->rate;
    for (int i = 0; i < frames; i++) {
        float v = 0.2f * sinf(2 * (float)M_PI * (float)s->phase);
#if TREM
        v *= 1.0f - TREM * (0.5f + 0.5f * cosf((float)((k->frame + (uint64_t)i) % 24000u) *
                                               (2 * (float)M_PI / 24000.0f)));
#endif
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
    }
}
