/* tick.c - an impulse of height `level` (a parameter) on one channel
 * every 4800 of the deck's own frames, from its very first sample, plus a
 * constant TICK_DC: where a deck's first sample lands shows in a recording
 * (tests/e2e/test_session.sh). tick_right.c, tick_dc.c, tick_dc_right.c
 * are this file with other constants. */
#include <kanon.h>

#ifndef TICK_CH
#define TICK_CH 0
#endif
#ifndef TICK_DC
#define TICK_DC 0.0f
#endif

static kn_param *level;

void setup(kn_ctx *k) {
    level = kn_param_decl(k, "level", 0, 1, 0.5);
}

void process(kn_ctx *k, float **out, int frames) {
    float x = (float)kn_target(level);
    for (int i = 0; i < frames; i++) {
        out[TICK_CH][i] = ((k->frame + (uint64_t)i) % 4800 == 0 ? x : 0.0f) + TICK_DC;
        out[1 - TICK_CH][i] = 0;
    }
}
