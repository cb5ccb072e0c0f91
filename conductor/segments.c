/*
 * segments.c - a deck's four shared segments (shm/kanon_shm.h): made,
 * formatted, grown (the state, when a version asks for more: before the
 * deck first plays, or at a swap; handover.c), repaired and freed by the conductor, which keeps its
 * own copy of everything a cartridge could scribble over. Control thread only.
 */
#include "conductor.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The ring is the slot's (routes.c), kept for the conductor's life. */
static void segments_close(kn_deck *d) {
    d->seg_fd[KN_SEG_RING] = -1;
    for (int k = KN_SEG_STATE; k <= KN_SEG_SNAP; k++) {
        if (d->seg_fd[k] >= 0) close(d->seg_fd[k]);
        d->seg_fd[k] = -1;
    }
}

void kn_deck_segments_free(kn_deck *d) {
    kn_deck_grow_drop(d);
    kn_seg_unmap(d->state, d->state_bytes);
    kn_seg_unmap(d->params, d->param_bytes);
    d->ring = NULL;
    d->state = NULL;
    d->params = NULL;
    segments_close(d);
}

/* Gives the slot's ring to a new deck: readers see the generation odd and
 * the slot not live while it is formatted, so none mixes the old deck's
 * frames with the new one's. */
static void slot_ring_take(kn_conductor *c, kn_deck *d, uint32_t cap, uint32_t lane) {
    int slot = (int)(d - c->deck);
    kn_src_info *si = &c->routes_seg->src[slot];
    atomic_store_explicit(&si->live, 0, memory_order_release);
    atomic_store_explicit(&si->stop_at, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&si->gen, 1, memory_order_acq_rel); /* odd */
    kn_ring_seg *r = c->slot_ring[slot];
    memset(&r->ctl, 0, sizeof r->ctl);
    memset(&r->tl, 0, sizeof r->tl);
    kn_ring_format(r, cap, (uint32_t)c->channels, (uint32_t)c->block, c->target, c->rate, lane);
    atomic_fetch_add_explicit(&si->gen, 1, memory_order_release); /* even */
    d->ring = r;
    d->ring_bytes = c->slot_ring_bytes;
    d->seg_fd[KN_SEG_RING] = c->slot_ring_fd[slot];
}

int kn_slots_init(kn_conductor *c, char *err, size_t errlen) {
    /* Room for the target of any device kanon may fail over to (dummy:
     * 100 ms), so a deck never needs a bigger ring mid-life. */
    uint32_t cap = 4096;
    while (cap < 2 * c->target || cap < (uint32_t)(c->rate * 0.25)) cap <<= 1;
    uint32_t lane = ((uint32_t)c->rate + (uint32_t)c->block - 1) / (uint32_t)c->block *
                    (uint32_t)c->block; /* 1 s: the longest --fade */
    return kn_routes_init(c, cap, lane, err, errlen);
}

/* The deck's four segments: the slot's ring (made once, routes.c), and
 * the state, parameters and snapshot, each created, mapped and formatted.
 * The snapshot is only for cartridges: the conductor unmaps it at once. */
int kn_deck_segments_create(kn_conductor *c, kn_deck *d, char *err, size_t errlen) {
    int rc0 = kn_slots_init(c, err, errlen);
    if (rc0) return rc0;
    uint32_t cap = d->ring_cap = c->slot_cap; /* the slots' rings: made once */
    uint32_t lane = d->lane_cap = c->slot_lane;
    d->state_bytes = c->state_bytes;
    d->param_bytes = kn_param_bytes();
    kn_state_seg *snap = NULL;
    struct {
        const char *label;
        size_t bytes;
        void **map;
    } seg[KN_SEG_KINDS + 1] = {
        [KN_SEG_STATE] = {"kanon.state", d->state_bytes, (void **)&d->state},
        [KN_SEG_PARAM] = {"kanon.param", d->param_bytes, (void **)&d->params},
        [KN_SEG_SNAP] = {"kanon.snap", d->state_bytes, (void **)&snap},
    };
    for (int k = KN_SEG_STATE; k <= KN_SEG_SNAP; k++) {
        int rc = kn_seg_create(seg[k].label, seg[k].bytes, seg[k].map, &d->seg_fd[k]);
        if (rc) {
            snprintf(err, errlen, "cannot create shared memory (%s, %zu bytes): %s", seg[k].label,
                     seg[k].bytes, strerror(-rc));
            kn_deck_segments_free(d);
            return rc;
        }
    }
    slot_ring_take(c, d, cap, lane);
    kn_state_format(d->state, d->state_bytes, KN_SEG_STATE);
    kn_param_format(d->params);
    kn_state_format(snap, d->state_bytes, KN_SEG_SNAP);
    kn_seg_unmap(snap, d->state_bytes);
    return 0;
}

