/*
 * command.c - the conductor's typed commands: one place for what a command
 * may do and its rules (names, ranges, what must exist).
 *
 * Every front end parses its own syntax and calls these: the nng JSON
 * protocol (control.c), OSC (osc.c) and control surfaces (surface.c). None
 * of them builds text for another to parse. Each command returns 0, or -1
 * with err holding a message that says what happened and what to do.
 * Control thread only.
 */
#include "conductor.h"

#include <math.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

static kn_deck *find(kn_conductor *c, const char *deck, char *err, size_t n) {
    kn_deck *d = deck ? kn_deck_find(c, deck) : NULL;
    if (!d) snprintf(err, n, "no deck named '%.40s' (see `kanon status`)", deck ? deck : "");
    return d;
}

static kn_param_slot *param(kn_deck *d, const char *name, char *err, size_t n) {
    kn_param_slot *s = name ? kn_param_find(d, name) : NULL;
    if (!s)
        snprintf(err, n, "deck %s has no parameter '%.40s' (see `kanon params %s`)", d->name,
                 name ? name : "", d->name);
    return s;
}

int kn_cmd_play(kn_conductor *c, const kn_play_opts *o, uint32_t *id, char *err, size_t n) {
    if (!o->path || o->path[0] != '/' || strlen(o->path) >= 4096) {
        snprintf(err, n, "play needs \"file\": an absolute path to a .c file");
        return -EINVAL;
    }
    if (kn_deck_name_check(o->deck, err, n)) return -EINVAL;
    if (!(o->fade_ms >= 0 && o->fade_ms <= 1000)) {
        snprintf(err, n, "\"fade_ms\" must be a number of milliseconds, 0..1000");
        return -EINVAL;
    }
    if (!(o->quant >= 0 && o->quant <= KN_QUANT_MAX)) {
        snprintf(err, n, "\"quant\" must be a number of beats, 0..%d", KN_QUANT_MAX);
        return -EINVAL;
    }
    return kn_deck_play(c, o, id, err, n);
}

int kn_cmd_stop(kn_conductor *c, const char *deck, char *err, size_t n) {
    if (!deck) {
        snprintf(err, n, "stop needs \"deck\"");
        return -EINVAL;
    }
    return kn_deck_stop(c, deck, err, n);
}

int kn_cmd_set(kn_conductor *c, const char *deck, const char *name, double value, double ramp_ms,
               kn_param_slot **slot, char *err, size_t n) {
    kn_deck *d = find(c, deck, err, n);
    if (!d) return -ENOENT;
    if (!isfinite(value)) {
        snprintf(err, n, "set needs \"name\" and a finite numeric \"value\"");
        return -EINVAL;
    }
    if (!(ramp_ms >= 0 && ramp_ms <= 3.6e6)) {
        snprintf(err, n, "\"ramp_ms\" must be a number of milliseconds, 0..3600000");
        return -EINVAL;
    }
    kn_param_slot *s = param(d, name, err, n);
    if (!s) return -ENOENT;
    kn_param_store(s, value, ramp_ms);
    if (slot) *slot = s;
    return 0;
}

int kn_cmd_mix(kn_conductor *c, const char *deck, const kn_mix_change *m, kn_deck **out, char *err,
               size_t n) {
    if (m->has_gain && !(m->gain_db >= -120 && m->gain_db <= 24)) {
        snprintf(err, n, "\"gain_db\" must be a number of dB, -120..24");
        return -EINVAL;
    }
    if (m->has_pan && !(m->pan >= -1 && m->pan <= 1)) {
        snprintf(err, n, "\"pan\" must be a number, -1 (left) .. 1 (right)");
        return -EINVAL;
    }
    if (!(m->ramp_ms >= 0 && m->ramp_ms <= 60000)) {
        snprintf(err, n, "\"ramp_ms\" must be a number of milliseconds, 0..60000");
        return -EINVAL;
    }
    if (deck && !strcmp(deck, "master")) {
        if (m->has_mute || m->has_solo || m->has_pan) {
            snprintf(err, n, "the master has only a gain");
            return -EINVAL;
        }
        if (m->has_gain) c->master_db = m->gain_db;
        kn_levels_apply(c, m->ramp_ms);
        if (out) *out = NULL;
        return 0;
    }
    kn_deck *d = find(c, deck, err, n);
    if (!d) return -ENOENT;
    if (m->has_gain) d->gain_db = m->gain_db;
    if (m->has_mute) d->mute = m->mute;
    if (m->has_solo) d->solo = m->solo;
    if (m->has_pan) d->pan = m->pan;
    kn_levels_apply(c, m->ramp_ms);
    if (out) *out = d;
    return 0;
}

/* ----------------------------------------------------------- parameters */

kn_param_slot *kn_param_find(kn_deck *d, const char *name) {
    uint32_t n = atomic_load_explicit(&d->params->count, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < KN_MAX_PARAMS; i++)
        if (!strncmp(d->params->slot[i].name, name, KN_NAME_MAX)) return &d->params->slot[i];
    return NULL;
}

