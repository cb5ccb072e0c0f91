/* state_v3.c - test_swap_state.sh, version 3: the struct grows again, now
 * past its old size (16 -> 72 bytes), so kn_state moves the region: the old
 * fields must keep their values, the new ones must be zero.
 *   0, 1, 2: as in v2 (660 Hz continuing, -counter, frame sawtooth)
 *   3: -(extra + pad[5]) / 2^16: extra keeps counting from v2's value;
 *      pad[5] is never written, so it must stay 0 */
#include <kanon.h>

typedef struct {
    double phase;
    int counter;
    float extra;
    double pad[7];
} St;
static St *s;

void setup(kn_ctx *k) {
    s = kn_state(k, "st", sizeof *s);
}

void process(kn_ctx *k, float **out, int frames) {
    double inc = 660.0 / k->rate;
    s->counter++;
    s->extra += 1.0f;
    for (int i = 0; i < frames; i++) {
        out[0][i] = 0.2f * sinf(2 * (float)M_PI * (float)s->phase);
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
        out[1][i] = -(float)s->counter * (1.0f / 65536.0f);
        out[2][i] = (float)((k->frame + (uint64_t)i) % 65536u) * (1.0f / 262144.0f);
        out[3][i] = -(s->extra + (float)s->pad[5]) * (1.0f / 65536.0f);
    }
}
