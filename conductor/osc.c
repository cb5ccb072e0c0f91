/*
 * osc.c - OSC control over UDP and over a unix socket, with feedback to
 * subscribers.
 *
 * liblo 0.31's UDP server binds 0.0.0.0 with no way to restrict it, so we
 * bind our own sockets, read packets in the event loop and hand them to a
 * liblo server used only for parsing and dispatch (a LO_UNIX server whose
 * socket path is unlinked at once: it never listens anywhere):
 *
 *   UDP 127.0.0.1:7770 (--osc-host/--osc-port)   control only: any local
 *       user can send UDP, and with --osc-host so can other hosts
 *   <runtime dir>/<instance>.osc, datagrams, 0600  everything, file
 *       commands (/kanon/play) included: only the owner can send there
 *
 * A file named over OSC is compiled and run as the conductor's owner, so
 * UDP may name none unless --osc-trust-udp says otherwise.
 *
 *   /kanon/DECK/NAME f|i|d     set a parameter (clamped to its range)
 *   /kanon/DECK/gain f         deck gain, dB        /kanon/master/gain f
 *   /kanon/DECK/mute i         0/1                  /kanon/DECK/solo i
 *   /kanon/DECK/pan f          -1..1
 *   /kanon/DECK/note iif       a note: pitch, velocity (0: a note off), duration
 *                              in beats (0: no note off); any number type; with
 *                              two arguments, no duration (note.c)
 *   /kanon/play s [s]          file (absolute), deck name: unix socket only
 *   /kanon/stop s              deck
 *   /kanon/subscribe i         feedback to the sender's host at port i (unix:
 *                              to the sender's own socket)
 *   /kanon/unsubscribe i
 *   /kanon/tempo f|i|d         the tempo of every deck, bpm
 *   /kanon/route ss f [i]      source, destination[:port], gain in dB [, 1: pre-fader]
 *   /kanon/unroute ss          source, destination[:port]
 *   anything bound by a control-surface map (surface.c)
 *
 * Time. A parameter set inside a bundle whose timetag lies in the future
 * lands on the timeline frame heard at that time (kn_timeline_frame_at:
 * the device clock of the last audio callback plus the device latency), at
 * its exact sample; every message of one bundle gets the same frame, so
 * two decks set together change together. A timetag already past applies
 * at once and is counted late; "immediate" (and a plain message) applies
 * at once as it always did. Mixer settings (gain, pan, mute, solo) and the
 * tempo are not sample-timed: they apply when they arrive.
 *
 * Errors (unknown address, wrong types, bad values, malformed packets) are
 * answered with /kanon/error s to the sender; nothing is ever trusted.
 * Subscribers get /kanon/feedback/DECK/NAME f whenever a value changes,
 * whatever changed it (CLI, OSC, a glide), and /kanon/meters/DECK ff (peak
 * dB, RMS dB) about 30 times a second.
 */
#include "conductor.h"
#include "osc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lo/lo.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBS 16

/* A sender or subscriber: an IPv4 address and port, or a unix socket. */
typedef struct peer {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_un un;
    } a;
    socklen_t len;
} peer;

static int sock = -1;  /* UDP: control only */
static int usock = -1; /* unix datagrams, 0600: everything */
static char upath[KN_PATH_MAX];
static lo_server lo;
static kn_conductor *cond;
static peer src;      /* sender of the packet being dispatched */
static int src_files; /* may it name files (load, save, record...)? */
static peer subs[MAX_SUBS];
static int nsubs;
/* last values sent as feedback: params per deck and slot, mixer per deck */
static double sent_param[KN_MAX_DECKS][KN_MAX_PARAMS];
static double sent_mix[KN_MAX_DECKS + 1][4];
static uint32_t sent_gen[KN_MAX_DECKS]; /* producing cartridge the cache is for */

/* ------------------------------------------------------------- sending */

static int named(const peer *p) {
    return p->a.sa.sa_family != AF_UNIX || p->len > offsetof(struct sockaddr_un, sun_path);
}

