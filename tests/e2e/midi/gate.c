/* Steps to velocity/256 at a note on's sample, to 0 at its note off's, so
 * an onset's frame is exact in the output; and sends each note back out of
 * kanon:midi_out on that very sample (kn_midi_out, offset 0 in event()).
 * MIDI's other messages step it too, each to a level that says what came:
 * CC 74 to value/512, pitch bend to 0.25 + value/8, channel pressure to
 * value/1024, program change to program/2048 (all exact in float). Its
 * knob lv (0..127, for MIDI learn) steps it to lv/512 at its event's sample. */
#include <kanon.h>

static float *lvl;
static kn_param *lv;

void setup(kn_ctx *k) {
    lvl = kn_state(k, "lvl", sizeof(float));
    lv = kn_param_decl(k, "lv", 0, 127, 0);
}

void event(kn_ctx *k, const kn_event *e) {
    if (e->type == KN_EV_NOTE_ON) {
        *lvl = (float)e->velocity / 256.0f;
        kn_midi_out(k, 0, 0x90 | e->channel, e->note, e->velocity);
    }
    if (e->type == KN_EV_NOTE_OFF) {
        *lvl = 0;
        kn_midi_out(k, 0, 0x80 | e->channel, e->note, e->velocity);
    }
    if (e->type == KN_EV_CC && e->control == 74) *lvl = (float)(e->value / 512);
    if (e->type == KN_EV_BEND) *lvl = (float)(0.25 + e->value / 8);
    if (e->type == KN_EV_PRESSURE) *lvl = (float)(e->value / 1024);
    if (e->type == KN_EV_PROGRAM) *lvl = (float)e->control / 2048.0f;
    if (e->type == KN_EV_PARAM && e->param == lv) *lvl = (float)(e->value / 512);
}

void process(kn_ctx *k, float **out, int frames) {
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = *lvl;
}
