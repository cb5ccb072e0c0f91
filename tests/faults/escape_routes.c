/* escape_routes.c - reaches for what routing shares with every cartridge
 * (shm/route.h): the other decks' rings and the routes segment are mapped
 * read-only into every deck. The attack finds them by scanning its address
 * space and tries to make them writable (mprotect).
 * Expected: nothing is reached (a read-only descriptor refuses write
 * access, whatever the mapping asks); the code plays on. */
#include "escape.h"
#include <stdint.h>
#include <sys/mman.h>

/* The sandbox hides /proc, so the attack looks for the segments itself:
 * every page from 1 GiB below libm's code to just above it that is
 * mapped (msync says so) and starts like a kanon ring or routes segment
 * (magic "KANO", kind 1 or 5), skipping 2 MiB chunks with nothing mapped.
 * It then tries to make each writable. The
 * deck's own ring is writable by right, and shows up twice (its own
 * mapping, and its read-only one as a source); every other one must
 * refuse. */
/* Nothing mapped in [a, a + len)? mmap with MAP_FIXED_NOREPLACE refuses any
 * overlap (EEXIST), so a free 2 MiB chunk costs two calls instead of 512
 * msyncs: the whole scan then takes a few ms, where page by page it took
 * ~30 ms of CPU, more under load, and a setup() that long while the ring is
 * low is (rightly) killed as hung. A kernel that ignores the flag (< 4.17)
 * may map elsewhere: then the chunk is scanned page by page. */
static int chunk_free(uintptr_t a, size_t len) {
    void *p =
        mmap((void *)a, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return 0;
    munmap(p, len);
    return p == (void *)a;
}

static void attack(void) {
    long page = 4096, found = 0, writable = 0;
    uintptr_t chunk = 1ul << 21;
    uintptr_t top = ((uintptr_t)&sin + (1ul << 28)) & ~(uintptr_t)(chunk - 1);
    int fd[2];
    if (pipe(fd)) return;
    for (uintptr_t a = top - (1ul << 30); a < top; a += (uintptr_t)page) {
        if (a % chunk == 0 && chunk_free(a, chunk)) {
            a += chunk - (uintptr_t)page;
            continue;
        }
        if (msync((void *)a, (size_t)page, MS_ASYNC)) continue; /* not mapped */
        unsigned h[2];
        /* readable? the kernel copies it (EFAULT if not), no SIGSEGV here */
        if (write(fd[1], (const void *)a, sizeof h) != (ssize_t)sizeof h) continue;
        if (read(fd[0], h, sizeof h) != (ssize_t)sizeof h || h[0] != 0x4b414e4fu) continue;
        unsigned kind = h[1] >> 16;
        if (kind != 1 && kind != 5) continue;
        found++;
        if (!mprotect((void *)a, (size_t)page, PROT_READ | PROT_WRITE)) writable++;
    }
    close(fd[0]);
    close(fd[1]);
    /* the own ring: at most its two mappings are writable */
    reached("mprotect_writable", writable > 2 ? writable - 2 : 0);
    fault_mark(found > 2 ? "routes_maps_found" : "routes_maps_none");
}

void setup(kn_ctx *k) {
    victim_setup(k);
    if (fault_setup()) {
        attack();
        escape_report("routes_setup");
    }
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        attack();
        escape_report("routes");
    }
    victim(k, out, frames);
}
