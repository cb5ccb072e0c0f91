/* abort.c - abort() in process() after the takeover.
 * Expected: "cartridge N killed by SIGABRT in process(); reverted to version M". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("abort");
        abort();
    }
    victim(k, out, frames);
}
