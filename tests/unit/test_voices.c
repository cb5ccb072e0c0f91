// link: nodes-c/voices.c
/*
 * test_voices.c - the voice allocator (kn_voices).
 *
 *   - an 8-note chord on 8 voices takes 8 distinct voices, gates on,
 *     each started once (kn_voices_started clears itself);
 *   - a 9th note steals the oldest (KN_STEAL_OLDEST) or the quietest
 *     reported (KN_STEAL_QUIETEST), and released voices are stolen before
 *     held ones; a repeated note restarts its own voice;
 *   - a released voice stays allocated (gate 0) until its reported level
 *     is below the threshold, or it is freed;
 *   - the sustain pedal (CC 64) turns note-offs into SUSTAINED until it
 *     goes up; a key pressed again while sustained is held again; CC 123
 *     lets notes go (the pedal still holds them), CC 120 frees everything;
 *   - MONO: last-note priority, back to the key still down, restart at
 *     every change; LEGATO: no restart while a key is down;
 *   - kn_voices_set: fewer voices frees the others; a new mode lets go;
 *   - out-of-range voices read as free; a NOTE_ON of velocity 0 is an off.
 */
#include <string.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

static int on(kn_voices *s, int note, int vel) {
    kn_event e = {.type = KN_EV_NOTE_ON, .note = note, .velocity = vel};
    return kn_voices_event(s, &e);
}
static void off(kn_voices *s, int note) {
    kn_event e = {.type = KN_EV_NOTE_OFF, .note = note};
    kn_voices_event(s, &e);
}
static void cc(kn_voices *s, int control, int value) {
    kn_event e = {.type = KN_EV_CC, .control = control, .value = value};
    kn_voices_event(s, &e);
}
/* The voice playing `note`, or -1. */
static int who(const kn_voices *s, int note) {
    for (int v = 0; v < KN_VOICES_MAX; v++)
        if (kn_voices_active(s, v) && kn_voices_note(s, v) == note) return v;
    return -1;
}

static void test_chord(void) {
    kn_voices s;
    kn_voices_init(&s, 48000, 8, KN_VOICES_POLY, KN_STEAL_OLDEST);
    int used = 0;
    for (int i = 0; i < 8; i++) {
        int v = on(&s, 60 + i, 100);
        CHECK(v >= 0 && v < 8 && !(used & 1 << v));
        used |= 1 << v;
        CHECK(kn_voices_gate(&s, v) && kn_voices_velocity(&s, v) == 100);
    }
    CHECK(used == 0xff && kn_voices_playing(&s) == 8);
    for (int v = 0; v < 8; v++) {
        CHECK(kn_voices_started(&s, v) == 1);
        CHECK(kn_voices_started(&s, v) == 0);
    }
    /* out of range: free */
    CHECK(!kn_voices_active(&s, -1) && !kn_voices_active(&s, KN_VOICES_MAX) &&
          kn_voices_state(&s, 99) == KN_VOICE_FREE && !kn_voices_started(&s, 40));
    /* a repeated note restarts its own voice */
    int v62 = who(&s, 62);
    CHECK(on(&s, 62, 50) == v62 && kn_voices_started(&s, v62) && kn_voices_velocity(&s, v62) == 50);
    CHECK(kn_voices_playing(&s) == 8);
    /* velocity 0 is a note off */
    CHECK(on(&s, 63, 0) == -1 && kn_voices_state(&s, who(&s, 63)) == KN_VOICE_RELEASED);
}

static void test_steal(void) {
    kn_voices s;
    kn_voices_init(&s, 48000, 4, KN_VOICES_POLY, KN_STEAL_OLDEST);
    for (int i = 0; i < 4; i++) on(&s, 60 + i, 100);
    /* oldest: 60 goes first, then 61 */
    int v60 = who(&s, 60);
    CHECK(on(&s, 70, 100) == v60 && who(&s, 60) < 0);
    int v61 = who(&s, 61);
    CHECK(on(&s, 71, 100) == v61 && who(&s, 61) < 0);
    /* a released voice goes before any held one, even a newer one */
    off(&s, 71);
    int v71 = who(&s, 71);
    CHECK(kn_voices_active(&s, v71) && !kn_voices_gate(&s, v71));
    CHECK(on(&s, 72, 100) == v71 && who(&s, 71) < 0 && who(&s, 62) >= 0);

    /* quietest: the lowest report; ties to the oldest */
    kn_voices_init(&s, 48000, 4, KN_VOICES_POLY, KN_STEAL_QUIETEST);
    for (int i = 0; i < 4; i++) on(&s, 60 + i, 100);
    for (int i = 0; i < 4; i++) kn_voices_level(&s, who(&s, 60 + i), 0.5f);
    kn_voices_level(&s, who(&s, 62), 0.2f);
    int v62 = who(&s, 62);
    CHECK(on(&s, 80, 100) == v62 && who(&s, 62) < 0);
    /* 80 counts as loud as its velocity (100/127) until reported: next is a tie at 0.5, oldest */
    int v60b = who(&s, 60);
    CHECK(on(&s, 81, 100) == v60b);
    /* unreported quiet note: its velocity */
    kn_voices_init(&s, 48000, 2, KN_VOICES_POLY, KN_STEAL_QUIETEST);
    on(&s, 60, 120);
    int soft = on(&s, 61, 10);
    CHECK(on(&s, 62, 100) == soft);
    /* the same chord with oldest stealing takes 60 */
    kn_voices_init(&s, 48000, 2, KN_VOICES_POLY, KN_STEAL_OLDEST);
    int first = on(&s, 60, 120);
    on(&s, 61, 10);
    CHECK(on(&s, 62, 100) == first);
}

