/* noise.c - white noise through a one-pole low-pass, stereo-decorrelated.
 * The generator's seed lives in persistent state, so the stream continues
 * exactly across saves (and a render reproduces it sample for sample).
 *   kanon play examples/noise.c --deck hiss      kanon set hiss.tone 0.05 */
#include <kanon.h>

typedef struct {
    unsigned int seed[2]; /* one xorshift generator per channel pair */
    float lp[2];          /* low-pass memory */
} Noise;
static Noise *n;
static kn_param *level, *tone;

void setup(kn_ctx *k) {
    n = kn_state(k, "noise", sizeof *n);
    if (!n->seed[0]) {
        n->seed[0] = 0x9e3779b9u;
        n->seed[1] = 0x7f4a7c15u;
    }
    level = kn_param_decl(k, "level", 0, 1, 0.1);
    tone = kn_param_decl(k, "tone", 0.001, 1, 0.3); /* low-pass coefficient */
}

static float white(unsigned int *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

void process(kn_ctx *k, float **out, int frames) {
    float g = (float)kn_get(level), a = (float)kn_get(tone);
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < k->channels; c++) {
            int j = c & 1;
            n->lp[j] += a * (white(&n->seed[j]) - n->lp[j]);
            out[c][i] = g * n->lp[j];
        }
}
