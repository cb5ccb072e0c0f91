/*
 * midi_jack.c - JACK MIDI: the ports kanon:midi_in (.. midi_in_N with
 * `--midi-ports N`) and kanon:midi_out on the output stream's own JACK
 * client (jack.c finds it), read and written in its process callback.
 *
 * The audio thread (kn_midi_jack_cycle, from audio.c's write callback,
 * once per JACK cycle) stamps every incoming event with its timeline
 * frame: the cycle's first timeline frame (the mixer's `tl` before it
 * mixes the cycle) plus the event's offset in the cycle. No clock is read:
 * JACK's offsets are exact, and the output's timeline frame advances by
 * exactly the cycle's frames. The stamped messages go to the control
 * thread through an SPSC queue (spsc.h); the control thread (kn_midi_tick)
 * hands each to kn_midi_dispatch, which delivers it at frame + L
 * (midi.c). A full queue drops the message and counts it.
 *
 * MIDI out. Each deck's cartridge stamps what kn_midi_out() sends with its
 * timeline frame (shm/midi.h: kn_param_seg.midi_out); in the cycle that
 * mixes timeline frames [tl, tl + n) the audio thread takes every message
 * due before tl + n from every deck the mixer reads (the queue is the
 * parameter segment's, mapped while the deck's ring is: the same rules),
 * adds the MIDI clock's ticks due there (`--midi-clock`: 24 a beat on the
 * timeline's tempo map, which the control thread publishes here under the
 * same seqlock as the decks' copies; a start, 0xFA, on the first bar line,
 * and a stop, 0xFC, when the conductor goes down), sorts them by frame and
 * writes them at their offsets, so each leaves kanon:midi_out on its very
 * frame. A message whose frame has passed (its deck was late) leaves at
 * the cycle's start and is counted in "out_late".
 *
 * Ports are registered by the control thread (jack_port_register is not
 * real-time safe) once the audio thread has published its client, then
 * published to the audio thread (release); a new stream (a failover) has a
 * new client, and the ports are registered again on it, if it is JACK.
 *
 * Real-time rules in kn_midi_jack_cycle: no allocation, no locks, no system
 * calls (jack_port_get_buffer and the jack_midi_* calls are JACK's
 * process-thread API); the loops are bounded by the ports and the events
 * JACK holds in a cycle's buffer.
 */
#include "conductor.h"
#include "midi.h"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message as the audio thread saw it. */
typedef struct midi_rec {
    uint64_t frame; /* timeline frame of its arrival */
    uint8_t port, len, b[3];
    uint8_t pad[3];
} midi_rec;
#define MIDI_RECS 1024

struct kn_midi_jack {
    int nports; /* midi_in ports asked for */
    /* audio -> control: the client found in the stream's first cycle */
    _Atomic(void *) client;
    /* control -> audio: the ports, once registered (ready = 1, release) */
    jack_port_t *in[KN_MIDI_PORTS], *out;
    _Atomic int ready;
    void *registered; /* control: the client the ports belong to */
    char names[KN_MIDI_PORTS + 1][128];
    char error[200];
    /* control -> audio: the clock (clock_on), its tempo map and rate */
    _Atomic int clock_on, stop_ask;
    kn_timeline_ctl tl;
    _Atomic uint64_t rate_bits;
    /* audio-private */
    int probed;
    kn_tempo_map map;
    uint32_t map_seen;
    int clock_started; /* start sent; next_tick is the next tick's index */
    int64_t next_tick;
    /* audio -> control */
    _Atomic int stop_sent;
    _Atomic uint64_t sent, out_late, out_dropped, ticks;
    /* audio -> control */
    kn_spsc q;
    midi_rec recs[MIDI_RECS];
    _Atomic uint64_t dropped, cycles;
};

kn_midi_jack *kn_midi_jack_new(int nports) {
    kn_midi_jack *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->nports = nports;
    j->map_seen = UINT32_MAX; /* odd: nothing fetched yet */
    kn_spsc_init(&j->q, j->recs, MIDI_RECS, sizeof(midi_rec));
    return j;
}

void kn_midi_jack_free(kn_midi_jack *j) {
    free(j);
}

/* ------------------------------------------------------ the audio thread */

static void read_port(kn_midi_jack *j, int p, jack_nframes_t n, uint64_t tl) {
    void *buf = jack_port_get_buffer(j->in[p], n);
    if (!buf) return;
    uint32_t count = jack_midi_get_event_count(buf);
    for (uint32_t i = 0; i < count; i++) {
        jack_midi_event_t ev;
        if (jack_midi_event_get(&ev, buf, i) || ev.size < 1 || ev.size > 3 || ev.time >= n)
            continue; /* sysex and the like: not a channel message */
        midi_rec r = {.frame = tl + ev.time, .port = (uint8_t)p, .len = (uint8_t)ev.size};
        memcpy(r.b, ev.buffer, ev.size);
        if (kn_spsc_push(&j->q, &r, 1))
            atomic_fetch_add_explicit(&j->dropped, 1, memory_order_relaxed);
    }
}

