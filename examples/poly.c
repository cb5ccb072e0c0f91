/* poly.c - a playable polysynth: 8 voices (up to 32), each an oscillator,
 * an ADSR envelope and a low-pass filter whose cutoff follows CC 74. The
 * notes come from events (MIDI, `kanon note`, `render --events`) through
 * kn_voices: the oldest (or quietest) note is stolen when all voices
 * play, a let-go note rings through its release, the sustain pedal (CC
 * 64) holds notes, CC 123 lets them all go. Until the first note arrives
 * it plays its own chords (demo=0 keeps it silent), so it sounds alone.
 *
 *   kanon play examples/poly.c
 *   kanon render examples/poly.c --seconds 4 --set demo=0 --events chord.json -o poly.wav
 *       chord.json: [{"beat": 0, "note": 60, "dur": 2}, {"beat": 0, "note": 64, "dur": 2},
 *                    {"beat": 0, "note": 67, "dur": 2}, {"beat": 1, "cc": 74, "value": 20}]
 *   kanon set poly.voices 16      voices (1..32)
 *   kanon set poly.mode 1         0 poly, 1 mono (retrigger), 2 legato
 *   kanon set poly.steal 1        0 steal the oldest note, 1 the quietest
 *   kanon set poly.wave 3         0 saw, 1 square, 2 triangle, 3 sine
 *   kanon set poly.cutoff 1200    Hz at CC 74 = 64; CC 74 moves it 3 octaves down (0) or up (127)
 *   kanon set poly.attack 0.2     also decay, sustain, release (s, s, 0..1, s), reso, level
 *
 * Pitch bend moves every voice by up to 2 semitones. The allocator, the
 * voices' oscillators, envelopes and filters, CC 74 and the bend live in
 * the region "poly", so a save keeps every ringing note where it is.
 * Events arrive at their exact sample (the block is split there), so a
 * note's attack starts on its sample. */
#include <kanon/nodes.h>

typedef struct {
    kn_phasor osc; /* one phase for every wave: kn_saw, kn_square, ... are kn_phasor */
    kn_adsr env;
    kn_svf lp;
} Voice;

typedef struct {
    int ready;
    kn_voices vc;
    Voice v[KN_VOICES_MAX];
    int cc74;   /* brightness, 0..127 (64: the knob's cutoff) */
    float bend; /* semitones */
    int heard;  /* a note has arrived: the demo is over */
    long chord; /* the demo's chord playing (-1: none) */
} Poly;
static Poly *s;
static kn_param *voices, *mode, *steal, *wave, *cutoff, *reso, *attack, *decay, *sustain, *release,
    *level, *demo;

void setup(kn_ctx *k) {
    s = kn_state(k, "poly", sizeof *s);
    if (!s->ready) {
        kn_voices_init(&s->vc, k->rate, 8, KN_VOICES_POLY, KN_STEAL_OLDEST);
        for (int v = 0; v < KN_VOICES_MAX; v++) {
            kn_saw_init(&s->v[v].osc, k->rate, 0);
            kn_adsr_init(&s->v[v].env, k->rate);
            kn_svf_init(&s->v[v].lp, k->rate);
        }
        s->cc74 = 64;
        s->chord = -1;
        s->ready = 1;
    }
    voices = kn_param_decl(k, "voices", 1, KN_VOICES_MAX, 8);
    mode = kn_param_decl(k, "mode", 0, 2, 0);
    steal = kn_param_decl(k, "steal", 0, 1, 0);
    wave = kn_param_decl(k, "wave", 0, 3, 0);
    cutoff = kn_param_decl(k, "cutoff", 100, 16000, 2400);
    reso = kn_param_decl(k, "reso", 0.5, 8, 0.9);
    attack = kn_param_decl(k, "attack", 0, 4, 0.005);
    decay = kn_param_decl(k, "decay", 0.01, 8, 0.6);
    sustain = kn_param_decl(k, "sustain", 0, 1, 0.7);
    release = kn_param_decl(k, "release", 0.01, 8, 0.5);
    level = kn_param_decl(k, "level", 0, 1, 0.5);
    demo = kn_param_decl(k, "demo", 0, 1, 1);
}