void kn_param_store(kn_param_slot *s, double value, double ramp_ms) {
    double lo = kn_bitsd(atomic_load(&s->min)), hi = kn_bitsd(atomic_load(&s->max));
    double x = value < lo ? lo : value > hi ? hi : value;
    atomic_store(&s->ramp, kn_dbits(ramp_ms));
    atomic_store(&s->value, kn_dbits(x));
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_release); /* after value and ramp */
}

/* ------------------------------------------------------------ timeline */

static int quant_ok(double q, char *err, size_t n) {
    if (q >= 0 && q <= KN_QUANT_MAX) return 1;
    snprintf(err, n, "--quant must be a number of beats, 0..%d (0.25 is a sixteenth)",
             KN_QUANT_MAX);
    return 0;
}

int kn_cmd_when(kn_conductor *c, const char *deck, double at_beat, double quant, uint64_t *frame,
                char *err, size_t n) {
    kn_deck *d = find(c, deck, err, n);
    if (!d) return -ENOENT;
    if (!isfinite(at_beat) || at_beat > 1e12 || !quant_ok(quant, err, n)) {
        if (!isfinite(at_beat) || at_beat > 1e12)
            snprintf(err, n, "--at must be a beat number, 0 or more");
        return -EINVAL;
    }
    *frame = kn_timeline_when(c, d, at_beat, quant);
    return 0;
}

int kn_cmd_set_at(kn_conductor *c, const char *deck, const char *name, double value, double ramp_ms,
                  uint64_t frame, char *err, size_t n) {
    kn_deck *d = find(c, deck, err, n);
    if (!d) return -ENOENT;
    if (!isfinite(value) || !(ramp_ms >= 0 && ramp_ms <= 3.6e6)) {
        snprintf(err, n, "set needs a finite \"value\" and \"ramp_ms\" 0..3600000");
        return -EINVAL;
    }
    kn_param_slot *s = param(d, name, err, n);
    if (!s) return -ENOENT;
    kn_ev_slot e = {.frame = frame,
                    .type = KN_EVQ_PARAM,
                    .param = (uint32_t)(s - d->params->slot),
                    .value = value,
                    .ramp = ramp_ms};
    return kn_timeline_push(c, d, &e, err, n);
}

int kn_cmd_stop_when(kn_conductor *c, const char *deck, double at_beat, double quant, char *err,
                     size_t n) {
    if (!quant_ok(quant, err, n)) return -EINVAL;
    if (at_beat >= 0 && quant > 0) {
        snprintf(err, n, "give a stop's beat (at_beat) or its grid (quant), not both");
        return -EINVAL;
    }
    if (!(at_beat <= 1e12)) { /* NaN too */
        snprintf(err, n, "\"at_beat\" must be a beat number, 0..1e12");
        return -EINVAL;
    }
    kn_deck *d = deck ? find(c, deck, err, n) : NULL;
    if (deck && !d) return -ENOENT;
    if (d && (quant > 0 || at_beat >= 0) && kn_timeline_deck_locked(c, d) &&
        kn_timeline_stop(c, d, at_beat, quant))
        return 0;
    return kn_cmd_stop(c, deck, err, n);
}

int kn_cmd_quant(kn_conductor *c, const char *deck, double quant, char *err, size_t n) {
    kn_deck *d = find(c, deck, err, n);
    if (!d) return -ENOENT;
    if (!quant_ok(quant, err, n)) return -EINVAL;
    d->swap_quant = quant;
    return 0;
}

int kn_cmd_tempo(kn_conductor *c, double bpm, int bar, double ramp_beats, char *err, size_t n) {
    /* Link would clamp it, and every peer (and then kanon) would follow the clamp */
    if (c->link.on && !(bpm >= KN_LINK_BPM_MIN && bpm <= KN_LINK_BPM_MAX)) {
        snprintf(
            err, n,
            "while Link is on the tempo must be %g..%g bpm (Link's range; `kanon link off` first)",
            KN_LINK_BPM_MIN, KN_LINK_BPM_MAX);
        return -EINVAL;
    }
    return kn_timeline_tempo(c, bpm, bar, ramp_beats, err, n);
}

/* Only the request is recorded: link_sync.c acts on it in the same loop
 * iteration (so this file, and the fuzz harness that runs it, never call
 * Link). */
int kn_cmd_link(kn_conductor *c, int on, int playing, char *err, size_t n) {
    if (on >= 0) {
        c->link.on = on != 0;
        if (on) c->link.error[0] = 0;
    }
    if (playing >= 0) {
        if (!c->link.on) {
            snprintf(err, n, "Link is off; `kanon link on` joins a session first");
            return -EINVAL;
        }
        c->link.ask = playing ? 1 : -1;
    }
    return 0;
}
