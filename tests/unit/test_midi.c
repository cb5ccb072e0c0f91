/*
 * test_midi.c - shm/midi.h: MIDI messages as events, route ports, the MIDI
 * out queue.
 *
 *   - every channel message kanon delivers becomes its event on the frame
 *     given, with its channel: note on, note on with velocity 0 (a note
 *     off), note off with its release velocity, CC, program, pressure;
 *     pitch bend's 14 bits: 8192 is 0, 0 is -1, 16383 is 8191/8192, 4096
 *     is -0.5;
 *   - refused: polyphonic aftertouch, system messages, a data byte above
 *     127, a message shorter than its status needs, a lone data byte;
 *   - ports: midi_in, midi_in_N, N, any; out of range (0, N > ports, more
 *     than KN_MIDI_PORTS), trailing garbage and other words are refused
 *     with a sentence that names the word;
 *   - the out queue: FIFO through wraps, full at KN_MIDI_OUTQ_CAP, a
 *     scribbled head is repaired; kn_midi_out_ok takes channel messages
 *     and the real-time bytes, refuses the rest.
 */
#include "midi.h"

#include "check.h"

static kn_ev_slot parse(uint8_t a, uint8_t b, uint8_t c, size_t len, int *rc) {
    uint8_t m[3] = {a, b, c};
    kn_ev_slot e;
    memset(&e, 0xAB, sizeof e);
    *rc = kn_midi_parse(m, len, 1234, &e);
    return e;
}

static void test_parse(void) {
    int rc;
    kn_ev_slot e = parse(0x93, 60, 100, 3, &rc);
    CHECK(rc == 0 && e.type == KN_EVQ_NOTE_ON && e.note == 60 && e.velocity == 100 &&
          e.channel == 3 && e.frame == 1234 && e.done == 0);
    e = parse(0x90, 61, 0, 3, &rc);
    CHECK(rc == 0 && e.type == KN_EVQ_NOTE_OFF && e.note == 61 && e.velocity == 0);
    e = parse(0x8F, 62, 40, 3, &rc);
    CHECK(rc == 0 && e.type == KN_EVQ_NOTE_OFF && e.velocity == 40 && e.channel == 15);
    e = parse(0xB1, 74, 127, 3, &rc);
    CHECK(rc == 0 && e.type == KN_EVQ_CC && e.note == 74 && e.value == 127 && e.channel == 1);
    e = parse(0xC2, 5, 0, 2, &rc);
    CHECK(rc == 0 && e.type == KN_EVQ_PROGRAM && e.note == 5 && e.channel == 2);
    e = parse(0xD0, 99, 0, 2, &rc);
    CHECK(rc == 0 && e.type == KN_EVQ_PRESSURE && e.value == 99);
    e = parse(0xE0, 0, 64, 3, &rc); /* 64 * 128 = 8192: the centre */
    CHECK(rc == 0 && e.type == KN_EVQ_BEND && e.value == 0);
    e = parse(0xE0, 0, 0, 3, &rc);
    CHECK(rc == 0 && e.value == -1);
    e = parse(0xE0, 127, 127, 3, &rc);
    CHECK(rc == 0 && e.value == 8191.0 / 8192.0);
    e = parse(0xE0, 0, 32, 3, &rc);
    CHECK(rc == 0 && e.value == -0.5);
    /* refused */
    parse(0xA0, 60, 10, 3, &rc);
    CHECK(rc == -1);
    parse(0xF8, 0, 0, 1, &rc);
    CHECK(rc == -1);
    parse(0xF0, 1, 2, 3, &rc);
    CHECK(rc == -1);
    parse(0x90, 128, 1, 3, &rc);
    CHECK(rc == -1);
    parse(0x90, 60, 200, 3, &rc);
    CHECK(rc == -1);
    parse(0x90, 60, 1, 2, &rc);
    CHECK(rc == -1);
    parse(0x40, 60, 1, 3, &rc);
    CHECK(rc == -1);
    parse(0xC0, 1, 0, 1, &rc);
    CHECK(rc == -1);
}

static void test_ports(void) {
    int p = 99;
    char why[256];
    CHECK(kn_midi_port_parse("midi_in", 1, &p, why, sizeof why) == 0 && p == 0);
    CHECK(kn_midi_port_parse("midi_in_2", 2, &p, why, sizeof why) == 0 && p == 1);
    CHECK(kn_midi_port_parse("3", 3, &p, why, sizeof why) == 0 && p == 2);
    CHECK(kn_midi_port_parse("any", 0, &p, why, sizeof why) == 0 && p == -1);
    static const char *const bad[] = {"midi_in_3", "0", "midi_in_0", "midi_in_2x", "2x",
                                      "midi_out",  "",  "midi_in_9", "-1",         "9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        CHECK(kn_midi_port_parse(bad[i], i == 7 || i == 9 ? 64 : 2, &p, why, sizeof why) == -1);
        char want[64];
        snprintf(want, sizeof want, "'%s'", bad[i]);
        CHECK(strstr(why, want) != NULL);
    }
}

static void test_outq(void) {
    static kn_midi_outq q;
    kn_midi_msg m = {.len = 3}, got;
    CHECK(kn_midi_outq_peek(&q, &got) == 0);
    for (uint64_t i = 0; i < 5 * KN_MIDI_OUTQ_CAP; i++) {
        m.frame = i;
        CHECK(kn_midi_outq_push(&q, &m) == 0);
        CHECK(kn_midi_outq_peek(&q, &got) == 1 && got.frame == i);
        kn_midi_outq_next(&q);
    }
    for (int i = 0; i < KN_MIDI_OUTQ_CAP; i++) CHECK(kn_midi_outq_push(&q, &m) == 0);
    CHECK(kn_midi_outq_push(&q, &m) == -1);
    atomic_store(&q.head, atomic_load(&q.tail) + 7); /* scribbled: past the tail */
    CHECK(kn_midi_outq_peek(&q, &got) == 0);
    CHECK(atomic_load(&q.head) == atomic_load(&q.tail));
    CHECK(kn_midi_outq_push(&q, &m) == 0);
    uint8_t ok1[3] = {0x90, 60, 100}, ok2[3] = {0xF8, 0, 0}, ok3[3] = {0xC0, 5, 0};
    uint8_t bad1[3] = {0x90, 160, 1}, bad2[3] = {0xF0, 0, 0}, bad3[3] = {0x12, 0, 0};
    CHECK(kn_midi_out_ok(ok1) == 3 && kn_midi_out_ok(ok2) == 1 && kn_midi_out_ok(ok3) == 2);
    CHECK(!kn_midi_out_ok(bad1) && !kn_midi_out_ok(bad2) && !kn_midi_out_ok(bad3));
}

int main(void) {
    test_parse();
    test_ports();
    test_outq();
    return check_report();
}
