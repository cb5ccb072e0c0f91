/*
 * kanon/clock.h - a musical clock derived from k->frame: the beat position
 * is a function of the absolute frame (anchored where the tempo last
 * changed), not a counter, so rhythm survives swaps exactly and a new
 * version of the code lands on the same grid.
 */
#ifndef KANON_NODES_CLOCK_H
#define KANON_NODES_CLOCK_H

#include <kanon.h>

typedef struct kn_clock {
    double rate;
    double bpm;
    double beat0;    /* beat position at frame0 */
    uint64_t frame0; /* the anchor: deck start, or the last tempo change */
} kn_clock;
/* Beat 0 at frame 0 (the deck's first frame). */
void kn_clock_init(kn_clock *s, double rate, double bpm);
/* Beat position (beats since frame 0, fractional) at an absolute frame. */
double kn_clock_beat(const kn_clock *s, uint64_t frame);
/* Index of the tick (beat * div, floor) at a frame; div 4 = sixteenths. */
long kn_clock_step(const kn_clock *s, uint64_t frame, double div);
/* Change tempo from `frame` on, keeping the beat position continuous. */
void kn_clock_tempo(kn_clock *s, uint64_t frame, double bpm);
/* One block from absolute frame `frame` (pass k->frame): trig[i] = 1 where
 * a tick (div per beat) starts, else 0; phase[i] = position in the tick
 * 0..1. Either output may be NULL. A bpm different from the current one is
 * applied at `frame` (kn_clock_tempo). Returns the number of ticks. */
int kn_clock_compute(kn_clock *s, float *trig, float *phase, uint64_t frame, int frames, double bpm,
                     double div);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
int kn_clock_run(kn_clock *s, uint64_t frame, float *trig, float *phase, int frames, double bpm,
                 double div);

#endif
