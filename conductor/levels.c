/*
 * levels.c - the mixer's settings and the meters, on the control thread.
 *
 * Settings (per deck: gain dB, mute, solo, pan; master gain dB) live here
 * and are turned into linear gain targets for the audio thread whenever one
 * changes; solo changes every deck's target at once. The audio thread ramps
 * to a target over the ramp given with the change (default 10 ms), so
 * nothing clicks.
 *
 * Meters: the audio thread leaves one record per mixed chunk (peak and sum
 * of squares per deck and for the master) in an SPSC ring; kn_levels_tick
 * drains it and closes a window about every 33 ms: peak and RMS in dBFS,
 * the figures `kanon meters`, `kanon status` and OSC subscribers see.
 */
#include "conductor.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define METER_WINDOW_NS 33000000u
#define FLOOR_DB        -120.0

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static double to_db(double x) {
    return x > 1e-6 ? 20 * log10(x) : FLOOR_DB;
}

static uint32_t ramp_frames(const kn_conductor *c, double ms) {
    if (!(ms >= 0)) ms = 10;
    if (ms < 1) ms = 1; /* even an instant change is a 1 ms ramp: never a click */
    if (ms > 60000) ms = 60000;
    return (uint32_t)(ms * c->rate / 1000.0);
}

void kn_levels_apply(kn_conductor *c, double ramp_ms) {
    int any_solo = 0;
    for (int i = 0; i < KN_MAX_DECKS; i++) any_solo |= c->deck[i].used && c->deck[i].solo;
    uint32_t ramp = ramp_frames(c, ramp_ms);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        kn_mix_deck *m = &c->mix.deck[i];
        if (!d->used) continue;
        int silent = d->mute || (any_solo && !d->solo);
        float g[3];
        kn_fader_gains(d->gain_db, silent, d->pan, c->channels, g);
        atomic_store_explicit(&m->ramp_frames, ramp, memory_order_relaxed);
        for (int k = 0; k < 3; k++)
            atomic_store_explicit(&m->gain_target[k], fbits(g[k]), memory_order_relaxed);
        if (c->routes_seg) { /* post-fader routes read the fader too (route.h) */
            kn_src_info *si = &c->routes_seg->src[i];
            atomic_store_explicit(&si->fader_ramp, ramp, memory_order_relaxed);
            for (int k = 0; k < 3; k++)
                atomic_store_explicit(&si->fader[k], fbits(g[k]), memory_order_relaxed);
        }
    }
    atomic_store_explicit(&c->mix.master_ramp, ramp, memory_order_relaxed);
    atomic_store_explicit(&c->mix.master_target, fbits((float)pow(10, c->master_db / 20)),
                          memory_order_relaxed);
}

/* Nothing measured yet is silence (-inf, shown at the floor), not 0 dBFS. */
void kn_levels_init(kn_conductor *c) {
    for (int i = 0; i <= KN_MAX_DECKS; i++) c->meter[i] = (kn_meter){FLOOR_DB, FLOOR_DB};
}

/* A fresh deck starts at unity, centred, audible, silent on the meters
 * (its slot may be reused). */
void kn_levels_reset_deck(kn_conductor *c, int slot) {
    kn_deck *d = &c->deck[slot];
    c->meter[slot] = (kn_meter){FLOOR_DB, FLOOR_DB};
    d->gain_db = 0;
    d->mute = d->solo = 0;
    d->pan = 0;
    for (int k = 0; k < 3; k++) atomic_store(&c->mix.deck[slot].gain_target[k], fbits(1));
    kn_levels_apply(c, 0);
}

/* Returns 1 when a new meter window closed. */
int kn_levels_tick(kn_conductor *c) {
    kn_meter_rec r;
    kn_meter_acc *a = &c->meter_acc;
    while (kn_mix_meters_take(&c->mix, &r)) {
        for (int i = 0; i <= KN_MAX_DECKS; i++) {
            if (r.peak[i] > a->peak[i]) a->peak[i] = r.peak[i];
            a->sumsq[i] += r.sumsq[i];
        }
        a->frames += r.frames;
    }
    uint64_t now = kn_mono_ns();
    /* Close a window every ~33 ms, but not an empty one (a device with long
     * periods delivers in bursts) unless nothing came for 200 ms. */
    if (now - a->t0 < METER_WINDOW_NS || (a->frames == 0 && now - a->t0 < 200000000u)) return 0;
    double samples = (double)a->frames * c->channels;
    for (int i = 0; i <= KN_MAX_DECKS; i++) {
        c->meter[i].peak_db = to_db(a->peak[i]);
        c->meter[i].rms_db = samples > 0 ? to_db(sqrt(a->sumsq[i] / samples)) : FLOOR_DB;
    }
    memset(a, 0, sizeof *a);
    a->t0 = now;
    return 1;
}
