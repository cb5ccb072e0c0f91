/*
 * midi.c - MIDI in the conductor: where every incoming message goes
 * (kn_midi_dispatch), the routes that say which decks hear which port and
 * channel (`kanon midi`), and the constant latency at which MIDI lands.
 *
 * The model (docs/midi.md). A message arrives on input port p (midi_in,
 * midi_in_2, ..) at timeline frame A (midi_jack.c stamps it from JACK's
 * offsets). It is delivered, as a timed event (timeline.h), to every deck
 * a route names, at frame A + L: each deck's event() sees it at exactly
 * that sample. L is constant, so the timing between messages is kept to the
 * frame: a note played 100 frames after another sounds 100 frames after
 * it. L must reach past what the decks have already rendered when the
 * control thread pushes the event:
 *
 *     L = P + target + block + slack
 *
 * P the device's period (the message may arrive at the start of a cycle
 * whose frames are all mixed before the control thread hears of it),
 * target + block how far a deck renders ahead of the mixer, and slack
 * (MIDI_SLACK_MS) the control thread's delay: the audio thread cannot wake
 * it (that would be a system call), so the event loop polls every
 * MIDI_POLL_MS while MIDI ports exist. L only grows (when the ring's target
 * grows after underruns), so it is constant in a steady state; status
 * shows it ("midi": {"latency_frames": L}). An event that comes after its
 * frame was rendered anyway (a stalled control thread) is applied at the
 * start of the deck's next block and counted in "late".
 *
 * Routes. `kanon midi DECK [--from PORT] [--channel N]` adds one (a deck
 * may have several); a route names its deck, so it waits for the deck to
 * exist. With no route at all, the only deck playing (if exactly one
 * plays) gets everything; with two or more, nothing is delivered until
 * a route says where (counted in "unrouted").
 *
 * kn_midi_dispatch is the one place every incoming message passes, from
 * any backend: MIDI learn hooks in there.
 */
#include "conductor.h"
#include "midi.h"
#include "osc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIDI_ROUTES   32
#define MIDI_SLACK_MS 15 /* the control thread's share of L (see the top) */
#define MIDI_POLL_MS  5  /* the event loop's timeout while MIDI ports exist */

typedef struct midi_route {
    char deck[KN_NAME_MAX];
    int port;    /* 0-based input port, -1: any */
    int channel; /* 0..15, -1: any */
} midi_route;

struct kn_midi {
    int nports;         /* input ports asked for (0: MIDI off) */
    int clock;          /* --midi-clock */
    kn_midi_jack *jk;   /* JACK's ports (NULL: --midi-ports 0) */
    kn_midi_alsa *alsa; /* off JACK: the ALSA sequencer, if it opened */
    char alsa_why[200]; /* why not */
    uint64_t latency;   /* L, frames; only grows */
    midi_route route[MIDI_ROUTES];
    int nroutes;
    uint64_t received, delivered, ignored, unrouted, late;
};

kn_midi *kn_midi_new(int nports, int clock) {
    kn_midi *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->nports = nports;
    m->clock = clock;
    if (nports > 0 && !(m->jk = kn_midi_jack_new(nports))) {
        free(m);
        return NULL;
    }
    return m;
}

void kn_midi_free(kn_midi *m) {
    if (!m) return;
    kn_midi_alsa_close(m->alsa);
    kn_midi_jack_free(m->jk);
    free(m);
}

kn_midi_jack *kn_midi_jack_of(kn_midi *m) {
    return m ? m->jk : NULL;
}

/* L for the device and ring as they are now; never less than before. */
static uint64_t latency(kn_conductor *c) {
    kn_midi *m = c->midi;
    uint64_t need = (uint64_t)kn_audio_period(c->audio) + c->target + (uint64_t)c->block +
                    (uint64_t)c->rate * MIDI_SLACK_MS / 1000;
    if (need > m->latency) m->latency = need;
    return m->latency;
}

