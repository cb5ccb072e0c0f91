/* level.c - one channel holds kn_target(v) at every sample (the target
 * changes at a timed event's exact sample), the other a constant that
 * tells versions apart in a swap (tests/e2e/test_timeline*.sh). level2.c
 * and level_right.c are this file with other constants. */
#include <kanon.h>

#ifndef LEVEL_CH
#define LEVEL_CH 0 /* the channel that holds the target */
#endif
#ifndef LEVEL_OTHER
#define LEVEL_OTHER 0.25f /* the other channel */
#endif

static kn_param *v;

void setup(kn_ctx *k) {
    v = kn_param_decl(k, "v", 0, 1, 0.1);
}

void process(kn_ctx *k, float **out, int frames) {
    (void)k;
    float x = (float)kn_target(v);
    for (int i = 0; i < frames; i++) {
        out[LEVEL_CH][i] = x;
        out[1 - LEVEL_CH][i] = LEVEL_OTHER;
    }
}