/* Sends (and frees) m; -1 with errno set if it could not. A unix sender
 * that did not bind its socket to an address cannot be answered. */
static int send_to(const peer *to, const char *path, lo_message m) {
    char buf[2048];
    size_t n = lo_message_length(m, path);
    int fd = to->a.sa.sa_family == AF_UNIX ? usock : sock, rc = -1, e = EINVAL;
    if (fd >= 0 && named(to) && n <= sizeof buf && lo_message_serialise(m, path, buf, &n)) {
        rc = (int)sendto(fd, buf, n, MSG_DONTWAIT, &to->a.sa, to->len);
        e = errno;
    }
    lo_message_free(m);
    errno = e;
    return rc;
}

int kn_osc_send(const struct sockaddr_in *to, const char *path, lo_message m) {
    peer p = {.a.in = *to, .len = sizeof *to};
    return send_to(&p, path, m);
}

static int same_peer(const peer *a, const peer *b) {
    if (a->a.sa.sa_family != b->a.sa.sa_family) return 0;
    if (a->a.sa.sa_family == AF_INET)
        return a->a.in.sin_addr.s_addr == b->a.in.sin_addr.s_addr &&
               a->a.in.sin_port == b->a.in.sin_port;
    return a->len == b->len && !memcmp(&a->a, &b->a, a->len);
}

static void reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply_error(const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lo_message m = lo_message_new();
    lo_message_add_string(m, text);
    send_to(&src, "/kanon/error", m);
}

static void to_subscribers(const char *path, lo_message m) {
    for (int i = 0; i < nsubs; i++) {
        lo_message copy = lo_message_clone(m);
        /* A unix subscriber whose socket is gone will never come back to
         * unsubscribe (UDP cannot tell): free its slot. */
        if (send_to(&subs[i], path, copy) < 0 && subs[i].a.sa.sa_family == AF_UNIX &&
            (errno == ECONNREFUSED || errno == ENOENT))
            subs[i--] = subs[--nsubs];
    }
    lo_message_free(m);
}

/* ------------------------------------------------------------ handlers */

/* The first argument as a number, whatever numeric type it came as. */
static int num_arg(const char *types, lo_arg **argv, int argc, double *out) {
    if (argc < 1) return -EINVAL;
    switch (types[0]) {
    case 'f': *out = kn_arg_f(argv[0]); break;
    case 'd': *out = kn_arg_d(argv[0]); break;
    case 'i': *out = kn_arg_i(argv[0]); break;
    case 'h': *out = (double)kn_arg_h(argv[0]); break;
    case 'T': *out = 1; break;
    case 'F': *out = 0; break;
    default: return -EINVAL;
    }
    return 0;
}

/* 1 (and the sender is told why, and the log says who) if the message
 * being dispatched may not name a file: it came over UDP, which any local
 * user can send, and the file would be compiled and run as our owner. */
static int file_refused(const char *path) {
    if (src_files) return 0;
    if (upath[0])
        reply_error("%.100s names a file: file commands are accepted only over the owner-only "
                    "OSC socket osc.unix://%s or from the kanon CLI, not over UDP (any user on "
                    "this machine can send UDP)",
                    path, upath);
    else
        reply_error("%.100s names a file: file commands are accepted only from the kanon CLI, "
                    "not over UDP (any user on this machine can send UDP)",
                    path);
    /* Logged at most once a second, so a flood cannot fill the disk. */
    static uint64_t last;
    static unsigned quiet;
    uint64_t now = kn_mono_ns();
    if (last && now - last < 1000000000u) {
        quiet++;
        return 1;
    }
    char from[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &src.a.in.sin_addr, from, sizeof from);
    char more[64] = "";
    if (quiet) snprintf(more, sizeof more, " (and %u more since the last report)", quiet);
    kn_log("OSC: refused %.100s from %s:%d over UDP: file commands only over %s or the CLI%s", path,
           from, ntohs(src.a.in.sin_port), upath[0] ? upath : "(no unix socket)", more);
    last = now;
    quiet = 0;
    return 1;
}

