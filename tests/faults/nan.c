/* nan.c - process() outputs NaN (0/0) after the takeover.
 * Expected: the deck goes silent (no NaN ever reaches the master) and reverts:
 * "cartridge N produced NaN/Inf ...; reverted to version M". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    int bad = fault_now();
    if (bad && fault_calls == FAULT_AFTER + 1) fault_mark("nan");
    victim(k, out, frames);
    volatile float zero = 0;
    if (bad)
        for (int c = 0; c < k->channels; c++)
            for (int i = 0; i < frames; i++) out[c][i] = zero / zero;
}
