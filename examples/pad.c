/* pad.c - a slow chord pad: three detuned saw pairs through a one-pole
 * low-pass, pulsing on a beat derived from k->frame. Everything that must
 * survive an edit (oscillator phases, filter memory) lives in kn_state, so
 * changing CHORD below and saving swaps chords without a click.
 *   kanon play examples/pad.c      then edit CHORD and save */
#include <kanon.h>

#define CHORD 0 /* 0: A minor, 1: F major, 2: C major, 3: G major */

static const float chords[4][3] = {{220.00f, 261.63f, 329.63f},
                                   {174.61f, 220.00f, 261.63f},
                                   {261.63f, 329.63f, 392.00f},
                                   {196.00f, 246.94f, 293.66f}};

typedef struct {
    double phase[6];
    float lp[2];
} Pad;
static Pad *p;
static kn_param *cutoff, *tempo;

void setup(kn_ctx *k) {
    p = kn_state(k, "pad", sizeof *p);
    cutoff = kn_param_decl(k, "cutoff", 0.005, 0.5, 0.04); /* one-pole coefficient */
    tempo = kn_param_decl(k, "tempo", 40, 200, 96);        /* beats per minute */
}

void process(kn_ctx *k, float **out, int frames) {
    const float *f = chords[CHORD];
    float a = (float)kn_get(cutoff);
    double beat = 60.0 / kn_get(tempo) * k->rate; /* frames per beat */
    for (int i = 0; i < frames; i++) {
        float l = 0, r = 0;
        for (int v = 0; v < 6; v++) {
            double inc = f[v / 2] * (v & 1 ? 1.003 : 0.997) / k->rate;
            float saw = (float)(2 * p->phase[v] - 1);
            if (v & 1)
                r += saw;
            else
                l += saw;
            p->phase[v] += inc;
            if (p->phase[v] >= 1) p->phase[v] -= 1;
        }
        /* a soft swell on every beat */
        double pos = fmod((double)(k->frame + i), beat) / beat;
        float env = 0.35f + 0.65f * (float)exp(-4.0 * pos);
        p->lp[0] += a * (l - p->lp[0]);
        p->lp[1] += a * (r - p->lp[1]);
        out[0][i] = 0.12f * env * p->lp[0];
        if (k->channels > 1) out[1][i] = 0.12f * env * p->lp[1];
    }
}