/* The timeline frame of a bundle's timetag: 0 for "at once" (immediate,
 * not in a bundle, or already past: then counted late). One bundle's
 * messages share their timetag, and the frame is worked out once for it:
 * an audio callback between two messages must not move the second. */
static uint64_t timetag_frame(lo_message msg) {
    static lo_timetag last_tt;
    static uint64_t last_frame;
    lo_timetag tt = msg ? lo_message_get_timestamp(msg) : LO_TT_IMMEDIATE;
    if (tt.sec == LO_TT_IMMEDIATE.sec && tt.frac == LO_TT_IMMEDIATE.frac) return 0;
    if (tt.sec == last_tt.sec && tt.frac == last_tt.frac && last_frame) return last_frame;
    /* NTP seconds since 1900 -> the monotonic clock */
    double wall = (double)tt.sec - 2208988800.0 + (double)tt.frac / 4294967296.0;
    double mono = (double)kn_mono_ns() + (wall * 1e9 - (double)kn_real_ns());
    int64_t f = mono > 0 ? kn_timeline_frame_at(cond, (uint64_t)mono) : -1;
    if (f < 0 || (uint64_t)f < kn_timeline_now(cond)) {
        if (f >= 0) cond->events_late++; /* its time has passed: at once */
        return 0;
    }
    last_tt = tt;
    last_frame = (uint64_t)f;
    return last_frame;
}

/* gain, pan, mute, solo: the deck's mixer strip; any other name: a
 * parameter, at the bundle's time (see the top). A refusal goes back to
 * the sender. */
void kn_osc_set(const char *deck, const char *name, double v) {
    kn_osc_set_at(deck, name, v, 0);
}

void kn_osc_set_at(const char *deck, const char *name, double v, uint64_t frame) {
    char err[256];
    int bad;
    if (!strcmp(name, "gain") || !strcmp(name, "pan") || !strcmp(name, "mute") ||
        !strcmp(name, "solo")) {
        kn_mix_change m = {.ramp_ms = 10};
        if (!strcmp(name, "gain")) m.has_gain = 1, m.gain_db = v;
        if (!strcmp(name, "pan")) m.has_pan = 1, m.pan = v;
        if (!strcmp(name, "mute")) m.has_mute = 1, m.mute = v != 0;
        if (!strcmp(name, "solo")) m.has_solo = 1, m.solo = v != 0;
        bad = kn_cmd_mix(cond, deck, &m, NULL, err, sizeof err);
    } else if (frame) {
        bad = kn_cmd_set_at(cond, deck, name, v, 0, frame, err, sizeof err);
    } else {
        bad = kn_cmd_set(cond, deck, name, v, 0, NULL, err, sizeof err);
    }
    if (bad) reply_error("%s", err);
}

/* /kanon/tempo f|i|d */
static int on_tempo(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                    void *user) {
    (void)msg, (void)user;
    double bpm;
    char err[256];
    if (argc != 1 || num_arg(types, argv, argc, &bpm)) {
        reply_error("%.200s wants one number, the tempo in bpm; got '%.20s'", path, types);
        return 0;
    }
    if (kn_cmd_tempo(cond, bpm, 0, 0, err, sizeof err)) reply_error("%s", err);
    return 0;
}

/* /kanon/route s SRC s DST[:PORT] f DB [i PRE], like `kanon route SRC DST
 * --gain DB [--pre]`: a number may come as f, i or d, as everywhere. The
 * tap is given, not kept: a message without PRE makes the route post-fader,
 * as the CLI does without --pre, so the same message always means the same
 * route whatever was sent before. No file is named: UDP may send it. */
