/* escape_shm.c - reaches for shared memory that is not its own deck's: the
 * segments of every deck by their old /dev/shm names (truncating a ring
 * killed the conductor with SIGBUS before kanon used sealed memfds),
 * /dev/shm itself (JACK and other programs keep segments there), every
 * inherited file descriptor (mapped shared and writable), and System V
 * shared memory. In setup() at the takeover and again in process().
 * Expected: nothing is reached; the code plays on. */
#include "escape.h"
#include <dirent.h>
#include <sys/mman.h>
#include <sys/shm.h>

static void attack(void) {
    const char *inst = getenv("KANON_INSTANCE");
    const char *kinds[4] = {"ring", "state", "param", "snap"};
    long opened = 0;
    for (int d = 0; d < 16; d++)
        for (int k = 0; k < 4; k++) {
            char name[128];
            snprintf(name, sizeof name, "/kanon.%u.%s.d%02d.%s", (unsigned)getuid(),
                     inst ? inst : "default", d, kinds[k]);
            int fd = shm_open(name, O_RDWR, 0);
            if (fd >= 0) {
                opened++;
                ftruncate(fd, 0);
                close(fd);
            }
        }
    reached("shm_open", opened);
    DIR *dir = opendir("/dev/shm");
    long entries = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) entries += e->d_name[0] != '.';
    if (dir) closedir(dir);
    reached("dev_shm_entries", entries);
    long mapped = 0, fds = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) < 0) continue;
        if (fd > 3) fds++;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            mapped++;
            munmap(p, 4096);
        }
    }
    reached("mmap_fd", mapped);
    reached("fds_beyond_3", fds);
    attempt("shmget", shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
}

void setup(kn_ctx *k) {
    victim_setup(k);
    if (fault_setup()) {
        attack();
        escape_report("shm_setup");
    }
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        attack();
        escape_report("shm");
    }
    victim(k, out, frames);
}
