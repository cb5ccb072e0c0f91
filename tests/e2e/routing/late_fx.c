/* A pure delay of LATENCY frames on port "in" that says so (k->latency):
 * the conductor delays the parallel dry paths by as much, so that the dry
 * and the delayed signal meet on the same frame. */
#include <kanon.h>
#define LATENCY 300
typedef struct {
    float line[8][LATENCY];
    int at;
} delay_state;
static delay_state *s;
void setup(kn_ctx *k) {
    s = kn_state(k, "line", sizeof *s);
    k->latency = LATENCY;
}
void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    for (int i = 0; i < frames; i++) {
        for (int c = 0; c < k->channels && c < 8; c++) {
            out[c][i] = s->line[c][s->at];
            s->line[c][s->at] = in[c][i];
        }
        s->at = (s->at + 1) % LATENCY;
    }
}
