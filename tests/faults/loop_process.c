/* loop_process.c - an infinite loop in process() after the takeover.
 * Expected: the heartbeat stops; after 50 ms "cartridge N hung in process()
 * (no progress for M ms); killed; reverted to version V". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("loop_process");
        for (volatile int spin = 1; spin;) {
        }
    }
    victim(k, out, frames);
}