static void test_release(void) {
    kn_voices s;
    kn_voices_init(&s, 48000, 4, KN_VOICES_POLY, KN_STEAL_OLDEST);
    int v = on(&s, 60, 100);
    off(&s, 60);
    CHECK(kn_voices_state(&s, v) == KN_VOICE_RELEASED && kn_voices_active(&s, v) &&
          !kn_voices_gate(&s, v));
    kn_voices_level(&s, v, 0.3f);
    CHECK(kn_voices_active(&s, v));
    kn_voices_level(&s, v, 2e-4f);
    CHECK(kn_voices_active(&s, v));
    kn_voices_level(&s, v, 5e-5f); /* below -80 dB: done */
    CHECK(!kn_voices_active(&s, v) && kn_voices_playing(&s) == 0);
    /* a held voice is never freed by its level */
    v = on(&s, 61, 100);
    kn_voices_level(&s, v, 0);
    CHECK(kn_voices_state(&s, v) == KN_VOICE_HELD);
    /* the caller frees */
    kn_voices_free(&s, v);
    CHECK(!kn_voices_active(&s, v));
    /* a note off for a note not playing changes nothing */
    v = on(&s, 62, 100);
    off(&s, 99);
    CHECK(kn_voices_state(&s, v) == KN_VOICE_HELD);
}

static void test_sustain(void) {
    kn_voices s;
    kn_voices_init(&s, 48000, 8, KN_VOICES_POLY, KN_STEAL_OLDEST);
    int a = on(&s, 60, 100);
    cc(&s, 64, 127);
    int b = on(&s, 64, 100);
    off(&s, 60);
    off(&s, 64);
    CHECK(kn_voices_state(&s, a) == KN_VOICE_SUSTAINED && kn_voices_gate(&s, a));
    CHECK(kn_voices_state(&s, b) == KN_VOICE_SUSTAINED && kn_voices_gate(&s, b));
    /* a sustained note's level does not free it */
    kn_voices_level(&s, a, 0);
    CHECK(kn_voices_active(&s, a));
    int c = on(&s, 67, 100); /* held through the pedal's lift */
    /* pressed again while sustained: held again, same voice */
    CHECK(on(&s, 64, 90) == b && kn_voices_state(&s, b) == KN_VOICE_HELD);
    cc(&s, 64, 63); /* < 64: up */
    CHECK(kn_voices_state(&s, a) == KN_VOICE_RELEASED && !kn_voices_gate(&s, a));
    CHECK(kn_voices_state(&s, b) == KN_VOICE_HELD && kn_voices_state(&s, c) == KN_VOICE_HELD);
    /* all notes off: the pedal holds them */
    cc(&s, 64, 64);
    cc(&s, 123, 0);
    CHECK(kn_voices_state(&s, b) == KN_VOICE_SUSTAINED &&
          kn_voices_state(&s, c) == KN_VOICE_SUSTAINED);
    cc(&s, 64, 0);
    CHECK(kn_voices_state(&s, b) == KN_VOICE_RELEASED &&
          kn_voices_state(&s, c) == KN_VOICE_RELEASED);
    cc(&s, 123, 0);
    on(&s, 70, 100);
    cc(&s, 123, 0);
    CHECK(kn_voices_state(&s, who(&s, 70)) == KN_VOICE_RELEASED);
    /* all sound off */
    on(&s, 71, 100);
    cc(&s, 120, 0);
    CHECK(kn_voices_playing(&s) == 0);
    /* other controllers change nothing */
    int d = on(&s, 72, 100);
    cc(&s, 74, 127);
    cc(&s, 1, 127);
    CHECK(kn_voices_state(&s, d) == KN_VOICE_HELD && kn_voices_playing(&s) == 1);
}

