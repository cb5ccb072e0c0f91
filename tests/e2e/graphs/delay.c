/* Pool: an echo: its input plus itself 300 frames ago, halved (the delay
 * line lives in the deck's state). */
#include <kanon.h>
#define N 300
typedef struct { float buf[8][N]; unsigned pos; } echo;
static echo *e;
void setup(kn_ctx *k) { e = kn_state(k, "echo", sizeof *e); }
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    for (int i = 0; i < frames; i++) {
        for (int c = 0; c < k->channels; c++) {
            float x = in[c][i], old = e->buf[c][e->pos];
            out[c][i] = x + 0.5f * old;
            e->buf[c][e->pos] = x;
        }
        e->pos = (e->pos + 1) % N;
    }
}
