/* slow.c - after the takeover, every process() call busy-waits twice the
 * block's duration (clock_gettime, a vDSO call): the cartridge needs 200% of
 * real time, stays alive, bumps its heartbeat, and the deck underruns.
 * Expected: after 3 windows of 100 ms "cartridge N too slow: DSP load 200% of
 * real time; killed; reverted to version M". */
#include "fault.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        if (fault_calls == FAULT_AFTER + 1) fault_mark("slow");
        double until = now_s() + 2.0 * frames / k->rate;
        while (now_s() < until) {
        }
    }
    victim(k, out, frames);
}
