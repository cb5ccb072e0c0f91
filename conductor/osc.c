/*
 * osc.c - OSC control over UDP, with feedback to subscribers.
 *
 * liblo 0.31's UDP server binds 0.0.0.0 with no way to restrict it, so we
 * bind our own socket (127.0.0.1:7770 unless --osc-host/--osc-port say
 * otherwise), read packets in the event loop and hand them to a liblo
 * server used only for parsing and dispatch (a LO_UNIX server whose socket
 * path is unlinked at once: it never listens anywhere).
 *
 *   /kanon/DECK/NAME f|i|d     set a parameter (clamped to its range)
 *   /kanon/DECK/gain f         deck gain, dB        /kanon/master/gain f
 *   /kanon/DECK/mute i         0/1                  /kanon/DECK/solo i
 *   /kanon/DECK/pan f          -1..1
 *   /kanon/play s [s]          file (absolute), deck name
 *   /kanon/stop s              deck
 *   /kanon/subscribe i         feedback to the sender's host at port i
 *   /kanon/unsubscribe i
 *   anything bound by a control-surface map (surface.c)
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
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <lo/lo.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBS 16

static int sock = -1;
static lo_server lo;
static kn_conductor *cond;
static struct sockaddr_in src; /* sender of the packet being dispatched */
static struct sockaddr_in subs[MAX_SUBS];
static int nsubs;
/* last values sent as feedback: params per deck and slot, mixer per deck */
static double sent_param[KN_MAX_DECKS][KN_MAX_PARAMS];
static double sent_mix[KN_MAX_DECKS + 1][4];
static uint32_t sent_gen[KN_MAX_DECKS]; /* producing cartridge the cache is for */

/* ------------------------------------------------------------- sending */

int kn_osc_send(const struct sockaddr_in *to, const char *path, lo_message m) {
    char buf[2048];
    size_t n = lo_message_length(m, path);
    int rc = -1;
    if (n <= sizeof buf && lo_message_serialise(m, path, buf, &n))
        rc = (int)sendto(sock, buf, n, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof *to);
    lo_message_free(m);
    return rc;
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
    kn_osc_send(&src, "/kanon/error", m);
}

static void to_subscribers(const char *path, lo_message m) {
    for (int i = 0; i < nsubs; i++) {
        lo_message copy = lo_message_clone(m);
        kn_osc_send(&subs[i], path, copy);
    }
    lo_message_free(m);
}

/* ------------------------------------------------------------ handlers */

/* The first argument as a number, whatever numeric type it came as. */
static int num_arg(const char *types, lo_arg **argv, int argc, double *out) {
    if (argc < 1) return -1;
    switch (types[0]) {
    case 'f': *out = kn_arg_f(argv[0]); break;
    case 'd': *out = kn_arg_d(argv[0]); break;
    case 'i': *out = kn_arg_i(argv[0]); break;
    case 'h': *out = (double)kn_arg_h(argv[0]); break;
    case 'T': *out = 1; break;
    case 'F': *out = 0; break;
    default: return -1;
    }
    return isfinite(*out) ? 0 : -1;
}

/* Runs a control-protocol request built from an OSC message; reports a
 * refusal back to the sender. */
static void run_request(cJSON *req) {
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    char *reply = kn_control_dispatch(cond, text, strlen(text));
    cJSON *r = cJSON_Parse(reply);
    if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")))
        reply_error("%s", cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    cJSON_Delete(r);
    free(reply);
    free(text);
}

static cJSON *request(const char *cmd, const char *deck) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cmd", cmd);
    if (deck) cJSON_AddStringToObject(o, "deck", deck);
    return o;
}

void kn_osc_set(const char *deck, const char *name, double v) {
    cJSON *req;
    if (!strcmp(name, "gain") || !strcmp(name, "pan")) {
        req = request("mixer", deck);
        cJSON_AddNumberToObject(req, !strcmp(name, "gain") ? "gain_db" : "pan", v);
    } else if (!strcmp(name, "mute") || !strcmp(name, "solo")) {
        req = request("mixer", deck);
        cJSON_AddBoolToObject(req, name, v != 0);
    } else {
        req = request("set", deck);
        cJSON_AddStringToObject(req, "name", name);
        cJSON_AddNumberToObject(req, "value", v);
    }
    run_request(req);
}

/* /kanon/DECK/NAME, or a control-surface address. */
static int on_message(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                      void *user) {
    (void)msg;
    (void)user;
    if (kn_surface_handle(cond, path, types, argv, argc)) return 0;
    char deck[KN_NAME_MAX], name[KN_NAME_MAX];
    if (sscanf(path, "/kanon/%31[^/]/%31[^/]", deck, name) != 2 ||
        strlen(path) != strlen("/kanon//") + strlen(deck) + strlen(name)) {
        reply_error("unknown address %.200s (see docs/osc.md)", path);
        return 0;
    }
    double v;
    if (argc != 1 || num_arg(types, argv, argc, &v)) {
        reply_error("%.200s wants one number (f, i or d), got '%.20s'", path, types);
        return 0;
    }
    kn_osc_set(deck, name, v);
    return 0;
}

