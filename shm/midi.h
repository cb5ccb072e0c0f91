/*
 * midi.h - MIDI's channel messages as timed events (timeline.h's
 * kn_ev_slot), and the shared bytes of MIDI out. Header-only and depends on
 * nothing but timeline.h, so the conductor, the cartridges and the unit
 * tests read a message the same way (docs/midi.md).
 *
 * A message is the raw bytes a port delivered: a status byte 0x80..0xEF
 * and its one or two data bytes (0..127). Running status is not seen here:
 * JACK and the ALSA sequencer hand over whole messages. What becomes an
 * event:
 *
 *   0x9n k v   note on, channel n, key k, velocity v (v = 0: a note off)
 *   0x8n k v   note off (v: the release velocity)
 *   0xBn c v   control change c to v              -> KN_EVQ_CC
 *   0xEn l m   pitch bend, 14 bits m*128+l; 8192 is the centre: the value
 *              is (x - 8192) / 8192, clamped to -1 (0 gives exactly -1, 16383
 *              gives 8191/8192)                    -> KN_EVQ_BEND
 *   0xDn p     channel pressure                    -> KN_EVQ_PRESSURE
 *   0xCn p     program change                      -> KN_EVQ_PROGRAM
 *
 * Anything else (polyphonic aftertouch 0xA0, system messages 0xF0..,
 * a short message, a data byte above 127) is not an event: kn_midi_parse
 * returns -1 and the caller counts it as ignored.
 *
 * MIDI out: every deck's parameter segment ends with a kn_midi_outq (after
 * the event queue), an SPSC ring the deck's producing cartridge fills from
 * kn_midi_out() and the conductor's audio thread drains: each message is
 * stamped with the timeline frame at which it is to leave kanon:midi_out.
 * Same protocol as the event queue (64-bit positions that only grow, masked
 * indices, a position the other side could scribble is clamped): the
 * consumer never trusts the bytes (the status byte is checked again).
 */
#ifndef KANON_MIDI_H
#define KANON_MIDI_H

#include "timeline.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KN_MIDI_CHANNELS 16
#define KN_MIDI_PORTS    8 /* kanon:midi_in .. midi_in_8 at most (--midi-ports) */

/* The bytes a message of this status byte has in all (0: not one kanon
 * reads or writes). */
static inline int kn_midi_len(uint8_t status) {
    switch (status & 0xF0) {
    case 0x80:
    case 0x90:
    case 0xA0:
    case 0xB0:
    case 0xE0: return 3;
    case 0xC0:
    case 0xD0: return 2;
    default: return 0;
    }
}

/* The event of one message, landing on timeline frame `frame` (every
 * field of *e is set). 0, or -1 if the message is not a channel message
 * kanon delivers (see the top). */
static inline int kn_midi_parse(const uint8_t *m, size_t len, uint64_t frame, kn_ev_slot *e) {
    if (len < 2) return -1;
    int need = kn_midi_len(m[0]);
    if (!need || (size_t)need > len || m[1] > 127 || (need == 3 && m[2] > 127)) return -1;
    memset(e, 0, sizeof *e);
    e->frame = frame;
    e->channel = m[0] & 0x0F;
    switch (m[0] & 0xF0) {
    case 0x90:
        e->type = m[2] ? KN_EVQ_NOTE_ON : KN_EVQ_NOTE_OFF;
        e->note = m[1];
        e->velocity = m[2];
        return 0;
    case 0x80:
        e->type = KN_EVQ_NOTE_OFF;
        e->note = m[1];
        e->velocity = m[2];
        return 0;
    case 0xB0:
        e->type = KN_EVQ_CC;
        e->note = m[1];
        e->value = m[2];
        return 0;
    case 0xE0: {
        double v = ((double)((int)m[2] * 128 + (int)m[1]) - 8192.0) / 8192.0;
        e->type = KN_EVQ_BEND;
        e->value = v < -1 ? -1 : v;
        return 0;
    }
    case 0xD0:
        e->type = KN_EVQ_PRESSURE;
        e->value = m[1];
        return 0;
    case 0xC0:
        e->type = KN_EVQ_PROGRAM;
        e->note = m[1];
        return 0;
    default: return -1; /* polyphonic aftertouch */
    }
}

