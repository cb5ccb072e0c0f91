/* drums.c - a drum machine synthesised from sines and noise: kick (a sine
 * with a falling pitch envelope), snare (a tuned sine plus band-passed
 * noise), closed and open hi-hats (high-passed noise), on a 16-step grid.
 *
 *   kanon play examples/drums.c
 *   kanon set drums.bpm 100          tempo (the grid stays continuous)
 *   kanon set drums.kick_pitch 40    kick body, Hz     drums.kick_decay 0.8  s
 *   kanon set drums.snare_tone 0.3   sine vs noise     drums.hat_decay 0.08  s
 *   kanon set drums.swing 0.3        delays every second sixteenth (0..0.5 of a step)
 *   Edit the patterns below ('x' hit, 'X' accent, '.' rest) and save.
 *
 * Rhythm: the step is a function of k->frame through a kn_clock, so every
 * save lands on the same grid. Envelopes, filters and noise generators live
 * in the region "drums" (init once, `ready` flag): a save never cuts a
 * ringing hit short. */
#include <kanon/nodes.h>

static const char *KICK = "x...x...x...x..x";
static const char *SNARE = "....X.......X..x";
static const char *HAT = "x.x.x.x.x.x.x.xX";
static const char *OPEN = "......x.......x."; /* open hat, chokes the closed one */

typedef struct {
    int ready;
    kn_clock clk;
    kn_sine kick, snare_osc;
    kn_ar kick_amp, kick_pitch, snare_amp, hat_amp;
    kn_noise noise;
    kn_svf snare_bp, hat_hp;
    float vel[3]; /* velocity of each voice's last hit (kick, snare, hat) */
    int hat_open; /* the last hat was an open one */
    long last_step;
} Drums;
static Drums *d;
static kn_param *bpm, *swing, *kick_pitch, *kick_decay, *snare_tone, *hat_decay, *level;

void setup(kn_ctx *k) {
    d = kn_state(k, "drums", sizeof *d);
    if (!d->ready) {
        kn_clock_init(&d->clk, k->rate, 120);
        kn_sine_init(&d->kick, k->rate, 0);
        kn_sine_init(&d->snare_osc, k->rate, 0);
        kn_ar_init(&d->kick_amp, k->rate);
        kn_ar_init(&d->kick_pitch, k->rate);
        kn_ar_init(&d->snare_amp, k->rate);
        kn_ar_init(&d->hat_amp, k->rate);
        kn_noise_init(&d->noise, 0x1234567u);
        kn_svf_init(&d->snare_bp, k->rate);
        kn_svf_init(&d->hat_hp, k->rate);
        d->last_step = -1;
        d->ready = 1;
    }
    bpm = kn_param_decl(k, "bpm", 60, 200, 120);
    swing = kn_param_decl(k, "swing", 0, 0.5, 0);
    kick_pitch = kn_param_decl(k, "kick_pitch", 30, 90, 48);
    kick_decay = kn_param_decl(k, "kick_decay", 0.1, 2, 0.5);
    snare_tone = kn_param_decl(k, "snare_tone", 0, 1, 0.35);
    hat_decay = kn_param_decl(k, "hat_decay", 0.01, 0.5, 0.05);
    level = kn_param_decl(k, "level", 0, 1, 0.7);
}

/* scratch buffers (k->block is at most 8192) */
static float trig[3][8192], vel[3][8192], env[8192], pitch[8192], a[8192], b[8192], bus[8192];

static float hit(const char *pat, long step) {
    char c = pat[step & 15];
    return c == 'X' ? 1.0f : c == 'x' ? 0.6f : 0.0f;
}

void process(kn_ctx *k, float **out, int frames) {
    kn_clock_run(&d->clk, k->frame, NULL, NULL, frames, kn_get(bpm), 4); /* applies tempo changes */
    /* per sample: has a (swung) sixteenth started? which voices does it hit? */
    double sw = kn_get(swing);
    for (int i = 0; i < frames; i++) {
        double pos = kn_clock_beat(&d->clk, k->frame + (uint64_t)i) * 4; /* in sixteenths */
        long st = (long)floor(pos + 1e-9);
        if ((st & 1) && pos - st < sw) st--; /* swing: odd steps start late */
        int start = st != d->last_step;
        d->last_step = st;
        float h[3] = {hit(KICK, st), hit(SNARE, st), hit(HAT, st)};
        if (start && hit(OPEN, st) > 0)
            h[2] = hit(OPEN, st), d->hat_open = 1;
        else if (start && h[2] > 0)
            d->hat_open = 0;
        for (int v = 0; v < 3; v++) {
            trig[v][i] = start && h[v] > 0 ? 1.0f : 0.0f;
            if (trig[v][i] > 0) d->vel[v] = h[v];
            vel[v][i] = d->vel[v];
        }
    }
    kn_clear(bus, frames);

    /* kick: a sine whose pitch falls from 8x to 1x over ~40 ms */
    kn_ar_run(&d->kick_pitch, trig[0], pitch, frames, 0.0005f, 0.12f);
    kn_ar_run(&d->kick_amp, trig[0], env, frames, 0.001f, (float)kn_get(kick_decay));
    float kp = (float)kn_get(kick_pitch);
    for (int i = 0; i < frames; i++)
        a[i] = kn_sine_tick(&d->kick, kp * (1 + 7 * pitch[i] * pitch[i]));
    kn_mul(a, env, a, frames);
    kn_mul(a, vel[0], a, frames);
    kn_mix(a, bus, frames, 0.9f);

    /* snare: a 185 Hz sine and noise band-passed at 1.8 kHz */
    kn_ar_run(&d->snare_amp, trig[1], env, frames, 0.001f, 0.22f);
    float tone = (float)kn_get(snare_tone);
    kn_sine_run(&d->snare_osc, a, frames, 185, tone);
    kn_noise_run(&d->noise, b, frames, 1);
    kn_svf_run(&d->snare_bp, b, b, frames, 1800, 0.8f, KN_BP);
    kn_mix(b, a, frames, 1.3f * (1 - tone));
    kn_mul(a, env, a, frames);
    kn_mul(a, vel[1], a, frames);
    kn_mix(a, bus, frames, 0.6f);

    /* hats: noise high-passed at 7 kHz; an open hat decays 5x longer */
    float hd = (float)kn_get(hat_decay) * (d->hat_open ? 5.0f : 1.0f);
    kn_ar_run(&d->hat_amp, trig[2], env, frames, 0.0005f, hd);
    kn_noise_run(&d->noise, b, frames, 1);
    kn_svf_run(&d->hat_hp, b, b, frames, 7000, 0.9f, KN_HP);
    kn_mul(b, env, b, frames);
    kn_mul(b, vel[2], b, frames);

    float g = (float)kn_get(level);
    for (int c = 0; c < k->channels; c++) {
        kn_mix(bus, out[c], frames, g);
        kn_mix(b, out[c], frames, g * (c & 1 ? 0.5f : 0.35f)); /* hats a little to the right */
    }
}
