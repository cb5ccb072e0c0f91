/* beat.c - a kick and a hi-hat on the timeline's beat grid: the kick on
 * every beat (accented on the bar's first), the hat on the off-beat eighths
 * and on the last sixteenth of the bar.
 *
 *   kanon play examples/beat.c
 *   kanon render examples/beat.c --bpm 96 --bar 3 --seconds 8 -o beat.wav
 *   kanon set beat.kick_pitch 45     kick body, Hz      beat.kick_decay 0.4  s
 *   kanon set beat.hat_decay 0.08    s                  beat.level 0.5
 *   Edit step() below and save: the next step plays the new pattern.
 *
 * The grid is the timeline's, not the deck's: where a step starts comes
 * from kn_beat_at(k, i), so the pattern follows the tempo (and a tempo
 * ramp inside a block), its bar length follows k->bar, it lines up with
 * every other deck playing on the beat, and a save lands on the same step.
 * No step counter is kept: a sample starts a step when its sixteenth is
 * not the previous sample's, which also holds for the very first sample
 * of a deck started on a grid line. Envelopes, the oscillator, the filter
 * and the noise live in the region "beat" (init once, `ready` flag): a save
 * never cuts a ringing hit short. */
#include <kanon/nodes.h>

typedef struct {
    int ready;
    kn_sine kick;
    kn_ar kick_amp, kick_pitch, hat_amp;
    kn_noise noise;
    kn_svf hat_hp;
    float vel[2]; /* velocity of each voice's last hit (kick, hat) */
} Beat;
static Beat *b;
static kn_param *kick_pitch, *kick_decay, *hat_decay, *level;

void setup(kn_ctx *k) {
    b = kn_state(k, "beat", sizeof *b);
    if (!b->ready) {
        kn_sine_init(&b->kick, k->rate, 0);
        kn_ar_init(&b->kick_amp, k->rate);
        kn_ar_init(&b->kick_pitch, k->rate);
        kn_ar_init(&b->hat_amp, k->rate);
        kn_noise_init(&b->noise, k->rate, 0x5eed);
        kn_svf_init(&b->hat_hp, k->rate);
        b->ready = 1;
    }
    kick_pitch = kn_param_decl(k, "kick_pitch", 30, 90, 50);
    kick_decay = kn_param_decl(k, "kick_decay", 0.05, 2, 0.35);
    hat_decay = kn_param_decl(k, "hat_decay", 0.01, 0.5, 0.045);
    level = kn_param_decl(k, "level", 0, 1, 0.6);
}

/* The pattern: what sixteenth `pos` of a bar of `steps` sixteenths hits.
 * kick[0]/hat[1] velocities, 0 = rest. */
static void step(long pos, long steps, float *kick, float *hat) {
    *kick = pos % 4 == 0 ? (pos == 0 ? 1.0f : 0.75f) : 0;
    *hat = pos % 4 == 2 ? 0.6f : pos == steps - 1 ? 0.35f : 0;
}

/* scratch buffers (k->block is at most 8192) */
static float trig[2][8192], vel[2][8192], env[8192], pitch[8192], a[8192], h[8192];

void process(kn_ctx *k, float **out, int frames) {
    long steps = 4L * k->bar;
    long prev = (long)floor(kn_beat_at(k, -1) * 4 + 1e-9); /* the sample before this block's */
    for (int i = 0; i < frames; i++) {
        long st = (long)floor(kn_beat_at(k, i) * 4 + 1e-9); /* in sixteenths */
        float hit[2] = {0, 0};
        if (st != prev) step(((st % steps) + steps) % steps, steps, &hit[0], &hit[1]);
        prev = st;
        for (int v = 0; v < 2; v++) {
            trig[v][i] = hit[v] > 0 ? 1.0f : 0.0f;
            if (hit[v] > 0) b->vel[v] = hit[v];
            vel[v][i] = b->vel[v];
        }
    }
    /* kick: a sine whose pitch falls from 6x to 1x over ~30 ms */
    kn_ar_compute(&b->kick_pitch, pitch, trig[0], frames, 0.0005f, 0.09f);
    kn_ar_compute(&b->kick_amp, env, trig[0], frames, 0.001f, (float)kn_get(kick_decay));
    float kp = (float)kn_get(kick_pitch);
    for (int i = 0; i < frames; i++)
        a[i] = kn_sine_tick(&b->kick, kp * (1 + 5 * pitch[i] * pitch[i]));
    kn_buf_mul(a, a, env, frames);
    kn_buf_mul(a, a, vel[0], frames);
    /* hat: noise high-passed at 7.5 kHz */
    kn_ar_compute(&b->hat_amp, env, trig[1], frames, 0.0005f, (float)kn_get(hat_decay));
    kn_noise_compute(&b->noise, h, frames, 1);
    kn_svf_compute(&b->hat_hp, h, h, frames, 7500, 0.9f, KN_HP);
    kn_buf_mul(h, h, env, frames);
    kn_buf_mul(h, h, vel[1], frames);
    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) {
        kn_buf_add(out[c], a, frames, 0.9f * g);
        kn_buf_add(out[c], h, frames, g * (c & 1 ? 0.45f : 0.3f)); /* the hat a little right */
    }
}
