/*
 * kanon/filter.h - filters: one-pole, state-variable (LP/BP/HP/notch),
 * biquad (RBJ cookbook), Moog-style ladder. Recursive state is double (as
 * fast as float for scalar code, and quiet at low cutoffs).
 */
#ifndef KANON_NODES_FILTER_H
#define KANON_NODES_FILTER_H

#include <kanon.h>

enum { KN_LP, KN_BP, KN_HP, KN_NOTCH };

/* One-pole (6 dB/octave), topology-preserving: exact -3 dB at `cutoff`.
 * mode KN_LP or KN_HP. */
typedef struct kn_onepole {
    double s;
    double rate;
    float g; /* the last block's coefficient, ramped from */
} kn_onepole;
void kn_onepole_init(kn_onepole *s, double rate);
void kn_onepole_compute(kn_onepole *s, float *out, const float *in, int frames, float cutoff,
                        int mode);
float kn_onepole_tick(kn_onepole *s, float x, float cutoff, int mode);

/* State-variable filter (Simper's trapezoidal SVF), 12 dB/octave, q >= 0.5
 * (0.707 = Butterworth): stable under fast modulation. Coefficients glide
 * linearly across each block from the previous block's, so sweeping the
 * cutoff per block is smooth. mode KN_LP, KN_BP (0 dB peak), KN_HP or
 * KN_NOTCH. */
typedef struct kn_svf {
    double ic1, ic2;
    double rate;
    float c[9]; /* last block's coefficients; c[2] == 0 until the first block */
} kn_svf;
void kn_svf_init(kn_svf *s, double rate);
void kn_svf_compute(kn_svf *s, float *out, const float *in, int frames, float cutoff, float q,
                    int mode);
float kn_svf_tick(kn_svf *s, float x, float cutoff, float q, int mode);

/* Biquad, RBJ cookbook shapes; set the shape (per block, or once), then
 * compute. gain_db matters for the peak and shelves only. Transposed direct
 * form II. Changing the coefficients abruptly can click: sweep with kn_svf. */
enum {
    KN_BQ_LP,
    KN_BQ_HP,
    KN_BQ_BP, /* constant 0 dB peak gain */
    KN_BQ_NOTCH,
    KN_BQ_ALLPASS,
    KN_BQ_PEAK,
    KN_BQ_LOWSHELF,
    KN_BQ_HIGHSHELF
};
typedef struct kn_biquad {
    double b0, b1, b2, a1, a2; /* normalised by a0 */
    double z1, z2;
    double rate;
} kn_biquad;
void kn_biquad_init(kn_biquad *s, double rate);
void kn_biquad_set(kn_biquad *s, int type, float freq, float q, float gain_db);
void kn_biquad_compute(kn_biquad *s, float *out, const float *in, int frames);
float kn_biquad_tick(kn_biquad *s, float x);

/* Moog-style ladder: four zero-delay-feedback one-poles, 24 dB/octave,
 * resonance 0..1 (self-oscillates near 1), tanh drive on the input
 * (drive 1 = gentle; small signals pass linearly). Passband gain falls as
 * resonance rises, as in the analog circuit. compute glides a changed
 * cutoff and resonance across the block (drive switches per block); tick
 * takes them per sample. */
typedef struct kn_ladder {
    double s[4];
    double rate;
    double G, k; /* last block's coefficients, glided from; G == 0 until the first */
} kn_ladder;
void kn_ladder_init(kn_ladder *s, double rate);
void kn_ladder_compute(kn_ladder *s, float *out, const float *in, int frames, float cutoff,
                       float resonance, float drive);
float kn_ladder_tick(kn_ladder *s, float x, float cutoff, float resonance, float drive);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_onepole_run(kn_onepole *s, const float *in, float *out, int frames, float cutoff, int mode);
void kn_svf_run(kn_svf *s, const float *in, float *out, int frames, float cutoff, float q,
                int mode);
void kn_biquad_run(kn_biquad *s, const float *in, float *out, int frames);
/* kn_ladder_run does not glide: each block switches, as it always did. */
void kn_ladder_run(kn_ladder *s, const float *in, float *out, int frames, float cutoff,
                   float resonance, float drive);

#endif
