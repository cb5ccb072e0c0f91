/* malloc.c - allocating memory until malloc fails.
 *   In the test render's setup(): 1 MiB blocks, untouched, until malloc
 *   returns NULL. RLIMIT_AS (1 GiB per cartridge) makes that happen below
 *   1 GiB, in milliseconds, instead of at the machine's limit; the amount
 *   reached goes to the fault log ("malloc_failed_at_mib=N"), all is freed.
 *   After the takeover, process() allocates again, touching every page: the
 *   call takes seconds (page faults), far longer than a block.
 * Expected: "cartridge N hung in process() (no progress for M ms); killed;
 * reverted to version V"; N in the fault log is below 1024. */
#define FAULT_SETUP 1 /* the test render's setup() */
#include "fault.h"

static void *keep[4096];

void setup(kn_ctx *k) {
    victim_setup(k);
    if (fault_setup()) {
        int n = 0;
        while (n < 4096 && (keep[n] = malloc(1 << 20))) n++;
        char what[64];
        snprintf(what, sizeof what, "malloc_failed_at_mib=%d", n);
        fault_mark(what);
        while (n > 0) free(keep[--n]);
    }
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        fault_mark("malloc");
        for (char *p; (p = malloc(1 << 20));) memset(p, 1, 1 << 20);
        for (;;) pause(); /* out of memory: stalls like a hang */
    }
    victim(k, out, frames);
}
