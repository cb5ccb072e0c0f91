/* segv_setup.c - a NULL write in setup() at the takeover (its second call;
 * the first is the test render's, which passes).
 * Expected: "cartridge N killed by SIGSEGV in setup(); reverted to version M". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
    if (fault_setup()) {
        fault_mark("segv_setup");
        *(volatile int *)0 = 1;
    }
}

void process(kn_ctx *k, float **out, int frames) {
    victim(k, out, frames);
}
