/* drone.c - a slow, beating drone: root, fifth and octave, each a pair of
 * detuned band-limited saws (left and right), over a sine sub, through a
 * Moog-style ladder whose cutoff drifts with a slow LFO.
 *
 *   kanon play examples/drone.c
 *   kanon set drone.note 33          MIDI root (38 = D2, 73.4 Hz)
 *   kanon set drone.cutoff 1500      ladder cutoff, Hz (the LFO moves it +-1 octave * drift)
 *   kanon set drone.reso 0.7         resonance 0..0.95
 *   kanon set drone.drift 0.5        LFO depth (octaves) ; drone.speed its rate, Hz
 *   kanon set drone.detune 8         spread of each saw pair, cents
 *
 * State: every oscillator phase, the ladders and the LFO live in the region
 * "drone", so editing VOICES below (or anything else) and saving changes
 * the chord without restarting a single wave. Fields are appended, never
 * reordered, and init runs once per deck (the `ready` flag). */
#include <kanon/nodes.h>

#define VOICES 3 /* root, fifth, octave: try 2, or change `interval` below */
static const float interval[3] = {0, 7, 12}; /* semitones above the root */
static const float gain[3] = {1.0f, 0.6f, 0.4f};

typedef struct {
    int ready;
    kn_saw saw[3][2]; /* [voice][left/right] */
    kn_sine sub;
    kn_ladder lad[2];
    kn_lfo lfo;
} Drone;
static Drone *d;
static kn_param *note, *cutoff, *reso, *drift, *speed, *detune, *level;

void setup(kn_ctx *k) {
    d = kn_state(k, "drone", sizeof *d);
    if (!d->ready) {
        for (int v = 0; v < 3; v++)
            for (int c = 0; c < 2; c++) kn_saw_init(&d->saw[v][c], k->rate, 0.37 * v + 0.5 * c);
        kn_sine_init(&d->sub, k->rate, 0);
        kn_ladder_init(&d->lad[0], k->rate);
        kn_ladder_init(&d->lad[1], k->rate);
        kn_lfo_init(&d->lfo, k->rate, 0, 1);
        d->ready = 1;
    }
    note = kn_param_decl(k, "note", 24, 60, 38);
    cutoff = kn_param_decl(k, "cutoff", 80, 5000, 500);
    reso = kn_param_decl(k, "reso", 0, 0.95, 0.35);
    drift = kn_param_decl(k, "drift", 0, 2, 0.7);
    speed = kn_param_decl(k, "speed", 0.01, 2, 0.07);
    detune = kn_param_decl(k, "detune", 0, 30, 6);
    level = kn_param_decl(k, "level", 0, 1, 0.5);
}

static float bus[2][8192], tmp[8192]; /* scratch: k->block is at most 8192 */

void process(kn_ctx *k, float **out, int frames) {
    float root = (float)kn_get(note), det = (float)kn_get(detune) / 100.0f;
    kn_clear(bus[0], frames);
    kn_clear(bus[1], frames);
    for (int v = 0; v < VOICES && v < 3; v++)
        for (int c = 0; c < 2; c++) {
            float f = kn_mtof(root + interval[v] + (c ? det : -det));
            kn_saw_run(&d->saw[v][c], tmp, frames, f, 1);
            kn_mix(tmp, bus[c], frames, 0.25f * gain[v]);
        }
    /* the LFO, once per block: the ladder ramps nothing, but 64 frames is 1.3 ms */
    float lfo = kn_lfo_step(&d->lfo, (float)kn_get(speed), KN_LFO_SINE, frames);
    float fc = (float)kn_get(cutoff) * powf(2.0f, (float)kn_get(drift) * lfo);
    kn_sine_run(&d->sub, tmp, frames, kn_mtof(root), 0.3f);
    for (int c = 0; c < 2; c++) {
        kn_ladder_run(&d->lad[c], bus[c], bus[c], frames, fc, (float)kn_get(reso), 1.5f);
        kn_mix(tmp, bus[c], frames, 1);
    }
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_mix(bus[c & 1], out[c], frames, g);
}
