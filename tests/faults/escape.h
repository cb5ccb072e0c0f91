/*
 * escape.h - shared by the escape_*.c fault files: deck code that attacks
 * its surroundings (the conductor, the other decks, the user's session)
 * the way hostile code would. Each attempt is recorded as "name=R/ERRNO",
 * R = -1 when the attempt failed, and the line goes to the fault log as
 * "escape_<kind> name=R/E name=R/E ...". tests/faults/storm.py requires
 * every R to be -1, the conductor and the other deck to play on bit for
 * bit, and a "sandbox" event naming the deck's cartridge and each refused
 * system call (docs/safety.md, "The sandbox").
 */
#ifndef KN_ESCAPE_H
#define KN_ESCAPE_H
#include "fault.h"

#include <errno.h>

static char escape_line[1024];

/* Records one attempt: r as returned (>= 0 is a success, -1 a failure). */
static void attempt(const char *name, long r) {
    size_t n = strlen(escape_line);
    snprintf(escape_line + n, sizeof escape_line - n, " %s=%ld/%d", name, r < 0 ? -1L : r,
             r < 0 ? errno : 0);
}

/* A count of things reached that should be 0: recorded as -1 when it is. */
static void reached(const char *name, long count) {
    errno = 0;
    attempt(name, count ? count : -1);
}

static void escape_report(const char *kind) {
    char what[1100];
    snprintf(what, sizeof what, "escape_%s%s", kind, escape_line);
    fault_mark(what);
    escape_line[0] = 0;
}
#endif
