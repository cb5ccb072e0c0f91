/* p2_nodes.c - benchmark patch P2 with nodes-c: 16 sawtooth voices
 * (polyBLEP) through resonant 2-pole low-passes (state-variable filter)
 * whose cutoff an LFO sweeps, panned across the stereo field.
 *   kanon render bench/p2_nodes.c --seconds 60 -o /tmp/p2.wav */
#include <kanon/nodes.h>

#define V 16

typedef struct {
    int ready;
    kn_lfo lfo;
    kn_saw saw[V];
    kn_svf svf[V];
} P2;
static P2 *p;

void setup(kn_ctx *k) {
    p = kn_state(k, "p2", sizeof *p);
    if (!p->ready) {
        kn_lfo_init(&p->lfo, k->rate, 0, 1);
        for (int v = 0; v < V; v++) {
            kn_saw_init(&p->saw[v], k->rate, 0);
            kn_svf_init(&p->svf[v], k->rate);
        }
        p->ready = 1;
    }
}

void process(kn_ctx *k, float **out, int frames) {
    float tmp[8192];
    /* one LFO value per block: the cutoff sweeps 400 Hz .. 6.4 kHz */
    float cutoff = 1600.0f * powf(4.0f, kn_lfo_step(&p->lfo, 0.2f, KN_LFO_SINE, frames));
    for (int v = 0; v < V; v++) {
        kn_saw_run(&p->saw[v], tmp, frames, 55.0f * powf(2.0f, v * 0.25f), 0.04f);
        kn_svf_run(&p->svf[v], tmp, tmp, frames, cutoff, 4.0f, KN_LP);
        kn_pan(tmp, out[0], out[1], frames, -1.0f + 2.0f * v / (V - 1), 1.0f);
    }
}