/* ------------------------------------------------------------- routes */

/* A route's input port, as `kanon midi DECK --from PORT` names it:
 * "midi_in" (the first), "midi_in_N", or N (1-based), or "any". *port is
 * 0-based, -1 for any. 0, or -1 with why. */
static inline int kn_midi_port_parse(const char *s, int nports, int *port, char *why, size_t n) {
    long v = -2;
    char *end;
    if (!strcmp(s, "any") || !strcmp(s, "all")) {
        *port = -1;
        return 0;
    }
    if (!strcmp(s, "midi_in")) {
        v = 1;
    } else {
        const char *d = !strncmp(s, "midi_in_", 8) ? s + 8 : s;
        if (*d >= '1' && *d <= '9' && strlen(d) < 4) {
            v = strtol(d, &end, 10);
            if (*end) v = -2;
        }
    }
    if (v < 1 || v > nports || v > KN_MIDI_PORTS) {
        snprintf(why, n,
                 "no MIDI input port '%.40s': say midi_in, midi_in_N or N (1..%d), or any "
                 "(`kanon up --midi-ports N` makes more)",
                 s, nports);
        return -1;
    }
    *port = (int)v - 1;
    return 0;
}

/* A 0-based input port's name, as kn_midi_port_parse reads it back. */
static inline void kn_midi_port_name(int port, char *out, size_t n) {
    if (port < 0)
        snprintf(out, n, "any");
    else if (port == 0)
        snprintf(out, n, "midi_in");
    else
        snprintf(out, n, "midi_in_%d", port + 1);
}

/* ------------------------------------------------------- shared: MIDI out */

#define KN_MIDI_OUTQ_CAP 256 /* a power of two */

/* One message to send. Written by the producer before the release of
 * `tail`. */
typedef struct kn_midi_msg {
    uint64_t frame;   /* timeline frame it leaves at */
    uint8_t bytes[3]; /* status, data1, data2 (unused bytes 0) */
    uint8_t len;      /* 1..3 */
    uint32_t pad;
} kn_midi_msg;

typedef struct kn_midi_outq {
    _Atomic uint64_t tail; /* producing cartridge: messages ever pushed */
    _Atomic uint64_t head; /* conductor's audio thread: messages ever sent or dropped */
    kn_midi_msg slot[KN_MIDI_OUTQ_CAP];
} kn_midi_outq;

/* Producer: 0, or -1 if the queue is full (or its head is impossible). */
static inline int kn_midi_outq_push(kn_midi_outq *q, const kn_midi_msg *m) {
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (h > t || t - h >= KN_MIDI_OUTQ_CAP) return -1;
    q->slot[t & (KN_MIDI_OUTQ_CAP - 1)] = *m;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return 0;
}

/* Consumer: the oldest message not yet taken into *m (0 if none). Its
 * position is not retired: kn_midi_outq_next does that once it is sent. A
 * cartridge that scribbled the positions gets them clamped. */
static inline int kn_midi_outq_peek(kn_midi_outq *q, kn_midi_msg *m) {
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (h > t || t - h > KN_MIDI_OUTQ_CAP) { /* repaired: nothing older survives */
        h = t;
        atomic_store_explicit(&q->head, h, memory_order_release);
    }
    if (h == t) return 0;
    *m = q->slot[h & (KN_MIDI_OUTQ_CAP - 1)];
    return 1;
}

static inline void kn_midi_outq_next(kn_midi_outq *q) {
    atomic_store_explicit(&q->head, atomic_load_explicit(&q->head, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* A message kanon sends: a channel message with its data bytes in range,
 * or a one-byte real-time message (0xF8 clock, 0xFA start, 0xFB continue,
 * 0xFC stop). Its length, or 0 if not. */
static inline int kn_midi_out_ok(const uint8_t *b) {
    if (b[0] == 0xF8 || b[0] == 0xFA || b[0] == 0xFB || b[0] == 0xFC) return 1;
    int n = kn_midi_len(b[0]);
    if (!n || b[1] > 127 || (n == 3 && b[2] > 127)) return 0;
    return n;
}

#endif
