/* Pool: a look-ahead stage: its input delayed by exactly 32 frames, and it
 * says so (k->latency), so the conductor delays the parallel paths. */
#include <kanon.h>
#define L 32
typedef struct { float buf[8][L]; unsigned pos; } la;
static la *s;
void setup(kn_ctx *k) {
    s = kn_state(k, "la", sizeof *s);
    k->latency = L;
}
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    for (int i = 0; i < frames; i++) {
        for (int c = 0; c < k->channels; c++) {
            out[c][i] = s->buf[c][s->pos];
            s->buf[c][s->pos] = in[c][i];
        }
        s->pos = (s->pos + 1) % L;
    }
}
