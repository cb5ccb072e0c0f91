/* reverb_send.c - a reverb on a send: a dry mallet line (sines with a
 * fast attack and a short decay, a pentatonic melody chosen step by step
 * from a hash of the step number) goes straight to the output, and a
 * share of it (the send) into a stereo Freeverb-class reverb whose
 * return is mixed back in, as on a mixing desk.
 *
 *   kanon play examples/reverb_send.c --deck verb
 *   kanon set verb.send 0.8          how much of the dry line feeds the reverb
 *   kanon set verb.rt60 8            decay time, s (to -60 dB)
 *   kanon set verb.damp 0.8          high-frequency damping in the tail, 0..1
 *   kanon set verb.ret 0.5           return level     verb.dry 0   (reverb only)
 *   kanon set verb.density 0.3       share of steps that play a note
 *
 * The melody is a pure function of the step number (kn_clock, i.e. of
 * k->frame), so it needs no state and survives any edit; the reverb's
 * 512 KiB of delay lines live in their own region "reverb" so a save (or a
 * new rt60) never cuts the tail; the mallets' envelopes and phases are in
 * "mallet". */
#include <kanon/nodes.h>

static const float SCALE[5] = {0, 2, 4, 7, 9}; /* major pentatonic */

typedef struct {
    int ready;
    kn_clock clk;
    kn_sine osc, over;
    kn_ar env;
    float freq;
} Mallet;
static Mallet *m;
static kn_reverb *rv;
static kn_param *send, *rt60, *damp, *ret, *dry, *density, *bpm;

void setup(kn_ctx *k) {
    m = kn_state(k, "mallet", sizeof *m);
    rv = kn_state(k, "reverb", sizeof *rv);
    if (!m->ready) {
        kn_clock_init(&m->clk, k->rate, 100);
        kn_sine_init(&m->osc, k->rate, 0);
        kn_sine_init(&m->over, k->rate, 0);
        kn_ar_init(&m->env, k->rate);
        kn_reverb_init(rv, k->rate);
        m->freq = 440;
        m->ready = 1;
    }
    send = kn_param_decl(k, "send", 0, 1, 0.5);
    rt60 = kn_param_decl(k, "rt60", 0.2, 20, 3.5);
    damp = kn_param_decl(k, "damp", 0, 1, 0.5);
    ret = kn_param_decl(k, "ret", 0, 1, 0.3);
    dry = kn_param_decl(k, "dry", 0, 1, 0.5);
    density = kn_param_decl(k, "density", 0, 1, 0.45);
    bpm = kn_param_decl(k, "bpm", 40, 200, 100);
}

static unsigned hash(unsigned x) { /* the same step, the same note, every time */
    x ^= x >> 16, x *= 0x7feb352du, x ^= x >> 15, x *= 0x846ca68bu, x ^= x >> 16;
    return x;
}

static float trig[8192], env[8192], x[8192], y[8192], wl[8192], wr[8192]; /* block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    kn_clock_run(&m->clk, k->frame, trig, NULL, frames, kn_get(bpm), 4); /* sixteenths */
    for (int i = 0; i < frames; i++)
        if (trig[i] > 0) {
            unsigned h = hash((unsigned)kn_clock_step(&m->clk, k->frame + (uint64_t)i, 4));
            if ((h & 1023) >= kn_get(density) * 1024)
                trig[i] = 0; /* a rest */
            else
                m->freq = kn_mtof(67 + SCALE[(h >> 10) % 5] + 12 * (float)((h >> 13) % 2));
        }
    kn_ar_run(&m->env, trig, env, frames, 0.002f, 0.6f);
    kn_sine_run(&m->osc, x, frames, m->freq, 0.5f);
    kn_sine_run(&m->over, y, frames, m->freq * 4.0f, 0.12f); /* a bright overtone */
    kn_mix(y, x, frames, 1);
    kn_mul(x, env, x, frames);

    /* the send: x * send -> reverb (100% wet) -> return */
    kn_gain(x, y, frames, (float)kn_get(send));
    kn_reverb_run(rv, y, NULL, wl, wr, frames, (float)kn_get(rt60), (float)kn_get(damp), 1);
    float d = (float)kn_get(dry), r = (float)kn_get(ret);
    for (int c = 0; c < k->channels; c++) {
        kn_mix(x, out[c], frames, d);
        kn_mix(c & 1 ? wr : wl, out[c], frames, r);
    }
}
