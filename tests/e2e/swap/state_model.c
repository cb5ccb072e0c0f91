/* state_model.c - test_swap_state.sh's reference: what a deck playing
 * state_v1.c, then state_v2.c from deck frame `v2at`, then state_v3.c from
 * `v3at` must output with --fade 0 if every field carries over and k->frame
 * runs on (render with --channels 4 --set v2at=F --set v3at=F). One state,
 * the same expressions as the three files: bit-identical samples. */
#include <kanon.h>

static double phase;
static int counter;
static float extra;
static kn_param *v2at, *v3at;

void setup(kn_ctx *k) {
    v2at = kn_param_decl(k, "v2at", 0, 1e12, 1e12);
    v3at = kn_param_decl(k, "v3at", 0, 1e12, 1e12);
}

void process(kn_ctx *k, float **out, int frames) {
    int ver = k->frame >= (uint64_t)kn_get(v3at) ? 3 : k->frame >= (uint64_t)kn_get(v2at) ? 2 : 1;
    double inc = (ver == 1 ? 440.0 : 660.0) / k->rate;
    counter++;
    if (ver > 1) extra += 1.0f;
    for (int i = 0; i < frames; i++) {
        out[0][i] = 0.2f * sinf(2 * (float)M_PI * (float)phase);
        phase += inc;
        if (phase >= 1) phase -= 1;
        out[1][i] =
            ver == 1 ? (float)counter * (1.0f / 65536.0f) : -(float)counter * (1.0f / 65536.0f);
        out[2][i] = (float)((k->frame + (uint64_t)i) % 65536u) * (1.0f / 262144.0f);
        out[3][i] = ver == 1   ? 0.0f
                    : ver == 2 ? extra * (1.0f / 65536.0f)
                               : -(extra + 0.0f) * (1.0f / 65536.0f);
    }
}
