/*
 * timeline.c - the conductor's clock: one timeline for every deck.
 *
 * Timeline frames count the frames the mixer has handed to the device
 * since `kanon up` (kn_mix.tl, on the device's clock; a failover goes on
 * counting). A deck's ring position p plays at timeline frame p + epoch:
 * the epoch is chosen here once per deck, when its first cartridge has
 * finished setup() and reports "running" (kn_timeline_deck_start), as the
 * first frame at least `lead` ahead (the ring's target: what a cartridge
 * renders ahead anyway) that lies on the deck's start grid (`play
 * --quant N`; 0: at once). The cartridge waits for it before rendering,
 * and the mixer starts the deck exactly there, mid-chunk if need be, and
 * keeps it there: a deck that runs dry drops what comes late instead of
 * slipping (mixer.c).
 *
 * The frontier of a deck is the first timeline frame its producer has
 * not rendered yet (write position + epoch). Anything that must land on
 * an exact frame lands at or after every frontier it concerns, or it is
 * late:
 *   tempo      a change starts at the furthest frontier of all decks (or
 *              `now` with none), so no deck has rendered a frame of it
 *              under the old tempo; the beat never jumps (kn_tempo_change);
 *              tempo_delay frames later while others must hear of it
 *              first (Link peers: link_sync.c)
 *   events     `set --at BEAT` lands on the beat's frame, `set --quant N`
 *              on the next multiple of N beats past the deck's frontier;
 *              the cartridge applies them at that sample (timeline.h's
 *              queue; one past its frontier is applied at once and counted
 *              late)
 *   takeover   a quantized save or revert hands over at the first grid
 *              frame past the producer's frontier (kn_timeline_ctl
 *              .handover_at): the old producer renders up to exactly it
 *   stop       `stop --quant N`: the mixer fades out from the grid frame;
 *              the cartridges are stopped once the ring holds it
 *
 * Wall-clock times (OSC timetags) become frames through the device clock
 * the audio thread publishes at every callback (kn_mix_clock): frame F is
 * mixed at that callback's time plus (F - its frame) / rate and heard one
 * device latency later. Control thread only.
 */
#include "conductor.h"
#include "futex.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void kn_timeline_init(kn_conductor *c) {
    kn_tempo_init(&c->tempo);
}

uint64_t kn_timeline_now(kn_conductor *c) {
    return atomic_load_explicit(&c->mix.tl_pub, memory_order_acquire);
}

/* How far ahead of the device a change must be for every deck to render
 * it in time: the ring's target and a block. */
static uint64_t lead(const kn_conductor *c) {
    return (uint64_t)c->target + (uint64_t)c->block;
}

int kn_timeline_deck_locked(kn_conductor *c, kn_deck *d) {
    return atomic_load_explicit(&c->mix.deck[d - c->deck].locked, memory_order_acquire) != 0;
}

uint64_t kn_timeline_frontier(kn_conductor *c, kn_deck *d) {
    uint64_t now = kn_timeline_now(c);
    if (!kn_timeline_deck_locked(c, d)) return now;
    int64_t ep = atomic_load(&c->mix.deck[d - c->deck].epoch);
    uint64_t w = atomic_load(&d->ring->write_pos),
             r = atomic_load(&c->mix.deck[d - c->deck].read_pub);
    if (w < r || w - r > d->ring_cap) w = r; /* a scribbled position: the reader's */
    uint64_t f = kn_tl_now(w, ep);
    return f > now ? f : now;
}

/* The furthest frontier of all playing decks. */
static uint64_t frontier_all(kn_conductor *c) {
    uint64_t f = kn_timeline_now(c);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        uint64_t x = kn_timeline_frontier(c, d);
        if (x > f) f = x;
    }
    return f;
}

double kn_timeline_beat(kn_conductor *c, uint64_t frame) {
    return kn_tempo_beat(&c->tempo, c->rate, (double)frame);
}

uint64_t kn_timeline_grid(kn_conductor *c, uint64_t from, double quant) {
    return kn_tempo_grid(&c->tempo, c->rate, from, quant);
}

static void publish_deck(kn_conductor *c, kn_deck *d) {
    kn_tempo_publish(&d->ring->tl, &c->tempo);
}

/* The deck's place for its readers (route.h): epoch, then live. Its
 * latency is known by now (its setup() has run): the delays that
 * compensate it are published first. */
static void publish_source(kn_conductor *c, kn_deck *d, int64_t ep) {
    if (!c->routes_seg) return;
    kn_routes_tick(c);
    kn_src_info *si = &c->routes_seg->src[d - c->deck];
    atomic_store_explicit(&si->epoch, ep, memory_order_relaxed);
    atomic_store_explicit(&si->live, 1, memory_order_release);
}

void kn_timeline_deck_new(kn_conductor *c, kn_deck *d) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    atomic_store(&m->locked, 0);
    atomic_store(&m->epoch, 0);
    atomic_store(&m->stop_at, 0);
    atomic_store(&m->late_frames, 0);
    atomic_store(&m->slips, 0);
    m->lost = 0;
    m->is_locked = 0;
    m->ep = 0;
    publish_deck(c, d);
}

