/* chorus_pad.c - a gliding pad: four saw voices that slide into each new
 * chord (one chord every two bars), a gentle low-pass, a stereo chorus
 * (two chorus lines a quarter cycle apart) and a look-ahead limiter at the
 * end, so pushing `drive` gets louder and denser but never clips.
 *
 *   kanon play examples/chorus_pad.c --deck pad2
 *   kanon set pad2.glide 1.5         seconds for the voices to slide to a new chord
 *   kanon set pad2.depth 6           chorus depth, ms     pad2.speed 0.8  chorus rate, Hz
 *   kanon set pad2.cutoff 3000       low-pass, Hz
 *   kanon set pad2.drive 12          gain into the limiter, dB (ceiling -3 dBFS)
 *   Edit CHORDS and save: the voices glide to the new notes.
 *
 * Voices, filters, chorus lines (their delay buffers) and the limiter live
 * in the region "pad2" (init once, `ready` flag); the chord is a function
 * of k->frame (kn_clock), so the progression survives every save. */
#include <kanon/nodes.h>

static const float CHORDS[4][4] = {
    {50, 57, 60, 65}, {46, 53, 57, 62}, {43, 50, 55, 58}, {45, 52, 55, 61}};

typedef struct {
    int ready;
    kn_clock clk;
    kn_saw osc[4][2];
    kn_smoother pitch[4];
    kn_svf lp[2];
    kn_chorus ch[2];
    kn_limiter lim;
} Pad;
static Pad *p;
static kn_param *glide, *depth, *speed, *cutoff, *drive, *bpm;

void setup(kn_ctx *k) {
    p = kn_state(k, "pad2", sizeof *p);
    if (!p->ready) {
        kn_clock_init(&p->clk, k->rate, 80);
        for (int v = 0; v < 4; v++) {
            for (int d = 0; d < 2; d++) kn_saw_init(&p->osc[v][d], k->rate, 0.13 * v + 0.5 * d);
            kn_smoother_init(&p->pitch[v], k->rate, CHORDS[0][v]);
        }
        for (int c = 0; c < 2; c++) {
            kn_svf_init(&p->lp[c], k->rate);
            kn_chorus_init(&p->ch[c], k->rate, 0.25 * c);
        }
        kn_limiter_init(&p->lim, k->rate, 5);
        p->ready = 1;
    }
    glide = kn_param_decl(k, "glide", 0.01, 5, 0.8);
    depth = kn_param_decl(k, "depth", 0, 10, 3);
    speed = kn_param_decl(k, "speed", 0.05, 5, 0.4);
    cutoff = kn_param_decl(k, "cutoff", 200, 12000, 2200);
    drive = kn_param_decl(k, "drive", -12, 24, 0);
    bpm = kn_param_decl(k, "bpm", 40, 200, 80);
}

static float bus[2][8192], tmp[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    kn_clock_run(&p->clk, k->frame, NULL, NULL, frames, kn_get(bpm), 1); /* applies tempo changes */
    long chord = (long)(kn_clock_beat(&p->clk, k->frame) / 8) & 3;       /* two bars of 4/4 */
    kn_clear(bus[0], frames);
    kn_clear(bus[1], frames);
    for (int v = 0; v < 4; v++) {
        float note = kn_smoother_step(&p->pitch[v], CHORDS[chord][v], (float)kn_get(glide), frames);
        for (int d = 0; d < 2; d++) { /* two saws per voice, detuned +-7 cents, one per side */
            kn_saw_run(&p->osc[v][d], tmp, frames, kn_mtof(note + (d ? 0.07f : -0.07f)), 0.12f);
            kn_mix(tmp, bus[d], frames, 1);
        }
    }
    for (int c = 0; c < 2; c++) {
        kn_svf_run(&p->lp[c], bus[c], bus[c], frames, (float)kn_get(cutoff), 0.7f, KN_LP);
        kn_chorus_run(&p->ch[c], bus[c], bus[c], frames, (float)kn_get(speed), (float)kn_get(depth),
                      15, 0, 0.5f);
        kn_gain(bus[c], bus[c], frames, kn_dbtoa((float)kn_get(drive)));
    }
    kn_limiter_run2(&p->lim, bus[0], bus[1], bus[0], bus[1], frames, -3, 200);
    for (int c = 0; c < k->channels; c++) kn_mix(bus[c & 1], out[c], frames, 1);
}