uint64_t kn_midi_latency(kn_conductor *c) {
    return c->midi ? latency(c) : 0;
}

/* ------------------------------------------------------------- dispatch */

/* The deck that gets MIDI when no route exists: the only one playing. */
static kn_deck *only_deck(kn_conductor *c) {
    kn_deck *one = NULL;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        if (one) return NULL;
        one = d;
    }
    return one;
}

static void deliver(kn_conductor *c, kn_deck *d, const kn_ev_slot *e) {
    char err[256];
    kn_midi *m = c->midi;
    if (e->frame < kn_timeline_frontier(c, d)) m->late++;
    if (kn_timeline_push(c, d, e, err, sizeof err)) {
        m->ignored++;
        return;
    }
    m->delivered++;
}

void kn_midi_dispatch(kn_conductor *c, int port, uint64_t frame, const uint8_t *msg, size_t len) {
    kn_midi *m = c->midi;
    if (!m) return;
    m->received++;
    kn_ev_slot e;
    if (kn_midi_parse(msg, len, frame, &e)) {
        m->ignored++;
        return;
    }
    if (len >= 3) {
        kn_learn_midi(c, port, msg[0], msg[1], msg[2], frame); /* learn.c */
        kn_surface_midi(c, port, msg[0], msg[1], msg[2]);      /* a map's MIDI controls */
    }
    if (!m->nroutes) {
        kn_deck *d = only_deck(c);
        if (d)
            deliver(c, d, &e);
        else
            m->unrouted++;
        return;
    }
    int hit[KN_MAX_DECKS] = {0}, any = 0;
    for (int i = 0; i < m->nroutes; i++) {
        const midi_route *r = &m->route[i];
        if ((r->port >= 0 && r->port != port) || (r->channel >= 0 && r->channel != e.channel))
            continue;
        kn_deck *d = kn_deck_find(c, r->deck);
        if (!d || hit[d - c->deck]) continue;
        hit[d - c->deck] = 1;
        any = 1;
        deliver(c, d, &e);
    }
    if (!any) m->unrouted++;
}

/* An arrival from a backend: delivered L frames after it arrived. */
static void take(void *ctx, int port, uint64_t frame, const uint8_t *msg, size_t len) {
    kn_conductor *c = ctx;
    kn_midi_dispatch(c, port, frame + latency(c), msg, len);
}

void kn_midi_start(kn_conductor *c) {
    kn_midi *m = c->midi;
    if (!m || !m->nports || !strcmp(kn_audio_backend(c->audio), "jack")) return;
    m->alsa = kn_midi_alsa_open(m->alsa_why, sizeof m->alsa_why);
    if (!m->alsa) kn_log("MIDI in: %s", m->alsa_why);
}

void kn_midi_tick(kn_conductor *c) {
    if (!c->midi) return;
    kn_midi_jack_poll(c->midi->jk, take, c);
    kn_midi_alsa_poll(c->midi->alsa, c, take, c);
    if (c->midi->clock) kn_midi_jack_clock(c->midi->jk, &c->tempo, c->rate);
}

void kn_midi_shutdown(kn_conductor *c, int ms) {
    if (!c->midi || !c->midi->clock) return;
    for (int t = 0; t < ms && !kn_midi_jack_stop(c->midi->jk); t += 2) usleep(2000);
}

int kn_midi_timeout_ms(kn_conductor *c, int ms) {
    int open = c->midi && (kn_midi_jack_ready(c->midi->jk) || c->midi->alsa);
    return open && ms > MIDI_POLL_MS ? MIDI_POLL_MS : ms;
}

/* --------------------------------------------------------------- routes */

static int same(const midi_route *r, const char *deck, int port, int channel) {
    return !strcmp(r->deck, deck) && r->port == port && r->channel == channel;
}