static int on_route(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                    void *user) {
    (void)msg, (void)user;
    double gain, pre = 0;
    char err[1024];
    if ((argc != 3 && argc != 4) || types[0] != 's' || types[1] != 's' ||
        num_arg(types + 2, argv + 2, 1, &gain) ||
        (argc == 4 && num_arg(types + 3, argv + 3, 1, &pre))) {
        reply_error("%.200s wants s SOURCE s DESTINATION[:PORT] f GAIN_DB [i PRE], got '%.20s'",
                    path, types);
        return 0;
    }
    if (!(gain >= -120 && gain <= 24)) {
        reply_error("%.200s: the gain must be -120..24 dB, got %g", path, gain);
        return 0;
    }
    if (kn_route_add(cond, (const char *)argv[0], (const char *)argv[1], gain, pre != 0, err,
                     sizeof err))
        reply_error("%s", err);
    return 0;
}

/* /kanon/unroute s SRC s DST[:PORT], like `kanon unroute SRC DST`. */
static int on_unroute(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                      void *user) {
    (void)path, (void)types, (void)argc, (void)msg, (void)user;
    char err[1024];
    if (kn_route_remove(cond, (const char *)argv[0], (const char *)argv[1], err, sizeof err))
        reply_error("%s", err);
    return 0;
}

/* /kanon/DECK/note PITCH VELOCITY [DUR]: at the bundle's time, or on the
 * first frame the deck has not rendered. */
static void on_note(const char *path, const char *deck, const char *types, lo_arg **argv, int argc,
                    lo_message msg) {
    kn_note nt = {.at_beat = -1};
    double *v[3] = {&nt.pitch, &nt.velocity, &nt.dur};
    for (int i = 0; i < argc; i++)
        if (num_arg(types + i, argv + i, 1, v[i]) || !isfinite(*v[i])) {
            reply_error("%.200s wants i PITCH i VELOCITY [f DURATION in beats], got '%.20s'", path,
                        types);
            return;
        }
    char err[256];
    uint64_t frame;
    int late;
    nt.frame = timetag_frame(msg);
    if (kn_cmd_note(cond, deck, &nt, &frame, &late, err, sizeof err)) reply_error("%s", err);
}

/* /kanon/DECK/NAME, or a control-surface address. */
static int on_message(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                      void *user) {
    (void)user;
    if (kn_surface_handle(cond, path, types, argv, argc)) return 0;
    char deck[KN_NAME_MAX], name[KN_NAME_MAX];
    if (sscanf(path, "/kanon/%31[^/]/%31[^/]", deck, name) != 2 ||
        strlen(path) != strlen("/kanon//") + strlen(deck) + strlen(name)) {
        reply_error("unknown address %.200s (see docs/osc.md)", path);
        return 0;
    }
    if (!strcmp(name, "note") && (argc == 2 || argc == 3)) { /* one number: a knob "note" */
        on_note(path, deck, types, argv, argc, msg);
        return 0;
    }
    double v;
    if (argc != 1 || num_arg(types, argv, argc, &v)) {
        reply_error("%.200s wants one number (f, i or d), got '%.20s'", path, types);
        return 0;
    }
    if (!isfinite(v)) {
        reply_error("%.200s: the value is not finite (%g); send a finite number", path, v);
        return 0;
    }
    kn_osc_set_at(deck, name, v, timetag_frame(msg));
    return 0;
}

static int on_play(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                   void *user) {
    (void)msg;
    (void)user;
    if (file_refused(path)) return 0;
    const char *file = (const char *)argv[0];
    char stem[256]; /* whole, never cut: the conductor refuses a name too long */
    const char *deck = argc == 2 && types[1] == 's' ? (const char *)argv[1] : stem;
    if (deck == stem) { /* the deck is the file's stem, as with `kanon play` */
        const char *base = strrchr(file, '/');
        snprintf(stem, sizeof stem, "%s", base ? base + 1 : file);
        stem[strcspn(stem, ".")] = 0;
    }
    kn_play_opts o = {
        .path = file, .display = file, .deck = deck, .fade_ms = 20, .watch = 1, .voices = -1};
    uint32_t id;
    char err[1024];
    if (kn_cmd_play(cond, &o, &id, err, sizeof err)) reply_error("%s", err);
    return 0;
}

