/*
 * learn.c - MIDI learn: a controller's knob bound to a deck's parameter.
 *
 * `kanon learn DECK.PARAM` arms learning; the next control change that
 * arrives within the timeout (10 s unless told) is bound to the parameter,
 * and from then on that controller (MIDI port, channel and CC number) moves
 * the parameter over its whole range: 0..127 onto min..max, linearly, or
 * logarithmically for a range that is all above 0 with --log. A bound CC
 * lands as a timed parameter change at the very frame the CC is delivered
 * to the decks (the timeline's event queue), so a learned knob is as
 * sample-accurate as a CC read in event(); the usual glide smooths the
 * 1/127 steps. The CC still reaches the decks' event() as well.
 *
 *   armed --(a CC arrives)--> bound   (the binding is added, learning ends)
 *   armed --(timeout, or learn --cancel)--> idle
 *
 * Bindings are by name, like routes: a deck that stops and plays again
 * keeps them, and one that is not playing simply ignores its CCs. A
 * controller drives at most one parameter and a parameter has at most one
 * controller: a new binding of either replaces the old. They are listed by
 * `kanon learn --list`, removed by `kanon learn --forget DECK.PARAM`, and
 * saved with the session (cli/session.c).
 *
 * In JSON a binding is {deck, param, from, channel, cc, log}, "from" and
 * "channel" as `kanon midi` names them (midi_in or midi_in_N; 1..16).
 *
 * Control thread only: every MIDI message passes through kn_learn_midi,
 * from the conductor's MIDI dispatch.
 */
#include "conductor.h"
#include "midi.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEARN_MAX 128 /* bindings */

typedef struct binding {
    char deck[KN_NAME_MAX], param[KN_NAME_MAX];
    int port, channel, cc, log;
} binding;

static struct {
    binding bind[LEARN_MAX];
    int n;
    int armed, log;
    char deck[KN_NAME_MAX], param[KN_NAME_MAX];
    uint64_t until_ns;
    binding last; /* the last binding learned, for the CLI waiting on it */
    uint64_t learned;
} L;

static int same(const binding *b, const char *deck, const char *param) {
    return !strcmp(b->deck, deck) && !strcmp(b->param, param);
}

static void drop(int i) {
    L.bind[i] = L.bind[--L.n];
}

/* Whether DECK.PARAM exists now (a binding given for a session's decks to
 * come need not: bindings are by name). */
static int check(kn_conductor *c, const char *deck, const char *param, int must, char *err,
                 size_t n) {
    if (!deck || !*deck || strlen(deck) >= KN_NAME_MAX || !param || !*param ||
        strlen(param) >= KN_NAME_MAX) {
        snprintf(err, n, "learn needs DECK.PARAM, e.g. bass.cutoff");
        return -EINVAL;
    }
    if (!must) return 0;
    kn_deck *d = kn_deck_find(c, deck);
    if (!d) {
        snprintf(err, n, "no deck named '%.40s' (see `kanon status`)", deck);
        return -ENOENT;
    }
    if (!kn_param_find(d, param)) {
        snprintf(err, n, "deck %s has no parameter '%.40s' (see `kanon params %s`)", deck, param,
                 deck);
        return -ENOENT;
    }
    return 0;
}

int kn_learn_arm(kn_conductor *c, const char *deck, const char *param, double timeout_s, int log,
                 char *err, size_t n) {
    int e = check(c, deck, param, 1, err, n);
    if (e) return e;
    if (!(timeout_s > 0 && timeout_s <= 600)) {
        snprintf(err, n, "--timeout must be 0..600 seconds");
        return -EINVAL;
    }
    L.armed = 1;
    L.log = log;
    snprintf(L.deck, sizeof L.deck, "%s", deck);
    snprintf(L.param, sizeof L.param, "%s", param);
    L.until_ns = kn_mono_ns() + (uint64_t)(timeout_s * 1e9);
    kn_log("learn: %s.%s takes the next control change (%.0f s)", deck, param, timeout_s);
    return 0;
}

void kn_learn_cancel(void) {
    L.armed = 0;
}

/* Adds a binding (0-based port and channel), replacing any of the same
 * parameter or the same controller. */
static int bind(kn_conductor *c, const char *deck, const char *param, int port, int channel, int cc,
                int log, char *err, size_t n) {
    int e = check(c, deck, param, 0, err, n);
    if (e) return e;
    if (channel < 0 || channel > 15 || cc < 0 || cc > 127) {
        snprintf(err, n, "a binding needs a channel 1..16 and a cc 0..127");
        return -EINVAL;
    }
    for (int i = L.n - 1; i >= 0; i--) /* one controller per parameter, one parameter per CC */
        if (same(&L.bind[i], deck, param) ||
            (L.bind[i].port == port && L.bind[i].channel == channel && L.bind[i].cc == cc))
            drop(i);
    if (L.n == LEARN_MAX) {
        snprintf(err, n, "%d MIDI bindings already; forget some (kanon learn --forget)", LEARN_MAX);
        return -ENOSPC;
    }
    binding *b = &L.bind[L.n++];
    snprintf(b->deck, sizeof b->deck, "%s", deck);
    snprintf(b->param, sizeof b->param, "%s", param);
    b->port = port, b->channel = channel, b->cc = cc, b->log = log;
    return 0;
}

