/* drum_kit.c - a drum kit on General MIDI's note numbers: each note on
 * plays its drum's sample at the note's velocity, from its exact sample.
 *
 *   35 36 kick     37 rim        38 40 snare   39 clap
 *   42 closed hat  44 pedal hat  46 open hat (42 and 44 choke it, as on a real kit)
 *   41 43 45 47 48 50 toms, low to high (one tom sample at six pitches)
 *   49 57 crash    51 59 ride    56 cowbell
 * Any channel (GM drums are on channel 10; filter with `kanon midi --channel`).
 * Until the first note arrives it plays a groove on the timeline (demo=0
 * keeps it silent), so it sounds alone.
 *
 *   kanon play examples/drum_kit.c
 *   kanon render examples/drum_kit.c --set demo=0 --events beat.json -o kit.wav
 *       beat.json: [{"beat": 0, "note": 36}, {"beat": 1, "note": 38, "velocity": 90},
 *                   {"beat": 0.5, "note": 42}, {"beat": 1.5, "note": 46}]
 *   kanon set drum_kit.tune 3       semitones, every drum
 *   kanon set drum_kit.gain 0.5     level
 *
 * The samples: each drum is synthesized into a sample buffer in setup()
 * (deterministic, no file needed), in a kn_state region of its own
 * ("kit.kick", ...), as kn_sample_load() would have loaded it. To play
 * your own, put a WAV named after the drum (kick.wav, snare.wav,
 * closed_hat.wav, ... NAME below) in a directory `kit/` next to this file:
 * setup() loads it instead (kn_sample_load: any rate, resampled), and a
 * save picks up a changed file. Edit synth() and save to change a sound.
 *
 * The players (one per note, so two toms overlap while a drum hit again
 * restarts) live in the region "drum_kit": a save keeps every drum
 * ringing. */
#include <kanon/nodes.h>
#include <stdio.h>

enum { KICK, RIM, SNARE, CLAP, CHH, PHH, OHH, TOM, CRASH, RIDE, COWBELL, NDRUM };
static const char *const NAME[NDRUM] = {"kick",       "rim",       "snare",    "clap",
                                        "closed_hat", "pedal_hat", "open_hat", "tom",
                                        "crash",      "ride",      "cowbell"};
static const float LEN[NDRUM] = {0.6f, 0.1f, 0.4f, 0.4f, 0.12f, 0.18f,
                                 0.9f, 0.7f, 2.0f, 1.6f, 0.4f};

/* GM note -> drum, speed (pitch) and whether it chokes the open hat. */
typedef struct {
    int note, drum;
    float speed;
    int choke;
} Map;
static const Map MAP[] = {
    {35, KICK, 0.9f, 0}, {36, KICK, 1, 0},      {37, RIM, 1, 0},       {38, SNARE, 1, 0},
    {39, CLAP, 1, 0},    {40, SNARE, 1.12f, 0}, {41, TOM, 0.67f, 0},   {42, CHH, 1, 1},
    {43, TOM, 0.75f, 0}, {44, PHH, 1, 1},       {45, TOM, 0.89f, 0},   {46, OHH, 1, 0},
    {47, TOM, 1, 0},     {48, TOM, 1.19f, 0},   {49, CRASH, 1, 0},     {50, TOM, 1.33f, 0},
    {51, RIDE, 1, 0},    {56, COWBELL, 1, 0},   {57, CRASH, 1.12f, 0}, {59, RIDE, 1.06f, 0},
};
#define NMAP     (int)(sizeof MAP / sizeof MAP[0])
#define OPEN_HAT 11 /* MAP index of note 46 */

typedef struct {
    int ready;
    kn_player pl[NMAP];
    float gain[NMAP];  /* the hit's velocity, 0..1 */
    float choke[NMAP]; /* 1, or fading out after a choke */
    int heard;         /* a note has arrived: the demo is over */
    long step;         /* the demo's sixteenth playing */
} Kit;
static Kit *s;
static kn_sample *smp[NDRUM];
static kn_param *tune, *gain, *demo;

/* ---- the sounds ---- */

