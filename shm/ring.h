/*
 * ring.h - the SPSC frame ring protocol, used verbatim by both sides.
 *
 * Producer (cartridge):  write frames at wpos .. wpos+n, then
 *                        store-release write_pos = wpos+n.
 * Consumer (conductor):  load-acquire write_pos, validate it, copy frames,
 *                        then store-release read_pos.
 *
 * A producer killed mid-block never leaves a torn block: the frames become
 * visible only through the release store, which happens after they are all
 * written. Each side keeps its own position and geometry in private memory
 * and only *publishes* its position to shared memory, so a scribbled
 * header can never move the reader out of bounds: a write_pos behind the
 * reader or more than `capacity` ahead of it is reported as corrupt.
 *
 * Real-time safe: no allocation, no locks, no syscalls, bounded loops.
 */
#ifndef KANON_RING_H
#define KANON_RING_H

#include "kanon_shm.h"
#include <stddef.h>
#include <string.h>

#define KN_RING_CORRUPT UINT32_MAX

/* Bytes a ring segment of this geometry needs (lane included). */
static inline size_t kn_ring_bytes(uint32_t capacity, uint32_t channels, uint32_t lane) {
    size_t head = (sizeof(kn_ring_seg) + KN_CACHELINE - 1) & ~(size_t)(KN_CACHELINE - 1);
    return head + ((size_t)capacity + lane) * channels * sizeof(float);
}

/* Conductor: write the header and geometry (a new segment, or repairing
 * one a cartridge scribbled over; positions and control block untouched). */
static inline void kn_ring_set_geometry(kn_ring_seg *r, uint32_t capacity, uint32_t channels,
                                        uint32_t block, uint32_t target, double rate,
                                        uint32_t lane) {
    r->hdr.magic = KN_MAGIC;
    r->hdr.version = KN_LAYOUT_VERSION;
    r->hdr.kind = KN_SEG_RING;
    r->hdr.bytes = kn_ring_bytes(capacity, channels, lane);
    r->capacity = capacity;
    r->channels = channels;
    r->block = block;
    r->target = target;
    r->rate = rate;
    r->data_offset = kn_ring_bytes(0, 0, 0);
    r->lane_capacity = lane;
    r->lane_offset = r->data_offset + (size_t)capacity * channels * sizeof(float);
}

/* Conductor: format a freshly created (zero-filled) segment. */
static inline void kn_ring_format(kn_ring_seg *r, uint32_t capacity, uint32_t channels,
                                  uint32_t block, uint32_t target, double rate, uint32_t lane) {
    kn_ring_set_geometry(r, capacity, channels, block, target, rate, lane);
    atomic_store_explicit(&r->write_pos, 0, memory_order_relaxed);
    atomic_store_explicit(&r->read_pos, 0, memory_order_relaxed);
}

/* One side's private view of a ring: geometry copied once, own position. */
typedef struct kn_ring_view {
    kn_ring_seg *seg;
    float *data;
    uint32_t capacity, mask, channels;
    uint64_t pos; /* reader: read position; writer: write position */
} kn_ring_view;

/* Checks a mapped segment of `bytes` and fills a view. 0 on success. */
static inline int kn_ring_view_init(kn_ring_view *v, kn_ring_seg *r, size_t bytes) {
    if (bytes < sizeof(kn_ring_seg) || r->hdr.magic != KN_MAGIC ||
        r->hdr.version != KN_LAYOUT_VERSION || r->hdr.kind != KN_SEG_RING)
        return -1;
    uint32_t cap = r->capacity, ch = r->channels;
    if (cap == 0 || (cap & (cap - 1)) || ch == 0 || ch > KN_MAX_CHANNELS ||
        kn_ring_bytes(cap, ch, r->lane_capacity) > bytes ||
        r->data_offset != kn_ring_bytes(0, 0, 0) ||
        r->lane_offset != r->data_offset + (size_t)cap * ch * sizeof(float))
        return -1;
    v->seg = r;
    v->data = (float *)((char *)r + r->data_offset);
    v->capacity = cap;
    v->mask = cap - 1;
    v->channels = ch;
    v->pos = 0;
    return 0;
}

/* Conductor: restart the ring after a fault. The positions become
 * (read, write): the successor attaches at `write` and waits until the
 * reader got there (kn_ring_fill counts from `read`). Only while no
 * producer holds the token. */
