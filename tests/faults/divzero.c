/* divzero.c - an integer division by zero in process() after the takeover
 * (x86: the CPU traps).
 * Expected: "cartridge N killed by SIGFPE in process(); reverted to version M". */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("divzero");
        volatile int zero = 0;
        out[0][0] = (float)(frames / zero);
    }
    victim(k, out, frames);
}