/* The demo: four-note chords, one every two beats, on the timeline. */
static const int CHORDS[4][4] = {
    {57, 60, 64, 67}, {53, 57, 60, 64}, {48, 55, 60, 64}, {55, 59, 62, 67}};

static void demo_chord(long c) {
    if (s->chord >= 0)
        for (int i = 0; i < 4; i++) kn_voices_note_off(&s->vc, CHORDS[s->chord & 3][i], 0);
    s->chord = c;
    if (c >= 0)
        for (int i = 0; i < 4; i++) kn_voices_note_on(&s->vc, CHORDS[c & 3][i], 90, 0);
}

/* The knobs that shape the allocator: read before each event (one may
 * come before the first block) and each block; unchanged, a no-op. */
static void configure(void) {
    kn_voices_set(&s->vc, (int)kn_target(voices), (int)kn_target(mode), (int)kn_target(steal));
}

void event(kn_ctx *k, const kn_event *e) {
    (void)k;
    configure();
    if (e->type == KN_EV_NOTE_ON && !s->heard) {
        s->heard = 1;
        demo_chord(-1);
    }
    if (e->type == KN_EV_CC && e->control == 74) s->cc74 = (int)e->value;
    if (e->type == KN_EV_BEND) s->bend = 2 * (float)e->value;
    kn_voices_event(&s->vc, e);
}

static float x[8192], env[8192], bus[8192]; /* k->block is at most 8192 */

/* One voice, `n` frames, added into `into`. */
static void play(int v, float *into, int n, float fc) {
    Voice *vo = &s->v[v];
    if (kn_voices_started(&s->vc, v)) kn_adsr_retrigger(&vo->env);
    kn_adsr_gate(&vo->env, kn_voices_gate(&s->vc, v));
    float f = kn_mtof((float)kn_voices_note(&s->vc, v) + s->bend);
    switch ((int)kn_target(wave)) {
    case 1: kn_square_compute(&vo->osc, x, n, f, 0.5f, 1); break;
    case 2: kn_tri_compute(&vo->osc, x, n, f, 1); break;
    case 3: kn_sine_compute(&vo->osc, x, n, f, 1); break;
    default: kn_saw_compute(&vo->osc, x, n, f, 1);
    }
    kn_adsr_compute(&vo->env, env, NULL, n, (float)kn_get(attack), (float)kn_get(decay),
                    (float)kn_get(sustain), (float)kn_get(release));
    kn_buf_mul(x, x, env, n);
    kn_svf_compute(&vo->lp, x, x, n, fc, (float)kn_get(reso), KN_LP);
    float vel = (float)kn_voices_velocity(&s->vc, v) / 127;
    kn_buf_add(into, x, n, vel);
    kn_voices_level(&s->vc, v, env[n - 1] * vel); /* ends the tail once it is silent */
}

/* Every active voice over [at, at + n) of the block. */
static void voices_part(int at, int n) {
    if (n <= 0) return;
    float fc = (float)kn_get(cutoff) * powf(2.0f, (float)(s->cc74 - 64) * (3.0f / 64));
    fc = fc > 18000 ? 18000 : fc;
    for (int v = 0; v < KN_VOICES_MAX; v++)
        if (kn_voices_active(&s->vc, v)) play(v, bus + at, n, fc);
}

void process(kn_ctx *k, float **out, int frames) {
    configure();
    kn_clear(bus, frames);
    int at = 0;
    if (!s->heard && kn_target(demo) > 0.5) { /* the demo's chord changes at its exact sample */
        for (int i = 0; i < frames; i++) {
            long c = (long)floor(kn_beat_at(k, i) / 2 + 1e-9);
            if (c == s->chord) continue;
            voices_part(at, i - at);
            demo_chord(c);
            at = i;
        }
    } else if (!s->heard && s->chord >= 0) {
        demo_chord(-1);
    }
    voices_part(at, frames - at);
    float g = (float)kn_get(level) * 0.25f;
    for (int c = 0; c < k->channels; c++) kn_buf_add(out[c], bus, frames, g);
}