int kn_learn_bind(kn_conductor *c, const char *deck, const char *param, const char *from,
                  int channel, int cc, int log, char *err, size_t n) {
    int port = 0;
    if (from && (kn_midi_port_parse(from, kn_midi_ports(c), &port, err, n) || port < 0)) {
        if (port < 0) snprintf(err, n, "a binding names one port: midi_in or midi_in_N, not any");
        return -EINVAL;
    }
    return bind(c, deck, param, port, channel - 1, cc, log, err, n);
}

int kn_learn_forget(const char *deck, const char *param, char *err, size_t n) {
    for (int i = 0; i < L.n; i++)
        if (same(&L.bind[i], deck ? deck : "", param ? param : "")) {
            drop(i);
            return 0;
        }
    snprintf(err, n, "%.40s.%.40s has no MIDI binding (see `kanon learn --list`)", deck ? deck : "",
             param ? param : "");
    return -ENOENT;
}

/* 0..127 onto the parameter's range. */
static double scaled(const kn_param_slot *s, int v, int log) {
    double lo = kn_bitsd(atomic_load(&s->min)), hi = kn_bitsd(atomic_load(&s->max));
    if (log && lo > 0 && hi > lo) return lo * pow(hi / lo, v / 127.0);
    return lo + (hi - lo) * v / 127.0; /* exact where (hi - lo) * v is a multiple of 127 */
}

static void apply(kn_conductor *c, const binding *b, int value, uint64_t frame) {
    kn_deck *d = kn_deck_find(c, b->deck);
    kn_param_slot *s = d ? kn_param_find(d, b->param) : NULL;
    if (!s) return; /* not playing now: bindings are by name */
    char err[256];
    double v = scaled(s, value, b->log);
    if (!frame || kn_cmd_set_at(c, b->deck, b->param, v, 0, frame, err, sizeof err))
        kn_param_store(s, v, 0); /* no frame, or the queue is full: at once */
}

void kn_learn_tick(void) {
    if (L.armed && kn_mono_ns() > L.until_ns) {
        L.armed = 0;
        kn_log("learn: no control change for %s.%s before the timeout", L.deck, L.param);
    }
}

void kn_learn_midi(kn_conductor *c, int port, int status, int d1, int d2, uint64_t frame) {
    if ((status & 0xf0) != 0xb0 || d1 < 0 || d1 > 127 || d2 < 0 || d2 > 127) return;
    int ch = status & 0x0f;
    kn_learn_tick();
    if (L.armed) {
        char err[256];
        if (!bind(c, L.deck, L.param, port, ch, d1, L.log, err, sizeof err)) {
            L.last = L.bind[L.n - 1];
            L.learned++;
            char from[32];
            kn_midi_port_name(port, from, sizeof from);
            kn_log("learn: CC %d on channel %d (%s) drives %s.%s", d1, ch + 1, from, L.deck,
                   L.param);
        } else {
            kn_log("learn: %s", err);
        }
        L.armed = 0;
    }
    for (int i = 0; i < L.n; i++)
        if (L.bind[i].port == port && L.bind[i].channel == ch && L.bind[i].cc == d1)
            apply(c, &L.bind[i], d2, frame);
}

static cJSON *binding_json(const binding *b) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "deck", b->deck);
    cJSON_AddStringToObject(o, "param", b->param);
    char from[32];
    kn_midi_port_name(b->port, from, sizeof from);
    cJSON_AddStringToObject(o, "from", from);
    cJSON_AddNumberToObject(o, "channel", b->channel + 1);
    cJSON_AddNumberToObject(o, "cc", b->cc);
    cJSON_AddBoolToObject(o, "log", b->log);
    return o;
}

cJSON *kn_learn_json(void) {
    kn_learn_tick();
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "bindings");
    for (int i = 0; i < L.n; i++) cJSON_AddItemToArray(a, binding_json(&L.bind[i]));
    if (L.armed) {
        cJSON *w = cJSON_AddObjectToObject(o, "armed");
        cJSON_AddStringToObject(w, "deck", L.deck);
        cJSON_AddStringToObject(w, "param", L.param);
        cJSON_AddNumberToObject(w, "seconds_left", (double)(L.until_ns - kn_mono_ns()) / 1e9);
    } else {
        cJSON_AddNullToObject(o, "armed");
    }
    cJSON_AddNumberToObject(o, "learned", (double)L.learned);
    if (L.learned) cJSON_AddItemToObject(o, "last", binding_json(&L.last));
    return o;
}
