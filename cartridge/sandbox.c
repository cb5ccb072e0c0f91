/*
 * sandbox.c - what a cartridge may not do, whatever the user's code says.
 * (The limits a compile and a run are held to are in limits.c.)
 *
 *   kn_sandbox_enter           before any user code runs, in this order:
 *                              1. private mount and IPC namespaces (a user
 *                                 namespace too when not root) in which
 *                                 /proc, /sys, /dev (but null, zero, full,
 *                                 random, urandom), the runtime directory
 *                                 and the directories the caller names (the
 *                                 history) are empty read-only tmpfs: no
 *                                 other process, segment, socket or device
 *                                 can be named
 *                              2. every capability dropped, bounding set
 *                                 included (a cartridge of root is root
 *                                 without powers)
 *                              3. not dumpable: no other process of the user
 *                                 may ptrace it or open its /proc files
 *                              4. a seccomp filter (kn_sandbox_seccomp)
 *   kn_sandbox_seccomp         no new processes, no exec, no sockets (nor
 *                              io_uring, which makes them), no signals or
 *                              scheduling changes aimed at another process,
 *                              no reading or writing another's memory, no
 *                              namespaces, mounts, keys, BPF, perf,
 *                              userfaultfd, SysV IPC, prctl, or raising
 *                              limits; the x32 ABI is refused whole (its
 *                              numbers would slip past the list). Each
 *                              fails with EPERM; the refusal traps
 *                              (SIGSYS) so the conductor hears which call
 *                              it was, but for fork and clone, refused
 *                              quietly (libc blocks SIGSYS around them)
 *   kn_sandbox_fpu             flush denormals to zero (a denormal storm
 *                              cannot slow the DSP down); set identically in
 *                              live and offline renders so they stay equal
 *
 * The conductor does not rely on any of this to stay alive: it never waits
 * for a cartridge and validates everything shared. These limits protect the
 * machine and make faults fail fast instead of slowly.
 */
#include "cartridge.h"
#include "contract.h"
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <ucontext.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

void kn_sandbox_normal(void) {
    struct sched_param sp = {.sched_priority = 0};
    sched_setscheduler(0, SCHED_OTHER, &sp);
}

void kn_sandbox_fpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
#endif
}

/* ------------------------------------------------------- namespaces */

static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = n == (ssize_t)strlen(text) ? 0 : -errno;
    close(fd);
    return e;
}

/* Private mount and IPC namespaces. Root may make them; anyone else makes
 * a user namespace first, mapping only its own uid and gid. */
static int unshare_namespaces(void) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC) == 0) return 0;
    if (errno != EPERM) return -errno;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC)) return -errno;
    char map[64];
    write_text("/proc/self/setgroups", "deny"); /* required before gid_map; absent on old kernels */
    snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
    int rc = write_text("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
    return rc ? rc : write_text("/proc/self/gid_map", map);
}

/* An empty read-only tmpfs over dir (in our namespace only). */
static int cover(const char *dir) {
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return 0; /* nothing to hide */
    return mount("kanon-hidden", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "size=4k,mode=0555")
               ? -errno
               : 0;
}

/* /dev replaced by a tmpfs holding only the harmless devices, each bound
 * from the real one (a user namespace may not create device nodes). */
static int cover_dev(void) {
    static const char *keep[] = {"null", "zero", "full", "random", "urandom"};
    int fds[5];
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "/dev/%s", keep[i]);
        fds[i] = (int)syscall(SYS_open_tree, AT_FDCWD, path, 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC);
    }
    int rc = mount("kanon-dev", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=4k,mode=0755")
                 ? -errno
                 : 0;
    for (int i = 0; i < 5; i++) {
        if (!rc && fds[i] >= 0) {
            char path[32];
            snprintf(path, sizeof path, "/dev/%s", keep[i]);
            int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
            if (f >= 0) close(f);
            syscall(SYS_move_mount, fds[i], "", AT_FDCWD, path, 4 /* MOVE_MOUNT_F_EMPTY_PATH */);
        }
        if (fds[i] >= 0) close(fds[i]);
    }
    if (!rc) mount("none", "/dev", "none", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL);
    return rc;
}

