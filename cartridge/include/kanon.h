/*
 * kanon.h - the DSP contract between a user's .c file and kanon.
 *
 * Self-contained on purpose: it includes no system header, so a typical
 * file compiles in well under 2 ms with libtcc. Users may still include
 * system headers; every declaration here is compatible with glibc's.
 *
 *   void setup(kn_ctx *k);                           optional, once per cartridge
 *   void process(kn_ctx *k, float **out, int frames); required, once per block
 *
 * out[c][i] for c < k->channels, i < frames; the buffers arrive zeroed.
 * k->frame is the absolute index of out[.][0] for the deck's whole life,
 * continuous across cartridge swaps. See docs/dsp-api.md.
 */
#ifndef KANON_H
#define KANON_H

typedef unsigned long uint64_t;
typedef unsigned long size_t;

typedef struct kn_ctx {
    double rate;    /* sample rate, Hz */
    int channels;   /* output channels */
    int block;      /* frames per process() call */
    uint64_t frame; /* absolute frame index of out[.][0] */
    void *internal; /* kanon's; do not touch */
} kn_ctx;

typedef struct kn_param kn_param;

/* A named region of the deck's persistent state. Zero-filled when first
 * created; a later cartridge of the same deck asking for the same name gets
 * the same bytes. If `bytes` changes, the common prefix is kept and the rest
 * zero-filled. Call it from setup(). */
void *kn_state(kn_ctx *k, const char *name, size_t bytes);

/* A named knob with a range and a default. Its value survives swaps and is
 * changed by `kanon set`. Call it from setup(). */
kn_param *kn_param_decl(kn_ctx *k, const char *name, double min, double max, double def);

/* The knob's value for the current block. Changes glide (at least 10 ms,
 * or `kanon set --ramp MS`), stepping once per block: zipper-free. */
double kn_get(const kn_param *p);

/* The knob's value for the next sample: call it once per frame, in order,
 * for a glide that is smooth sample by sample. */
double kn_smooth(kn_param *p);

/* The knob's target, unsmoothed: for gates, triggers and switches that
 * must change at once (the block's value, like kn_get, never mid-block). */
double kn_target(const kn_param *p);

/* Math: declarations of libm's functions (resolved at load time). */
float sinf(float), cosf(float), tanf(float), tanhf(float), expf(float), logf(float);
float powf(float, float), sqrtf(float), fabsf(float), floorf(float), fmodf(float, float);
double sin(double), cos(double), tan(double), tanh(double), exp(double), log(double);
double pow(double, double), sqrt(double), fabs(double), floor(double), fmod(double, double);

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#endif
