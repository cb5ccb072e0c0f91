/* fmbell.c - a two-operator FM bell: a sine modulator at an inharmonic
 * ratio bends the phase of a sine carrier; the modulation index decays
 * faster than the loudness, so each strike starts bright and clangy and
 * settles into a pure tone. A little four-note tune strikes every two beats.
 *
 *   kanon play examples/fmbell.c
 *   kanon set fmbell.note 57         MIDI note of the tune's first strike (69 = 440 Hz)
 *   kanon set fmbell.ratio 3.5       modulator/carrier (1.4 bell, 2 hollow, 3.5 metal)
 *   kanon set fmbell.index 8         peak modulation index (brightness)
 *   kanon set fmbell.decay 6         ring time, s (to -60 dB)
 *   kanon set fmbell.bpm 60          tempo; a strike every two beats
 *   Edit TUNE and save: the next strike plays the new note.
 *
 * The operators' phases and both envelopes live in the region "bell" (init
 * once, `ready` flag), and strikes come from a kn_clock (a function of
 * k->frame): a save never restarts a ringing bell or moves the beat. */
#include <kanon/nodes.h>

static const float TUNE[4] = {0, 7, 3, -2}; /* semitones above `note` */

typedef struct {
    int ready;
    kn_clock clk;
    kn_sine mod;
    kn_phasor car;
    kn_ar amp, bright;
    float freq; /* the current strike's carrier frequency */
} Bell;
static Bell *b;
static kn_param *note, *ratio, *index_, *decay, *bpm, *level;

void setup(kn_ctx *k) {
    b = kn_state(k, "bell", sizeof *b);
    if (!b->ready) {
        kn_clock_init(&b->clk, k->rate, 90);
        kn_sine_init(&b->mod, k->rate, 0);
        kn_phasor_init(&b->car, k->rate, 0);
        kn_ar_init(&b->amp, k->rate);
        kn_ar_init(&b->bright, k->rate);
        b->ready = 1;
    }
    note = kn_param_decl(k, "note", 36, 96, 69);
    ratio = kn_param_decl(k, "ratio", 0.5, 8, 1.4);
    index_ = kn_param_decl(k, "index", 0, 20, 4);
    decay = kn_param_decl(k, "decay", 0.2, 15, 4);
    bpm = kn_param_decl(k, "bpm", 20, 240, 90);
    level = kn_param_decl(k, "level", 0, 1, 0.5);
}

static float trig[8192], env[8192], ienv[8192], m[8192], x[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    /* a strike on every second beat; the tune advances one note per strike */
    kn_clock_run(&b->clk, k->frame, trig, NULL, frames, kn_get(bpm), 0.5);
    for (int i = 0; i < frames; i++)
        if (trig[i] > 0) {
            long n = kn_clock_step(&b->clk, k->frame + (uint64_t)i, 0.5);
            b->freq = kn_mtof((float)kn_get(note) + TUNE[n & 3]);
        }
    float fc = b->freq > 0 ? b->freq : kn_mtof((float)kn_get(note));
    float T = (float)kn_get(decay);
    kn_ar_run(&b->amp, trig, env, frames, 0.001f, T);
    kn_ar_run(&b->bright, trig, ienv, frames, 0.001f, 0.25f * T);
    /* modulator: sin(2 pi fm t) * index * fm  ->  the carrier's instantaneous frequency */
    float fm = fc * (float)kn_get(ratio);
    kn_sine_run(&b->mod, m, frames, fm, (float)kn_get(index_) * fm);
    kn_mul(m, ienv, m, frames);
    for (int i = 0; i < frames; i++) m[i] += fc;
    kn_phasor_run_fm(&b->car, m, x, frames);
    kn_sine_of(x, x, frames);
    kn_mul(x, env, x, frames);
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_mix(x, out[c], frames, g);
}
