/*
 * kanon/reverb.h - a Freeverb-class stereo reverb: 8 damped feedback combs
 * and 4 allpasses per channel (Jezar's tunings, scaled to the rate; the
 * right channel's delays 23 samples longer), all in one buffer pool inside
 * the state.
 *
 * Unlike Freeverb's "room size", the decay is given as RT60 (seconds to
 * fall 60 dB): each comb's feedback is set from its own length so that all
 * of them decay at that rate (damping shortens the highs further).
 */
#ifndef KANON_NODES_REVERB_H
#define KANON_NODES_REVERB_H

#include <kanon.h>

#define KN_REVERB_POOL 131072 /* floats (512 KiB): enough for rates up to 192 kHz */
typedef struct kn_reverb {
    double rate;
    int len[24]; /* combs L 0-7, R 8-15, allpasses L 16-19, R 20-23 */
    int off[24]; /* start of each line in pool (indices, not pointers) */
    int pos[24];
    float lp[16]; /* the combs' damping filters */
    float rt60;   /* the decay g[] was computed for (pow() only when it changes) */
    float g[16];  /* comb loop gains */
    float pool[KN_REVERB_POOL];
} kn_reverb;
void kn_reverb_init(kn_reverb *s, double rate);
/* inR may be NULL (mono in). mix: 0 dry .. 1 wet; damp 0..1. outL and
 * outR may be inL and inR. */
void kn_reverb_compute_stereo(kn_reverb *s, float *outL, float *outR, const float *inL,
                              const float *inR, int frames, float rt60, float damp, float mix);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_reverb_run(kn_reverb *s, const float *inL, const float *inR, float *outL, float *outR,
                   int frames, float rt60, float damp, float mix);

#endif
