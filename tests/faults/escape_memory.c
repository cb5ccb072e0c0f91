/* escape_memory.c - tries to read or write the conductor's memory: its
 * /proc/PID/mem (a pwrite there changed 16 bytes of the conductor before
 * /proc was hidden and the conductor made undumpable), ptrace,
 * process_vm_readv/writev, kcmp, pidfd_getfd and /proc/self/map_files.
 * Expected: every attempt fails; the conductor plays on. */
#include "escape.h"
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        pid_t pp = getppid();
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pp);
        int fd = open(path, O_RDWR);
        attempt("proc_mem", fd);
        if (fd >= 0) close(fd);
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pp);
        fd = open(path, O_RDONLY | O_DIRECTORY);
        attempt("proc_fd", fd);
        if (fd >= 0) close(fd);
        fd = open("/proc/self/map_files", O_RDONLY | O_DIRECTORY);
        attempt("map_files", fd);
        if (fd >= 0) close(fd);
        attempt("ptrace", ptrace(PTRACE_SEIZE, pp, 0, 0));
        char buf[16] = {0};
        struct iovec mine = {buf, sizeof buf}, theirs = {(void *)0x400000, sizeof buf};
        attempt("process_vm_writev", syscall(SYS_process_vm_writev, pp, &mine, 1, &theirs, 1, 0));
        attempt("process_vm_readv", syscall(SYS_process_vm_readv, pp, &mine, 1, &theirs, 1, 0));
        attempt("kcmp", syscall(SYS_kcmp, getpid(), pp, 0 /* KCMP_FILE */, 0, 0));
        attempt("pidfd_getfd", syscall(SYS_pidfd_getfd, 0, 3, 0));
        escape_report("memory");
    }
    victim(k, out, frames);
}