static int on_play(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                   void *user) {
    (void)path;
    (void)msg;
    (void)user;
    const char *file = (const char *)argv[0];
    char stem[256]; /* whole, never cut: the conductor refuses a name too long */
    const char *deck = argc == 2 && types[1] == 's' ? (const char *)argv[1] : stem;
    if (deck == stem) { /* the deck is the file's stem, as with `kanon play` */
        const char *base = strrchr(file, '/');
        snprintf(stem, sizeof stem, "%s", base ? base + 1 : file);
        stem[strcspn(stem, ".")] = 0;
    }
    cJSON *req = request("play", deck);
    cJSON_AddStringToObject(req, "file", file);
    run_request(req);
    return 0;
}

static int on_stop(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg,
                   void *user) {
    (void)path;
    (void)types;
    (void)argc;
    (void)msg;
    (void)user;
    run_request(request("stop", (const char *)argv[0]));
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
    struct sockaddr_in to = src;
    to.sin_port = htons((uint16_t)port);
    int known = -1;
    for (int i = 0; i < nsubs; i++)
        if (subs[i].sin_addr.s_addr == to.sin_addr.s_addr && subs[i].sin_port == to.sin_port)
            known = i;
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
    kn_osc_send(&to, "/kanon/subscribed", m);
    return 0;
}

static int on_bad_types(const char *path, const char *types, lo_arg **argv, int argc,
                        lo_message msg, void *user) {
    (void)argv;
    (void)argc;
    (void)msg;
    (void)user;
    reply_error("%.200s: wrong argument types '%.20s' (see docs/osc.md)", path, types);
    return 0;
}

static void on_lo_error(int num, const char *msg, const char *where) {
    (void)num;
    (void)where;
    reply_error("malformed OSC packet: %s", msg ? msg : "?");
}

/* ---------------------------------------------------------------- public */

int kn_osc_open(kn_conductor *c, char *err, size_t errlen) {
    cond = c;
    if (c->osc_port == 0) return 0; /* disabled */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->osc_port)};
    if (inet_pton(AF_INET, c->osc_host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "--osc-host must be an IPv4 address, got '%s'", c->osc_host);
        return -1;
    }
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&a, sizeof a)) {
        snprintf(err, errlen, "cannot listen for OSC on %s:%d: %s (use --osc-port)", c->osc_host,
                 c->osc_port, strerror(errno));
        if (sock >= 0) close(sock);
        sock = -1;
        return -1;
    }
    char path[KN_PATH_MAX];
    kn_runtime_path(c->instance, "osc", path);
    unlink(path);
    lo = lo_server_new_with_proto(path, LO_UNIX, on_lo_error);
    unlink(path); /* only its parser is used */
    if (!lo) {
        snprintf(err, errlen, "cannot create the OSC parser");
        close(sock);
        sock = -1;
        return -1;
    }
    /* Bundles with a future time tag would wait in liblo's queue, which
     * only its own receive loop drains: run everything as it arrives. */
    lo_server_enable_queue(lo, 0, 1);
    lo_server_add_method(lo, "/kanon/play", "s", on_play, NULL);
    lo_server_add_method(lo, "/kanon/play", "ss", on_play, NULL);
    lo_server_add_method(lo, "/kanon/play", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/stop", "s", on_stop, NULL);
    lo_server_add_method(lo, "/kanon/stop", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/subscribe", "i", on_subscribe, NULL);
    lo_server_add_method(lo, "/kanon/unsubscribe", "i", on_subscribe, NULL);
    lo_server_add_method(lo, "/kanon/subscribe", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, "/kanon/unsubscribe", NULL, on_bad_types, NULL);
    lo_server_add_method(lo, NULL, NULL, on_message, NULL);
    for (int i = 0; i <= KN_MAX_DECKS; i++)
        for (int k = 0; k < 4; k++) sent_mix[i][k] = NAN;
    return 0;
}

int kn_osc_fd(void) {
    return sock;
}

/* Dispatches one packet as if it came from `from` (also the fuzz entry). */
void kn_osc_dispatch(const void *data, size_t n, const struct sockaddr_in *from) {
    src = *from;
    if (n == 0 || lo_server_dispatch_data(lo, (void *)data, n) < 0) {
        /* liblo's error handler has replied already for malformed packets */
    }
}

void kn_osc_handle(kn_conductor *c) {
    (void)c;
    if (sock < 0) return;
    static char buf[65536 + 8];     /* zeros after the packet: liblo 0.31 can read past it */
    for (int i = 0; i < 256; i++) { /* bounded: back to the loop now and then */
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(sock, buf, sizeof buf - 8, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) return;
        memset(buf + n, 0, 8);
        if (fl != sizeof from || from.sin_family != AF_INET) continue;
        kn_osc_dispatch(buf, (size_t)n, &from);
    }
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
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (now - last < 33000000u) return;
    last = now;
    kn_surface_tick(c);
    if (sock < 0 || !nsubs) return;
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
    lo = NULL;
    sock = -1;
}
