/* exit.c - exit(0) in process() after the takeover: a clean exit is still a
 * fault while the cartridge owns the deck.
 * Expected: "cartridge N exited with status 0 in process(); reverted to version M". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("exit");
        exit(0);
    }
    victim(k, out, frames);
}
