/*
 * spsc.h - a single-producer, single-consumer queue of fixed-size items in
 * process memory, for the audio thread's two outlets: the recorder's frames
 * (record.c: one queue per file) and the meters' records (mixer.c). The deck rings between
 * processes are shm/ring.h; this is the same protocol without the sharing.
 *
 * Positions are 64-bit counts that only grow (full and empty never look
 * alike); the producer publishes with a release store after writing the
 * items, the consumer with a release store after reading them. A push
 * that does not fit is refused whole: the caller counts it as dropped.
 * Real-time safe on both sides: no allocation, no locks, no system calls,
 * bounded copies.
 */
#ifndef KANON_SPSC_H
#define KANON_SPSC_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

typedef struct kn_spsc {
    unsigned char *data; /* cap * size bytes, owned by the caller */
    uint32_t cap;        /* items, a power of two */
    uint32_t size;       /* bytes per item */
    _Atomic uint64_t w;  /* items ever pushed (producer) */
    _Atomic uint64_t r;  /* items ever taken (consumer) */
} kn_spsc;

static inline void kn_spsc_init(kn_spsc *q, void *data, uint32_t cap, uint32_t size) {
    q->data = data;
    q->cap = cap;
    q->size = size;
    atomic_store_explicit(&q->w, 0, memory_order_relaxed);
    atomic_store_explicit(&q->r, 0, memory_order_relaxed);
}

/* Producer: n items, or none (returns -ENOSPC) if they do not all fit. */
static inline int kn_spsc_push(kn_spsc *q, const void *items, uint32_t n) {
    uint64_t w = atomic_load_explicit(&q->w, memory_order_relaxed);
    if (q->cap - (w - atomic_load_explicit(&q->r, memory_order_acquire)) < n) return -ENOSPC;
    uint32_t at = (uint32_t)(w & (q->cap - 1)), first = n < q->cap - at ? n : q->cap - at;
    memcpy(q->data + (size_t)at * q->size, items, (size_t)first * q->size);
    memcpy(q->data, (const unsigned char *)items + (size_t)first * q->size,
           (size_t)(n - first) * q->size);
    atomic_store_explicit(&q->w, w + n, memory_order_release);
    return 0;
}

/* Producer: items that fit now (at least as many until it pushes again),
 * so that several queues can take an item all or none. */
static inline uint32_t kn_spsc_room(kn_spsc *q) {
    uint64_t w = atomic_load_explicit(&q->w, memory_order_relaxed);
    return q->cap - (uint32_t)(w - atomic_load_explicit(&q->r, memory_order_acquire));
}

/* Consumer: the items readable in one piece (up to the wrap), at *items. */
static inline uint32_t kn_spsc_span(kn_spsc *q, void **items) {
    uint64_t r = atomic_load_explicit(&q->r, memory_order_relaxed);
    uint64_t ready = atomic_load_explicit(&q->w, memory_order_acquire) - r;
    uint32_t at = (uint32_t)(r & (q->cap - 1));
    *items = q->data + (size_t)at * q->size;
    return (uint32_t)(ready < q->cap - at ? ready : q->cap - at);
}

/* Consumer: gives back n items read through kn_spsc_span. */
static inline void kn_spsc_release(kn_spsc *q, uint32_t n) {
    atomic_store_explicit(&q->r, atomic_load_explicit(&q->r, memory_order_relaxed) + n,
                          memory_order_release);
}

/* Consumer: one item into out; 0 if there was none. */
static inline int kn_spsc_pop(kn_spsc *q, void *out) {
    void *p;
    if (!kn_spsc_span(q, &p)) return 0;
    memcpy(out, p, q->size);
    kn_spsc_release(q, 1);
    return 1;
}

/* Consumer: drops everything pushed so far. */
static inline void kn_spsc_clear(kn_spsc *q) {
    atomic_store_explicit(&q->r, atomic_load_explicit(&q->w, memory_order_acquire),
                          memory_order_release);
}

#endif
