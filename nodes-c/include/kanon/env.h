/*
 * kanon/env.h - envelopes and the LFO.
 *
 * Gates and triggers come in sample-accurately as a signal (`in`, e.g. the
 * trigger output of kn_clock_compute: > 0 means on), or, with in == NULL, from
 * the state (kn_adsr_gate, kn_ar_trigger) at the start of the next block.
 * Times are seconds. Attacks are linear; decays and releases exponential,
 * their time being the time to fall by 60 dB of the distance (as
 * SuperCollider's lag times).
 */
#ifndef KANON_NODES_ENV_H
#define KANON_NODES_ENV_H

#include <kanon.h>

enum { KN_ENV_IDLE, KN_ENV_ATTACK, KN_ENV_DECAY, KN_ENV_SUSTAIN, KN_ENV_RELEASE };

typedef struct kn_adsr {
    double level; /* double: a float decay stalls short of its target */
    int stage;
    double rate;
    int gate;   /* with in == NULL: set by kn_adsr_gate */
    float last; /* previous gate sample (edge detection) */
} kn_adsr;
void kn_adsr_init(kn_adsr *s, double rate);
void kn_adsr_gate(kn_adsr *s, int on);
/* The next block starts a new attack at its first sample even if the gate
 * stays on (a voice given a new note, kn_voices_started): from the current
 * level, as any rising edge. */
void kn_adsr_retrigger(kn_adsr *s);
/* A rising gate (re)starts the attack from the current level; a falling
 * one starts the release. */
void kn_adsr_compute(kn_adsr *s, float *out, const float *in, int frames, float attack, float decay,
                     float sustain, float release);

/* Attack-release one-shot: a rising trigger restarts it. */
typedef struct kn_ar {
    double level;
    int stage;
    double rate;
    int pending; /* with in == NULL: set by kn_ar_trigger */
    float last;
} kn_ar;
void kn_ar_init(kn_ar *s, double rate);
void kn_ar_trigger(kn_ar *s);
void kn_ar_compute(kn_ar *s, float *out, const float *in, int frames, float attack, float release);

/* LFO: -1..1, shapes below; KN_LFO_RANDOM is sample-and-hold of a seeded
 * generator, a new value each cycle. */
enum { KN_LFO_SINE, KN_LFO_TRI, KN_LFO_SAW, KN_LFO_SQUARE, KN_LFO_RANDOM };
typedef struct kn_lfo {
    double phase;
    double rate;
    unsigned seed;
    float held;
} kn_lfo;
void kn_lfo_init(kn_lfo *s, double rate, double phase, unsigned seed);
void kn_lfo_compute(kn_lfo *s, float *out, int frames, float freq, int shape);
float kn_lfo_tick(kn_lfo *s, float freq, int shape);
/* Control rate: the value now, then advance `frames` samples. One call per
 * block for a per-block modulation source. */
float kn_lfo_step(kn_lfo *s, float freq, int shape, int frames);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_adsr_run(kn_adsr *s, const float *in, float *out, int frames, float attack, float decay,
                 float sustain, float release);
void kn_ar_run(kn_ar *s, const float *in, float *out, int frames, float attack, float release);
void kn_lfo_run(kn_lfo *s, float *out, int frames, float freq, int shape);

#endif
