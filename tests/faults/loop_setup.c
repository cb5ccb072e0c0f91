/* loop_setup.c - an infinite loop in setup() at the takeover (its second
 * call; the first is the test render's).
 * Expected: the deck goes silent, the hang is noticed (no progress for
 * 50 ms) and the deck reverts: "cartridge N hung in setup() ...". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
    if (fault_setup()) {
        fault_mark("loop_setup");
        for (volatile int spin = 1; spin;) {
        }
    }
}

void process(kn_ctx *k, float **out, int frames) {
    victim(k, out, frames);
}