static void test_mono(void) {
    kn_voices s;
    kn_voices_init(&s, 48000, 8, KN_VOICES_MONO, KN_STEAL_OLDEST);
    CHECK(on(&s, 60, 100) == 0 && kn_voices_started(&s, 0));
    CHECK(on(&s, 64, 90) == 0 && kn_voices_note(&s, 0) == 64 && kn_voices_started(&s, 0));
    CHECK(kn_voices_playing(&s) == 1);
    off(&s, 64); /* back to 60, still down: restarted in MONO */
    CHECK(kn_voices_note(&s, 0) == 60 && kn_voices_gate(&s, 0) && kn_voices_started(&s, 0) &&
          kn_voices_velocity(&s, 0) == 100);
    on(&s, 67, 100);
    kn_voices_started(&s, 0);
    off(&s, 60); /* not the top: nothing changes */
    CHECK(kn_voices_note(&s, 0) == 67 && !kn_voices_started(&s, 0));
    off(&s, 67);
    CHECK(kn_voices_state(&s, 0) == KN_VOICE_RELEASED && kn_voices_note(&s, 0) == 67);
    /* the pedal in mono: a let-go top keeps sounding until the pedal lifts */
    on(&s, 60, 100);
    cc(&s, 64, 127);
    on(&s, 62, 100);
    off(&s, 62);
    CHECK(kn_voices_note(&s, 0) == 62 && kn_voices_gate(&s, 0));
    cc(&s, 64, 0); /* 62 dropped, 60 still down */
    CHECK(kn_voices_note(&s, 0) == 60 && kn_voices_gate(&s, 0));
    off(&s, 60);
    CHECK(!kn_voices_gate(&s, 0));
    /* more keys than remembered: the oldest is forgotten, nothing overflows */
    for (int i = 0; i < KN_VOICES_KEYS + 5; i++) on(&s, 40 + i, 100);
    CHECK(s.keys == KN_VOICES_KEYS && kn_voices_note(&s, 0) == 40 + KN_VOICES_KEYS + 4);
    cc(&s, 123, 0);
    CHECK(!kn_voices_gate(&s, 0) && s.keys == 0);

    /* legato: restart only from silence */
    kn_voices_set(&s, 8, KN_VOICES_LEGATO, KN_STEAL_OLDEST);
    CHECK(!kn_voices_gate(&s, 0));
    on(&s, 60, 100);
    CHECK(kn_voices_started(&s, 0));
    on(&s, 62, 80);
    CHECK(kn_voices_note(&s, 0) == 62 && !kn_voices_started(&s, 0) &&
          kn_voices_velocity(&s, 0) == 80);
    off(&s, 62);
    CHECK(kn_voices_note(&s, 0) == 60 && !kn_voices_started(&s, 0) && kn_voices_gate(&s, 0));
    off(&s, 60);
    CHECK(!kn_voices_gate(&s, 0));
    on(&s, 65, 100);
    CHECK(kn_voices_started(&s, 0));
}

static void test_set(void) {
    kn_voices s;
    kn_voices_init(&s, 48000, 99, KN_VOICES_POLY, KN_STEAL_OLDEST);
    CHECK(s.voices == KN_VOICES_MAX);
    for (int i = 0; i < KN_VOICES_MAX; i++) on(&s, 30 + i, 100);
    CHECK(kn_voices_playing(&s) == KN_VOICES_MAX);
    kn_voices_set(&s, KN_VOICES_MAX, KN_VOICES_POLY, KN_STEAL_OLDEST); /* no change */
    CHECK(kn_voices_playing(&s) == KN_VOICES_MAX && kn_voices_gate(&s, 0));
    kn_voices_set(&s, 4, KN_VOICES_POLY, KN_STEAL_OLDEST);
    CHECK(kn_voices_playing(&s) == 4 && kn_voices_gate(&s, 3));
    kn_voices_set(&s, 4, KN_VOICES_MONO, KN_STEAL_OLDEST);
    CHECK(kn_voices_playing(&s) == 4 && !kn_voices_gate(&s, 0) && !kn_voices_gate(&s, 3));
    kn_voices_init(&s, 48000, 0, 7, 9);
    CHECK(s.voices == 1 && s.mode == KN_VOICES_LEGATO && s.steal == KN_STEAL_OLDEST);
}

/* A struct of garbage (a user's struct edited around it): every call stays
 * in bounds (ASan/valgrind would say otherwise) and the allocator recovers. */
static void test_garbage(void) {
    kn_voices s;
    for (int fill = 0; fill < 3; fill++) {
        memset(&s, fill == 0 ? 0xff : fill == 1 ? 0x7f : 0x80, sizeof s);
        for (int mode = 0; mode < 2; mode++) {
            if (mode) s.mode = KN_VOICES_MONO;
            on(&s, 60, 100);
            off(&s, 60);
            cc(&s, 64, 127);
            cc(&s, 64, 0);
            cc(&s, 123, 0);
            for (int v = -1; v <= KN_VOICES_MAX; v++) {
                kn_voices_level(&s, v, 0);
                (void)kn_voices_started(&s, v);
                (void)kn_voices_gate(&s, v);
            }
            (void)kn_voices_playing(&s);
        }
        kn_voices_init(&s, 48000, 8, KN_VOICES_POLY, KN_STEAL_OLDEST);
        CHECK(on(&s, 60, 100) >= 0 && kn_voices_playing(&s) == 1);
    }
}

int main(void) {
    test_chord();
    test_steal();
    test_release();
    test_sustain();
    test_mono();
    test_set();
    test_garbage();
    return check_report();
}
