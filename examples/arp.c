/* arp.c - an arpeggiator on the timeline: notes climbing through the chord
 * that is held, over two octaves, a step every sixteenth of a beat, at the
 * timeline's tempo. The chord comes from events: a note on adds its note, a
 * note off takes it away; with no note held it plays its own chord (A minor
 * seventh), so it sounds with no events at all.
 *
 *   kanon play examples/arp.c
 *   kanon render examples/arp.c --bpm 128 --seconds 8 --events chords.json -o arp.wav
 *       chords.json: [{"beat": 0, "note": 62, "dur": 8}, {"beat": 0, "note": 65, "dur": 8},
 *                     {"beat": 0, "note": 69, "dur": 8}, {"beat": 8, "note": 60, "dur": 8}]
 *   kanon set arp.div 3          steps per beat (1..8; 3 = triplet eighths)
 *   kanon set arp.octaves 3      octaves climbed (1..4)
 *   kanon set arp.cutoff 3000    filter, Hz          arp.decay 0.25  s per note
 *   Edit DEFAULT and save: the next step plays it.
 *
 * The step is the timeline's (kn_beat_at), so the arpeggio follows tempo
 * changes and stays on the beat with every other deck. The held notes (and
 * their velocities) live in the region "arp" with the voice, so a save
 * keeps the chord and the ringing note; event() only edits that list, at
 * the note's exact sample (the block is split there), and the next step
 * plays the new chord. */
#include <kanon/nodes.h>

static const int DEFAULT[] = {57, 60, 64, 67}; /* A minor seventh */
#define NDEFAULT (int)(sizeof DEFAULT / sizeof DEFAULT[0])
#define HELD_MAX 16

typedef struct {
    int ready;
    int n;               /* notes held, ascending */
    int note[HELD_MAX];  /* MIDI numbers */
    float vel[HELD_MAX]; /* 0..1 */
    kn_saw osc;
    kn_ar amp;
    kn_svf lp;
    float freq, gain; /* of the note playing */
} Arp;
static Arp *s;
static kn_param *per_beat, *octaves, *cutoff, *decay, *level;

void setup(kn_ctx *k) {
    s = kn_state(k, "arp", sizeof *s);
    if (!s->ready) {
        kn_saw_init(&s->osc, k->rate, 0);
        kn_ar_init(&s->amp, k->rate);
        kn_svf_init(&s->lp, k->rate);
        s->freq = 220;
        s->ready = 1;
    }
    per_beat = kn_param_decl(k, "div", 1, 8, 4);
    octaves = kn_param_decl(k, "octaves", 1, 4, 2);
    cutoff = kn_param_decl(k, "cutoff", 200, 12000, 2400);
    decay = kn_param_decl(k, "decay", 0.02, 2, 0.18);
    level = kn_param_decl(k, "level", 0, 1, 0.5);
}

/* Note on: into the chord, in order (again: a new velocity); note off: out. */
void event(kn_ctx *k, const kn_event *e) {
    (void)k;
    int at = 0;
    while (at < s->n && s->note[at] < e->note) at++;
    int here = at < s->n && s->note[at] == e->note;
    if (e->type == KN_EV_NOTE_ON && !here && s->n < HELD_MAX) {
        for (int j = s->n++; j > at; j--) s->note[j] = s->note[j - 1], s->vel[j] = s->vel[j - 1];
        s->note[at] = e->note;
        here = 1;
    }
    if (e->type == KN_EV_NOTE_ON && here) s->vel[at] = (float)e->velocity / 127;
    if (e->type == KN_EV_NOTE_OFF && here) {
        for (int j = at; j + 1 < s->n; j++) s->note[j] = s->note[j + 1], s->vel[j] = s->vel[j + 1];
        s->n--;
    }
}

/* The note of step `st`: up through the chord, then an octave higher. */
static void pick(long st, float *freq, float *vel) {
    int n = s->n ? s->n : NDEFAULT, span = n * (int)kn_get(octaves);
    int i = (int)(((st % span) + span) % span);
    int note = (s->n ? s->note[i % n] : DEFAULT[i % n]) + 12 * (i / n);
    *freq = kn_mtof((float)note);
    *vel = s->n ? s->vel[i % n] : 0.8f;
}

static float trig[8192], x[8192], env[8192]; /* k->block is at most 8192 */

void process(kn_ctx *k, float **out, int frames) {
    double d = floor(kn_get(per_beat) + 0.5);
    long prev = (long)floor(kn_beat_at(k, -1) * d + 1e-9);
    for (int i = 0; i < frames; i++) {
        long st = (long)floor(kn_beat_at(k, i) * d + 1e-9);
        trig[i] = 0;
        if (st != prev) {
            pick(st, &s->freq, &s->gain);
            trig[i] = 1;
        }
        prev = st;
        x[i] = kn_saw_tick(&s->osc, s->freq) * s->gain;
    }
    kn_ar_compute(&s->amp, env, trig, frames, 0.002f, (float)kn_get(decay));
    kn_buf_mul(x, x, env, frames);
    kn_svf_compute(&s->lp, x, x, frames, (float)kn_get(cutoff), 1.2f, KN_LP);
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_buf_add(out[c], x, frames, g);
}
