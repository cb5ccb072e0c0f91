/* ducker.c - a sidechain compressor: whatever comes in on port "in" is
 * turned down while the key on port "side" is loud, the classic pumping of
 * a bass (or a pad) under the kick. An effect deck with no sound of its
 * own: its input and its key are routed to it.
 *
 *   kanon play examples/acid.c --deck bass
 *   kanon play examples/beat.c --deck kick
 *   kanon play examples/ducker.c --deck duck
 *   kanon route bass duck               # the bass goes through the ducker...
 *   kanon unroute bass master           # ...and only through it
 *   kanon route kick duck:side --pre    # the kick is the key; it stays on the master too
 *   kanon set duck.depth 18             the most it turns down, dB
 *   kanon set duck.thresh -30           key level where ducking starts, dBFS
 *   kanon set duck.ratio 8              dB in over dB out above the threshold
 *   kanon set duck.attack 2             ms to duck        duck.release 100  ms to come back
 *   kanon set duck.focus 150            Hz: the key is low-passed, so the kick's hats do not duck
 *
 * Why --pre: a pre-fader key follows the kick's own output, not its fader,
 * so muting or riding the kick on the master (`kanon mute kick`) leaves the
 * pumping as it was. The kick keeps its master route: you hear it and the
 * bass ducking under it. For a key you do not want to hear (a ghost kick
 * that only drives the pumping), take it off the master as well:
 * `kanon unroute kick master`. Played or rendered alone it is silent (no
 * input), and with no key it passes its input through unchanged.
 *
 * The detector is plain C (the kit's compressor keys itself from its own
 * input): the key's channels averaged and low-passed (a kit SVF), a peak
 * follower, a gain computer in dB with threshold, ratio and a floor of
 * -depth, smoothed with separate attack and release, one gain for every
 * channel (stereo stays in place). Its state (the filter, the envelope,
 * the reduction) is in the region "duck", so a save never jumps. */
#include <kanon/nodes.h>

typedef struct {
    int ready;
    kn_svf focus; /* the key's low-pass */
    float env;    /* the key's peak envelope, linear */
    float gr;     /* the gain reduction, dB (<= 0) */
} Duck;
static Duck *d;
static kn_param *thresh, *ratio, *depth, *attack, *release, *makeup, *focus;

void setup(kn_ctx *k) {
    d = kn_state(k, "duck", sizeof *d); /* new: no envelope, no reduction */
    if (!d->ready) {
        kn_svf_init(&d->focus, k->rate);
        d->ready = 1;
    }
    kn_in(k, "side"); /* declares the key's port */
    thresh = kn_param_decl(k, "thresh", -60, 0, -30);
    ratio = kn_param_decl(k, "ratio", 1, 20, 8);
    depth = kn_param_decl(k, "depth", 0, 60, 24);
    attack = kn_param_decl(k, "attack", 0.1, 50, 2);
    release = kn_param_decl(k, "release", 10, 2000, 100);
    makeup = kn_param_decl(k, "makeup", 0, 12, 0);
    focus = kn_param_decl(k, "focus", 40, 20000, 150);
}

void process(kn_ctx *k, float **out, int frames) {
    const float *const *in = kn_in(k, "in"), *const *side = kn_in(k, "side");
    float th = (float)kn_get(thresh), slope = 1 - 1 / (float)kn_get(ratio);
    float floor_db = -(float)kn_get(depth), mk = kn_dbtoa((float)kn_get(makeup));
    float fc = (float)kn_get(focus), share = 1.0f / (float)k->channels;
    /* one-pole coefficients: 1 - 1/e of the way in attack (release) ms; the
     * envelope itself falls with a fixed 10 ms, so the release is the gain's */
    float att = expf(-1.0f / (float)(kn_get(attack) / 1000 * k->rate));
    float rel = expf(-1.0f / (float)(kn_get(release) / 1000 * k->rate));
    float fall = expf(-1.0f / (float)(0.010 * k->rate));
    for (int i = 0; i < frames; i++) {
        float key = 0;
        for (int c = 0; c < k->channels; c++) key += side[c][i] * share;
        float peak = fabsf(kn_svf_tick(&d->focus, key, fc, 0.707f, KN_LP));
        /* the envelope jumps up to a peak and falls with the release */
        d->env = peak > d->env ? peak : d->env * fall;
        if (d->env < 1e-9f) d->env = 0; /* no denormals in the state */
        float over = kn_atodb(d->env > 1e-6f ? d->env : 1e-6f) - th;
        float want = over > 0 ? -over * slope : 0;
        if (want < floor_db) want = floor_db;
        /* towards more reduction at the attack's rate, back at the release's */
        float a = want < d->gr ? att : rel;
        d->gr = want + (d->gr - want) * a;
        if (want == 0 && d->gr > -1e-6f) d->gr = 0; /* back: exactly unity, no denormals */
        float g = kn_dbtoa(d->gr) * mk;
        for (int c = 0; c < k->channels; c++) out[c][i] = in[c][i] * g;
    }
}
