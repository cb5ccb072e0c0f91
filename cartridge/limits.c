/*
 * limits.c - the limits a compile and a run are held to (shared with
 * `kanon check`, front.h; the rest of the sandbox is sandbox.c):
 *
 *   kn_sandbox_compile_limits  before compiling: address space and wall-
 *                              clock limits (a macro bomb or a runaway
 *                              compile dies alone), no core dumps; faust,
 *                              run as a child, may use twice the space
 *   kn_sandbox_deadline        a wall-clock limit (SIGALRM), e.g. for the
 *                              test render; 0 clears it
 *   kn_sandbox_compile_alarm   what the compile's limit says when it
 *                              strikes: a message prepared beforehand
 *                              (naming the limit, how to raise it, and
 *                              whether faust or tcc was still at work) is
 *                              written and the cartridge exits 1, a refusal
 *                              like any compile error, instead of dying of
 *                              a bare SIGALRM
 *   kn_sandbox_run_limits      after compiling: the address-space limit
 *                              for running (allocating until failure gets
 *                              NULL, not the machine's memory), and
 *                              RLIMIT_RTTIME, under which the conductor
 *                              gives the render loop SCHED_FIFO priority 1
 *                              (decks.c): a loop that never sleeps for
 *                              100 ms gets SIGXCPU (a fault), so real-time
 *                              priority cannot starve the machine. The
 *                              cartridge itself never holds the right to
 *                              raise its priority
 */
#include "front.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

volatile sig_atomic_t kn_faust_running;
char kn_faust_tmp[64];

static void limit(int what, rlim_t v) {
    struct rlimit r = {v, v};
    setrlimit(what, &r);
}

void kn_sandbox_deadline(double seconds) {
    struct itimerval t = {{0, 0}, {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e6)}};
    setitimer(ITIMER_REAL, &t, NULL); /* SIGALRM's default action ends the process */
}

/* Prepared before the compile: a signal handler may only write. */
static char alarm_text[2][4096];
static size_t alarm_len[2];
static int alarm_fd = -1;

static void on_compile_alarm(int sig) {
    (void)sig;
    int k = kn_faust_running ? 1 : 0;
    if (kn_faust_tmp[0]) unlink(kn_faust_tmp);
    if (alarm_fd >= 0) {
        ssize_t w = write(alarm_fd, alarm_text[k], alarm_len[k]);
        (void)w;
    }
    _exit(1); /* faust, if it runs, dies with us (PR_SET_PDEATHSIG) */
}

void kn_sandbox_compile_alarm(int fd, const char *tcc_text, const char *faust_text) {
    const char *t[2] = {tcc_text, faust_text};
    for (int k = 0; k < 2; k++) {
        snprintf(alarm_text[k], sizeof alarm_text[k], "%s", t[k]);
        alarm_len[k] = strlen(alarm_text[k]);
    }
    alarm_fd = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_compile_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

void kn_sandbox_compile_limits(double seconds, size_t mem_bytes) {
    limit(RLIMIT_CORE, 0);
    /* faust (a child, faust.c) may take twice ours: it needs hundreds of
     * MiB for a large program (virtualAnalog.dsp: 730 MiB resident), and it
     * raises its soft limit to this hard one; run_limits lowers both before
     * any user code runs */
    struct rlimit as = {mem_bytes, 2 * mem_bytes};
    setrlimit(RLIMIT_AS, &as);
    kn_sandbox_deadline(seconds);
}

void kn_sandbox_run_limits(size_t mem_bytes) {
    kn_sandbox_deadline(0);
    signal(SIGALRM, SIG_DFL); /* later deadlines (the test render's) kill plainly */
    alarm_fd = -1;
    limit(RLIMIT_AS, mem_bytes);
    /* before seccomp (which forbids setrlimit): the cap that lets the
     * conductor give the render loop real-time priority, in us of CPU
     * without blocking (soft: SIGXCPU, hard: KILL) */
    struct rlimit rt = {100000, 200000};
    setrlimit(RLIMIT_RTTIME, &rt);
}
