/*
 * midi_alsa.c - MIDI in through the ALSA sequencer, when the audio is not
 * on JACK: a sequencer client named "kanon" (`aconnect -l` lists it) with
 * one writable port, midi_in; raw MIDI devices and other programs reach it
 * through the sequencer (`aconnect DEVICE kanon`).
 *
 * The control thread reads it, non-blocking, every loop iteration (the
 * loop polls every few milliseconds while MIDI is open, midi.c). A
 * sequencer event carries no frame: it is stamped with its arrival, the
 * timeline frame heard at the moment it is read (kn_timeline_frame_at, the
 * device clock), and delivered L frames later like JACK's. The error is
 * how late the loop reads it: at most its poll period, plus the device
 * clock's jitter.
 *
 * Without /dev/snd/seq (no sequencer in the kernel, as on CI machines)
 * there is nothing to open: status says why.
 */
#include "conductor.h"

#include <alsa/asoundlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kn_midi_alsa {
    snd_seq_t *seq;
    int client, port;
};

kn_midi_alsa *kn_midi_alsa_open(char *why, size_t n) {
    if (access("/dev/snd/seq", F_OK)) {
        snprintf(why, n,
                 "no /dev/snd/seq: the ALSA sequencer is not in this kernel (modprobe "
                 "snd-seq)");
        return NULL;
    }
    kn_midi_alsa *a = calloc(1, sizeof *a);
    if (!a) return snprintf(why, n, "out of memory"), NULL;
    int e = snd_seq_open(&a->seq, "default", SND_SEQ_OPEN_INPUT, SND_SEQ_NONBLOCK);
    if (e < 0) {
        snprintf(why, n, "cannot open the ALSA sequencer: %s", snd_strerror(e));
        free(a);
        return NULL;
    }
    snd_seq_set_client_name(a->seq, "kanon");
    a->client = snd_seq_client_id(a->seq);
    a->port = snd_seq_create_simple_port(
        a->seq, "midi_in", SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE,
        SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_APPLICATION);
    if (a->port < 0) {
        snprintf(why, n, "cannot make the ALSA sequencer port: %s", snd_strerror(a->port));
        snd_seq_close(a->seq);
        free(a);
        return NULL;
    }
    kn_log("ALSA sequencer: client %d (kanon), port %d (midi_in)", a->client, a->port);
    return a;
}

void kn_midi_alsa_close(kn_midi_alsa *a) {
    if (!a) return;
    snd_seq_close(a->seq);
    free(a);
}

/* The MIDI bytes of a sequencer event (0: not a channel message kanon takes). */
static int to_bytes(const snd_seq_event_t *ev, uint8_t b[3]) {
    const snd_seq_ev_note_t *nt = &ev->data.note;
    const snd_seq_ev_ctrl_t *ct = &ev->data.control;
    switch (ev->type) {
    case SND_SEQ_EVENT_NOTEON:
    case SND_SEQ_EVENT_NOTEOFF:
        b[0] = (uint8_t)((ev->type == SND_SEQ_EVENT_NOTEON ? 0x90 : 0x80) | (nt->channel & 15));
        b[1] = nt->note & 127;
        b[2] = nt->velocity & 127;
        return 3;
    case SND_SEQ_EVENT_CONTROLLER:
        b[0] = (uint8_t)(0xB0 | (ct->channel & 15));
        b[1] = (uint8_t)(ct->param & 127);
        b[2] = (uint8_t)(ct->value & 127);
        return 3;
    case SND_SEQ_EVENT_PITCHBEND: {
        int v = ct->value + 8192;
        v = v < 0 ? 0 : v > 16383 ? 16383 : v;
        b[0] = (uint8_t)(0xE0 | (ct->channel & 15));
        b[1] = (uint8_t)(v & 127);
        b[2] = (uint8_t)(v >> 7);
        return 3;
    }
    case SND_SEQ_EVENT_CHANPRESS:
    case SND_SEQ_EVENT_PGMCHANGE:
        b[0] = (uint8_t)((ev->type == SND_SEQ_EVENT_CHANPRESS ? 0xD0 : 0xC0) | (ct->channel & 15));
        b[1] = (uint8_t)(ct->value & 127);
        return 2;
    default: return 0;
    }
}

int kn_midi_alsa_poll(kn_midi_alsa *a, kn_conductor *c, kn_midi_take_fn take, void *ctx) {
    if (!a) return 0;
    int got = 0;
    for (int i = 0; i < 256; i++) {
        snd_seq_event_t *ev = NULL;
        int e = snd_seq_event_input(a->seq, &ev);
        if (e < 0 || !ev) break; /* -EAGAIN: nothing more; -ENOSPC: overrun, read on */
        uint8_t b[3] = {0, 0, 0};
        int len = to_bytes(ev, b);
        int64_t f = kn_timeline_frame_at(c, kn_mono_ns());
        if (len && f >= 0) take(ctx, 0, (uint64_t)f, b, (size_t)len);
        got++;
    }
    return got;
}

void kn_midi_alsa_json(const kn_midi_alsa *a, cJSON *o) {
    cJSON_AddNumberToObject(o, "alsa_client", a->client);
    cJSON_AddNumberToObject(o, "alsa_port", a->port);
}