/* A cartridge can write anything over its deck's shared memory. Whatever
 * the next cartridges and the conductor rely on is rewritten from our own
 * copy: segment headers (cartridges refuse to map a segment without them)
 * and the ring's geometry. The state's contents are the snapshot's
 * business (live.c), the parameters' are checked where they are read. */
void kn_deck_reformat(kn_conductor *c, kn_deck *d) {
    kn_ring_set_geometry(d->ring, d->ring_cap, (uint32_t)c->channels, (uint32_t)c->block, c->target,
                         c->rate, d->lane_cap);
    kn_seg_header *h = &d->state->hdr;
    *h = (kn_seg_header){KN_MAGIC, KN_LAYOUT_VERSION, KN_SEG_STATE, d->state_bytes};
    h = &d->params->hdr;
    *h = (kn_seg_header){KN_MAGIC, KN_LAYOUT_VERSION, KN_SEG_PARAM, d->param_bytes};
}

/* A new, empty state segment and its snapshot, of `bytes`. */
static int pair_create(size_t bytes, kn_state_seg **state, int fd[2], char *err, size_t errlen) {
    kn_state_seg *snap = NULL;
    fd[0] = fd[1] = -1;
    *state = NULL;
    int rc = kn_seg_create("kanon.state", bytes, (void **)state, &fd[0]);
    if (!rc) rc = kn_seg_create("kanon.snap", bytes, (void **)&snap, &fd[1]);
    if (rc) {
        snprintf(err, errlen, "cannot create shared memory (kanon.state, %zu bytes): %s", bytes,
                 strerror(-rc));
        if (*state) kn_seg_unmap(*state, bytes);
        if (fd[0] >= 0) close(fd[0]);
        *state = NULL;
        return rc;
    }
    kn_state_format(*state, bytes, KN_SEG_STATE);
    kn_state_format(snap, bytes, KN_SEG_SNAP);
    kn_seg_unmap(snap, bytes);
    return 0;
}

/* The deck's state and snapshot segments give way to `state` and fd[]. */
static void pair_replace(kn_deck *d, kn_state_seg *state, size_t bytes, const int fd[2]) {
    kn_seg_unmap(d->state, d->state_bytes);
    close(d->seg_fd[KN_SEG_STATE]);
    close(d->seg_fd[KN_SEG_SNAP]);
    d->state = state;
    d->state_bytes = bytes;
    d->seg_fd[KN_SEG_STATE] = fd[0];
    d->seg_fd[KN_SEG_SNAP] = fd[1];
}

/* A larger state for a deck whose first version asked for more (handover.c
 * grows it so only before anything of the deck has played: there is no
 * state to carry over). New segments first: if they cannot be made, the
 * deck keeps its old ones. The cartridge that asked has been killed; it
 * maps its own copies, which go with it. */
int kn_deck_state_resize(kn_conductor *c, kn_deck *d, size_t bytes, char *err, size_t errlen) {
    (void)c;
    kn_state_seg *state;
    int fd[2];
    int rc = pair_create(bytes, &state, fd, err, errlen);
    if (!rc) pair_replace(d, state, bytes, fd);
    return rc;
}

/* At a swap the deck's state is in use by the producer until it passes the
 * token, so the larger pair waits beside it: the successor copies the state
 * over when it takes over, and the pair becomes the deck's when it runs. */
int kn_deck_grow_start(kn_deck *d, size_t bytes, uint32_t id, char *err, size_t errlen) {
    kn_deck_grow_drop(d);
    int rc = pair_create(bytes, &d->grow_state, d->grow_fd, err, errlen);
    if (rc) return rc;
    d->grow_bytes = bytes;
    d->grow_for = id;
    return 0;
}

void kn_deck_grow_commit(kn_deck *d) {
    if (!d->grow_state) return;
    pair_replace(d, d->grow_state, d->grow_bytes, d->grow_fd);
    d->grow_state = NULL;
    d->grow_for = 0;
}

void kn_deck_grow_drop(kn_deck *d) {
    if (!d->grow_state) return;
    kn_seg_unmap(d->grow_state, d->grow_bytes);
    close(d->grow_fd[0]);
    close(d->grow_fd[1]);
    d->grow_state = NULL;
    d->grow_for = 0;
}
