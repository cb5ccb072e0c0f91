/*
 * proc_stat.c - what the scheduler did with a cartridge (control thread).
 *
 * A cartridge whose heartbeat stops is either hung (spinning on a CPU,
 * stopped, or blocked) or starved (runnable, waiting for a CPU that others
 * have). Only the first is its fault, so hangs are judged by what the
 * scheduler says, not by the wall clock:
 *
 *   cpu_ns   the process's CPU clock (clock_getcpuclockid: readable for
 *            any process, dumpable or not; all its threads; exact up to
 *            now, also while it runs)
 *   wait_ns  /proc/PID/schedstat's run_delay: time spent runnable but
 *            waiting for a CPU (main thread). The kernel adds a wait when
 *            it ends, so an ongoing wait shows only later: -1 if the file
 *            cannot be read or the kernel keeps no schedstats
 *   state    /proc/PID/stat's state letter: R running or runnable, S
 *            sleeping, D uninterruptible, T/t stopped or traced, Z zombie;
 *            '?' if unreadable
 *
 * Both /proc files are world-readable (0444) and stay readable by the
 * conductor (same uid, not root) when the cartridge is non-dumpable
 * (PR_SET_DUMPABLE 0): checked on Linux 6.18. Plain open/read, no stdio:
 * a few system calls, no allocation.
 */
#include "conductor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Reads /proc/PID/NAME into buf (NUL-terminated); length or -errno. */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t len = read(fd, buf, n - 1);
    int e = errno;
    close(fd);
    if (len < 0) return -e;
    buf[len] = 0;
    return len;
}

int kn_proc_cpu(pid_t pid, uint64_t *cpu_ns) {
    clockid_t clk;
    struct timespec t;
    if (pid <= 0 || clock_getcpuclockid(pid, &clk) || clock_gettime(clk, &t)) return -ESRCH;
    *cpu_ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
    return 0;
}

int kn_proc_sched(pid_t pid, uint64_t *cpu_ns, int64_t *wait_ns, char *state) {
    char buf[1024];
    *wait_ns = -1;
    *state = '?';
    if (pid <= 0) return -ESRCH;
    int have_cpu = kn_proc_cpu(pid, cpu_ns) == 0;
    unsigned long long run, delay;
    /* "sum_exec_runtime run_delay pcount"; all zero when schedstats are off */
    if (read_proc(pid, "schedstat", buf, sizeof buf) > 0 &&
        sscanf(buf, "%llu %llu", &run, &delay) == 2 && (run || delay)) {
        *wait_ns = (int64_t)delay;
        if (!have_cpu) *cpu_ns = run, have_cpu = 1;
    }
    /* "pid (comm) S ...": comm may hold spaces and parentheses, so the
     * state follows the last ')' */
    if (read_proc(pid, "stat", buf, sizeof buf) > 0) {
        char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2]) *state = paren[2];
    }
    return have_cpu ? 0 : -ESRCH;
}