static inline void kn_ring_restart(kn_ring_seg *r, uint64_t read, uint64_t write) {
    atomic_store_explicit(&r->read_pos, read, memory_order_release);
    atomic_store_explicit(&r->write_pos, write, memory_order_release);
}

/* ---- consumer side ---- */

/* Moves the reader to `pos` (frames before it are dropped unread) and
 * publishes it to the producer. */
static inline void kn_ring_seek(kn_ring_view *v, uint64_t pos) {
    v->pos = pos;
    atomic_store_explicit(&v->seg->read_pos, v->pos, memory_order_release);
}

/* Frames ready to read, or KN_RING_CORRUPT if the producer's position is
 * impossible (behind us, or more than a full ring ahead). */
static inline uint32_t kn_ring_readable(const kn_ring_view *v) {
    uint64_t w = atomic_load_explicit(&v->seg->write_pos, memory_order_acquire);
    if (w < v->pos || w - v->pos > v->capacity) return KN_RING_CORRUPT;
    return (uint32_t)(w - v->pos);
}

/* Copies `frames` interleaved frames (caller checked kn_ring_readable) into
 * dst and releases them to the producer. */
static inline void kn_ring_read(kn_ring_view *v, float *dst, uint32_t frames) {
    uint32_t at = (uint32_t)(v->pos & v->mask);
    uint32_t first = frames < v->capacity - at ? frames : v->capacity - at;
    memcpy(dst, v->data + (size_t)at * v->channels, (size_t)first * v->channels * sizeof(float));
    memcpy(dst + (size_t)first * v->channels, v->data,
           (size_t)(frames - first) * v->channels * sizeof(float));
    v->pos += frames;
    atomic_store_explicit(&v->seg->read_pos, v->pos, memory_order_release);
}

/* ---- conductor side: the hand-over ---- */

/* Whether the owner has published every frame of its fade-in: the lane
 * made for it (the predecessor's shadow) starts at lane_start and lasts
 * lane_frames, and a hand-over at an earlier frame would cut that
 * crossfade short. An owner that took over without a lane (a first start,
 * a fadeless swap) has none to finish. Reads only; may be stale by one
 * hand-over, so a caller acts on it only while it owns the next one. */
static inline int kn_ring_fade_in_done(kn_ring_seg *r) {
    uint32_t owner = atomic_load_explicit(&r->ctl.owner, memory_order_acquire);
    if (!owner || atomic_load_explicit(&r->ctl.lane_for, memory_order_acquire) != owner) return 1;
    uint32_t n = atomic_load_explicit(&r->ctl.lane_frames, memory_order_relaxed);
    if (n > r->lane_capacity) n = r->lane_capacity;
    uint64_t end = atomic_load_explicit(&r->ctl.lane_start, memory_order_relaxed) + n;
    return atomic_load_explicit(&r->write_pos, memory_order_acquire) >= end;
}

/* ---- producer side ---- */

/* Producer: adopt the ring's current write position (the frame right after
 * the previous owner's last one). */
static inline void kn_ring_writer_attach(kn_ring_view *v) {
    v->pos = atomic_load_explicit(&v->seg->write_pos, memory_order_acquire);
}

/* Frames buffered ahead of the reader, or KN_RING_CORRUPT. */
static inline uint32_t kn_ring_fill(const kn_ring_view *v) {
    uint64_t r = atomic_load_explicit(&v->seg->read_pos, memory_order_acquire);
    if (v->pos < r || v->pos - r > v->capacity) return KN_RING_CORRUPT;
    return (uint32_t)(v->pos - r);
}

/* Writes one block given as planar channels (out[c][i]) and publishes it.
 * The caller checked that capacity - fill >= frames. */
static inline void kn_ring_write_planar(kn_ring_view *v, float *const *planar, uint32_t frames) {
    uint32_t ch = v->channels;
    for (uint32_t i = 0; i < frames; i++) {
        float *f = v->data + (size_t)((v->pos + i) & v->mask) * ch;
        for (uint32_t c = 0; c < ch; c++) f[c] = planar[c][i];
    }
    v->pos += frames;
    atomic_store_explicit(&v->seg->write_pos, v->pos, memory_order_release);
}

#endif
