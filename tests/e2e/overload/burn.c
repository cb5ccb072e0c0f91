/* burn.c - a deck that costs a known share of a core (tests/e2e/test_overload.sh).
 * Every process() call spends BURN times the block's duration of its own
 * CPU time (its thread's CPU clock, not the wall clock: a starved cartridge
 * needs exactly as much, however busy the machine), then plays a sine at
 * FREQ Hz, amplitude 0.05. The test prepends the two #defines. */
#include <kanon.h>
#include <time.h>

#ifndef BURN
#define BURN 0.3
#endif
#ifndef FREQ
#define FREQ 440.0
#endif

typedef struct {
    double phase;
} Burn;
static Burn *s;

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void setup(kn_ctx *k) {
    s = kn_state(k, "burn", sizeof *s);
}

void process(kn_ctx *k, float **out, int frames) {
    double until = cpu_s() + BURN * frames / k->rate;
    while (cpu_s() < until) {
    }
    for (int i = 0; i < frames; i++) {
        float v = 0.05f * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += FREQ / k->rate;
        if (s->phase >= 1) s->phase -= 1;
    }
}