static int on_stop(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                   void *user) {
    (void)path;
    (void)types;
    (void)argc;
    (void)msg;
    (void)user;
    char err[256];
    if (kn_cmd_stop(cond, (const char *)argv[0], err, sizeof err)) reply_error("%s", err);
    return 0;
}

static int on_subscribe(const char *path, const char *types, lo_arg **argv, int argc,
                        lo_message msg, void *user) {
    (void)types;
    (void)argc;
    (void)msg;
    (void)user;
    int port = kn_arg_i(argv[0]), unsub = strstr(path, "unsubscribe") != NULL;
    if (port <= 0 || port > 65535) {
        reply_error("%s wants a port number 1..65535", path);
        return 0;
    }
    /* A unix sender has no host to add a port to: its own socket gets the
     * feedback (the port is only echoed). */
    peer to = src;
    if (to.a.sa.sa_family == AF_INET) to.a.in.sin_port = htons((uint16_t)port);
    if (!named(&to)) return 0; /* nowhere to send to, not even an error */
    int known = -1;
    for (int i = 0; i < nsubs; i++)
        if (same_peer(&subs[i], &to)) known = i;
    if (unsub) {
        if (known >= 0) subs[known] = subs[--nsubs];
        return 0;
    }
    if (known < 0 && nsubs == MAX_SUBS) {
        reply_error("too many subscribers (%d)", MAX_SUBS);
        return 0;
    }
    if (known < 0) subs[nsubs++] = to;    /* a restarted controller: confirm and resend all */
    memset(sent_gen, 0, sizeof sent_gen); /* a newcomer gets every value once */
    for (int i = 0; i <= KN_MAX_DECKS; i++)
        for (int k = 0; k < 4; k++) sent_mix[i][k] = NAN;
    lo_message m = lo_message_new();
    lo_message_add_int32(m, port);
    send_to(&to, "/kanon/subscribed", m);
    return 0;
}

static int on_bad_types(const char *path, const char *types, lo_arg **argv, int argc,
                        lo_message msg, void *user) {
    (void)argv;
    (void)argc;
    (void)msg;
    (void)user;
    if (!strcmp(path, "/kanon/play") && file_refused(path)) return 0;
    reply_error("%.200s: wrong argument types '%.20s' (see docs/osc.md)", path, types);
    return 0;
}

static void on_lo_error(int num, const char *msg, const char *where) {
    (void)num;
    (void)where;
    reply_error("malformed OSC packet: %s", msg ? msg : "?");
}

/* ---------------------------------------------------------------- public */

