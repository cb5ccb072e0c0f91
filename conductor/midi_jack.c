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
    /* audio-private */
    int probed;
    /* audio -> control */
    kn_spsc q;
    midi_rec recs[MIDI_RECS];
    _Atomic uint64_t dropped, cycles;
};

kn_midi_jack *kn_midi_jack_new(int nports) {
    kn_midi_jack *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->nports = nports;
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

void kn_midi_jack_cycle(kn_midi_jack *j, struct SoundIoOutStream *os,
                        const struct SoundIoChannelArea *areas, int frames, uint64_t tl) {
    if (!j) return;
    if (!j->probed) { /* once per stream: its client, for the control thread */
        j->probed = 1;
        void *client = kn_jack_probe_out(os, areas, frames);
        if (client) atomic_store_explicit(&j->client, client, memory_order_release);
    }
    if (!atomic_load_explicit(&j->ready, memory_order_acquire)) return;
    jack_nframes_t n = (jack_nframes_t)frames;
    for (int p = 0; p < j->nports; p++) read_port(j, p, n, tl);
    void *out = jack_port_get_buffer(j->out, n);
    if (out) jack_midi_clear_buffer(out);
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
    if (j->error[0]) cJSON_AddStringToObject(o, "error", j->error);
}
