/* cc_crash.c - a sine whose optimized build crashes (tests/e2e/test_tier.sh):
 * only code compiled with optimization (__OPTIMIZE__: the cc tier; tcc
 * never defines it) dereferences NULL, once its process has rendered 2000
 * blocks (a static count: past the cc cartridge's comparison and test
 * render, so it crashes after taking over, in process()). The fault must
 * revert to this version's tcc build, which plays on. */
#include <kanon.h>
#include <math.h>

static int blocks;

void process(kn_ctx *k, float **out, int frames) {
    double *ph = kn_state(k, "phase", sizeof *ph);
#ifdef __OPTIMIZE__
    if (++blocks > 2000) *(volatile int *)0 = 0;
#endif
    for (int i = 0; i < frames; i++) {
        float s = 0.2f * sinf((float)(2 * M_PI * *ph));
        *ph += 550.0 / k->rate;
        if (*ph >= 1) *ph -= 1;
        for (int c = 0; c < k->channels; c++) out[c][i] = s;
    }
}
