/*
 * kanon/util.h - buffer helpers that glue would otherwise loop over in tcc
 * code (kn_buf_*: gain, add, pan, multiply), a parameter smoother, and
 * conversions.
 */
#ifndef KANON_NODES_UTIL_H
#define KANON_NODES_UTIL_H

#include <kanon.h>

void kn_buf_clear(float *out, int frames);
void kn_buf_copy(float *out, const float *in, int frames);
/* out = gain * in (in may be out). */
void kn_buf_gain(float *out, const float *in, int frames, float gain);
/* out += gain * in: mixing into kanon's output buffers (they arrive zeroed). */
void kn_buf_add(float *out, const float *in, int frames, float gain);
/* out = a * b: a VCA (signal times envelope) or a ring modulator. */
void kn_buf_mul(float *out, const float *a, const float *b, int frames);
/* Equal-power pan of a mono signal, added into a stereo pair:
 * pan -1 (left) .. 0 (centre, -3 dB each side) .. 1 (right). */
void kn_buf_pan_stereo(float *outL, float *outR, const float *in, int frames, float pan,
                       float gain);

/* Parameter smoother: a one-pole glide towards `target`, `time` seconds to
 * cover 60 dB of the distance. Starts at `value`. */
typedef struct kn_smoother {
    float value;
    double rate;
} kn_smoother;
void kn_smoother_init(kn_smoother *s, double rate, float value);
/* Per-sample values into out. */
void kn_smoother_compute(kn_smoother *s, float *out, int frames, float target, float time);
float kn_smoother_tick(kn_smoother *s, float target, float time);
/* Control rate: advance `frames` samples, return the value then. */
float kn_smoother_step(kn_smoother *s, float target, float time, int frames);

/* MIDI note to Hz (69 = 440), dB to amplitude and back. */
float kn_mtof(float note);
float kn_dbtoa(float db);
float kn_atodb(float amp);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_clear(float *out, int frames);
void kn_copy(const float *in, float *out, int frames);
void kn_gain(const float *in, float *out, int frames, float gain);
/* kn_mix is kn_buf_add: renamed, as conductor/ calls its mixer struct kn_mix. */
void kn_mix(const float *in, float *out, int frames, float gain);
void kn_mul(const float *a, const float *b, float *out, int frames);
void kn_pan(const float *in, float *outL, float *outR, int frames, float pan, float gain);
void kn_smoother_run(kn_smoother *s, float *out, int frames, float target, float time);

#endif
