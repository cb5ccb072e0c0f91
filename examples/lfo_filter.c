/* lfo_filter.c - an LFO sweeping a filter: a held chord of band-limited
 * pulse waves through a resonant state-variable low-pass (one per
 * channel) whose cutoff an LFO moves up and down in octaves; the right
 * channel's LFO runs a quarter cycle behind, so the sweep moves across the
 * stereo field.
 *
 *   kanon play examples/lfo_filter.c --deck wah
 *   kanon set wah.rate 4             LFO rate, Hz
 *   kanon set wah.depth 3            sweep depth, octaves either side of the centre
 *   kanon set wah.center 600         centre cutoff, Hz
 *   kanon set wah.q 8                resonance (0.5..20)
 *   kanon set wah.shape 4            0 sine, 1 triangle, 2 saw, 3 square, 4 random
 *   kanon set wah.mode 1             0 low-pass, 1 band-pass, 2 high-pass
 *   kanon set wah.width 0.1          pulse width
 *
 * State: the oscillators, the filters and both LFOs are in the region
 * "sweep" (init once, `ready` flag): a save keeps the LFO where it was in
 * its cycle. The LFO is read once per block (control rate); the filter
 * ramps its coefficients across the block, so the sweep is smooth. */
#include <kanon/nodes.h>

static const float CHORD[4] = {45, 52, 57, 60}; /* MIDI: A2 E3 A3 C4 */

typedef struct {
    int ready;
    kn_square osc[4];
    kn_svf svf[2];
    kn_lfo lfo[2];
    kn_onepole dc; /* a pulse wave that is not square has DC: a 20 Hz high-pass */
} Sweep;
static Sweep *s;
static kn_param *rate, *depth, *center, *q, *shape, *mode, *width, *level;

void setup(kn_ctx *k) {
    s = kn_state(k, "sweep", sizeof *s);
    if (!s->ready) {
        for (int v = 0; v < 4; v++) kn_square_init(&s->osc[v], k->rate, 0.21 * v);
        for (int c = 0; c < 2; c++) {
            kn_svf_init(&s->svf[c], k->rate);
            kn_lfo_init(&s->lfo[c], k->rate, c ? 0.75 : 0, 7 + c); /* R: a quarter behind */
        }
        kn_onepole_init(&s->dc, k->rate);
        s->ready = 1;
    }
    rate = kn_param_decl(k, "rate", 0.02, 20, 0.5);
    depth = kn_param_decl(k, "depth", 0, 4, 2);
    center = kn_param_decl(k, "center", 50, 8000, 800);
    q = kn_param_decl(k, "q", 0.5, 20, 4);
    shape = kn_param_decl(k, "shape", 0, 4, 0);
    mode = kn_param_decl(k, "mode", 0, 2, 0);
    width = kn_param_decl(k, "width", 0.05, 0.95, 0.3);
    level = kn_param_decl(k, "level", 0, 1, 0.5);
}

static float src[8192], tmp[8192], y[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    kn_clear(src, frames);
    for (int v = 0; v < 4; v++) {
        kn_square_run(&s->osc[v], tmp, frames, kn_mtof(CHORD[v]), (float)kn_get(width), 0.1f);
        kn_mix(tmp, src, frames, 1);
    }
    kn_onepole_run(&s->dc, src, src, frames, 20, KN_HP);
    static const int modes[3] = {KN_LP, KN_BP, KN_HP};
    int sh = (int)(kn_get(shape) + 0.5), md = modes[(int)(kn_get(mode) + 0.5)];
    float g = (float)kn_get(level);
    for (int c = 0; c < 2; c++) {
        float lfo = kn_lfo_step(&s->lfo[c], (float)kn_get(rate), sh, frames);
        float fc = (float)kn_get(center) * powf(2.0f, (float)kn_get(depth) * lfo);
        kn_svf_run(&s->svf[c], src, y, frames, fc > 20000 ? 20000 : fc, (float)kn_get(q), md);
        for (int ch = c; ch < k->channels; ch += 2) kn_mix(y, out[ch], frames, g);
    }
}
