/* p1_nodes.c - benchmark patch P1 with nodes-c: 64 sine oscillators at
 * different frequencies, summed, stereo (each panned). The glue (this
 * file, compiled by tcc) only calls nodes block by block.
 *   kanon render bench/p1_nodes.c --seconds 60 -o /tmp/p1.wav */
#include <kanon/nodes.h>

#define N 64

typedef struct {
    int ready;
    kn_sine osc[N];
} P1;
static P1 *p;

void setup(kn_ctx *k) {
    p = kn_state(k, "p1", sizeof *p);
    if (!p->ready) {
        for (int i = 0; i < N; i++) kn_sine_init(&p->osc[i], k->rate, 0);
        p->ready = 1;
    }
}

void process(kn_ctx *k, float **out, int frames) {
    float tmp[8192];
    for (int i = 0; i < N; i++) {
        kn_sine_run(&p->osc[i], tmp, frames, 110.0f + 37.0f * i, 1.0f / N);
        kn_pan(tmp, out[0], out[1], frames, -1.0f + 2.0f * i / (N - 1), 1.0f);
    }
}
