/* flaky.c - plays the victim signal and is healthy, unless the file
 * "$KANON_FAULT_LOG.poison" exists: then it crashes ~0.15 s after it took
 * over. Used for the give-up rule: a version that played fault-free for 1 s
 * is the good version; once poisoned, a revert to it fails again within 1 s,
 * and the deck must stay silent until the next save. */
#define VICTIM_GOOD
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        char poison[512];
        const char *log = getenv("KANON_FAULT_LOG");
        snprintf(poison, sizeof poison, "%s.poison", log ? log : "/nonexistent");
        if (access(poison, F_OK) == 0) {
            fault_mark("flaky");
            *(volatile int *)0 = 1;
        }
    }
    victim(k, out, frames);
}
