/* feedback_delay.c - a ping-pong feedback delay: short sine blips go
 * into the left line, whose output feeds the right line, whose output
 * feeds the left again, with a low-pass in the loop so every repeat is a
 * little darker, as on a tape echo.
 *
 *   kanon play examples/feedback_delay.c --deck echo
 *   kanon set echo.time 250          delay, ms (a change glides: the pitch bends, like tape)
 *   kanon set echo.feedback 0.85     0..0.98: how long the echoes last
 *   kanon set echo.tone 1200         the loop's low-pass, Hz
 *   kanon set echo.mix 0.7           wet level (the dry blips stay)
 *   Edit PATTERN or NOTES and save: the echoes already in the lines play on.
 *
 * The two 1.36 s lines (kn_delay, 256 KiB each), the loop filters and the
 * smoothed delay time live in the region "echo" (init once, `ready`
 * flag), so a save never empties the lines; the blips' step is a function
 * of k->frame through a kn_clock. The loop is per sample (the feedback
 * crosses channels and goes through a filter), calling the kit's delay
 * and filter per sample; the blips are rendered by block. */
#include <kanon/nodes.h>

static const char *PATTERN = "x......x..x....."; /* sixteenths */
static const float NOTES[3] = {76, 83, 79};      /* the 1st, 2nd, 3rd hit of a bar */

typedef struct {
    int ready;
    kn_clock clk;
    kn_sine osc;
    kn_ar env;
    kn_delay line[2];
    kn_onepole tone[2];
    kn_smoother time; /* delay in samples, glided */
    float freq;
} Echo;
static Echo *e;
static kn_param *time_, *feedback, *tone, *mix, *bpm, *level;

void setup(kn_ctx *k) {
    e = kn_state(k, "echo", sizeof *e);
    if (!e->ready) {
        kn_clock_init(&e->clk, k->rate, 120);
        kn_sine_init(&e->osc, k->rate, 0);
        kn_ar_init(&e->env, k->rate);
        for (int c = 0; c < 2; c++) {
            kn_delay_init(&e->line[c]);
            kn_onepole_init(&e->tone[c], k->rate);
        }
        kn_smoother_init(&e->time, k->rate, (float)(0.375 * k->rate));
        e->freq = 440;
        e->ready = 1;
    }
    time_ = kn_param_decl(k, "time", 20, 1300, 375);
    feedback = kn_param_decl(k, "feedback", 0, 0.98, 0.6);
    tone = kn_param_decl(k, "tone", 200, 16000, 3000);
    mix = kn_param_decl(k, "mix", 0, 1, 0.6);
    bpm = kn_param_decl(k, "bpm", 40, 240, 120);
    level = kn_param_decl(k, "level", 0, 1, 0.7);
}

static float trig[8192], env[8192], dry[8192], wl[8192], wr[8192]; /* k->block <= 8192 */

void process(kn_ctx *k, float **out, int frames) {
    /* the blips */
    kn_clock_run(&e->clk, k->frame, trig, NULL, frames, kn_get(bpm), 4);
    for (int i = 0; i < frames; i++)
        if (trig[i] > 0) {
            long st = kn_clock_step(&e->clk, k->frame + (uint64_t)i, 4);
            int n = 0;
            for (int j = 0; j < (st & 15); j++) n += PATTERN[j] == 'x';
            if (PATTERN[st & 15] == 'x')
                e->freq = kn_mtof(NOTES[n % 3]);
            else
                trig[i] = 0;
        }
    kn_ar_run(&e->env, trig, env, frames, 0.001f, 0.15f);
    kn_sine_run(&e->osc, dry, frames, e->freq, 0.5f);
    kn_mul(dry, env, dry, frames);

    /* the loop: read both lines, then write  L <- dry + fb*lp(R),  R <- fb*lp(L) */
    float fb = (float)kn_get(feedback), fc = (float)kn_get(tone);
    float target = (float)(kn_get(time_) / 1000 * k->rate);
    for (int i = 0; i < frames; i++) {
        float d = kn_smoother_tick(&e->time, target, 0.3f);
        float l = kn_delay_read(&e->line[0], d - 1), r = kn_delay_read(&e->line[1], d - 1);
        kn_delay_tick(&e->line[0], dry[i] + fb * kn_onepole_tick(&e->tone[1], r, fc, KN_LP), 0);
        kn_delay_tick(&e->line[1], fb * kn_onepole_tick(&e->tone[0], l, fc, KN_LP), 0);
        wl[i] = l, wr[i] = r;
    }
    float g = (float)kn_get(level), m = (float)kn_get(mix);
    for (int c = 0; c < k->channels; c++) {
        kn_mix(dry, out[c], frames, g);
        kn_mix(c & 1 ? wr : wl, out[c], frames, g * m);
    }
}
