/* pluck.c - Karplus-Strong plucked strings: a one-period burst (a sine
 * cycle for the body plus noise for the pick, low-passed) excites a
 * feedback comb whose loop low-pass makes the high partials die first.
 * Four strings take turns, so each note rings on under the next; an
 * eight-note arpeggio plays in eighth notes.
 *
 *   kanon play examples/pluck.c
 *   kanon set pluck.note 52          MIDI root of the arpeggio (57 = A3, 220 Hz)
 *   kanon set pluck.decay 6          ring time, s (to -60 dB)
 *   kanon set pluck.damp 0.6         loop low-pass 0..0.95 (dark, short highs)
 *   kanon set pluck.bright 3000      pick brightness: the burst's low-pass, Hz
 *   kanon set pluck.bpm 140          tempo
 *   Edit ARP and save: the next pluck plays it; ringing strings ring on.
 *
 * The strings (comb buffers), pick filters and noise live in the region
 * "pluck" (init once, `ready` flag); the step is a function of k->frame
 * through a kn_clock, so a save neither mutes a string nor shifts the beat. */
#include <kanon/nodes.h>

static const float ARP[8] = {0, 7, 12, 15, 19, 15, 12, 7}; /* semitones above `note` */

typedef struct {
    kn_comb comb;
    kn_onepole pick;
    float freq; /* tuned at its last pluck */
    int burst;  /* samples of excitation still to come */
    int len;    /* the burst's length: one period */
} String;

typedef struct {
    int ready;
    kn_clock clk;
    kn_noise noise;
    String s[4];
} Pluck;
static Pluck *p;
static kn_param *note, *decay, *damp, *bright, *bpm, *level;

void setup(kn_ctx *k) {
    p = kn_state(k, "pluck", sizeof *p);
    if (!p->ready) {
        kn_clock_init(&p->clk, k->rate, 120);
        kn_noise_init(&p->noise, 77);
        for (int v = 0; v < 4; v++) {
            kn_comb_init(&p->s[v].comb);
            kn_onepole_init(&p->s[v].pick, k->rate);
            p->s[v].freq = 220;
        }
        p->ready = 1;
    }
    note = kn_param_decl(k, "note", 28, 76, 57);
    decay = kn_param_decl(k, "decay", 0.2, 20, 3);
    damp = kn_param_decl(k, "damp", 0, 0.95, 0.35);
    bright = kn_param_decl(k, "bright", 200, 16000, 5000);
    bpm = kn_param_decl(k, "bpm", 40, 240, 120);
    level = kn_param_decl(k, "level", 0, 1, 0.3);
}

static float trig[8192], exc[8192], y[8192], bus[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    kn_clock_run(&p->clk, k->frame, trig, NULL, frames, kn_get(bpm), 2); /* eighths */
    float dm = (float)kn_get(damp), T = (float)kn_get(decay), rate = (float)k->rate;
    kn_clear(bus, frames);
    for (int v = 0; v < 4; v++) {
        String *s = &p->s[v];
        for (int i = 0; i < frames; i++) { /* excitation: noise while the burst lasts */
            if (trig[i] > 0) {
                long st = kn_clock_step(&p->clk, k->frame + (uint64_t)i, 2);
                if ((st & 3) == v) {
                    s->freq = kn_mtof((float)kn_get(note) + ARP[st & 7]);
                    s->burst = s->len = (int)(rate / s->freq);
                }
            }
            exc[i] = 0;
            if (s->burst > 0) { /* one sine cycle (body, no DC) plus noise (the pick) */
                float ph = (float)(s->len - s->burst) / (float)s->len;
                exc[i] = 0.7f * sinf(2 * (float)M_PI * ph) + 0.5f * kn_noise_tick(&p->noise);
                s->burst--;
            }
        }
        kn_onepole_run(&s->pick, exc, exc, frames, (float)kn_get(bright), KN_LP);
        /* loop length: one period, less the loop low-pass's delay dm/(1-dm) */
        float period = rate / s->freq, delay = period - dm / (1 - dm);
        float fb = powf(10.0f, -3.0f * period / (T * rate)); /* -60 dB after T seconds */
        kn_comb_run(&s->comb, exc, y, frames, delay, fb, dm);
        kn_mix(y, bus, frames, 1);
    }
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_mix(bus, out[c], frames, g);
}