/* The liblo server that only parses: its socket path is unlinked at once. */
static int open_parser(kn_conductor *c, char *err, size_t errlen) {
    char path[KN_PATH_MAX];
    kn_runtime_path(c->instance, "osc-parser", path);
    unlink(path);
    lo = lo_server_new_with_proto(path, LO_UNIX, on_lo_error);
    unlink(path);
    if (!lo) {
        snprintf(err, errlen, "cannot create the OSC parser");
        return -ENOMEM;
    }
    /* its socket is never read, and cartridges need not inherit it */
    int fd = lo_server_get_socket_fd(lo);
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* Bundles with a future time tag would wait in liblo's queue, which
     * only its own receive loop drains: run everything as it arrives. */
    lo_server_enable_queue(lo, 0, 1);
    lo_server_add_method(lo, "/kanon/play", "s", on_play, NULL);
    lo_server_add_method(lo, "/kanon/play", "ss", on_play, NULL);
    lo_server_add_method(lo, "/kanon/play", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/stop", "s", on_stop, NULL);
    lo_server_add_method(lo, "/kanon/stop", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/tempo", NULL, on_tempo, NULL);
    lo_server_add_method(lo, "/kanon/route", NULL, on_route, NULL);
    lo_server_add_method(lo, "/kanon/unroute", "ss", on_unroute, NULL);
    lo_server_add_method(lo, "/kanon/unroute", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/subscribe", "i", on_subscribe, NULL);
    lo_server_add_method(lo, "/kanon/unsubscribe", "i", on_subscribe, NULL);
    lo_server_add_method(lo, "/kanon/subscribe", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/unsubscribe", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, NULL, NULL, on_message, NULL);
    return 0;
}

/* The owner-only socket <runtime dir>/<instance>.osc. The runtime
 * directory is 0700 already; the socket is 0600 as well, so it stays
 * private if the directory's mode is ever loosened. The umask makes it
 * 0600 from the start (the chmod only confirms it); meanwhile other
 * threads can only create files more private than they asked for. */
static void open_unix(kn_conductor *c) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char path[KN_PATH_MAX];
    c->osc_unix[0] = 0;
    if (kn_runtime_path(c->instance, "osc", path)) {
        kn_log("OSC unix socket off: cannot use the runtime directory");
        return;
    }
    if (strlen(path) >= sizeof a.sun_path) {
        kn_log("OSC unix socket off: %s is too long for a unix socket address", path);
        return;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    usock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    unlink(path); /* left by a killed conductor: we hold the instance lock */
    mode_t old = umask(0177);
    int rc = usock < 0 ? -1 : bind(usock, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (rc || chmod(path, 0600)) {
        kn_log("OSC unix socket off: cannot listen on %s: %s", path, strerror(errno));
        if (usock >= 0) close(usock);
        usock = -1;
        unlink(path);
        return;
    }
    snprintf(upath, sizeof upath, "%s", path);
    snprintf(c->osc_unix, sizeof c->osc_unix, "%s", path);
}

int kn_osc_open(kn_conductor *c, char *err, size_t errlen) {
    cond = c;
    for (int i = 0; i <= KN_MAX_DECKS; i++)
        for (int k = 0; k < 4; k++) sent_mix[i][k] = NAN;
    int rc;
    if (!lo && (rc = open_parser(c, err, errlen))) return rc;
    if (usock < 0) open_unix(c);
    if (c->osc_port == 0) return 0; /* UDP off */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->osc_port)};
    if (inet_pton(AF_INET, c->osc_host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "--osc-host must be an IPv4 address, got '%s'", c->osc_host);
        return -EINVAL;
    }
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&a, sizeof a)) {
        int e = errno;
        snprintf(err, errlen, "cannot listen for OSC on %s:%d: %s (use --osc-port)", c->osc_host,
                 c->osc_port, strerror(e));
        if (sock >= 0) close(sock);
        sock = -1;
        return -e;
    }
    return 0;
}

int kn_osc_pollfds(struct pollfd out[2]) {
    int n = 0;
    if (sock >= 0) out[n++] = (struct pollfd){sock, POLLIN, 0};
    if (usock >= 0) out[n++] = (struct pollfd){usock, POLLIN, 0};
    return n;
}

static void dispatch(void *data, size_t n, const peer *from, int files) {
    src = *from;
    src_files = files;
    if (n == 0 || lo_server_dispatch_data(lo, data, n) < 0) {
        /* liblo's error handler has replied already for malformed packets */
    }
}

/* Dispatches one packet as if it came over UDP from `from` (also the fuzz
 * entry). */
void kn_osc_dispatch(const void *data, size_t n, const struct sockaddr_in *from) {
    peer p = {.a.in = *from, .len = sizeof *from};
    dispatch((void *)data, n, &p, cond->osc_trust_udp);
}

/* Reads what is waiting on one socket; bounded, so the loop gets back to
 * the other fds now and then. */
static void drain(int fd, int files) {
    static char buf[65536 + 8]; /* zeros after the packet: liblo 0.31 can read past it */
    for (int i = 0; fd >= 0 && i < 256; i++) {
        peer from;
        memset(&from, 0, sizeof from);
        from.len = sizeof from.a;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 8, 0, &from.a.sa, &from.len);
        if (n < 0) return;
        memset(buf + n, 0, 8);
        if (fd == sock && (from.len != sizeof from.a.in || from.a.sa.sa_family != AF_INET))
            continue;
        if (fd == usock) from.a.sa.sa_family = AF_UNIX; /* an unnamed sender: len 0 */
        dispatch(buf, (size_t)n, &from, files);
    }
}

