/* state_v2.c - test_swap_state.sh, version 2: the state struct gains a field
 * at the end (`float extra`; sizeof stays 16: it fills v1's padding).
 *   0: 0.2 * sine at 660 Hz, continuing v1's phase
 *   1: -counter / 2^16 (negative: v2 plays), counter continuing v1's count
 *   2: (k->frame mod 65536) / 2^18, as in v1
 *   3: +extra / 2^16, extra = blocks played by v2 (starts from the zero fill) */
#include <kanon.h>

typedef struct {
    double phase;
    int counter;
    float extra;
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
        out[3][i] = s->extra * (1.0f / 65536.0f);
    }
}