static unsigned rng(unsigned *x) {
    *x ^= *x << 13, *x ^= *x >> 17, *x ^= *x << 5;
    return *x;
}
static float noise(unsigned *x) {
    return (float)(int)rng(x) * (1.0f / 2147483648.0f);
}
/* e^(-6.9 t / T): -60 dB at T */
static float decay(double t, double T) {
    return (float)exp(-6.9 * t / T);
}
/* six detuned squares: the 808's metal */
static float metal(double t) {
    static const double F[6] = {205.3, 304.4, 369.6, 522.7, 540.0, 800.0};
    float m = 0;
    for (int i = 0; i < 6; i++) m += fmod(F[i] * 1.7 * t, 1.0) < 0.5 ? 1.0f : -1.0f;
    return m / 6;
}

static void synth(int d, float *out, long n, double rate) {
    unsigned x = 0x9e3779b9u + (unsigned)d; /* seeded: the same kit every time */
    kn_svf f;
    kn_svf_init(&f, rate);
    double ph = 0;
    for (long i = 0; i < n; i++) {
        double t = i / rate;
        float y = 0, w = noise(&x);
        switch (d) {
        case KICK: /* a sine falling from 160 to 45 Hz, and a click */
            ph += (45 + 115 * exp(-t / 0.03)) / rate;
            y = (float)sin(2 * M_PI * ph) * decay(t, 0.5) + 0.3f * w * decay(t, 0.004);
            break;
        case RIM:
            y = (float)(sin(2 * M_PI * 1700 * t) + 0.6 * sin(2 * M_PI * 820 * t)) * decay(t, 0.04) *
                0.6f;
            break;
        case SNARE:
            y = 0.5f * (float)(sin(2 * M_PI * 185 * t) + 0.5 * sin(2 * M_PI * 330 * t)) *
                    decay(t, 0.12) +
                0.7f * kn_svf_tick(&f, w, 5000, 0.7f, KN_HP) * decay(t, 0.28);
            break;
        case CLAP: { /* three quick bursts, then the room */
            double b = t < 0.03 ? fmod(t, 0.01) : t - 0.02;
            y = kn_svf_tick(&f, w, 1200, 1.5f, KN_BP) * decay(b, t < 0.03 ? 0.03 : 0.3) * 1.4f;
            break;
        }
        case CHH:
        case PHH:
        case OHH: {
            double T = d == CHH ? 0.08 : d == PHH ? 0.14 : 0.8;
            y = kn_svf_tick(&f, 0.6f * metal(t) + 0.4f * w, 7000, 0.9f, KN_HP) * decay(t, T) * 0.7f;
            break;
        }
        case TOM: /* a sine falling from 150 to 110 Hz */
            ph += (110 + 40 * exp(-t / 0.05)) / rate;
            y = (float)sin(2 * M_PI * ph) * decay(t, 0.6) + 0.1f * w * decay(t, 0.01);
            break;
        case CRASH:
            y = kn_svf_tick(&f, 0.5f * metal(t * 1.3) + 0.5f * w, 5000, 0.7f, KN_HP) *
                decay(t, 2.0) * 0.6f;
            break;
        case RIDE:
            y = kn_svf_tick(&f, 0.7f * metal(t * 2.1) + 0.15f * w, 6000, 0.8f, KN_HP) *
                    decay(t, 1.6) * 0.45f +
                0.12f * (float)sin(2 * M_PI * 2350 * t) * decay(t, 0.6);
            break;
        case COWBELL: {
            float sq =
                (fmod(540 * t, 1) < 0.5 ? 0.5f : -0.5f) + (fmod(800 * t, 1) < 0.5 ? 0.5f : -0.5f);
            y = kn_svf_tick(&f, sq, 800, 2.0f, KN_BP) * decay(t, 0.35) * 0.8f;
            break;
        }
        }
        if (t < 0.001) y *= (float)(t / 0.001); /* no click at the start */
        out[i] = y;
    }
}

/* The drum's sample: a WAV of yours in kit/ (a relative path in code
 * means this file's directory), else synthesized. */