void kn_osc_handle(kn_conductor *c) {
    drain(sock, c->osc_trust_udp);
    drain(usock, 1);
}

static void feedback(const char *deck, const char *name, double v, int as_int) {
    char path[128];
    snprintf(path, sizeof path, "/kanon/feedback/%s/%s", deck, name);
    lo_message m = lo_message_new();
    if (as_int)
        lo_message_add_int32(m, (int)v);
    else
        lo_message_add_float(m, (float)v);
    to_subscribers(path, m);
}

static void mix_feedback(int i, const char *deck, double gain, int mute, int solo, double pan) {
    double now[4] = {gain, mute, solo, pan};
    static const char *names[4] = {"gain", "mute", "solo", "pan"};
    for (int k = 0; k < 4; k++)
        if (!(now[k] == sent_mix[i][k])) {
            sent_mix[i][k] = now[k];
            feedback(deck, names[k], now[k], k == 1 || k == 2);
        }
}

/* Every ~33 ms (the event loop wakes at least every 20 ms): changed values
 * and the latest meters to subscribers, changed values to the surface. */
void kn_osc_tick(kn_conductor *c) {
    static uint64_t last;
    uint64_t now = kn_mono_ns();
    if (now - last < 33000000u) return;
    last = now;
    kn_surface_tick(c);
    if (!nsubs) return;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        if (sent_gen[i] != d->cur.id + 1) { /* a new deck or code: resend everything */
            sent_gen[i] = d->cur.id + 1;
            for (int k = 0; k < KN_MAX_PARAMS; k++) sent_param[i][k] = NAN;
            for (int k = 0; k < 4; k++) sent_mix[i][k] = NAN;
        }
        uint32_t n = atomic_load_explicit(&d->params->count, memory_order_acquire);
        for (uint32_t k = 0; k < n && k < KN_MAX_PARAMS; k++) {
            kn_param_slot *s = &d->params->slot[k];
            double v = kn_bitsd(atomic_load(&s->current));
            if (!atomic_load(&s->declared_by) || !isfinite(v) || v == sent_param[i][k]) continue;
            sent_param[i][k] = v;
            char name[KN_NAME_MAX];
            snprintf(name, sizeof name, "%.*s", KN_NAME_MAX - 1, s->name);
            feedback(d->name, name, v, 0);
        }
        mix_feedback(i, d->name, d->gain_db, d->mute, d->solo, d->pan);
        lo_message m = lo_message_new();
        lo_message_add_float(m, (float)c->meter[i].peak_db);
        lo_message_add_float(m, (float)c->meter[i].rms_db);
        char path[96];
        snprintf(path, sizeof path, "/kanon/meters/%s", d->name);
        to_subscribers(path, m);
    }
    if (!(c->master_db == sent_mix[KN_MAX_DECKS][0])) {
        sent_mix[KN_MAX_DECKS][0] = c->master_db;
        feedback("master", "gain", c->master_db, 0);
    }
    lo_message m = lo_message_new();
    lo_message_add_float(m, (float)c->meter[KN_MAX_DECKS].peak_db);
    lo_message_add_float(m, (float)c->meter[KN_MAX_DECKS].rms_db);
    to_subscribers("/kanon/meters/master", m);
}

void kn_osc_close(void) {
    if (lo) lo_server_free(lo);
    if (sock >= 0) close(sock);
    if (usock >= 0) close(usock);
    if (upath[0]) unlink(upath);
    lo = NULL;
    sock = usock = -1;
    upath[0] = 0;
}
