/*
 * clock.c - tempo, beat position and triggers from the absolute frame.
 * See kanon/clock.h.
 *
 * The beat is a pure function of the frame: beat(f) = beat0 + (f - frame0)
 * * bpm / (60 rate). No counter is advanced, so a block rendered by a new
 * cartridge, after a swap or after a skipped block, lands on the same
 * grid. Ticks are found by comparing floor(beat * div) at successive
 * frames, with a tolerance of 1e-9 beat so that a tick falling exactly on
 * a frame (120 bpm at 48 kHz: every 24000 frames) is not missed by
 * rounding.
 */
#include "knmath.h"

#define EPS 1e-9

void kn_clock_init(kn_clock *s, double rate, double bpm) {
    *s = (kn_clock){.rate = rate, .bpm = bpm > 0 ? bpm : 120};
}

double kn_clock_beat(const kn_clock *s, uint64_t frame) {
    double df = frame >= s->frame0 ? (double)(frame - s->frame0) : -(double)(s->frame0 - frame);
    return s->beat0 + df * s->bpm / (60.0 * s->rate);
}

long kn_clock_step(const kn_clock *s, uint64_t frame, double div) {
    return (long)kn_floor(kn_clock_beat(s, frame) * div + EPS);
}

void kn_clock_tempo(kn_clock *s, uint64_t frame, double bpm) {
    if (!(bpm > 0) || bpm == s->bpm) return;
    s->beat0 = kn_clock_beat(s, frame);
    s->frame0 = frame;
    s->bpm = bpm;
}

int kn_clock_compute(kn_clock *s, float *trig, float *phase, uint64_t frame, int frames, double bpm,
                     double div) {
    kn_clock_tempo(s, frame, bpm);
    double prev = frame > 0 ? kn_floor(kn_clock_beat(s, frame - 1) * div + EPS) : -1;
    double b0 = kn_clock_beat(s, frame) * div, step = s->bpm * div / (60.0 * s->rate);
    int ticks = 0;
    for (int i = 0; i < frames; i++) {
        /* b0 + i * step, not a running sum: no rounding accumulates */
        double b = b0 + i * step, t = kn_floor(b + EPS);
        int hit = t > prev;
        ticks += hit;
        if (trig) trig[i] = (float)hit;
        if (phase) phase[i] = b - t > 0 ? (float)(b - t) : 0.0f;
        prev = t;
    }
    return ticks;
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

int kn_clock_run(kn_clock *s, uint64_t frame, float *trig, float *phase, int frames, double bpm,
                 double div) {
    return kn_clock_compute(s, trig, phase, frame, frames, bpm, div);
}