/* The cycle's outgoing messages, sorted by offset (insertion sort: few). */
#define OUT_MAX 512
typedef struct out_ev {
    uint32_t at;
    uint8_t len, b[3];
} out_ev;

static void out_add(out_ev *ev, int *n, uint32_t at, const uint8_t *b, int len) {
    if (*n == OUT_MAX) return;
    int i = (*n)++;
    for (; i > 0 && ev[i - 1].at > at; i--) ev[i] = ev[i - 1];
    ev[i] = (out_ev){.at = at, .len = (uint8_t)len, .b = {b[0], b[1], b[2]}};
}

/* Every deck's messages due before tl + n. At most KN_MIDI_OUTQ_CAP a deck. */
static void take_decks(kn_midi_jack *j, kn_mix *mix, uint64_t tl, uint32_t n, out_ev *ev,
                       int *nev) {
    for (int d = 0; d < KN_MAX_DECKS; d++) {
        kn_mix_deck *m = &mix->deck[d];
        int st = atomic_load_explicit(&m->state, memory_order_acquire);
        if ((st != KN_MIX_PLAY && st != KN_MIX_STOPPING) || !m->midi_out) continue;
        kn_midi_msg msg;
        for (int k = 0; k < KN_MIDI_OUTQ_CAP && kn_midi_outq_peek(m->midi_out, &msg); k++) {
            if (msg.frame >= tl + n) break; /* later cycles' */
            kn_midi_outq_next(m->midi_out);
            int len = kn_midi_out_ok(msg.bytes);
            if (!len) continue; /* scribbled: never sent */
            if (msg.frame < tl) atomic_fetch_add_explicit(&j->out_late, 1, memory_order_relaxed);
            out_add(ev, nev, msg.frame < tl ? 0 : (uint32_t)(msg.frame - tl), msg.bytes, len);
        }
    }
}

/* The clock's ticks in [tl, tl + n): tick k is at the first frame of beat
 * k / 24. Started on the first bar line at or after the first cycle it
 * runs in; a tempo change moves the ticks still to come. */
static void clock_ticks(kn_midi_jack *j, uint64_t tl, uint32_t n, out_ev *ev, int *nev) {
    static const uint8_t tick[3] = {0xF8, 0, 0}, start[3] = {0xFA, 0, 0};
    double rate = kn_bitsd(atomic_load_explicit(&j->rate_bits, memory_order_relaxed));
    if (kn_tempo_fetch(&j->tl, &j->map, &j->map_seen) < 0 && j->map_seen == UINT32_MAX) return;
    if (!(rate > 0)) return;
    if (!j->clock_started) {
        uint64_t at = kn_tempo_grid(&j->map, rate, tl, kn_tempo_bar(&j->map, (double)tl));
        if (at >= tl + n) return;
        out_add(ev, nev, (uint32_t)(at - tl), start, 1);
        j->clock_started = 1;
        j->next_tick = llround(kn_tempo_beat(&j->map, rate, (double)at) * 24);
    }
    /* a tempo change may have moved the next tick behind us: the next one still ahead */
    int64_t now_tick = (int64_t)ceil(kn_tempo_beat(&j->map, rate, (double)tl) * 24 - 1e-6);
    if (j->next_tick < now_tick) j->next_tick = now_tick;
    for (int k = 0; k < 256; k++, j->next_tick++) {
        uint64_t f = kn_tempo_beat_frame(&j->map, rate, (double)j->next_tick / 24.0);
        if (f >= tl + n) break;
        if (f < tl) continue;
        out_add(ev, nev, (uint32_t)(f - tl), tick, 1);
        atomic_fetch_add_explicit(&j->ticks, 1, memory_order_relaxed);
    }
}

static void write_out(kn_midi_jack *j, kn_mix *mix, jack_nframes_t n) {
    out_ev ev[OUT_MAX];
    int nev = 0;
    void *out = jack_port_get_buffer(j->out, n);
    if (!out) return;
    jack_midi_clear_buffer(out);
    uint64_t tl = mix->tl;
    take_decks(j, mix, tl, n, ev, &nev);
    if (atomic_load_explicit(&j->clock_on, memory_order_acquire)) clock_ticks(j, tl, n, ev, &nev);
    if (atomic_load_explicit(&j->stop_ask, memory_order_acquire) &&
        !atomic_load_explicit(&j->stop_sent, memory_order_relaxed)) {
        static const uint8_t stop[3] = {0xFC, 0, 0};
        out_add(ev, &nev, n - 1, stop, 1);
        atomic_store_explicit(&j->clock_on, 0, memory_order_relaxed);
        atomic_store_explicit(&j->stop_sent, 1, memory_order_release);
    }
    for (int i = 0; i < nev; i++) {
        if (jack_midi_event_write(out, ev[i].at, ev[i].b, ev[i].len))
            atomic_fetch_add_explicit(&j->out_dropped, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&j->sent, 1, memory_order_relaxed);
    }
}

