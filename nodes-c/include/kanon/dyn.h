/*
 * kanon/dyn.h - dynamics: a feed-forward compressor (log-domain gain
 * smoothing with separate attack and release) and a look-ahead brick-wall
 * limiter. The stereo forms (_stereo) link both channels to one gain.
 */
#ifndef KANON_NODES_DYN_H
#define KANON_NODES_DYN_H

#include <kanon.h>

/* Above `thresh_db` the level rises 1/ratio dB per dB (hard knee when
 * knee_db is 0, else a quadratic knee that wide). */
typedef struct kn_comp {
    float gr; /* smoothed gain reduction, dB (<= 0) */
    double rate;
    float knee;
} kn_comp;
void kn_comp_init(kn_comp *s, double rate, float knee_db);
void kn_comp_compute(kn_comp *s, float *out, const float *in, int frames, float thresh_db,
                     float ratio, float attack_ms, float release_ms, float makeup_db);
void kn_comp_compute_stereo(kn_comp *s, float *outL, float *outR, const float *inL,
                            const float *inR, int frames, float thresh_db, float ratio,
                            float attack_ms, float release_ms, float makeup_db);

/* Output never exceeds `ceiling_db`: the gain falls ahead of each peak
 * over the look-ahead (the output is delayed by that many samples, fixed
 * at init, at most KN_LIMITER_MAX) and recovers over release_ms. */
#define KN_LIMITER_MAX 1024
typedef struct kn_limiter {
    double rate;
    int look;        /* look-ahead, samples */
    int pos;         /* ring index, 0..look-1 */
    float gain;      /* released gain */
    double sum;      /* of avg[] (the box filter) */
    int qhead, qlen; /* monotonic queue of (value, expiry) for the window min */
    long n;          /* samples seen */
    float qval[KN_LIMITER_MAX];
    long qexp[KN_LIMITER_MAX];
    float avg[KN_LIMITER_MAX];
    float dl[2][KN_LIMITER_MAX]; /* delayed input, per channel */
} kn_limiter;
void kn_limiter_init(kn_limiter *s, double rate, float lookahead_ms);
void kn_limiter_compute(kn_limiter *s, float *out, const float *in, int frames, float ceiling_db,
                        float release_ms);
void kn_limiter_compute_stereo(kn_limiter *s, float *outL, float *outR, const float *inL,
                               const float *inR, int frames, float ceiling_db, float release_ms);
/* Samples of delay the limiter adds. */
int kn_limiter_latency(const kn_limiter *s);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_comp_run(kn_comp *s, const float *in, float *out, int frames, float thresh_db, float ratio,
                 float attack_ms, float release_ms, float makeup_db);
void kn_comp_run2(kn_comp *s, const float *inL, const float *inR, float *outL, float *outR,
                  int frames, float thresh_db, float ratio, float attack_ms, float release_ms,
                  float makeup_db);
void kn_limiter_run(kn_limiter *s, const float *in, float *out, int frames, float ceiling_db,
                    float release_ms);
void kn_limiter_run2(kn_limiter *s, const float *inL, const float *inR, float *outL, float *outR,
                     int frames, float ceiling_db, float release_ms);

#endif
