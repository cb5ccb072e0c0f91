/*
 * clock.h - the two clocks kanon reads, in nanoseconds, for every binary.
 *
 *   kn_mono_ns  CLOCK_MONOTONIC: intervals, deadlines, timeouts
 *   kn_real_ns  CLOCK_REALTIME: moments compared across processes (a save's
 *               time against a cartridge's "running" report, a mark against
 *               a recording)
 *
 * Both go through the vDSO (no system call): safe on the audio thread.
 * Depends on libc only.
 */
#ifndef KANON_CLOCK_H
#define KANON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t kn_clock_ns(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
static inline uint64_t kn_mono_ns(void) {
    return kn_clock_ns(CLOCK_MONOTONIC);
}
static inline uint64_t kn_real_ns(void) {
    return kn_clock_ns(CLOCK_REALTIME);
}

#endif
