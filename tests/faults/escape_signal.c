/* escape_signal.c - tries to stop or slow the conductor (its parent) and
 * its process group: kill, tgkill, rt_sigqueueinfo (which stopped the
 * conductor before it was refused), rt_tgsigqueueinfo, pidfd_open, the x32
 * numbering of kill, and lowering its scheduling class, nice value and
 * CPUs. Expected: every call fails with EPERM and the conductor plays on. */
#define _GNU_SOURCE 1
#include "escape.h"
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        pid_t pp = getppid();
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = SIGTERM;
        si.si_code = SI_QUEUE;
        attempt("kill", kill(pp, SIGTERM));
        attempt("kill_group", kill(0, SIGTERM));
        attempt("kill_all", kill(-1, SIGTERM));
        attempt("tgkill", syscall(SYS_tgkill, pp, pp, SIGTERM));
        attempt("rt_sigqueueinfo", syscall(SYS_rt_sigqueueinfo, pp, SIGTERM, &si));
        attempt("rt_tgsigqueueinfo", syscall(SYS_rt_tgsigqueueinfo, pp, pp, SIGTERM, &si));
        attempt("pidfd_open", syscall(SYS_pidfd_open, pp, 0));
        attempt("pidfd_send_signal", syscall(SYS_pidfd_send_signal, 0, SIGTERM, NULL, 0));
#ifdef __x86_64__
        attempt("x32_kill", syscall(0x40000000 | 62, pp, SIGTERM));
#endif
        struct sched_param sp = {0};
        attempt("sched_setscheduler", sched_setscheduler(pp, SCHED_IDLE, &sp));
        attempt("setpriority", setpriority(PRIO_PROCESS, pp, 19));
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        attempt("sched_setaffinity", sched_setaffinity(pp, sizeof one, &one));
        escape_report("signal");
    }
    victim(k, out, frames);
}