void kn_midi_jack_cycle(kn_midi_jack *j, struct SoundIoOutStream *os,
                        const struct SoundIoChannelArea *areas, int frames, kn_mix *mix) {
    if (!j) return;
    if (!j->probed) { /* once per stream: its client, for the control thread */
        j->probed = 1;
        void *client = kn_jack_probe_out(os, areas, frames);
        if (client) atomic_store_explicit(&j->client, client, memory_order_release);
    }
    if (!atomic_load_explicit(&j->ready, memory_order_acquire)) return;
    jack_nframes_t n = (jack_nframes_t)frames;
    for (int p = 0; p < j->nports; p++) read_port(j, p, n, mix->tl);
    write_out(j, mix, n);
    atomic_fetch_add_explicit(&j->cycles, 1, memory_order_relaxed);
}

/* ---------------------------------------------------- the control thread */

static void port_name(int p, char *buf, size_t n) {
    if (p == 0)
        snprintf(buf, n, "midi_in");
    else
        snprintf(buf, n, "midi_in_%d", p + 1);
}

/* Registers the ports on a client the audio thread found. */
static void register_ports(kn_midi_jack *j, void *client) {
    jack_client_t *cl = client;
    j->registered = client;
    j->error[0] = 0;
    for (int p = 0; p < j->nports; p++) {
        char name[32];
        port_name(p, name, sizeof name);
        j->in[p] = jack_port_register(cl, name, JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
        if (!j->in[p]) {
            snprintf(j->error, sizeof j->error, "JACK refused the port %s", name);
            return;
        }
        snprintf(j->names[p], sizeof j->names[p], "%s", jack_port_name(j->in[p]));
    }
    j->out = jack_port_register(cl, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    if (!j->out) {
        snprintf(j->error, sizeof j->error, "JACK refused the port midi_out");
        return;
    }
    snprintf(j->names[KN_MIDI_PORTS], sizeof j->names[0], "%s", jack_port_name(j->out));
    atomic_store_explicit(&j->ready, 1, memory_order_release);
    kn_log("JACK MIDI: %d input port%s (%s ..), %s", j->nports, j->nports == 1 ? "" : "s",
           j->names[0], j->names[KN_MIDI_PORTS]);
}

int kn_midi_jack_poll(kn_midi_jack *j, kn_midi_take_fn take, void *ctx) {
    if (!j) return 0;
    void *client = atomic_load_explicit(&j->client, memory_order_acquire);
    if (client && client != j->registered) register_ports(j, client);
    int got = 0;
    midi_rec r;
    for (int i = 0; i < MIDI_RECS && kn_spsc_pop(&j->q, &r); i++, got++)
        take(ctx, r.port, r.frame, r.b, r.len);
    return got;
}

void kn_midi_jack_closed(kn_midi_jack *j) {
    if (!j) return;
    atomic_store(&j->ready, 0);
    atomic_store(&j->client, NULL);
    j->registered = NULL;
    j->probed = 0;
    memset(j->in, 0, sizeof j->in);
    j->out = NULL;
}

void kn_midi_jack_clock(kn_midi_jack *j, const kn_tempo_map *m, double rate) {
    if (!j) return;
    kn_tempo_map last;
    uint32_t seen = UINT32_MAX;
    /* published only when it changed (the control thread is the only writer) */
    if (atomic_load(&j->clock_on) && kn_tempo_fetch(&j->tl, &last, &seen) == 1 &&
        !memcmp(&last, m, sizeof last))
        return;
    atomic_store(&j->rate_bits, kn_dbits(rate));
    kn_tempo_publish(&j->tl, m);
    atomic_store_explicit(&j->clock_on, 1, memory_order_release);
}

int kn_midi_jack_stop(kn_midi_jack *j) {
    if (!j || !atomic_load(&j->ready) || !atomic_load(&j->clock_on)) return 1;
    atomic_store_explicit(&j->stop_ask, 1, memory_order_release);
    return atomic_load_explicit(&j->stop_sent, memory_order_acquire);
}

int kn_midi_jack_ready(const kn_midi_jack *j) {
    return j && atomic_load(&j->ready);
}

void kn_midi_jack_json(const kn_midi_jack *j, cJSON *o) {
    cJSON *in = cJSON_AddArrayToObject(o, "ports");
    int ready = kn_midi_jack_ready(j);
    for (int p = 0; ready && p < j->nports; p++)
        cJSON_AddItemToArray(in, cJSON_CreateString(j->names[p]));
    cJSON_AddStringToObject(o, "out_port", ready ? j->names[KN_MIDI_PORTS] : "");
    cJSON_AddNumberToObject(o, "dropped", (double)atomic_load(&j->dropped));
    cJSON_AddNumberToObject(o, "sent", (double)atomic_load(&j->sent));
    cJSON_AddNumberToObject(o, "out_late", (double)atomic_load(&j->out_late));
    cJSON_AddNumberToObject(o, "out_dropped", (double)atomic_load(&j->out_dropped));
    cJSON_AddBoolToObject(o, "clock", atomic_load(&j->clock_on));
    cJSON_AddNumberToObject(o, "clock_ticks", (double)atomic_load(&j->ticks));
    if (j->error[0]) cJSON_AddStringToObject(o, "error", j->error);
}
