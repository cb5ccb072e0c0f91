/* bus_reverb.c - a reverb bus: an effect deck with no sound of its own. It
 * reads its input port "in" (whatever the other decks send it), cuts the
 * lows so the tail stays clear, waits a pre-delay and returns the stereo
 * Freeverb-class reverb, 100% wet, as the return of a mixing desk's aux.
 *
 *   kanon play examples/drums.c                      # deck "drums"
 *   kanon play examples/pad.c --deck keys
 *   kanon play examples/bus_reverb.c --deck verb
 *   kanon route drums verb --gain -12                # a little room on the drums
 *   kanon route keys verb --gain -9                  # more on the keys
 *   kanon set verb.rt60 4            decay time, s (to -60 dB)
 *   kanon set verb.predelay 40       ms before the tail starts: keeps the attacks dry
 *   kanon set verb.lowcut 300        Hz, high-pass on what goes in (less mud)
 *   kanon set verb.damp 0.7          high-frequency damping in the tail, 0..1
 *   kanon set verb.level 0.8         return level (or `kanon gain verb -6`)
 *
 * The sends are post-fader (after the source's gain, mute and pan), so
 * pulling a deck's fader down takes its reverb with it; `--pre` makes a
 * send that ignores the fader. The dry decks stay on the master as they
 * were: only the reverb comes from here. Played or rendered alone, with
 * nothing routed to it, it is silent.
 *
 * The reverb's 512 KiB of lines, the pre-delay lines and the filters live
 * in the region "verb" (init once, `ready` flag), so a save or a new rt60
 * never cuts the tail. */
#include <kanon/nodes.h>

typedef struct {
    int ready;
    kn_onepole lowcut[2];
    kn_delay pre[2];
    kn_reverb rv;
} Verb;
static Verb *v;
static kn_param *rt60, *predelay, *lowcut, *damp, *level;

void setup(kn_ctx *k) {
    v = kn_state(k, "verb", sizeof *v);
    if (!v->ready) {
        for (int c = 0; c < 2; c++) {
            kn_onepole_init(&v->lowcut[c], k->rate);
            kn_delay_init(&v->pre[c], k->rate);
        }
        kn_reverb_init(&v->rv, k->rate);
        v->ready = 1;
    }
    rt60 = kn_param_decl(k, "rt60", 0.2, 20, 2.5);
    predelay = kn_param_decl(k, "predelay", 0, 500, 25);
    lowcut = kn_param_decl(k, "lowcut", 20, 2000, 200);
    damp = kn_param_decl(k, "damp", 0, 1, 0.5);
    level = kn_param_decl(k, "level", 0, 1, 0.8);
}

static float x[2][8192], wl[8192], wr[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in"); /* k->channels channels: the sum of the sends */
    float pre = (float)(kn_get(predelay) / 1000 * k->rate);
    if (pre < 1) pre = 1; /* the line's shortest: always fed, so a change never replays old input */
    for (int c = 0; c < 2; c++) {
        const float *src = in[c < k->channels ? c : 0]; /* mono: one line feeds both sides */
        kn_onepole_compute(&v->lowcut[c], x[c], src, frames, (float)kn_get(lowcut), KN_HP);
        kn_delay_compute(&v->pre[c], x[c], x[c], frames, pre, 0);
    }
    kn_reverb_compute_stereo(&v->rv, wl, wr, x[0], x[1], frames, (float)kn_get(rt60),
                             (float)kn_get(damp), 1);
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) kn_buf_add(out[c], c & 1 ? wr : wl, frames, g);
}
