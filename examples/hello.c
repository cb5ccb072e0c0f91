/* hello.c - the smallest kanon file: no setup, no state. The phase is
 * derived from k->frame, the deck's absolute frame count, which keeps
 * running across saves, so even this stateless tone never restarts.
 *   kanon play examples/hello.c */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        double t = (double)(k->frame + i) / k->rate;
        float v = 0.1f * (float)sin(2 * M_PI * 330.0 * t);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
    }
}
