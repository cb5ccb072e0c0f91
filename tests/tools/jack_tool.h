/*
 * jack_tool.h - what the JACK test clients share (kn_jack_midi, and the
 * others as they move here): messages, sleeping and timing, waiting for a
 * port to appear, numbers from the command line, JSON strings.
 *
 * Header-only: every tool is one program built from one .c file. Set
 * jack_tool_name before the first message.
 */
#ifndef KN_JACK_TOOL_H
#define KN_JACK_TOOL_H

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jack/jack.h>

enum { JT_EXIT_FAILED = 1, JT_EXIT_USAGE = 2 };

static const char *jack_tool_name = "kn_jack_tool";
static volatile sig_atomic_t jt_interrupted;

static void jt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jt_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", jack_tool_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void jt_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !jt_interrupted) {
    }
}

static double jt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void jt_on_signal(int sig) {
    (void)sig;
    jt_interrupted = 1;
}

static void jt_jack_error(const char *msg) {
    fprintf(stderr, "%s: jack: %s\n", jack_tool_name, msg);
}
static void jt_jack_info(const char *msg) {
    (void)msg;
}

/* SIGINT/SIGTERM end the wait loops; JACK's messages go to stderr (its
 * info messages nowhere). */
static void jt_setup(const char *name) {
    jack_tool_name = name;
    struct sigaction sa = {.sa_handler = jt_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    jack_set_error_function(jt_jack_error);
    jack_set_info_function(jt_jack_info);
}

/* The port `name` once it exists (up to `seconds`), if it has `flag`
 * (JackPortIsInput or JackPortIsOutput); NULL with a message. */
static jack_port_t *jt_wait_port(jack_client_t *cl, const char *name, unsigned long flag,
                                 double seconds, const _Atomic bool *gone) {
    double deadline = jt_now() + seconds;
    jack_port_t *p;
    while (!(p = jack_port_by_name(cl, name))) {
        if (jt_now() >= deadline || jt_interrupted || (gone && *gone)) {
            jt_fail("port '%s' not found (waited %g s)", name, seconds);
            return NULL;
        }
        jt_sleep_ms(10);
    }
    if (!(jack_port_flags(p) & flag)) {
        jt_fail("port '%s' is not an %s port", name, flag == JackPortIsInput ? "input" : "output");
        return NULL;
    }
    return p;
}

/* Connects src -> dst and waits until `mine` (one of them, this client's)
 * sees it, so the next cycle carries it. */
static bool jt_connect(jack_client_t *cl, jack_port_t *mine, const char *src, const char *dst,
                       const char *other) {
    int rc = jack_connect(cl, src, dst);
    if (rc && rc != EEXIST) return jt_fail("cannot connect '%s' -> '%s' (%d)", src, dst, rc), false;
    double deadline = jt_now() + 2;
    while (!jack_port_connected_to(mine, other))
        if (jt_now() > deadline)
            return jt_fail("'%s' -> '%s' did not appear", src, dst), false;
        else
            jt_sleep_ms(5);
    return true;
}

static double jt_number(const char *s, const char *what, double lo, double hi) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo || v > hi) {
        jt_fail("%s: expected a number in %g..%g, got '%s'", what, lo, hi, s);
        exit(JT_EXIT_USAGE);
    }
    return v;
}

static void jt_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    putchar('"');
}

#endif
