/* acid.c - a 303-style bassline: a 16-step sequencer (note, accent, slide
 * per step) playing a band-limited saw through a resonant, driven ladder
 * with an envelope on its cutoff.
 *
 *   kanon play examples/acid.c
 *   kanon set acid.cutoff 300        base cutoff, Hz   acid.reso 0.85   resonance
 *   kanon set acid.envmod 3          filter envelope depth, octaves
 *   kanon set acid.decay 0.6         filter envelope decay, s
 *   kanon set acid.bpm 132           tempo (the grid stays continuous)
 *   kanon set acid.drive 5           input drive of the ladder (0.5..8)
 *   kanon set acid.transpose -5      semitones
 *   Edit PATTERN below and save: the next step plays the new pattern.
 *
 * Timing comes from a kn_clock: the step is a function of k->frame, so a
 * save lands exactly on the same grid. Oscillator, filter, envelopes and
 * glide live in the region "acid" (init once, `ready` flag), so a save
 * mid-note does not retrigger or click. */
#include <kanon/nodes.h>

/* One step: MIDI note, then flags: 'x' note, 'X' accented note, '-' rest,
 * and a trailing 's' to slide (tie) into the next step. */
static const char *PATTERN[16] = {"36x", "36-", "48X",  "36x", "39xs", "41x", "36-",  "46X",
                                  "36x", "36x", "48xs", "51X", "36-",  "43x", "41Xs", "39x"};

typedef struct {
    int ready;
    kn_clock clk;
    kn_saw osc;
    kn_smoother pitch; /* glide between notes, in semitones */
    kn_ladder lad;
    kn_adsr amp;
    kn_ar fenv;
} Acid;
static Acid *a;
static kn_param *bpm, *cutoff, *reso, *envmod, *decay, *drive, *transpose, *level;

void setup(kn_ctx *k) {
    a = kn_state(k, "acid", sizeof *a);
    if (!a->ready) {
        kn_clock_init(&a->clk, k->rate, 125);
        kn_saw_init(&a->osc, k->rate, 0);
        kn_smoother_init(&a->pitch, k->rate, 36);
        kn_ladder_init(&a->lad, k->rate);
        kn_adsr_init(&a->amp, k->rate);
        kn_ar_init(&a->fenv, k->rate);
        a->ready = 1;
    }
    bpm = kn_param_decl(k, "bpm", 60, 200, 125);
    cutoff = kn_param_decl(k, "cutoff", 40, 4000, 220);
    reso = kn_param_decl(k, "reso", 0, 0.98, 0.8);
    envmod = kn_param_decl(k, "envmod", 0, 6, 3.5);
    decay = kn_param_decl(k, "decay", 0.05, 3, 0.35);
    drive = kn_param_decl(k, "drive", 0.5, 8, 2);
    transpose = kn_param_decl(k, "transpose", -24, 24, 0);
    level = kn_param_decl(k, "level", 0, 1, 0.6);
}

static int note_of(long step) { /* "36x" -> 36 */
    const char *s = PATTERN[step & 15];
    return (s[0] - '0') * 10 + (s[1] - '0');
}
static char flag_of(long step) {
    return PATTERN[step & 15][2];
}
static int slides(long step) {
    return PATTERN[step & 15][3] == 's';
}

static float phase[8192], gate[8192], acc[8192], osc[8192], amp[8192],
    fenv[8192]; /* block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    kn_clock_run(&a->clk, k->frame, NULL, phase, frames, kn_get(bpm), 4); /* sixteenths */
    float tr = (float)kn_get(transpose);
    /* per sample: the step's gate (held through a slide), pitch glide, saw */
    for (int i = 0; i < frames; i++) {
        long st = kn_clock_step(&a->clk, k->frame + (uint64_t)i, 4);
        char f = flag_of(st);
        int on = f == 'x' || f == 'X';
        gate[i] = on && (phase[i] < 0.55f || slides(st)) ? 1.0f : 0.0f;
        acc[i] = f == 'X' ? 1.0f : 0.7f;
        /* glide only into a note that the previous step slides into */
        int tied = slides(st - 1) && (flag_of(st - 1) == 'x' || flag_of(st - 1) == 'X');
        float p = kn_smoother_tick(&a->pitch, (float)note_of(st) + tr, tied ? 0.12f : 0.002f);
        osc[i] = kn_saw_tick(&a->osc, kn_mtof(p));
    }
    kn_adsr_run(&a->amp, gate, amp, frames, 0.003f, 1.2f, 0.4f, 0.015f);
    kn_ar_run(&a->fenv, gate, fenv, frames, 0.002f, (float)kn_get(decay));
    kn_mul(amp, acc, amp, frames);
    kn_mul(osc, amp, osc, frames);
    /* the ladder's cutoff is per call: run it in chunks of 16 frames (1/3 ms),
     * each with the filter envelope's value at its start */
    float fc = (float)kn_get(cutoff), depth = (float)kn_get(envmod);
    for (int i = 0; i < frames; i += 16) {
        int n = frames - i < 16 ? frames - i : 16;
        float c = fc * powf(2.0f, depth * fenv[i] * (acc[i] == 1.0f ? 1.4f : 1.0f));
        kn_ladder_run(&a->lad, osc + i, osc + i, n, c > 18000 ? 18000 : c, (float)kn_get(reso),
                      (float)kn_get(drive));
    }
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_mix(osc, out[c], frames, 1.6f * g);
}
