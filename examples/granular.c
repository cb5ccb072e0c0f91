/* granular.c - a granular texture: a slow organ-like chord progression is
 * written into a 1.3 s delay line, and up to 24 grains (Hann-windowed
 * snippets read from random points of its recent past, at octave and fifth
 * transpositions, panned at random) scatter it into a shimmering cloud.
 *
 *   kanon play examples/granular.c
 *   kanon set granular.density 60    grains per second (1..150)
 *   kanon set granular.size 300      grain length, ms (10..500)
 *   kanon set granular.spread 1      how far back grains start, s (0..1)
 *   kanon set granular.pitch -12     transposition of every grain, semitones
 *   kanon set granular.scatter 0     share of grains jumping an octave or a fifth
 *   kanon set granular.dry 0.5       the source itself, 0..1
 *   Edit CHORDS and save; the cloud keeps its grains and its buffer.
 *
 * The source's oscillators, the delay line and every grain in flight live
 * in the region "grains"; the wavetable in its own region "table" (built
 * once). The grain scheduler is seeded and its next grain time is an
 * absolute frame, so a render is deterministic and a save continues the
 * cloud without a gap. There is no grain node in the kit: the scheduler
 * and the grain loop are plain C here, reading the kit's delay line. */
#include <kanon/nodes.h>

#define GRAINS 24
static const float CHORDS[4][3] = {{50, 57, 64}, {48, 55, 64}, {45, 52, 60}, {47, 54, 62}};

typedef struct {
    float d;     /* read position: samples behind now */
    float speed; /* playback rate: 2 = an octave up */
    float age, len;
    float gl, gr; /* pan gains */
    int on;
} Grain;

typedef struct {
    int ready;
    unsigned seed;
    uint64_t next; /* absolute frame of the next grain */
    kn_clock clk;
    kn_wt osc[3];
    kn_lfo vib;
    kn_delay buf;
    Grain g[GRAINS];
} Cloud;
static Cloud *c;
static kn_wtable *table;
static kn_param *density, *size, *spread, *pitch, *scatter, *dry, *level;

void setup(kn_ctx *k) {
    table = kn_state(k, "table", sizeof *table);
    if (!table->ready) { /* an organ: odd-heavy harmonics, falling 1/n */
        float h[12];
        for (int n = 0; n < 12; n++) h[n] = (n % 2 ? 0.5f : 1.0f) / (n + 1);
        kn_wtable_harmonics(table, h, 12);
    }
    c = kn_state(k, "grains", sizeof *c);
    if (!c->ready) {
        c->seed = 2024;
        kn_clock_init(&c->clk, k->rate, 70);
        for (int v = 0; v < 3; v++) kn_wt_init(&c->osc[v], k->rate, 0.3 * v);
        kn_lfo_init(&c->vib, k->rate, 0, 1);
        kn_delay_init(&c->buf);
        c->ready = 1;
    }
    density = kn_param_decl(k, "density", 1, 150, 30);
    size = kn_param_decl(k, "size", 10, 500, 160);
    spread = kn_param_decl(k, "spread", 0, 1, 0.7);
    pitch = kn_param_decl(k, "pitch", -24, 24, 0);
    scatter = kn_param_decl(k, "scatter", 0, 1, 0.5);
    dry = kn_param_decl(k, "dry", 0, 1, 0.15);
    level = kn_param_decl(k, "level", 0, 1, 0.6);
}

static float rnd(void) { /* 0..1, from the seed in state */
    c->seed ^= c->seed << 13, c->seed ^= c->seed >> 17, c->seed ^= c->seed << 5;
    return (float)(c->seed >> 8) / 16777216.0f;
}

static void spawn(kn_ctx *k) {
    for (int j = 0; j < GRAINS; j++) {
        Grain *g = &c->g[j];
        if (g->on) continue;
        float semis = (float)kn_get(pitch);
        if (rnd() < kn_get(scatter)) semis += rnd() < 0.5f ? 12 : (rnd() < 0.5f ? 7 : -12);
        g->speed = powf(2.0f, semis / 12);
        g->len = (float)(kn_get(size) / 1000 * k->rate);
        g->age = 0;
        /* start far enough back that a fast grain never overtakes the write head */
        float ahead = g->speed > 1 ? (g->speed - 1) * g->len : 0;
        g->d = 2 + ahead + rnd() * (float)(kn_get(spread) * k->rate);
        if (g->d + g->len > KN_DELAY_MAX - 8 - k->block)
            g->d = KN_DELAY_MAX - 8 - k->block - g->len;
        float pan = rnd();
        g->gl = sqrtf(1 - pan), g->gr = sqrtf(pan);
        g->on = g->d > 2 + ahead;
        return;
    }
}

static float src[8192], junk[8192], L[8192], R[8192], tmp[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    /* the source: a chord a bar, with a little vibrato, into the delay line */
    long bar = (long)(kn_clock_beat(&c->clk, k->frame) / 4);
    float vib = 1 + 0.003f * kn_lfo_step(&c->vib, 5, KN_LFO_SINE, frames);
    kn_clear(src, frames);
    for (int v = 0; v < 3; v++) {
        kn_wt_run(&c->osc[v], table, tmp, frames, kn_mtof(CHORDS[bar & 3][v]) * vib, 0.25f);
        kn_mix(tmp, src, frames, 1);
    }
    kn_delay_run(&c->buf, src, junk, frames, 1, 0); /* writes the block; junk is unused */

    kn_clear(L, frames);
    kn_clear(R, frames);
    double per = k->rate / kn_get(density); /* frames between grains, on average */
    for (int i = 0; i < frames; i++) {
        uint64_t f = k->frame + (uint64_t)i;
        if (f >= c->next) {
            spawn(k);
            c->next = f + (uint64_t)(per * (0.5 + rnd()));
        }
        for (int j = 0; j < GRAINS; j++) {
            Grain *g = &c->g[j];
            if (!g->on) continue;
            float x = g->age / g->len, w = sinf((float)M_PI * x);
            /* the newest sample in the line is the block's last: sample i is frames-1-i older */
            float s = w * w * kn_delay_read(&c->buf, g->d + (float)(frames - 1 - i));
            L[i] += g->gl * s, R[i] += g->gr * s;
            g->d += 1 - g->speed;
            if (++g->age >= g->len) g->on = 0;
        }
    }
    float g = (float)kn_get(level), dm = (float)kn_get(dry);
    for (int ch = 0; ch < k->channels; ch++) {
        kn_mix(ch & 1 ? R : L, out[ch], frames, 0.5f * g);
        kn_mix(src, out[ch], frames, dm * g);
    }
}