int kn_midi_route(kn_conductor *c, const char *deck, const char *from, int channel, int off,
                  char *err, size_t n) {
    kn_midi *m = c->midi;
    int port = -1;
    if (!deck || !deck[0] || strlen(deck) >= KN_NAME_MAX) {
        snprintf(err, n, "name the deck that is to hear MIDI (at most %d characters)",
                 KN_NAME_MAX - 1);
        return -EINVAL;
    }
    if (from && m && !m->nports) {
        snprintf(err, n, "this conductor has no MIDI input ports (`kanon up --midi-ports 0`)");
        return -EINVAL;
    }
    if (from && kn_midi_port_parse(from, m ? m->nports : 0, &port, err, n)) return -EINVAL;
    if (channel < 0 || channel > KN_MIDI_CHANNELS) {
        snprintf(err, n, "--channel must be 1..16 (0 or none: every channel)");
        return -EINVAL;
    }
    int ch = channel - 1; /* MIDI's channels 1..16 are 0..15 on the wire */
    if (!m) {
        snprintf(err, n, "MIDI is off (`kanon up --midi-ports 0`)");
        return -EINVAL;
    }
    if (off) { /* every route of the deck, or only the one named */
        int gone = 0;
        for (int i = 0; i < m->nroutes; i++)
            if (!strcmp(m->route[i].deck, deck) &&
                ((!from && !channel) || same(&m->route[i], deck, port, ch))) {
                m->route[i--] = m->route[--m->nroutes];
                gone++;
            }
        if (!gone) {
            snprintf(err, n, "deck '%s' has no such MIDI route (see `kanon midi`)", deck);
            return -ENOENT;
        }
        return 0;
    }
    for (int i = 0; i < m->nroutes; i++)
        if (same(&m->route[i], deck, port, ch)) return 0; /* there already */
    if (m->nroutes == MIDI_ROUTES) {
        snprintf(err, n, "%d MIDI routes exist already; remove one with `kanon midi DECK --off`",
                 MIDI_ROUTES);
        return -ENOSPC;
    }
    midi_route *r = &m->route[m->nroutes++];
    snprintf(r->deck, sizeof r->deck, "%s", deck);
    r->port = port;
    r->channel = ch;
    return 0;
}

static cJSON *routes_json(const kn_midi *m) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; m && i < m->nroutes; i++) {
        const midi_route *r = &m->route[i];
        cJSON *o = cJSON_CreateObject();
        char port[32];
        kn_midi_port_name(r->port, port, sizeof port);
        cJSON_AddStringToObject(o, "deck", r->deck);
        cJSON_AddStringToObject(o, "from", port);
        cJSON_AddNumberToObject(o, "channel", r->channel + 1); /* 0: any */
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

int kn_midi_ports(const kn_conductor *c) {
    return c->midi ? c->midi->nports : 0;
}

cJSON *kn_midi_routes_json(kn_conductor *c) {
    return routes_json(c->midi);
}

cJSON *kn_midi_json(kn_conductor *c) {
    kn_midi *m = c->midi;
    if (!m) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "backend",
                            kn_midi_jack_ready(m->jk) ? "jack"
                            : m->alsa                 ? "alsa"
                                                      : "none");
    if (m->alsa) kn_midi_alsa_json(m->alsa, o);
    if (!m->alsa && m->alsa_why[0]) cJSON_AddStringToObject(o, "alsa", m->alsa_why);
    cJSON_AddNumberToObject(o, "latency_frames", (double)latency(c));
    cJSON_AddNumberToObject(o, "latency_ms", (double)latency(c) * 1000.0 / c->rate);
    if (m->jk) kn_midi_jack_json(m->jk, o);
    cJSON_AddItemToObject(o, "routes", routes_json(m));
    cJSON_AddNumberToObject(o, "received", (double)m->received);
    cJSON_AddNumberToObject(o, "delivered", (double)m->delivered);
    cJSON_AddNumberToObject(o, "ignored", (double)m->ignored);
    cJSON_AddNumberToObject(o, "unrouted", (double)m->unrouted);
    cJSON_AddNumberToObject(o, "late", (double)m->late);
    return o;
}
