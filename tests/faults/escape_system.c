/* escape_system.c - tries the kernel's ways out of a sandbox: prctl (make
 * itself dumpable, survive the conductor), namespaces, mounts (to see
 * /proc again), chroot, keys, BPF, perf events, userfaultfd, clone3 and
 * clone with odd flags, personality, a module, and typing into a terminal
 * (TIOCSTI). It also counts the capabilities it still has (none, even when
 * kanon runs as root). Expected: all fail; the code plays on. */
#define _GNU_SOURCE 1
#include "escape.h"
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        attempt("prctl_dumpable", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
        attempt("prctl_pdeathsig", prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0));
        attempt("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS));
        attempt("setns", syscall(SYS_setns, 0, 0));
        attempt("mount_proc", mount("proc", "/proc", "proc", 0, NULL));
        attempt("umount_proc", umount2("/proc", MNT_DETACH));
        attempt("chroot", chroot("/"));
        attempt("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
        attempt("add_key", syscall(SYS_add_key, "user", "kanon", "x", 1, -3));
        attempt("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
        struct perf_event_attr pa;
        memset(&pa, 0, sizeof pa);
        pa.size = sizeof pa;
        pa.type = PERF_TYPE_SOFTWARE;
        attempt("perf_event_open", syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0));
        attempt("userfaultfd", syscall(SYS_userfaultfd, 0));
        struct {
            unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
                tls;
        } ca;
        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_PARENT | CLONE_NEWPID;
        long c3 = syscall(SYS_clone3, &ca, sizeof ca);
        if (c3 == 0) _exit(0);
        attempt("clone3", c3);
        long cl = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (cl == 0) _exit(0);
        attempt("clone", cl);
        attempt("personality", syscall(SYS_personality, 0x0008 /* ADDR_NO_RANDOMIZE */));
        attempt("init_module", syscall(SYS_init_module, NULL, 0, ""));
        char ch = 'x';
        attempt("tiocsti", ioctl(2, TIOCSTI, &ch));
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        syscall(SYS_capget, &h, d);
        long caps = 0;
        for (int i = 0; i < 2; i++)
            for (unsigned m = d[i].effective | d[i].permitted; m; m &= m - 1) caps++;
        reached("capabilities", caps);
        escape_report("system");
    }
    victim(k, out, frames);
}