/* The frame of beat `beat` if it is at or past `soon`; else of the first
 * beat + k bars (k >= 1: the same place in the bar, whole bars later) at
 * or past it, with *late set. *placed is the beat of the frame returned. */
uint64_t kn_timeline_beat_or_later(kn_conductor *c, double beat, uint64_t soon, double *placed,
                                   int *late) {
    uint64_t at = kn_tempo_beat_frame(&c->tempo, c->rate, beat);
    *late = at < soon;
    *placed = beat;
    if (!*late) return at;
    double bar = kn_tempo_bar(&c->tempo, (double)soon);
    double k = ceil((kn_timeline_beat(c, soon) - beat) / bar);
    double b = beat + (k > 1 ? k : 1) * bar;
    while ((at = kn_tempo_beat_frame(&c->tempo, c->rate, b)) < soon) b += bar;
    *placed = b;
    return at;
}

void kn_timeline_deck_start(kn_conductor *c, kn_deck *d) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    kn_timeline_ctl *tl = &d->ring->tl;
    if (atomic_load(&m->locked)) { /* set before: a cartridge may have scribbled it */
        atomic_store(&tl->epoch, atomic_load(&m->epoch));
        atomic_store_explicit(&tl->epoch_set, 1, memory_order_release);
        publish_source(c, d, atomic_load(&m->epoch));
        return;
    }
    uint64_t first = atomic_load(&d->ring->write_pos); /* it waits: nothing rendered yet */
    uint64_t soon = kn_timeline_now(c) + lead(c), at;
    d->start_late = 0;
    if (d->at_for && d->at_for == d->cur.id) { /* `play start_beat`, or a group's `start` */
        at = kn_timeline_beat_or_later(c, d->at_beat, soon, &d->start_beat, &d->start_late);
        d->asked_beat = d->at_beat;
        d->at_for = 0;
    } else {
        at = kn_timeline_grid(c, soon, d->start_quant);
        d->start_beat = kn_timeline_beat(c, at);
        d->asked_beat = -1;
    }
    int64_t ep = (int64_t)(at - first);
    atomic_store(&m->epoch, ep);
    atomic_store_explicit(&m->locked, 1, memory_order_release);
    publish_deck(c, d);
    atomic_store(&tl->epoch, ep);
    atomic_store_explicit(&tl->epoch_set, 1, memory_order_release);
    publish_source(c, d, ep);
    kn_futex_wake(&d->ring->ctl.wake);
    d->start_frame = at;
    if (d->start_late)
        kn_deck_event(c, d, "note",
                      "starts late, on beat %.6g (timeline frame %llu): it was not ready for "
                      "beat %.6g",
                      d->start_beat, (unsigned long long)at, d->asked_beat);
    else if (d->start_quant > 0 || d->asked_beat >= 0)
        kn_deck_event(c, d, "note", "starts on beat %.6g (timeline frame %llu)", d->start_beat,
                      (unsigned long long)at);
}

uint64_t kn_timeline_restart_pos(kn_conductor *c, kn_deck *d, uint64_t w, uint64_t r) {
    if (!kn_timeline_deck_locked(c, d)) return w >= r && w - r <= d->ring_cap ? w : r + d->ring_cap;
    int64_t ep = atomic_load(&c->mix.deck[d - c->deck].epoch);
    uint64_t due = kn_timeline_now(c) + lead(c);
    uint64_t pos = (int64_t)due > ep ? due - (uint64_t)ep : 0; /* ring position due then */
    uint64_t at = w >= r && w - r <= d->ring_cap ? w : r;
    return at > pos ? at : pos;
}

int kn_timeline_tempo(kn_conductor *c, double bpm, int bar, double ramp_beats, char *err,
                      size_t n) {
    if (!kn_bpm_ok(bpm)) {
        snprintf(err, n, "tempo must be %g..%g bpm", KN_BPM_MIN, KN_BPM_MAX);
        return -EINVAL;
    }
    if (bar < 0 || bar > KN_BAR_MAX) {
        snprintf(err, n, "--bar must be 1..%d beats", KN_BAR_MAX);
        return -EINVAL;
    }
    if (!(ramp_beats >= 0 && ramp_beats <= KN_RAMP_MAX)) {
        snprintf(err, n, "--ramp must be 0..%g beats", KN_RAMP_MAX);
        return -EINVAL;
    }
    uint64_t at = frontier_all(c) + c->tempo_delay;
    uint32_t b = bar ? (uint32_t)bar : kn_tempo_bar(&c->tempo, (double)at);
    if (kn_tempo_change(&c->tempo, c->rate, at, bpm, b, ramp_beats)) {
        snprintf(err, n, "the tempo map refused the change");
        return -EINVAL;
    }
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used) publish_deck(c, &c->deck[i]);
    kn_log("tempo %.6g bpm, %u beats per bar%s, from beat %.6g (frame %llu)", bpm, b,
           ramp_beats > 0 ? " (gliding)" : "", kn_timeline_beat(c, at), (unsigned long long)at);
    return 0;
}

