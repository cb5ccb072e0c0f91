/* level_right.c - the right channel holds kn_target(v) at every sample (the
 * target changes at a timed event's exact sample); the left is
 * silent (tests/e2e/test_timeline_osc.sh). */
#include <kanon.h>

static kn_param *v;

void setup(kn_ctx *k) {
    v = kn_param_decl(k, "v", 0, 1, 0.1);
}

void process(kn_ctx *k, float **out, int frames) {
    (void)k;
    float x = (float)kn_target(v);
    for (int i = 0; i < frames; i++) {
        out[1][i] = x;
        out[0][i] = 0.0f;
    }
}
