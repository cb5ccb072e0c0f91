/* scribble.c - after the takeover, process() writes garbage over its own
 * shared memory: the first 4 KiB of the deck's ring segment (header,
 * positions, control block) and of its state segment (header and region
 * directory). The cartridge sees no /proc, so the segments are found the
 * way hostile code would find them: the state segment by walking back
 * from a kn_state() pointer to its header, the ring by probing the pages
 * around it (mincore) for the ring's header.
 * Expected: the conductor validates everything it reads and never crashes;
 * the deck goes silent and reverts with its snapshot: a fault such as
 * "cartridge N corrupted its ring ...; reverted to version M". */
#include "fault.h"
#include <stdint.h>
#include <sys/mman.h>

#define PAGE       4096ul
#define KANO       0x4b414e4fu
#define KIND_RING  1
#define KIND_STATE 2

static int mapped(uintptr_t page) {
    unsigned char v;
    return mincore((void *)page, PAGE, &v) == 0;
}

/* A kanon segment header of this kind at page p (kanon_shm.h kn_seg_header). */
static int header_at(uintptr_t p, unsigned kind) {
    const uint32_t *m = (const uint32_t *)p;
    return mapped(p) && m[0] == KANO && (m[1] >> 16) == kind;
}

static void garbage(uintptr_t at) {
    unsigned char *p = (unsigned char *)at;
    unsigned x = 2463534242u; /* xorshift: garbage, but the same garbage every run */
    for (unsigned long i = 0; i < PAGE; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static void scribble(void) {
    uintptr_t state = (uintptr_t)victim_n & ~(PAGE - 1);
    while (state >= PAGE && mapped(state) && !header_at(state, KIND_STATE)) state -= PAGE;
    if (!header_at(state, KIND_STATE)) return;
    uintptr_t bytes = (uintptr_t)((const uint64_t *)state)[1], ring = 0;
    if (header_at(state + bytes, KIND_RING)) ring = state + bytes; /* mapped right above */
    for (uintptr_t d = PAGE; !ring && d < (256ul << 20); d += PAGE) {
        if (header_at(state + d, KIND_RING))
            ring = state + d;
        else if (d < state && header_at(state - d, KIND_RING))
            ring = state - d;
    }
    garbage(state);
    if (ring) garbage(ring);
}

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now()) {
        if (fault_calls == FAULT_AFTER + 1) {
            fault_mark("scribble");
            scribble();
        }
    }
    victim(k, out, frames);
}