uint64_t kn_timeline_when(kn_conductor *c, kn_deck *d, double at_beat, double quant) {
    if (at_beat >= 0) return kn_tempo_beat_frame(&c->tempo, c->rate, at_beat);
    uint64_t from = kn_timeline_frontier(c, d), soon = kn_timeline_now(c) + lead(c);
    return kn_timeline_grid(c, from > soon ? from : soon, quant);
}

int kn_timeline_push(kn_conductor *c, kn_deck *d, const kn_ev_slot *e, char *err, size_t n) {
    if (kn_evq_push(&d->params->evq, e)) {
        snprintf(err, n, "deck %s has %d timed events waiting; try again once some have played",
                 d->name, KN_EVQ_CAP);
        return -EAGAIN;
    }
    if (e->frame < kn_timeline_frontier(c, d)) c->events_late++;
    return 0;
}

int64_t kn_timeline_frame_at(kn_conductor *c, uint64_t mono_ns) {
    uint64_t f0, t0;
    if (kn_mix_clock_read(&c->mix, &f0, &t0)) return -1;
    double heard = kn_audio_latency(c->audio); /* mixed at t0, heard this much later */
    double f = (double)f0 + ((double)mono_ns - (double)t0 - heard * 1e9) * c->rate / 1e9;
    return f > 0 ? (int64_t)llround(f) : 0;
}

int64_t kn_timeline_mono_at(kn_conductor *c, uint64_t frame) {
    uint64_t f0, t0;
    if (kn_mix_clock_read(&c->mix, &f0, &t0)) return -1;
    double heard = kn_audio_latency(c->audio); /* the inverse of kn_timeline_frame_at */
    double ns = (double)t0 + heard * 1e9 + ((double)frame - (double)f0) * 1e9 / c->rate;
    return ns > 0 ? (int64_t)llround(ns) : 0;
}

void kn_timeline_handover(kn_conductor *c, kn_deck *d) {
    double q = d->next_quant;
    int on_beat = d->at_for && d->at_for == d->next.id; /* `play start_beat` */
    atomic_store(&d->ring->tl.handover_at, 0);
    d->pending_frame = 0;
    if (on_beat) d->at_for = 0;
    if ((!(q > 0) && !on_beat) || !kn_timeline_deck_locked(c, d)) return;
    int64_t ep = atomic_load(&c->mix.deck[d - c->deck].epoch);
    /* past the producer's frontier by two blocks: it is still rendering */
    uint64_t from = kn_timeline_frontier(c, d) + 2u * (uint64_t)c->block, at;
    if (on_beat) {
        double placed;
        int late;
        at = kn_timeline_beat_or_later(c, d->at_beat, from, &placed, &late);
        if (late)
            kn_deck_event(c, d, "note",
                          "cartridge %u takes over late, on beat %.6g: it was not ready for "
                          "beat %.6g",
                          d->next.id, placed, d->at_beat);
    } else {
        at = kn_timeline_grid(c, from, q);
    }
    if ((int64_t)at < ep) return;
    atomic_store(&d->ring->tl.handover_at, at - (uint64_t)ep);
    d->pending_frame = at;
}

int kn_timeline_stop(kn_conductor *c, kn_deck *d, double at_beat, double quant) {
    if (!(quant > 0) && !(at_beat >= 0)) return 0;
    uint64_t at = kn_timeline_when(c, d, at_beat, quant);
    atomic_store(&c->mix.deck[d - c->deck].stop_at, at);
    if (c->routes_seg) atomic_store(&c->routes_seg->src[d - c->deck].stop_at, at); /* its readers */
    d->stop_frame = at;
    kn_deck_event(c, d, "note", "stops on beat %.6g", kn_timeline_beat(c, at));
    return 1;
}

void kn_timeline_tick(kn_conductor *c) {
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        /* a deck that slipped (mixer.c): its cartridge stamps its blocks
         * with the new epoch from now on */
        if (d->used && kn_timeline_deck_locked(c, d) &&
            atomic_load(&d->ring->tl.epoch) != atomic_load(&c->mix.deck[i].epoch)) {
            atomic_store(&d->ring->tl.epoch, atomic_load(&c->mix.deck[i].epoch));
            publish_source(c, d, atomic_load(&c->mix.deck[i].epoch));
        }
        if (!d->used || !d->name[0] || !d->stop_frame) continue;
        /* the ring holds the stop's frame and its fade: the cartridges may go */
        uint64_t fade_end = d->stop_frame + (uint64_t)c->mix.fade_frames + (uint64_t)c->block;
        if (kn_timeline_frontier(c, d) >= fade_end || kn_timeline_now(c) >= d->stop_frame) {
            char name[KN_NAME_MAX], err[256];
            snprintf(name, sizeof name, "%s", d->name);
            kn_deck_stop(c, name, err, sizeof err);
        }
    }
}

/* Link (link_sync.c) lands its changes where kn_timeline_tempo lands the
 * user's, and publishes the map the same way. */
uint64_t kn_timeline_frontier_all(kn_conductor *c) {
    return frontier_all(c);
}

void kn_timeline_publish(kn_conductor *c) {
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used) publish_deck(c, &c->deck[i]);
}
