/* stack.c - unbounded recursion in process() after the takeover: the stack
 * overflows into its guard page.
 * Expected: "cartridge N killed by SIGSEGV in process(); reverted to version M". */
#include "fault.h"

/* Each frame keeps 4 KiB live, so 8 MiB of stack is gone after ~2000 calls. */
static int deep(int n) {
    volatile char pad[4096];
    pad[n & 4095] = (char)n;
    return deep(n + 1) + pad[0];
}

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("stack");
        deep(1);
    }
    victim(k, out, frames);
}
