/* trigger.c - plays the victim signal and is healthy until the file
 * "$KANON_FAULT_LOG.trigger" appears (checked every 16 blocks, ~20 ms):
 * then it crashes in process(). Lets a test make the playing version fault
 * at a chosen moment, e.g. while a newer version is still compiling. */
#define VICTIM_GOOD
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    static char trigger[512];
    if (!trigger[0]) {
        const char *log = getenv("KANON_FAULT_LOG");
        snprintf(trigger, sizeof trigger, "%s.trigger", log ? log : "/nonexistent");
    }
    if (++fault_calls % 16 == 0 && fault_calls > FAULT_AFTER && access(trigger, F_OK) == 0) {
        fault_mark("trigger");
        *(volatile int *)0 = 1;
    }
    victim(k, out, frames);
}
