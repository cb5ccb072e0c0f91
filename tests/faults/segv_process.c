/* segv_process.c - a NULL write in process() after the takeover.
 * Expected: "cartridge N killed by SIGSEGV in process(); reverted to version M". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("segv_process");
        *(volatile int *)0 = 1;
    }
    victim(k, out, frames);
}
