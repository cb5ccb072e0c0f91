/* denormal.c - a denormal storm: 256 one-pole filters per frame whose state
 * sits in the subnormal range (below 1.2e-38) for good: y = y/2 + 1e-39.
 * On CPUs with a subnormal penalty (a microcode assist of ~100 cycles per
 * operation on many x86 cores) this needs several times real time without
 * flush-to-zero; cartridges run with FTZ/DAZ, so the subnormals read and
 * write as 0 and it stays cheap. Some CPUs have no penalty at all, so the
 * file also logs "denormal ftz=1" if a subnormal operand really reads as 0.
 * Expected: no fault; the code plays on with a low DSP load; ftz=1. */
#include "fault.h"

#define N 256
static volatile float y[N];
static volatile float tiny = 1e-39f;

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    float sum = 0;
    if (fault_now() && fault_calls == FAULT_AFTER + 1)
        fault_mark(tiny * 1.0f == 0 ? "denormal ftz=1" : "denormal ftz=0");
    for (int i = 0; i < frames; i++)
        for (int j = 0; j < N; j++) {
            y[j] = y[j] * 0.5f + tiny;
            sum += y[j];
        }
    victim(k, out, frames);
    out[0][0] += sum * 0; /* uses the storm's result (0 with FTZ/DAZ) */
}
