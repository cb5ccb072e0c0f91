/* fork.c - tries to start processes after the takeover: fork(), system()
 * and execve(). The seccomp filter makes each fail with EPERM, so there is
 * no fault: the code plays on. The results go to the fault log as
 * "fork=R/ERRNO system=R execve=R/ERRNO"; the test expects -1/EPERM (1) for
 * fork and execve, a failure from system() (-1, or 32512: "exit status 127,
 * no shell could be started"), and no extra process.
 * (If fork() ever succeeded, the child would _exit at once.) */
#include "fault.h"
#include <errno.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        char what[128];
        int f = fork(), fe = errno;
        if (f == 0) _exit(0);
        int s = system("touch /tmp/kanon-fault-system-ran");
        char *argv[] = {"/bin/true", 0}, *envp[] = {0};
        int x = execve("/bin/true", argv, envp), xe = errno;
        snprintf(what, sizeof what, "fork=%d/%d system=%d execve=%d/%d", f, fe, s, x, xe);
        fault_mark(what);
    }
    victim(k, out, frames);
}
