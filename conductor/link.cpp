/*
 * link.cpp - the conductor's one C++ file: Ableton Link (Debian's
 * ableton-link-dev, header-only over standalone asio) behind the plain C
 * interface of link.h. The policy (what kanon shares and when) lives in
 * link_sync.c; this file only translates.
 *
 * Clocks. The conductor speaks CLOCK_MONOTONIC. Link's clock on Linux is
 * not that: ableton/platforms/Config.hpp makes link::platform::Clock
 * platforms::linux::ClockMonotonicRaw, i.e. CLOCK_MONOTONIC_RAW, which NTP
 * does not slew, so the two drift apart by up to 500 ppm while NTP corrects
 * the system clock. Every conversion therefore measures the offset between
 * them anew: CLOCK_MONOTONIC read before and after one CLOCK_MONOTONIC_RAW
 * reading, the raw time taken against their midpoint (three vDSO calls,
 * ~100 ns; the error is half the bracket, well under a microsecond). A
 * static_assert below stops the build if a Link version changes its clock,
 * rather than letting beats drift silently. Link counts whole microseconds;
 * the fraction is carried in the beat (beat + fraction * bpm / 60e6), so a
 * conversion loses nothing a listener or the phase tolerance (link_sync.c)
 * could notice.
 *
 * No exception leaves this file: each entry point catches everything and
 * returns -1 (or NULL with the reason), as C callers expect.
 */
#include "link.h"

#include <ableton/Link.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <new>
#include <type_traits>

static_assert(std::is_same<ableton::link::platform::Clock,
                           ableton::platforms::linux::ClockMonotonicRaw>::value,
              "link.cpp converts CLOCK_MONOTONIC to CLOCK_MONOTONIC_RAW: Link's clock changed");

struct kn_link {
    ableton::Link link;
    explicit kn_link(double bpm) : link(bpm) {}
};

namespace {

int64_t read_ns(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC_RAW minus CLOCK_MONOTONIC, now, in ns. */
int64_t raw_offset() {
    int64_t a = read_ns(CLOCK_MONOTONIC);
    int64_t r = read_ns(CLOCK_MONOTONIC_RAW);
    int64_t b = read_ns(CLOCK_MONOTONIC);
    return r - (a + (b - a) / 2);
}

/* mono_ns on Link's clock: whole microseconds, and the fraction left (0..1). */
std::chrono::microseconds to_link(int64_t mono_ns, double *frac_us) {
    int64_t raw = mono_ns + raw_offset();
    int64_t us = raw / 1000, rem = raw % 1000;
    if (rem < 0) us -= 1, rem += 1000;
    *frac_us = (double)rem / 1000.0;
    return std::chrono::microseconds(us);
}

} // namespace

extern "C" kn_link *kn_link_new(double bpm, char *err, size_t n) {
    try {
        kn_link *l = new kn_link(bpm);
        l->link.enableStartStopSync(true);
        return l;
    } catch (const std::exception &e) {
        snprintf(err, n, "cannot start Ableton Link: %s", e.what());
    } catch (...) {
        snprintf(err, n, "cannot start Ableton Link");
    }
    return nullptr;
}

extern "C" void kn_link_free(kn_link *l) {
    try {
        delete l; /* joins Link's thread */
    } catch (...) {
    }
}

extern "C" void kn_link_enable(kn_link *l, int on) {
    try {
        l->link.enable(on != 0);
    } catch (...) {
    }
}

extern "C" unsigned kn_link_peers(const kn_link *l) {
    try {
        return (unsigned)l->link.numPeers();
    } catch (...) {
        return 0;
    }
}

extern "C" int kn_link_capture(const kn_link *l, int64_t mono_ns, double quantum,
                               kn_link_session *s) {
    try {
        auto st = l->link.captureAppSessionState();
        double frac;
        auto t = to_link(mono_ns, &frac);
        s->bpm = st.tempo();
        s->beat = st.beatAtTime(t, quantum) + frac * s->bpm / 60e6;
        s->playing = st.isPlaying();
        return 0;
    } catch (...) {
        return -1;
    }
}

extern "C" int kn_link_set_tempo(kn_link *l, double bpm, int64_t mono_ns, double beat,
                                 double quantum) {
    try {
        auto st = l->link.captureAppSessionState();
        double frac;
        auto t = to_link(mono_ns, &frac);
        st.setTempo(bpm, t);
        /* the beat at the whole microsecond before mono_ns */
        if (std::isfinite(beat)) st.requestBeatAtTime(beat - frac * st.tempo() / 60e6, t, quantum);
        l->link.commitAppSessionState(st);
        return 0;
    } catch (...) {
        return -1;
    }
}

extern "C" int kn_link_set_playing(kn_link *l, int playing, int64_t mono_ns) {
    try {
        auto st = l->link.captureAppSessionState();
        double frac;
        st.setIsPlaying(playing != 0, to_link(mono_ns, &frac));
        l->link.commitAppSessionState(st);
        return 0;
    } catch (...) {
        return -1;
    }
}
