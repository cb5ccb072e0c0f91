/* p2_nodes.c - benchmark patch P2 with nodes-c: 16 sawtooth voices
 * (polyBLEP) through resonant 2-pole low-passes (state-variable filter)
 * whose cutoff an LFO sweeps, panned across the stereo field. Two banks
 * of 8 voices (kanon/bank.h): the 8 filters of a bank run side by side.
 * The same samples as 16 kn_saw + kn_svf + kn_pan chains (voice 0 first).
 *   kanon render bench/p2_nodes.c --seconds 60 -o /tmp/p2.wav */
#include <kanon/nodes.h>

#define V     16
#define BANKS (V / KN_BANK)

typedef struct {
    int ready;
    kn_lfo lfo;
    kn_saw8 saw[BANKS];
    kn_svf8 svf[BANKS];
} P2;
static P2 *p;
static float buf[8192 * KN_BANK]; /* scratch: k->block is at most 8192 */

void setup(kn_ctx *k) {
    p = kn_state(k, "p2", sizeof *p);
    if (!p->ready) {
        kn_lfo_init(&p->lfo, k->rate, 0, 1);
        for (int b = 0; b < BANKS; b++) {
            kn_saw8_init(&p->saw[b], k->rate, NULL);
            kn_svf8_init(&p->svf[b], k->rate);
        }
        p->ready = 1;
    }
}

void process(kn_ctx *k, float **out, int frames) {
    /* one LFO value per block: the cutoff sweeps 400 Hz .. 6.4 kHz */
    float cutoff = 1600.0f * powf(4.0f, kn_lfo_step(&p->lfo, 0.2f, KN_LFO_SINE, frames));
    for (int b = 0; b < BANKS; b++) {
        float freq[KN_BANK], amp[KN_BANK], cut[KN_BANK], q[KN_BANK], pan[KN_BANK], gain[KN_BANK];
        for (int i = 0; i < KN_BANK; i++) {
            int v = b * KN_BANK + i;
            freq[i] = 55.0f * powf(2.0f, v * 0.25f), amp[i] = 0.04f;
            cut[i] = cutoff, q[i] = 4.0f;
            pan[i] = -1.0f + 2.0f * v / (V - 1), gain[i] = 1.0f;
        }
        kn_saw8_compute(&p->saw[b], buf, frames, freq, amp);
        kn_svf8_compute(&p->svf[b], buf, buf, frames, cut, q, KN_LP);
        kn_bank_pan_stereo(out[0], out[1], buf, frames, pan, gain);
    }
}
