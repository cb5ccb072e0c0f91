// link: conductor/proc_stat.c
/*
 * test_proc_sched.c - kn_proc_sched, the readings hang detection rests on.
 *
 * Real child processes, each in one scheduler situation:
 *   spinning     CPU time grows, state R
 *   sleeping     CPU time does not grow (much), state S
 *   stopped      (SIGSTOP) CPU time does not grow, state T
 *   starved      two spinners pinned to one CPU: each waits for it, so the
 *                runqueue wait grows (where the kernel keeps schedstats)
 *   gone         (killed and reaped) the reading fails
 * and, when run as root, the same readings taken by a non-root parent of a
 * non-dumpable child (what the conductor does with a sandboxed cartridge).
 * Only "grew" and "did not grow much" are asserted: no timing.
 */
#include "check.h"
#include "conductor.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t)) {
    }
}

static pid_t child(int what, int cpu) {
    pid_t p = fork();
    if (p) return p;
    if (cpu >= 0) {
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(cpu, &s);
        sched_setaffinity(0, sizeof s, &s);
    }
    prctl(PR_SET_DUMPABLE, 0); /* like a sandboxed cartridge */
    if (what == 'S')
        for (;;) pause();
    for (volatile unsigned long i = 0;; i++) {
    }
}

static void end(pid_t p) {
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

typedef struct reading {
    uint64_t cpu;
    int64_t wait;
    char state;
} reading;

static int take(pid_t p, reading *r) {
    return kn_proc_sched(p, &r->cpu, &r->wait, &r->state);
}

/* Spinning, sleeping, stopped; then gone. */
static void basics(void) {
    pid_t spin = child('R', -1), sleep_ = child('S', -1), stop = child('R', -1);
    nap_ms(100);
    kill(stop, SIGSTOP);
    nap_ms(50);
    reading a[3], b[3];
    CHECK(take(spin, &a[0]) == 0);
    CHECK(take(sleep_, &a[1]) == 0);
    CHECK(take(stop, &a[2]) == 0);
    nap_ms(300);
    CHECK(take(spin, &b[0]) == 0);
    CHECK(take(sleep_, &b[1]) == 0);
    CHECK(take(stop, &b[2]) == 0);
    CHECK(b[0].cpu > a[0].cpu); /* spinning: its CPU time grew */
    CHECK(b[0].state == 'R');
    CHECK(b[1].cpu - a[1].cpu < 5000000); /* sleeping: it didn't (much) */
    CHECK(b[1].state == 'S');
    CHECK(b[2].cpu == a[2].cpu); /* stopped: not at all */
    CHECK(b[2].state == 'T' || b[2].state == 't');
    uint64_t before;
    CHECK(kn_proc_cpu(spin, &before) == 0 && before >= b[0].cpu);
    end(spin);
    end(sleep_);
    end(stop);
    reading gone;
    CHECK(take(spin, &gone) == -ESRCH); /* reaped: nothing to read */
    CHECK(gone.state == '?' && gone.wait == -1);
    CHECK(kn_proc_cpu(spin, &before) == -ESRCH);
}

/* Two spinners on one CPU: each is runnable while the other runs. */
static void starved(void) {
    pid_t x = child('R', 0), y = child('R', 0);
    nap_ms(50);
    reading a, b;
    CHECK(take(x, &a) == 0);
    nap_ms(300);
    CHECK(take(x, &b) == 0);
    CHECK(b.state == 'R');
    if (a.wait < 0) {
        printf("note: no schedstats on this kernel: the runqueue wait is unknown\n");
    } else {
        CHECK(b.wait > a.wait); /* it waited for the CPU */
        CHECK(b.cpu > a.cpu);   /* and got some of it */
    }
    end(x);
    end(y);
}

/* As root: a non-root parent reads its non-dumpable child. */
static void not_root(void) {
    if (geteuid() != 0) return; /* we are the non-root case already */
    pid_t p = fork();
    if (!p) {
        if (setgid(65534) || setuid(65534)) _exit(2);
        pid_t c = child('R', -1);
        nap_ms(100);
        reading a, b;
        int ok =
            take(c, &a) == 0 && (nap_ms(100), take(c, &b) == 0) && b.cpu > a.cpu && b.state == 'R';
        end(c);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 1);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 2) printf("note: cannot become uid 65534\n");
}

int main(void) {
    basics();
    starved();
    not_root();
    return check_report();
}
