/* A constant 0.1 (as dc.c) that dies of SIGSEGV once the knob "crash" is
 * set above 0.5: a source that crashes while decks read it. */
#include <kanon.h>
static kn_param *crash;
void setup(kn_ctx *k) {
    crash = kn_param_decl(k, "crash", 0, 1, 0);
}
void process(kn_ctx *k, float **out, int frames) {
    if (kn_target(crash) > 0.5) *(volatile int *)0 = 1;
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = 0.1f;
}
