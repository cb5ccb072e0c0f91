/* p1_nodes.c - benchmark patch P1 with nodes-c: 64 sine oscillators at
 * different frequencies, summed, stereo (each panned). The glue (this
 * file, compiled by tcc) only calls nodes block by block: 8 banks of 8
 * sines (kanon/bank.h), each computed and mixed to stereo in one pass
 * (kn_sine8_pan). The same samples as 64 kn_sine + kn_pan calls (voice 0
 * first).
 *   kanon render bench/p1_nodes.c --seconds 60 -o /tmp/p1.wav */
#include <kanon/nodes.h>

#define N     64
#define BANKS (N / KN_BANK)

typedef struct {
    int ready;
    kn_sine8 osc[BANKS];
} P1;
static P1 *p;

void setup(kn_ctx *k) {
    p = kn_state(k, "p1", sizeof *p);
    if (!p->ready) {
        for (int b = 0; b < BANKS; b++) kn_sine8_init(&p->osc[b], k->rate, NULL);
        p->ready = 1;
    }
}

void process(kn_ctx *k, float **out, int frames) {
    for (int b = 0; b < BANKS; b++) {
        float freq[KN_BANK], amp[KN_BANK], pan[KN_BANK], gain[KN_BANK];
        for (int v = 0; v < KN_BANK; v++) {
            int i = b * KN_BANK + v;
            freq[v] = 110.0f + 37.0f * i, amp[v] = 1.0f / N;
            pan[v] = -1.0f + 2.0f * i / (N - 1), gain[v] = 1.0f;
        }
        kn_sine8_pan(&p->osc[b], out[0], out[1], frames, freq, amp, pan, gain);
    }
}