static int hide_paths(const char *const *hide, int nhide, char *why, size_t n) {
    int rc = unshare_namespaces();
    if (rc) {
        snprintf(why, n, "cannot make private namespaces (%s)", strerror(-rc));
        return rc;
    }
    /* our mounts must not leak back into the parent namespace */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL)) {
        rc = -errno;
        snprintf(why, n, "cannot make mounts private (%s)", strerror(-rc));
        return rc;
    }
    char runtime[KN_PATH_MAX];
    const char *dirs[20];
    int nd = 0;
    for (int i = 0; i < nhide && nd < 16; i++)
        if (hide[i] && hide[i][0]) dirs[nd++] = hide[i];
    if (kn_runtime_dir(runtime) == 0) dirs[nd++] = runtime;
    dirs[nd++] = "/dev"; /* with /dev/shm: other programs' POSIX shared memory */
    dirs[nd++] = "/sys";
    dirs[nd++] = "/proc"; /* last: /proc/self was needed until here */
    for (int i = 0; i < nd; i++) {
        rc = strcmp(dirs[i], "/dev") ? cover(dirs[i]) : cover_dev();
        if (rc) {
            snprintf(why, n, "cannot hide %s (%s)", dirs[i], strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* Every capability gone: effective, permitted, inheritable, ambient and
 * the bounding set (needs CAP_SETPCAP, which root and a new user
 * namespace have until here). */
static int drop_capabilities(void) {
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* ---------------------------------------------------------- seccomp */

#if defined(__x86_64__)
#define KN_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define KN_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef KN_AUDIT_ARCH
#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
/* Refused calls trap (SIGSYS): on_sigsys makes them fail with EPERM and
 * tells the conductor which call it was. */
#define REFUSE    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP)
#define DENY(sys) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 1), REFUSE
/* Refused outright with EPERM, untold: libc blocks every signal around
 * fork, posix_spawn and pthread_create, and a trap that finds SIGSYS
 * blocked kills the process instead of failing the call. */
#define DENY_QUIETLY(sys)                                                                          \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 1),                                              \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
/* Allows the call only if its first argument (low 32 bits) is our pid. */
#define SELF_ONLY(sys, pid)                                                                        \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 4), LOAD(args[0]),                               \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (pid), 1, 0), REFUSE, LOAD(nr)
/* Allows the call only if its first argument is 0 (this thread) or our pid. */
#define SELF_OR_0(sys, pid)                                                                        \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 5), LOAD(args[0]),                               \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),                                              \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (pid), 1, 0), REFUSE, LOAD(nr)
/* Refuses the call when its second argument is `req` (an ioctl request). */
#define DENY_ARG1(sys, req)                                                                        \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 4), LOAD(args[1]),                               \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (req), 0, 1), REFUSE, LOAD(nr)
#endif

/* Names of the calls the filter refuses, for the conductor's log. */
#define CALL(x)                                                                                    \
    { __NR_##x, #x }
static const struct {
    int nr;
    const char *name;
} refused_calls[] = {
#ifdef __NR_fork
    CALL(fork),
    CALL(vfork),
#endif
    CALL(clone),
    CALL(clone3),
    CALL(execve),
    CALL(execveat),
    CALL(socket),
    CALL(socketpair),
    CALL(connect),
    CALL(bind),
    CALL(listen),
    CALL(accept),
    CALL(accept4),
    CALL(io_uring_setup),
    CALL(io_uring_enter),
    CALL(io_uring_register),
    CALL(ptrace),
    CALL(process_vm_readv),
    CALL(process_vm_writev),
    CALL(process_madvise),
    CALL(kcmp),
    CALL(pidfd_open),
    CALL(pidfd_getfd),
    CALL(pidfd_send_signal),
    CALL(kill),
    CALL(tgkill),
    CALL(rt_sigqueueinfo),
    CALL(rt_tgsigqueueinfo),
    CALL(tkill),
    CALL(sched_setscheduler),
    CALL(sched_setparam),
    CALL(sched_setattr),
    CALL(sched_setaffinity),
    CALL(setpriority),
    CALL(ioprio_set),
    CALL(migrate_pages),
    CALL(move_pages),
    CALL(unshare),
    CALL(setns),
    CALL(mount),
    CALL(umount2),
    CALL(pivot_root),
    CALL(chroot),
    CALL(open_tree),
    CALL(move_mount),
    CALL(fsopen),
    CALL(fsconfig),
    CALL(fsmount),
    CALL(fspick),
    CALL(mount_setattr),
    CALL(keyctl),
    CALL(add_key),
    CALL(request_key),
    CALL(bpf),
    CALL(perf_event_open),
    CALL(userfaultfd),
    CALL(fanotify_init),
    CALL(name_to_handle_at),
    CALL(open_by_handle_at),
    CALL(personality),
    CALL(prctl),
    CALL(setrlimit),
    CALL(prlimit64),
    CALL(reboot),
    CALL(kexec_load),
    CALL(init_module),
    CALL(finit_module),
    CALL(delete_module),
    CALL(swapon),
    CALL(swapoff),
    CALL(acct),
    CALL(syslog),
    CALL(settimeofday),
    CALL(clock_settime),
    CALL(clock_adjtime),
    CALL(adjtimex),
    CALL(shmget),
    CALL(shmat),
    CALL(shmctl),
    CALL(msgget),
    CALL(semget),
    CALL(mq_open),
    CALL(ioctl),
};
#undef CALL

static const char *refused_name(int nr) {
    for (size_t i = 0; i < sizeof refused_calls / sizeof *refused_calls; i++)
        if (refused_calls[i].nr == nr) return refused_calls[i].name;
    return nr >= 0x40000000 ? "an x32 call" : "a system call";
}

static int trap_fd = -1; /* report pipe (JSON lines), or -1: text on stderr */

/* SIGSYS from a refused call: the call fails with EPERM, as if refused
 * outright, and the first refusal of each call is reported (a loop of
 * refused calls must not flood the pipe). Async-signal-safe: no stdio,
 * only write(). */
static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    ucontext_t *uc = ctx;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#endif
    static unsigned char seen[1024 / 8];
    int nr = si->si_syscall, slot = nr >= 0x40000000 ? 1023 : nr & 1023; /* x32: one slot */
    if (seen[slot / 8] & (1u << (slot % 8))) return;
    seen[slot / 8] |= (unsigned char)(1u << (slot % 8));
    char line[160];
    const char *name = refused_name(nr);
    int n = trap_fd >= 0
                ? snprintf(line, sizeof line, "{\"%s\":\"%s\",\"%s\":\"%s\"}\n", KN_REPORT_EVENT,
                           KN_REPORT_BLOCKED, KN_REPORT_SYSCALL, name)
                : snprintf(line, sizeof line,
                           "kanon: note: the sandbox refused %s (it failed with EPERM)\n", name);
    ssize_t w = write(trap_fd >= 0 ? trap_fd : 2, line, (size_t)n);
    (void)w;
}

static int trap_refusals(int report_fd) {
    trap_fd = report_fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

int kn_sandbox_seccomp(void) {
#ifdef KN_AUDIT_ARCH
    uint32_t pid = (uint32_t)getpid();
    struct sock_filter f[] = {
        LOAD(arch),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KN_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        LOAD(nr),
#if defined(__x86_64__)
        /* x32 calls carry bit 30: every number of that ABI is refused */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
        REFUSE,
#endif
    /* processes and programs */
#ifdef __NR_fork
        DENY_QUIETLY(__NR_fork),
        DENY_QUIETLY(__NR_vfork),
#endif
        DENY_QUIETLY(__NR_clone),
        DENY_QUIETLY(__NR_clone3),
        DENY(__NR_execve),
        DENY(__NR_execveat),
        /* networking and anything that makes sockets */
        DENY(__NR_socket),
        DENY(__NR_socketpair),
        DENY(__NR_connect),
        DENY(__NR_bind),
        DENY(__NR_listen),
        DENY(__NR_accept),
        DENY(__NR_accept4),
        DENY(__NR_io_uring_setup),
        DENY(__NR_io_uring_enter),
        DENY(__NR_io_uring_register),
        /* other processes: memory, signals, descriptors, scheduling */
        DENY(__NR_ptrace),
        DENY(__NR_process_vm_readv),
        DENY(__NR_process_vm_writev),
        DENY(__NR_process_madvise),
        DENY(__NR_kcmp),
        DENY(__NR_pidfd_open),
        DENY(__NR_pidfd_getfd),
        DENY(__NR_pidfd_send_signal),
        SELF_ONLY(__NR_kill, pid),
        SELF_ONLY(__NR_tgkill, pid),
        SELF_ONLY(__NR_rt_sigqueueinfo, pid),
        SELF_ONLY(__NR_rt_tgsigqueueinfo, pid),
        DENY(__NR_tkill),
        SELF_OR_0(__NR_sched_setscheduler, pid),
        SELF_OR_0(__NR_sched_setparam, pid),
        SELF_OR_0(__NR_sched_setattr, pid),
        SELF_OR_0(__NR_sched_setaffinity, pid),
        DENY(__NR_setpriority),
        DENY(__NR_ioprio_set),
        DENY(__NR_migrate_pages),
        DENY(__NR_move_pages),
        /* the system: namespaces, mounts, keys, kernel interfaces */
        DENY(__NR_unshare),
        DENY(__NR_setns),
        DENY(__NR_mount),
        DENY(__NR_umount2),
        DENY(__NR_pivot_root),
        DENY(__NR_chroot),
        DENY(__NR_open_tree),
        DENY(__NR_move_mount),
        DENY(__NR_fsopen),
        DENY(__NR_fsconfig),
        DENY(__NR_fsmount),
        DENY(__NR_fspick),
        DENY(__NR_mount_setattr),
        DENY(__NR_keyctl),
        DENY(__NR_add_key),
        DENY(__NR_request_key),
        DENY(__NR_bpf),
        DENY(__NR_perf_event_open),
        DENY(__NR_userfaultfd),
        DENY(__NR_fanotify_init),
        DENY(__NR_name_to_handle_at),
        DENY(__NR_open_by_handle_at),
        DENY(__NR_personality),
        DENY(__NR_prctl),
        DENY(__NR_setrlimit),
        DENY(__NR_prlimit64),
        DENY(__NR_reboot),
        DENY(__NR_kexec_load),
        DENY(__NR_init_module),
        DENY(__NR_finit_module),
        DENY(__NR_delete_module),
        DENY(__NR_swapon),
        DENY(__NR_swapoff),
        DENY(__NR_acct),
        DENY(__NR_syslog),
        DENY(__NR_settimeofday),
        DENY(__NR_clock_settime),
        DENY(__NR_clock_adjtime),
        DENY(__NR_adjtimex),
        /* System V IPC and message queues: other programs' shared memory */
        DENY(__NR_shmget),
        DENY(__NR_shmat),
        DENY(__NR_shmctl),
        DENY(__NR_msgget),
        DENY(__NR_semget),
        DENY(__NR_mq_open),
        /* typing into a terminal the cartridge may have inherited */
        DENY_ARG1(__NR_ioctl, TIOCSTI),
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

int kn_sandbox_enter(const char *const *hide, int nhide, int report_fd, char *why, size_t n) {
    why[0] = 0;
    trap_refusals(report_fd);
    int hidden = hide_paths(hide, nhide, why, n);
    int rc = drop_capabilities();
    if (rc && !why[0]) snprintf(why, n, "cannot drop capabilities (%s)", strerror(-rc));
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int sc = kn_sandbox_seccomp();
    if (sc) snprintf(why, n, "seccomp is not available (%s)", strerror(-sc));
    return sc ? sc : hidden ? hidden : rc;
}
