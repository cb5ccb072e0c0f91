/*
 * kanon/sample.h - a sample player. Files are read with libsndfile and
 * resampled with libsamplerate to the deck rate in setup(), into a
 * kn_state region of their own (a header and the frames, interleaved), so
 * the data survives swaps and the hot path only reads memory.
 */
#ifndef KANON_NODES_SAMPLE_H
#define KANON_NODES_SAMPLE_H

#include <kanon.h>

#include "compat.h"

typedef struct kn_sample {
    unsigned magic; /* KN_SAMPLE_MAGIC once loaded */
    int channels;
    long frames;        /* at `rate` */
    double rate;        /* the deck rate it was resampled to */
    double source_rate; /* the file's */
    unsigned long key;  /* hash of the path, file size and mtime: reload if changed */
    float data[];       /* frames * channels, interleaved */
} kn_sample;
#define KN_SAMPLE_MAGIC 0x4b4e534du

/* Call from setup(): returns the sample in region `name` (loaded, or kept
 * from an earlier cartridge when the file has not changed), or NULL after
 * printing why on stderr. The pointer is valid until setup() runs again. */
kn_sample *kn_sample_load(kn_ctx *k, const char *name, const char *path);

/* Playback position in frames; speed 1 = original pitch, 2 = an octave
 * up, negative = backwards. A rising trigger (`in`, or kn_player_trigger
 * with in == NULL) restarts from the start (or the end when backwards). */
typedef struct kn_player {
    double pos;
    double rate; /* unused (the sample is resampled at load): every init takes the rate */
    int playing;
    int loop;
    int pending;
    float last;
} kn_player;
void kn_player_init(kn_player *s, double rate, int loop);
void kn_player_trigger(kn_player *s);
/* compute: a mono mix of the file into out. compute_stereo: the file's
 * two channels into outL and outR (a mono file into both; outR NULL: as
 * compute). smp NULL or not loaded: silence. */
void kn_player_compute(kn_player *s, float *out, const float *in, const kn_sample *smp, int frames,
                       float speed, float gain);
void kn_player_compute_stereo(kn_player *s, float *outL, float *outR, const float *in,
                              const kn_sample *smp, int frames, float speed, float gain);

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */
void kn_player_run(kn_player *s, const kn_sample *smp, const float *in, float *outL, float *outR,
                   int frames, float speed, float gain);
/* kn_player_init(s, loop): rate 0. */
#define kn_player_init(...)                                                                        \
    KN_PICK3_(__VA_ARGS__, kn_player_init, kn_player_init_norate_, )(__VA_ARGS__)
#define kn_player_init_norate_(s, loop) kn_player_init(s, 0, loop)

#endif
