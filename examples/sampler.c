/* sampler.c - a sample player: examples/samples/hit.wav (a kalimba-like
 * tine at C5, made by examples/samples/hit.c) played as an instrument.
 * Each step of a 16-step pattern plays it at a pitch (speed 2^(semitones
 * / 12)), some steps backwards; four players take turns so notes overlap.
 *
 *   kanon play examples/sampler.c          (run it from the directory you ran `kanon up` in,
 *                                           see "The file" below)
 *   kanon set sampler.transpose -12  semitones for every note
 *   kanon set sampler.bpm 96         tempo
 *   kanon set sampler.gain 0.5       level
 *   Edit PATTERN and save; or replace hit.wav and save: it is reloaded.
 *
 * The file: kn_sample_load() reads it in setup(), resampled to the deck
 * rate, into its own state region ("hit"), so later saves find it there
 * and do not read the file again (unless it changed). A relative path is
 * opened from the working directory of the process that runs the code:
 * for `kanon render`, yours; live, the conductor's (where `kanon up` was
 * run). This file finds the sample next to itself through __FILE__, which
 * is the path you gave to `kanon play`/`render`.
 *
 * Players and clock live in the region "sampler" (init once); the step is
 * a function of k->frame, so the groove survives every save. */
#include <kanon/nodes.h>

/* semitones relative to the sample's pitch (C5); 99 = rest */
static const int PATTERN[16] = {0, 99, 7, 12, 99, 3, 99, 10, 0, 99, 15, 12, 99, 7, 5, 99};
static const char *REV = ".......r......r."; /* 'r': play that step backwards */

typedef struct {
    int ready;
    kn_clock clk;
    kn_player pl[4];
    float speed[4];
} Sampler;
static Sampler *s;
static kn_sample *hit;
static kn_param *transpose, *bpm, *gain;

void setup(kn_ctx *k) {
    char path[1024];
    int n = 0, dir = 0;
    for (const char *f = __FILE__; f[n] && n < 1000; n++)
        if ((path[n] = f[n]) == '/') dir = n + 1;
    const char *rel = "samples/hit.wav";
    for (int i = 0; rel[i]; i++) path[dir + i] = rel[i], path[dir + i + 1] = 0;
    hit = kn_sample_load(k, "hit", path); /* NULL (silence) if it cannot be read */

    s = kn_state(k, "sampler", sizeof *s);
    if (!s->ready) {
        kn_clock_init(&s->clk, k->rate, 110);
        for (int v = 0; v < 4; v++) kn_player_init(&s->pl[v], 0), s->speed[v] = 1;
        s->ready = 1;
    }
    transpose = kn_param_decl(k, "transpose", -24, 24, 0);
    bpm = kn_param_decl(k, "bpm", 40, 240, 110);
    gain = kn_param_decl(k, "gain", 0, 1, 0.7);
}

static float trig[8192], tv[8192], x[8192], bus[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    kn_clock_run(&s->clk, k->frame, trig, NULL, frames, kn_get(bpm), 4); /* sixteenths */
    kn_clear(bus, frames);
    for (int v = 0; v < 4; v++) {
        for (int i = 0; i < frames; i++) {
            tv[i] = 0;
            if (trig[i] > 0) {
                long st = kn_clock_step(&s->clk, k->frame + (uint64_t)i, 4);
                int semis = PATTERN[st & 15];
                if (semis != 99 && (st & 3) == v) { /* each player takes every fourth step */
                    tv[i] = 1;
                    s->speed[v] = powf(2.0f, (semis + (float)kn_get(transpose)) / 12.0f) *
                                  (REV[st & 15] == 'r' ? -1.0f : 1.0f);
                }
            }
        }
        kn_player_run(&s->pl[v], hit, tv, x, NULL, frames, s->speed[v], 1);
        kn_mix(x, bus, frames, 1);
    }
    float g = (float)kn_get(gain);
    for (int c = 0; c < k->channels; c++) kn_mix(bus, out[c], frames, g);
}
