/*
 * fault.h - shared by the fault DSP files in tests/faults/ (the crash-
 * isolation tests: tests/e2e/test_faults.sh, tests/soak.sh; see
 * docs/safety.md). Each fault file is a normal kanon DSP file that plays
 * the "victim" signal (below) until its fault fires.
 *
 *   victim_setup(k)        binds the deck's state counter n (kn_state "victim")
 *   victim(k, out, frames) the signal: x = B + (n mod 2^19) / 2^22 on every
 *                          channel, n += 1 per frame, with B = 1/4 in the fault
 *                          files and B = 1/16 in the versions that stand for good
 *                          code (VICTIM_GOOD defined: good.c, flaky.c, trigger.c).
 *                          A slow ramp, exact in float32, never 0, below the
 *                          limiter's knee: a recording shows, to the frame, which
 *                          kind of code was heard, which state n it was at, and
 *                          where the deck went silent and came back.
 *   fault_now()            call once per process(): true from call FAULT_AFTER+1
 *                          on. The test render (setup() once, 16 process() calls
 *                          on a scratch copy, in the same process) comes first,
 *                          so the default 200 fires after the takeover, about
 *                          0.1-0.2 s into the live run. "#define FAULT_AFTER 0"
 *                          before the include fires in the test render instead.
 *   fault_setup()          call once per setup(): true on call FAULT_SETUP
 *                          (default 2: the takeover; 1 = the test render).
 *   fault_mark(what)       appends "FAULT_LANE what <wall time> <n> <pid>" to the
 *                          file named by $KANON_FAULT_LOG (if set): the test
 *                          measures fault -> detection -> revert from it. Call it
 *                          right before misbehaving. (FAULT_LANE, default "", tells
 *                          apart the marks of a second deck injected in parallel.)
 */
#ifndef KN_FAULT_H
#define KN_FAULT_H
#include <kanon.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef FAULT_AFTER
#define FAULT_AFTER 200
#endif
#ifndef FAULT_SETUP
#define FAULT_SETUP 2
#endif
#ifndef FAULT_LANE
#define FAULT_LANE ""
#endif

static unsigned long *victim_n;

static void victim_setup(kn_ctx *k) {
    victim_n = kn_state(k, "victim", sizeof *victim_n);
}

#ifdef VICTIM_GOOD
#define VICTIM_BASE 0.0625f
#else
#define VICTIM_BASE 0.25f
#endif

static void victim(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        float x = VICTIM_BASE + (float)(*victim_n & 0x7FFFF) * (1.0f / 4194304.0f);
        for (int c = 0; c < k->channels; c++) out[c][i] = x;
        ++*victim_n;
    }
}

static int fault_calls, fault_setups;

static int fault_now(void) {
    return ++fault_calls > FAULT_AFTER;
}

static int fault_setup(void) {
    return ++fault_setups == FAULT_SETUP;
}

static void fault_mark(const char *what) {
    const char *path = getenv("KANON_FAULT_LOG");
    if (!path) return;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    char line[1400];
    int n = snprintf(line, sizeof line, "%s%s %ld.%09ld %lu %d\n", FAULT_LANE, what, (long)t.tv_sec,
                     (long)t.tv_nsec, victim_n ? *victim_n : 0ul, (int)getpid());
    if (n >= (int)sizeof line) n = (int)sizeof line - 1; /* cut, never past the buffer */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        write(fd, line, (size_t)n);
        close(fd);
    }
}
#endif
