/* sigstop.c - raise(SIGSTOP) in process() after the takeover: the cartridge
 * stops (neither dead nor running).
 * Expected: the heartbeat stalls; "cartridge N hung in process() (no progress
 * for M ms); killed; reverted to version V" (SIGKILL ends a stopped process). */
#include "fault.h"
#include <signal.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("sigstop");
        raise(SIGSTOP);
    }
    victim(k, out, frames);
}
