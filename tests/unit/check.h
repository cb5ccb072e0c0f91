/* check.h - the unit tests' one assertion: report file:line and count,
 * keep going (so one run shows every failure). */
#ifndef KANON_CHECK_H
#define KANON_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                           \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* The last line of every test's main(): "ok" or "FAILED", and the exit status. */
static inline int check_report(void) {
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}

#endif
