/* level.c - the left channel holds kn_target(v) at every sample (the
 * target changes at a timed event's exact sample); the right is a
 * constant that tells versions apart in a swap (tests/e2e/test_timeline.sh). */
#include <kanon.h>

static kn_param *v;

void setup(kn_ctx *k) {
    v = kn_param_decl(k, "v", 0, 1, 0.1);
}

void process(kn_ctx *k, float **out, int frames) {
    (void)k;
    float x = (float)kn_target(v);
    for (int i = 0; i < frames; i++) {
        out[0][i] = x;
        out[1][i] = 0.25f;
    }
}
