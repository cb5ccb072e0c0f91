/* bytebeat.c - bytebeat: music from one integer expression of time, t
 * counting at 8 kHz, its low byte taken as the sample. Here t comes from
 * k->frame (t = frame * 8000 / rate), so the piece is a pure function of
 * time: a save continues it at the same t, and two renders are identical.
 * The 8-bit output is made listenable: DC removed (a high-pass at 20 Hz)
 * and the aliasing softened (a low-pass at `tone`).
 *
 *   kanon play examples/bytebeat.c
 *   kanon set bytebeat.formula 2     which expression below (0..4)
 *   kanon set bytebeat.tone 2500     low-pass, Hz
 *   kanon set bytebeat.speed 11025   t's rate (8000 is the classic; t jumps with it)
 *   Write your own expression in beat() and save: it starts at the
 *   current t, in time with the old one.
 *
 * State: only the two filters (region "bytebeat", init once). */
#include <kanon/nodes.h>

static int beat(int f, unsigned t) {
    switch (f) {
    case 0: return t * (((t >> 12) | (t >> 8)) & (63 & (t >> 4)));           /* viznut, 2011 */
    case 1: return (t * (t >> 5 | t >> 8)) >> (t >> 16);                     /* tejeez */
    case 2: return t * ((t >> 9 | t >> 13) & 25 & t >> 6);                   /* visy */
    case 3: return (t >> 6 | t | t >> (t >> 16)) * 10 + ((t >> 11) & 7);     /* viznut */
    default: return (t >> 7 | t | t >> 6) * 10 + 4 * (t & t >> 13 | t >> 6); /* xpansive */
    }
}

typedef struct {
    int ready;
    kn_onepole dc, lp;
} Bytebeat;
static Bytebeat *b;
static kn_param *formula, *tone, *speed, *level;

void setup(kn_ctx *k) {
    b = kn_state(k, "bytebeat", sizeof *b);
    if (!b->ready) {
        kn_onepole_init(&b->dc, k->rate);
        kn_onepole_init(&b->lp, k->rate);
        b->ready = 1;
    }
    formula = kn_param_decl(k, "formula", 0, 4, 0);
    tone = kn_param_decl(k, "tone", 200, 12000, 3000);
    speed = kn_param_decl(k, "speed", 2000, 44100, 8000);
    level = kn_param_decl(k, "level", 0, 1, 0.3);
}

static float x[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    int f = (int)(kn_get(formula) + 0.5);
    double per = kn_get(speed) / k->rate; /* t per frame */
    for (int i = 0; i < frames; i++) {
        unsigned t = (unsigned)(uint64_t)((double)(k->frame + (uint64_t)i) * per);
        x[i] = (float)(beat(f, t) & 255) / 128.0f - 1.0f;
    }
    kn_onepole_run(&b->dc, x, x, frames, 20, KN_HP);
    kn_onepole_run(&b->lp, x, x, frames, (float)kn_get(tone), KN_LP);
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_mix(x, out[c], frames, g);
}
