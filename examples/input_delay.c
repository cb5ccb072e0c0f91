/* input_delay.c - an echo on the audio input: a microphone, a guitar or a
 * synth plugged into the sound card comes in on port "in" and goes out
 * with tape-style echoes (a feedback delay per side, a low-pass in each
 * loop, the right side a little later than the left).
 *
 *   kanon up --inputs 2                      # open the device's first two inputs
 *   kanon play examples/input_delay.c --deck echo
 *   kanon route in echo                      # both inputs (in:1 for the first only)
 *   kanon set echo.time 300          delay, ms (a change glides: the pitch bends, like tape)
 *   kanon set echo.feedback 0.6      0..0.95: how long the echoes last
 *   kanon set echo.tone 2500         the loops' low-pass, Hz: each repeat a little darker
 *   kanon set echo.spread 30         ms the right side lags the left (0: mono echoes)
 *   kanon set echo.wet 0.5           echo level    echo.dry 0  (echoes only)
 *
 * The input is not on the master by itself: this deck plays it (dry) and
 * its echoes. Mind the loop a microphone makes with loudspeakers; use
 * headphones, or `echo.dry 0`. Any deck can be routed here instead of the
 * input (`kanon route drums echo`). Played or rendered alone it is
 * silent.
 *
 * The lines (kn_delay, 256 KiB each), the loop filters and the glided
 * delay times live in the region "echo" (init once, `ready` flag), so a
 * save never empties the lines. */
#include <kanon/nodes.h>

typedef struct {
    int ready;
    kn_delay line[2];
    kn_onepole tone[2];
    kn_smoother time[2]; /* each side's delay in samples, glided */
} Echo;
static Echo *e;
static kn_param *time_, *feedback, *tone, *spread, *wet, *dry;

void setup(kn_ctx *k) {
    e = kn_state(k, "echo", sizeof *e);
    if (!e->ready) {
        for (int c = 0; c < 2; c++) {
            kn_delay_init(&e->line[c], k->rate);
            kn_onepole_init(&e->tone[c], k->rate);
            kn_smoother_init(&e->time[c], k->rate, (float)(0.3 * k->rate));
        }
        e->ready = 1;
    }
    time_ = kn_param_decl(k, "time", 20, 1300, 300);
    feedback = kn_param_decl(k, "feedback", 0, 0.95, 0.45);
    tone = kn_param_decl(k, "tone", 200, 16000, 2500);
    spread = kn_param_decl(k, "spread", 0, 100, 20);
    wet = kn_param_decl(k, "wet", 0, 1, 0.5);
    dry = kn_param_decl(k, "dry", 0, 1, 1);
}

void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in");
    float fb = (float)kn_get(feedback), fc = (float)kn_get(tone);
    float w = (float)kn_get(wet), dr = (float)kn_get(dry);
    float target[2];
    target[0] = (float)(kn_get(time_) / 1000 * k->rate);
    target[1] = target[0] + (float)(kn_get(spread) / 1000 * k->rate);
    int sides = k->channels < 2 ? k->channels : 2;
    for (int c = 0; c < sides; c++) { /* channel 0: the left line, 1: the right one */
        const float *x = in[c];
        for (int i = 0; i < frames; i++) {
            float dt = kn_smoother_tick(&e->time[c], target[c], 0.3f);
            float y = kn_delay_read(&e->line[c], dt - 1);
            kn_delay_tick(&e->line[c], x[i] + fb * kn_onepole_tick(&e->tone[c], y, fc, KN_LP), 0);
            out[c][i] = dr * x[i] + w * y;
        }
    }
    /* more than two channels: the others get the left or right side's mix */
    for (int c = 2; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = out[c & 1][i];
}
