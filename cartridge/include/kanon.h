/*
 * kanon.h - the DSP contract between a user's .c file and kanon.
 *
 * Self-contained on purpose: it includes no system header, so a typical
 * file compiles in well under 2 ms with libtcc. Users may still include
 * system headers; every declaration here is compatible with glibc's.
 *
 *   void setup(kn_ctx *k);                           optional, once per cartridge
 *   void process(kn_ctx *k, float **out, int frames); required, once per block
 *   void event(kn_ctx *k, const kn_event *e);         optional, per timed event
 *
 * out[c][i] for c < k->channels, i < frames; the buffers arrive zeroed.
 * k->frame is the absolute index of out[.][0] for the deck's whole life,
 * continuous across cartridge swaps. k->now, k->beat, k->bpm and k->bar
 * place the block on the timeline every deck shares. A block is split at
 * the sample of each timed event: process() then gets the parts (frames <
 * k->block) and event() is called between them. See docs/dsp-api.md and
 * docs/timeline.md.
 */
#ifndef KANON_H
#define KANON_H

typedef unsigned long uint64_t;
typedef unsigned long size_t;

typedef struct kn_ctx {
    double rate;    /* sample rate, Hz */
    int channels;   /* output channels */
    int block;      /* frames per block (process() gets fewer when events split one) */
    uint64_t frame; /* absolute frame index of out[.][0] */
    void *internal; /* kanon's; do not touch */
    /* The timeline, appended so that older files keep their layout: */
    uint64_t now; /* timeline frame of out[.][0] (offline: the render's frame + --start) */
    double beat;  /* beats since the timeline's origin at out[.][0] */
    double bpm;   /* tempo at out[.][0] */
    int bar;      /* beats per bar */
    /* Routing, appended likewise: the processing latency of this code, in
     * frames (a look-ahead limiter sets it in setup()); the conductor
     * delays the parallel paths so that everything meets aligned. */
    int latency;
} kn_ctx;

typedef struct kn_param kn_param;

/* A timed event, delivered to event() at its exact sample. */
enum { KN_EV_PARAM = 1, KN_EV_NOTE_ON = 2, KN_EV_NOTE_OFF = 3, KN_EV_TRIG = 4 };
/* MIDI's channel messages (docs/midi.md), channel in `channel`:
 *   KN_EV_CC        control = controller 0..127, value = 0..127
 *   KN_EV_BEND      value = -1..1 (the wheel's centre, 8192, is 0; 8191 is 8191/8192)
 *   KN_EV_PRESSURE  value = 0..127 (channel aftertouch)
 *   KN_EV_PROGRAM   control = program 0..127 */
enum { KN_EV_CC = 5, KN_EV_BEND = 6, KN_EV_PRESSURE = 7, KN_EV_PROGRAM = 8 };

typedef struct kn_event {
    int type;              /* KN_EV_* */
    int offset;            /* its frame within the block (0..k->block-1) */
    const kn_param *param; /* KN_EV_PARAM: the knob, already at its new target */
    double value;          /* KN_EV_PARAM: the new target; KN_EV_TRIG: the trigger's value */
    int note;              /* KN_EV_NOTE_*: MIDI note number, 0..127 */
    int velocity;          /* KN_EV_NOTE_*: 1..127 for NOTE_ON; NOTE_OFF's release, 0..127 */
    int channel;           /* KN_EV_NOTE_*, KN_EV_TRIG and MIDI's: 0..15 */
    int control;           /* KN_EV_CC: the controller; KN_EV_PROGRAM: the program (appended) */
} kn_event;

/* The beat at sample i of this block (i may equal frames): follows tempo
 * changes and ramps inside the block exactly. */
double kn_beat_at(kn_ctx *k, int i);

/* This block's input on a named port: k->channels channels of `frames`
 * samples, what the decks (or the device input) routed there produced for
 * these very timeline frames (`kanon route SRC DECK:PORT`); silence when
 * nothing is routed there. The port "in" always exists; call kn_in with
 * any other name in setup() to declare it (at most 4 ports in all). Call
 * it in process() for the current block's samples. */
const float *const *kn_in(kn_ctx *k, const char *port);

/* A named region of the deck's persistent state. Zero-filled when first
 * created; a later cartridge of the same deck asking for the same name gets
 * the same bytes. If `bytes` changes, the common prefix is kept and the rest
 * zero-filled. Call it from setup(). */
void *kn_state(kn_ctx *k, const char *name, size_t bytes);

/* A named knob with a range and a default. Its value survives swaps and is
 * changed by `kanon set`. Call it from setup(). */
kn_param *kn_param_decl(kn_ctx *k, const char *name, double min, double max, double def);

/* The knob's value for the current block. Changes glide (at least 10 ms,
 * or `kanon set --ramp MS`), stepping once per process() call: zipper-free.
 * A timed change glides from the exact sample of its event. */
double kn_get(const kn_param *p);

/* The knob's value for the next sample: call it once per frame, in order,
 * for a glide that is smooth sample by sample. */
double kn_smooth(kn_param *p);

/* The knob's target, unsmoothed: for gates, triggers and switches that
 * must change at once. It changes between blocks, or at the exact sample of
 * a timed event (the block is split there). */
double kn_target(const kn_param *p);

/* MIDI out (docs/midi.md), appended: sends the message status, data1,
 * data2 from kanon:midi_out at sample `offset` (0..k->block-1) of the
 * current process() call (from event(): offset 0 is the event's sample).
 * A channel message (0x80..0xEF; data bytes 0..127; a two-byte message
 * ignores data2) or a real-time byte (0xF8, 0xFA, 0xFB, 0xFC). On JACK it
 * leaves at exactly that frame of the timeline. 0, or -1 if the message is
 * not one, or 256 are already waiting. */
int kn_midi_out(kn_ctx *k, int offset, int status, int data1, int data2);

/* Math: declarations of libm's functions (resolved at load time). */
float sinf(float), cosf(float), tanf(float), tanhf(float), expf(float), logf(float);
float powf(float, float), sqrtf(float), fabsf(float), floorf(float), fmodf(float, float);
double sin(double), cos(double), tan(double), tanh(double), exp(double), log(double);
double pow(double, double), sqrt(double), fabs(double), floor(double), fmod(double, double);

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Puts the knob on a control of the control surface, with no map needed
 * (docs/control-surfaces.md): "knob N", "button N" (N from 1) or "main",
 * after "shift" for the shift layer, followed by "log" (a knob's scale) or
 * "momentary" (a button that sets max on press, min on release: a gate).
 * E.g. kn_bind(cutoff, "knob 3 log"), kn_bind(gate, "button 1 momentary").
 * Call it from setup(), after kn_param_decl. A map's binding for the same
 * control overrides it. */
void kn_bind(kn_param *p, const char *control);

#endif
