/* closefds.c - after the takeover, process() closes every file descriptor
 * 0..1023: stdin/out/err, the report pipe to the conductor, anything else.
 * The shared memory stays mapped, so the cartridge keeps playing; nothing
 * the conductor relies on needs those descriptors.
 * Expected: no fault; the code plays on, and the next save still swaps in. */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        fault_mark("closefds");
        for (int fd = 0; fd < 1024; fd++) close(fd);
    }
    victim(k, out, frames);
}