static kn_sample *drum(kn_ctx *k, int d) {
    char path[64], region[64];
    snprintf(path, sizeof path, "kit/%s.wav", NAME[d]);
    FILE *own = fopen(path, "rb");
    if (own) {
        fclose(own);
        snprintf(region, sizeof region, "kit.file.%s", NAME[d]);
        kn_sample *f = kn_sample_load(k, region, path);
        if (f) return f;
    }
    long n = (long)(LEN[d] * k->rate);
    snprintf(region, sizeof region, "kit.%s", NAME[d]);
    kn_sample *m = kn_state(k, region, sizeof(kn_sample) + (size_t)n * sizeof(float));
    m->magic = 0; /* half-written data never looks loaded */
    synth(d, m->data, n, k->rate);
    m->channels = 1, m->frames = n, m->rate = m->source_rate = k->rate;
    m->magic = KN_SAMPLE_MAGIC;
    return m;
}

void setup(kn_ctx *k) {
    for (int d = 0; d < NDRUM; d++) smp[d] = drum(k, d);
    s = kn_state(k, "drum_kit", sizeof *s);
    if (!s->ready) {
        for (int i = 0; i < NMAP; i++) kn_player_init(&s->pl[i], k->rate, 0);
        s->step = -1;
        s->ready = 1;
    }
    tune = kn_param_decl(k, "tune", -12, 12, 0);
    gain = kn_param_decl(k, "gain", 0, 1, 0.5);
    demo = kn_param_decl(k, "demo", 0, 1, 1);
}

/* ---- playing ---- */

static void hit(int note, int velocity) {
    for (int i = 0; i < NMAP; i++) {
        if (MAP[i].note != note) continue;
        kn_player_trigger(&s->pl[i]);
        s->gain[i] = (float)velocity / 127;
        s->choke[i] = 1;
        if (MAP[i].choke) s->choke[OPEN_HAT] *= 0.999f; /* < 1: fading out */
    }
}

void event(kn_ctx *k, const kn_event *e) {
    (void)k;
    if (e->type != KN_EV_NOTE_ON) return; /* drums ring out: note offs do nothing */
    s->heard = 1;
    hit(e->note, e->velocity);
}

/* The demo: a GM groove, sixteenths over two bars. */
static const struct {
    int note;
    const char *steps;
} GROOVE[] = {
    {36, "x.....x...x....."}, {38, "....x.......x..x"}, {42, "x.x.x.x.x.x.x..."},
    {46, "..............x."}, {49, "x..............."}, /* the crash: every other bar */
};
static void demo_step(long st) {
    for (int r = 0; r < 5; r++)
        if (GROOVE[r].steps[st & 15] == 'x' && (GROOVE[r].note != 49 || (st & 31) == 0))
            hit(GROOVE[r].note, (st & 3) ? 80 : 110);
}

static float x[8192], bus[8192]; /* k->block is at most 8192 */

static void players(int at, int n, double rate) {
    if (n <= 0) return;
    float up = powf(2.0f, (float)kn_get(tune) / 12), fade = expf(-1.0f / (0.005f * (float)rate));
    for (int i = 0; i < NMAP; i++) {
        kn_player *p = &s->pl[i];
        if (!p->playing && !p->pending) continue;
        kn_player_compute(p, x, NULL, smp[MAP[i].drum], n, MAP[i].speed * up, s->gain[i]);
        if (s->choke[i] < 1) { /* a 5 ms fade, then stopped */
            for (int j = 0; j < n; j++) x[j] *= s->choke[i], s->choke[i] *= fade;
            if (s->choke[i] < 1e-4f) p->playing = 0, s->choke[i] = 1;
        }
        kn_buf_add(bus + at, x, n, 1);
    }
}

void process(kn_ctx *k, float **out, int frames) {
    kn_clear(bus, frames);
    int at = 0;
    if (!s->heard && kn_target(demo) > 0.5) /* the groove's steps at their exact samples */
        for (int i = 0; i < frames; i++) {
            long st = (long)floor(kn_beat_at(k, i) * 4 + 1e-9);
            if (st == s->step) continue;
            players(at, i - at, k->rate);
            demo_step(s->step = st);
            at = i;
        }
    players(at, frames - at, k->rate);
    float g = (float)kn_get(gain);
    for (int c = 0; c < k->channels; c++) kn_buf_add(out[c], bus, frames, g);
}
