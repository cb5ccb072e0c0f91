/*
 * link.h - Ableton Link behind a C interface (link.cpp, the conductor's one
 * C++ file). Only link_sync.c includes this: the rest of the conductor, its
 * unit tests and its fuzz harness stay C and never need Link.
 *
 * Times are CLOCK_MONOTONIC nanoseconds, the clock the rest of the
 * conductor uses; link.cpp converts them to Link's own clock. Beats are
 * Link's: their magnitude is this process's own, their phase modulo the
 * quantum is the session's. Every call is non-blocking (Link's app-thread
 * calls take a mutex its own thread holds only briefly, and send nothing
 * themselves) and none throws: a failure returns -1 (NULL from
 * kn_link_new, with the reason in err). Control thread only.
 */
#ifndef KANON_LINK_H
#define KANON_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kn_link kn_link;

/* What the session says at one instant. */
typedef struct kn_link_session {
    double bpm;  /* the session's tempo */
    double beat; /* the beat at the asked time for the asked quantum */
    int playing; /* the session's start/stop state */
} kn_link_session;

/* A Link instance at `bpm`, not yet enabled (no network until then), with
 * start/stop sync on. NULL with err saying why. */
kn_link *kn_link_new(double bpm, char *err, size_t n);
void kn_link_free(kn_link *l);
/* Joins (1) or leaves (0) the session; a join starts a new session of its
 * own, continuing the timeline it had, until it meets another. */
void kn_link_enable(kn_link *l, int on);
/* Peers in the session, this one not counted. */
unsigned kn_link_peers(const kn_link *l);
/* The session's tempo, the beat at mono_ns for `quantum`, and playing. */
int kn_link_capture(const kn_link *l, int64_t mono_ns, double quantum, kn_link_session *s);
/* Sets the session's tempo from mono_ns on (the beat at mono_ns stays
 * where it was) and commits it: every peer follows. With a finite `beat`,
 * also asks for that beat at mono_ns in `quantum`: alone in its session,
 * Link maps it there; with peers, only the magnitude of this process's
 * beats moves, never the session's phase. */
int kn_link_set_tempo(kn_link *l, double bpm, int64_t mono_ns, double beat, double quantum);
/* Asks the session to start (1) or stop (0) playing at mono_ns. */
int kn_link_set_playing(kn_link *l, int playing, int64_t mono_ns);

#ifdef __cplusplus
}
#endif

#endif
