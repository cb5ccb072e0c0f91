/* hit.c - makes examples/samples/hit.wav, the sample sampler.c plays: one
 * strike of a kalimba-like tine (C5, 523.25 Hz, with the inharmonic
 * partials of a clamped bar and a short click), 0.6 s, mono, 44.1 kHz so
 * that the player's resampling to the deck rate is exercised:
 *   kanon render examples/samples/hit.c --seconds 0.6 --channels 1 --rate 44100 \
 *       -o examples/samples/hit.wav
 * Not an example to play (it is silent after its one strike). */
#include <kanon/nodes.h>

static const float ratio[3] = {1.0f, 5.40f, 8.93f}, amp[3] = {0.6f, 0.15f, 0.06f},
                   decay[3] = {0.55f, 0.12f, 0.05f}; /* s, to -60 dB */

void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        double t = (double)(k->frame + (uint64_t)i) / k->rate;
        float x = 0;
        for (int p = 0; p < 3; p++)
            x += amp[p] * (float)(exp(-6.9 * t / decay[p]) * sin(2 * M_PI * 523.25 * ratio[p] * t));
        x *= (float)(t < 0.002 ? t / 0.002 : 1); /* 2 ms attack: no click at the start */
        x += 0.2f * (float)(exp(-t / 0.0015) * sin(2 * M_PI * 2400 * t)); /* the finger */
        for (int c = 0; c < k->channels; c++) out[c][i] = x;
    }
}
