/* escape_routes.c - reaches for what routing shares with every cartridge
 * (shm/route.h): the other decks' rings and the routes segment are mapped
 * read-only into every deck. The sandbox hides /proc, so the attack finds
 * them itself: every page from 256 MiB below its deck's state to 64 MiB
 * above it (the cartridge maps its segments one after another) that is
 * mapped (msync says so), readable (the kernel copies it into a pipe,
 * EFAULT if not) and starts like a kanon ring or routes segment (magic
 * "KANO", kind 1 or 5). It then tries to make each writable (mprotect).
 * The deck's own ring is writable by right and shows up twice (its own
 * mapping, and its read-only one as a source); every other one must refuse.
 * The scan goes 2048 pages per process() call, so no call is long enough
 * to look hung. Expected: nothing is reached; the code plays on. */
#include "escape.h"
#include <stdint.h>
#include <sys/mman.h>

#define PAGE      4096ul
#define PER_CALL  2048
static char *state_at;          /* a page of the deck's state (kn_state) */
static uintptr_t scan_at, scan_end;
static int scanning, pipefd[2];
static long found, writable;

static void scan_start(void) {
    uintptr_t at = (uintptr_t)state_at & ~(PAGE - 1);
    scan_at = at > (256ul << 20) ? at - (256ul << 20) : PAGE;
    scan_end = at + (64ul << 20);
    found = writable = 0;
    scanning = !pipe(pipefd);
}

/* One slice of the scan; 1 when it is done. */
static int scan_step(void) {
    for (int k = 0; k < PER_CALL && scan_at < scan_end; k++, scan_at += PAGE) {
        if (msync((void *)scan_at, PAGE, MS_ASYNC)) continue; /* not mapped */
        unsigned h[2];
        if (write(pipefd[1], (const void *)scan_at, sizeof h) != (ssize_t)sizeof h) continue;
        if (read(pipefd[0], h, sizeof h) != (ssize_t)sizeof h || h[0] != 0x4b414e4fu) continue;
        unsigned kind = h[1] >> 16;
        if (kind != 1 && kind != 5) continue;
        found++;
        if (!mprotect((void *)scan_at, PAGE, PROT_READ | PROT_WRITE)) writable++;
    }
    return scan_at >= scan_end;
}

static void scan_report(void) {
    close(pipefd[0]);
    close(pipefd[1]);
    scanning = 0;
    /* the own ring: at most its two mappings are writable */
    reached("mprotect_writable", writable > 2 ? writable - 2 : 0);
    fault_mark(found > 2 ? "routes_maps_found" : "routes_maps_none");
    escape_report("routes");
}

void setup(kn_ctx *k) {
    victim_setup(k);
    state_at = kn_state(k, "escape_routes", 64);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) scan_start();
    if (scanning && scan_step()) scan_report();
    victim(k, out, frames);
}
