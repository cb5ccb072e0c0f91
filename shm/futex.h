/*
 * futex.h - wait/wake on a 32-bit word in shared memory, across processes.
 *
 * Used off the audio thread only: a cartridge sleeps on its deck's `wake`
 * word when the ring is full (with a timeout, so it never depends on being
 * woken) and the conductor or the previous owner wakes it when something
 * changed (ownership, stop). Shared (non-private) futexes, since the word
 * lives in a MAP_SHARED segment.
 */
#ifndef KANON_FUTEX_H
#define KANON_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleeps while *word == expected, at most timeout_ns. */
static inline void kn_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns) {
    struct timespec t = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &t, NULL, 0);
}

/* Bumps the word and wakes every waiter. */
static inline void kn_futex_wake(_Atomic uint32_t *word) {
    atomic_fetch_add_explicit(word, 1, memory_order_release);
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

#endif
