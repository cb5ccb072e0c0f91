/* scribble.c - after the takeover, process() writes garbage over its own
 * shared memory: the first 4 KiB of the deck's ring segment (header,
 * positions, control block) and of its state segment (header and region
 * directory). The segments are found in /proc/self/maps by name
 * (/dev/shm/kanon.UID.INSTANCE.dNN.ring / .state).
 * Expected: the conductor validates everything it reads and never crashes;
 * the deck goes silent and reverts with its snapshot: a fault such as
 * "cartridge N corrupted its ring ...; reverted to version M". */
#include "fault.h"

static void scribble(const char *suffix) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char *name = strstr(line, "/dev/shm/kanon.");
        if (!name || !strstr(name, suffix) || sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        unsigned char *p = (unsigned char *)lo;
        unsigned x = 2463534242u; /* xorshift: garbage, but the same garbage every run */
        for (unsigned long i = 0; i < 4096 && lo + i < hi; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            p[i] = (unsigned char)x;
        }
    }
    if (f) fclose(f);
}

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        if (fault_calls == FAULT_AFTER + 1) {
            fault_mark("scribble");
            scribble(".state\n");
            scribble(".ring\n");
        }
    }
    victim(k, out, frames);
}
