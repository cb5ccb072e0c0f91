/*
 * sandbox.c - what a cartridge may not do, whatever the user's code says.
 *
 *   kn_sandbox_compile_limits  before compiling: address space and wall-
 *                              clock limits (a macro bomb or a runaway
 *                              compile dies alone), no core dumps
 *   kn_sandbox_deadline        a wall-clock limit (SIGALRM), e.g. for the
 *                              test render; 0 clears it
 *   kn_sandbox_run_limits      after compiling: the address-space limit
 *                              for running (allocating until failure gets
 *                              NULL, not the machine's memory)
 *   kn_sandbox_seccomp         a seccomp filter: no new processes, no exec,
 *                              no sockets, no signals to other processes,
 *                              no raising limits (each fails with EPERM)
 *   kn_sandbox_realtime        SCHED_FIFO (priority 1, below JACK's) for the
 *                              render loop, capped by RLIMIT_RTTIME: a loop
 *                              that never sleeps for 100 ms gets SIGXCPU (a
 *                              fault), so real-time priority cannot starve
 *                              the machine. Silently skipped without rights
 *   kn_sandbox_fpu             flush denormals to zero (a denormal storm
 *                              cannot slow the DSP down); set identically in
 *                              live and offline renders so they stay equal
 *
 * The conductor does not rely on any of this to stay alive: it never waits
 * for a cartridge and validates everything shared. These limits protect the
 * machine and make faults fail fast instead of slowly.
 */
#include "cartridge.h"
#include "priority.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

static void limit(int what, rlim_t v) {
    struct rlimit r = {v, v};
    setrlimit(what, &r);
}

void kn_sandbox_deadline(double seconds) {
    struct itimerval t = {{0, 0}, {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e6)}};
    setitimer(ITIMER_REAL, &t, NULL); /* SIGALRM's default action ends the process */
}

void kn_sandbox_compile_limits(double seconds, size_t mem_bytes) {
    limit(RLIMIT_CORE, 0);
    limit(RLIMIT_AS, mem_bytes);
    kn_sandbox_deadline(seconds);
}

static int rttime_capped; /* remembered: after seccomp, getrlimit is refused too */

void kn_sandbox_run_limits(size_t mem_bytes) {
    kn_sandbox_deadline(0);
    limit(RLIMIT_AS, mem_bytes);
    /* before seccomp (which forbids setrlimit): the cap kn_sandbox_realtime
     * relies on, in us of CPU without blocking (soft: SIGXCPU, hard: KILL) */
    struct rlimit rt = {100000, 200000};
    rttime_capped = setrlimit(RLIMIT_RTTIME, &rt) == 0;
}

int kn_sandbox_realtime(void) {
    if (!rttime_capped) return -EPERM; /* never real-time without the cap */
    struct sched_param sp = {.sched_priority = KN_CARTRIDGE_RT_PRIO};
    return sched_setscheduler(0, SCHED_FIFO, &sp) ? -errno : 0;
}

void kn_sandbox_normal(void) {
    struct sched_param sp = {.sched_priority = 0};
    sched_setscheduler(0, SCHED_OTHER, &sp);
}

void kn_sandbox_fpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
#endif
}

#if defined(__x86_64__)
#define KN_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define KN_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef KN_AUDIT_ARCH
#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define DENY(sys)                                                                                  \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 1),                                              \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
/* Allows the call only if its first argument (low 32 bits) is our pid. */
#define SELF_ONLY(sys, pid)                                                                        \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 4), LOAD(args[0]),                               \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (pid), 1, 0),                                          \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)), LOAD(nr)
#endif

int kn_sandbox_seccomp(void) {
#ifdef KN_AUDIT_ARCH
    uint32_t pid = (uint32_t)getpid();
    struct sock_filter f[] = {
        LOAD(arch),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KN_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        LOAD(nr),
#ifdef __NR_fork
        DENY(__NR_fork),
        DENY(__NR_vfork),
#endif
        DENY(__NR_clone),
        DENY(__NR_clone3),
        DENY(__NR_execve),
        DENY(__NR_execveat),
        DENY(__NR_socket),
        DENY(__NR_socketpair),
        DENY(__NR_connect),
        DENY(__NR_bind),
        DENY(__NR_listen),
        DENY(__NR_accept),
        DENY(__NR_accept4),
        DENY(__NR_ptrace),
        DENY(__NR_process_vm_writev),
        DENY(__NR_pidfd_send_signal),
        DENY(__NR_setrlimit),
        DENY(__NR_prlimit64),
        SELF_ONLY(__NR_kill, pid),
        SELF_ONLY(__NR_tgkill, pid),
        DENY(__NR_tkill),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return -errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) return -errno;
    return 0;
#else
    return -ENOSYS;
#endif
}
