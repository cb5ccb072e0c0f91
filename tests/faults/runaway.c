/* runaway.c - process() outputs 1e6 (+120 dBFS) after the takeover.
 * Expected: the mixer never lets a sample above +60 dBFS through; the deck
 * goes silent and reverts: "cartridge N produced output above +60 dBFS ...". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    int bad = fault_now();
    if (bad && fault_calls == FAULT_AFTER + 1) fault_mark("runaway");
    victim(k, out, frames);
    if (bad)
        for (int c = 0; c < k->channels; c++)
            for (int i = 0; i < frames; i++) out[c][i] = 1e6f;
}
