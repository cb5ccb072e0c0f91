/*
 * test_timeline.c - shm/timeline.h: the tempo map, the grid, the seqlock
 * and the event queue.
 *
 *   - tempo math: beats at constant tempo; a step and a ramp appended with
 *     kn_tempo_change keep the beat continuous (no jump at the change, the
 *     ramp's end meets the constant part) and strictly increasing, frame
 *     by frame, through several changes; the tempo inside a ramp is linear
 *     in time; the ramp's length in frames covers exactly the beats asked
 *     for; more changes than KN_TEMPO_SEGS keep the newest ones and still
 *     agree with the old ones' beats where they overlap;
 *   - the inverse: kn_tempo_frame(kn_tempo_beat(f)) == f (to 1e-6 frame)
 *     before, inside and after ramps, accelerating and slowing down;
 *   - rounding: at 48 kHz and 120 bpm beat 1.01 is frame 24240 (not 24241),
 *     beat 1 is 24000; the grid: a frame on a grid line is its own answer,
 *     any other goes to the next line; quant 0 is `from`; fractional quants;
 *     a grid frame's beat is at or past the line and the frame before it is
 *     not; at 44.1 kHz and 90 bpm every sixteenth that is a whole frame
 *     lands on it;
 *   - kn_tempo_valid refuses NaN, out-of-range tempi and bars, segments out
 *     of order; kn_tempo_change refuses bad input and leaves the map;
 *   - kn_tempo_set (Link's phase alignment): the beat jumps to the given
 *     one exactly at the step's frame, forwards or backwards, and runs at
 *     the new tempo from there; frames before it keep their beats; the
 *     inverse finds the later frame of a beat played twice; the same frame
 *     again replaces the step; a frame before the newest segment, a beat
 *     below the previous segment's start, bad tempi, bars and beats are
 *     refused and leave the map;
 *   - the seqlock: a reader racing a writer thread that publishes two
 *     different maps never returns a mix of them; an unchanged seq costs no
 *     copy; a seq stuck odd makes the reader give up after KN_TEMPO_TRIES
 *     and keep its copy; a garbage map is refused;
 *   - the event queue: FIFO through many wraps; full at KN_EVQ_CAP; events
 *     out of time order are taken when due, the retired prefix only moves
 *     past taken ones; garbage head (past the tail) and tail (far ahead)
 *     are clamped, and the queue heals; kn_evq_copy gives a private copy
 *     whose takes leave the original untouched.
 */
#include "timeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define RATE 48000.0

static void test_constant(void) {
    kn_tempo_map m;
    kn_tempo_init(&m);
    CHECK(kn_tempo_valid(&m));
    CHECK(kn_tempo_beat(&m, RATE, 0) == 0);
    CHECK(kn_tempo_beat(&m, RATE, 24000) == 1);
    CHECK(kn_tempo_bpm(&m, RATE, 1e9) == 120 && kn_tempo_bar(&m, 5) == 4);
    CHECK(kn_tempo_beat(&m, RATE, -24000) == -1); /* extrapolated backwards */
    CHECK(kn_tempo_beat_frame(&m, RATE, 1.01) == 24240);
    CHECK(kn_tempo_beat_frame(&m, RATE, 1) == 24000);
    CHECK(kn_tempo_beat_frame(&m, RATE, 1.0000001) == 24001);
    CHECK(kn_tempo_beat_frame(&m, RATE, 0) == 0);
    /* every hundredth of a beat for 100 beats is a whole frame: exactly it */
    int bad = 0;
    for (int i = 0; i <= 10000; i++)
        bad += kn_tempo_beat_frame(&m, RATE, i / 100.0) != (uint64_t)i * 240;
    CHECK(bad == 0);
    /* 44.1 kHz, 90 bpm: a sixteenth is 7350 frames */
    kn_tempo_map n;
    kn_tempo_init(&n);
    CHECK(kn_tempo_change(&n, 44100, 0, 90, 3, 0) == 0);
    CHECK(kn_tempo_kept(&n) == 1 && kn_tempo_bar(&n, 0) == 3);
    bad = 0;
    for (int i = 0; i < 4000; i++) bad += kn_tempo_beat_frame(&n, 44100, i * 0.25) != 7350u * i;
    CHECK(bad == 0);
    /* beat 1.01 at 90 bpm, 48 kHz: 1.01 * 32000 */
    kn_tempo_init(&n);
    kn_tempo_change(&n, RATE, 0, 90, 4, 0);
    CHECK(kn_tempo_beat_frame(&n, RATE, 1.01) == 32320);
}

static void test_grid(void) {
    kn_tempo_map m;
    kn_tempo_init(&m);
    CHECK(kn_tempo_grid(&m, RATE, 0, 4) == 0);         /* on a line: itself */
    CHECK(kn_tempo_grid(&m, RATE, 1, 4) == 96000);     /* next bar */
    CHECK(kn_tempo_grid(&m, RATE, 96000, 4) == 96000); /* on it */
    CHECK(kn_tempo_grid(&m, RATE, 95999, 4) == 96000);
    CHECK(kn_tempo_grid(&m, RATE, 96001, 1) == 120000);
    CHECK(kn_tempo_grid(&m, RATE, 12345, 0) == 12345);
    CHECK(kn_tempo_grid(&m, RATE, 12345, -1) == 12345);
    CHECK(kn_tempo_grid(&m, RATE, 1, 0.25) == 6000);
    CHECK(kn_tempo_grid(&m, RATE, 24239, 1.01) == 24240);
    /* a third of a beat at 120 bpm is 8000 frames: exact */
    CHECK(kn_tempo_grid(&m, RATE, 8001, 1.0 / 3) == 16000);
    /* a grid line that is not a whole frame: the first frame past it */
    kn_tempo_change(&m, RATE, 0, 97, 4, 0); /* a beat is 29690.72... frames */
    uint64_t f = kn_tempo_grid(&m, RATE, 1, 1);
    CHECK(kn_tempo_beat(&m, RATE, (double)f) >= 1 && kn_tempo_beat(&m, RATE, (double)f - 1) < 1);
    CHECK(f == 29691);
    /* after a ramp, at any frame: the result is on or past the line */
    kn_tempo_change(&m, RATE, 100000, 141, 4, 3);
    int bad = 0;
    for (uint64_t from = 0; from < 600000; from += 997) {
        uint64_t g = kn_tempo_grid(&m, RATE, from, 0.5);
        double b = kn_tempo_beat(&m, RATE, (double)g), line = floor(b * 2 + 1e-9) / 2;
        double prev = kn_tempo_beat(&m, RATE, (double)g - 1);
        bad += g < from || fabs(b - line) * 2 > 1e-3 * 2 || (g > from && prev >= line);
    }
    CHECK(bad == 0);
}

/* Beat continuity and monotonicity frame by frame over [a, b). */
static int continuous(const kn_tempo_map *m, double rate, uint64_t a, uint64_t b) {
    double max_step = KN_BPM_MAX / (60 * rate) * 1.000001, prev = kn_tempo_beat(m, rate, (double)a);
    for (uint64_t f = a + 1; f < b; f++) {
        double x = kn_tempo_beat(m, rate, (double)f);
        if (!(x > prev) || x - prev > max_step) {
            printf("  beat not continuous at frame %llu: %.17g after %.17g\n",
                   (unsigned long long)f, x, prev);
            return 0;
        }
        prev = x;
    }
    return 1;
}

static void test_changes(void) {
    kn_tempo_map m;
    kn_tempo_init(&m);
    /* a step at frame 50000 (beat 50000/24000) to 60 bpm */
    CHECK(kn_tempo_change(&m, RATE, 50000, 60, 4, 0) == 0);
    CHECK(kn_tempo_kept(&m) == 2);
    double b0 = 50000.0 / 24000;
    CHECK(fabs(kn_tempo_beat(&m, RATE, 50000) - b0) < 1e-12);
    CHECK(fabs(kn_tempo_beat(&m, RATE, 98000) - (b0 + 1)) < 1e-12); /* 60 bpm: a beat per s */
    CHECK(kn_tempo_bpm(&m, RATE, 49999) == 120 && kn_tempo_bpm(&m, RATE, 50000) == 60);
    CHECK(fabs(kn_tempo_beat(&m, RATE, 25000) - 25000.0 / 24000) < 1e-12); /* old segment */
    /* a ramp from 60 to 180 over 8 beats, starting at frame 146000 */
    CHECK(kn_tempo_change(&m, RATE, 146000, 180, 4, 8) == 0);
    const kn_tempo_seg *r = kn_tempo_newest(&m);
    CHECK(r->bpm == 60 && r->bpm_to == 180);
    /* 8 beats at a mean of 120 bpm: 4 s = 192000 frames */
    CHECK(r->ramp == 192000);
    double rb = r->beat;
    CHECK(fabs(kn_tempo_beat(&m, RATE, 146000 + 192000) - (rb + 8)) < 1e-9);
    CHECK(fabs(kn_tempo_bpm(&m, RATE, 146000 + 96000) - 120) < 1e-9); /* linear in time */
    CHECK(kn_tempo_bpm(&m, RATE, 146000 + 192000) == 180);
    CHECK(continuous(&m, RATE, 0, 146000 + 192000 + 48000));
    /* slowing down over 2 beats, and then a bar change mid-ramp */
    CHECK(kn_tempo_change(&m, RATE, 400000, 70, 4, 2) == 0);
    CHECK(kn_tempo_change(&m, RATE, 410000, 70, 3, 0) == 0);
    CHECK(kn_tempo_bar(&m, 409999) == 4 && kn_tempo_bar(&m, 410000) == 3);
    CHECK(continuous(&m, RATE, 330000, 500000));
    /* the bpm at the cut mid-ramp is where the ramp stood */
    CHECK(fabs(kn_tempo_newest(&m)->bpm - kn_tempo_bpm(&m, RATE, 409999)) < 0.01);
    /* the same frame again: replaces, the beat and the old tempo stay */
    double before = kn_tempo_beat(&m, RATE, 410000);
    uint32_t n = m.n;
    CHECK(kn_tempo_change(&m, RATE, 410000, 100, 3, 0) == 0);
    CHECK(m.n == n && kn_tempo_beat(&m, RATE, 410000) == before);
    CHECK(kn_tempo_bpm(&m, RATE, 420000) == 100);
    /* a change dated before the newest lands on its frame */
    CHECK(kn_tempo_change(&m, RATE, 5, 110, 3, 0) == 0);
    CHECK(m.n == n && kn_tempo_newest(&m)->at == 410000 && kn_tempo_bpm(&m, RATE, 420000) == 110);
    /* refusals leave the map as it was */
    kn_tempo_map copy = m;
    CHECK(kn_tempo_change(&m, RATE, 500000, 0.5, 4, 0) == -1);
    CHECK(kn_tempo_change(&m, RATE, 500000, NAN, 4, 0) == -1);
    CHECK(kn_tempo_change(&m, RATE, 500000, 120, 0, 0) == -1);
    CHECK(kn_tempo_change(&m, RATE, 500000, 120, 65, 0) == -1);
    CHECK(kn_tempo_change(&m, RATE, 500000, 120, 4, -1) == -1);
    CHECK(kn_tempo_change(&m, RATE, 500000, 120, 4, INFINITY) == -1);
    CHECK(!memcmp(&copy, &m, sizeof m));
    /* more changes than the map keeps: the newest stay, the beat agrees */
    kn_tempo_map all;
    kn_tempo_init(&all);
    double beats[40];
    for (int i = 0; i < 40; i++) {
        uint64_t at = 10000 + (uint64_t)i * 30000;
        CHECK(kn_tempo_change(&all, RATE, at, 60 + 7 * i, 4, i % 3 ? 0.5 : 0) == 0);
        beats[i] = kn_tempo_beat(&all, RATE, (double)at + 20000);
    }
    CHECK(all.n == 41 && kn_tempo_kept(&all) == KN_TEMPO_SEGS && kn_tempo_valid(&all));
    for (int i = 40 - KN_TEMPO_SEGS; i < 40; i++)
        CHECK(fabs(kn_tempo_beat(&all, RATE, 10000.0 + i * 30000 + 20000) - beats[i]) < 1e-9);
    CHECK(continuous(&all, RATE, 0, 10000 + 41 * 30000));
    /* n wrapping around 2^32 keeps the ring's indices (2^32 is a multiple of 8) */
    kn_tempo_map w = all;
    w.n = 0xFFFFFFF8u + all.n % KN_TEMPO_SEGS;
    CHECK(kn_tempo_beat(&w, RATE, 1e6) == kn_tempo_beat(&all, RATE, 1e6));
    for (int i = 0; i < 8; i++) kn_tempo_change(&w, RATE, 2000000 + (uint64_t)i * 1000, 90, 4, 0);
    CHECK(w.n != 0 && w.n < 16 && kn_tempo_valid(&w) && kn_tempo_bpm(&w, RATE, 3e6) == 90);
    CHECK(continuous(&w, RATE, 1900000, 2100000));
}

static void test_inverse(void) {
    kn_tempo_map m;
    kn_tempo_init(&m);
    kn_tempo_change(&m, RATE, 30000, 90, 4, 0);
    kn_tempo_change(&m, RATE, 70000, 200, 4, 6);  /* speeding up */
    kn_tempo_change(&m, RATE, 300000, 45, 4, 10); /* slowing down */
    kn_tempo_change(&m, 44100, 900000, 133, 7, 0);
    double worst = 0;
    for (uint64_t f = 0; f < 1400000; f += 37) {
        double b = kn_tempo_beat(&m, RATE, (double)f);
        double back = kn_tempo_frame(&m, RATE, b), e = fabs(back - (double)f);
        if (e > worst) worst = e;
        if (e > 1e-6) {
            CHECK(!"round trip");
            printf("  frame %llu -> beat %.17g -> frame %.17g\n", (unsigned long long)f, b, back);
            break;
        }
        CHECK(kn_tempo_beat_frame(&m, RATE, b) == f);
    }
    CHECK(worst < 1e-6);
    /* before the oldest segment: extrapolated the same way both ways */
    CHECK(fabs(kn_tempo_frame(&m, RATE, -2) + 48000) < 1e-9);
}

static void test_valid(void) {
    kn_tempo_map m, g;
    kn_tempo_init(&m);
    kn_tempo_change(&m, RATE, 1000, 90, 4, 1);
    g = m;
    g.n = 0;
    CHECK(!kn_tempo_valid(&g));
    g = m;
    g.seg[1].bpm_to = NAN;
    CHECK(!kn_tempo_valid(&g));
    g = m;
    g.seg[0].bpm = 1e9;
    CHECK(!kn_tempo_valid(&g));
    g = m;
    g.seg[1].bar = 0;
    CHECK(!kn_tempo_valid(&g));
    g = m;
    g.seg[1].at = 0; /* not after the one before */
    CHECK(!kn_tempo_valid(&g));
    g = m;
    g.seg[1].beat = INFINITY;
    CHECK(!kn_tempo_valid(&g));
}

static void test_set(void) {
    kn_tempo_map m;
    kn_tempo_init(&m);
    /* forwards: at frame 48000 (beat 2 at 120 bpm) to beat 2.25 at 137 bpm */
    CHECK(kn_tempo_set(&m, RATE, 48000, 2.25, 137, 4) == 0);
    CHECK(kn_tempo_valid(&m) && kn_tempo_kept(&m) == 2);
    CHECK(kn_tempo_beat(&m, RATE, 48000) == 2.25);
    CHECK(fabs(kn_tempo_beat(&m, RATE, 47999) - 47999.0 / 24000) < 1e-12); /* before: as it was */
    CHECK(fabs(kn_tempo_beat(&m, RATE, 48000 + RATE) - (2.25 + 137.0 / 60)) < 1e-12);
    CHECK(kn_tempo_bpm(&m, RATE, 47999) == 120 && kn_tempo_bpm(&m, RATE, 48000) == 137);
    CHECK(kn_tempo_newest(&m)->bpm == 120 && kn_tempo_newest(&m)->ramp == 0);
    CHECK(continuous(&m, RATE, 48000, 200000));
    /* backwards, by less than the newest segment covered: at 96000 the beat
     * is 2.25 + 48000 * 137 / 2880000 = 4.533...; back to 4.5, 3 beats a bar */
    double was = kn_tempo_beat(&m, RATE, 96000);
    CHECK(kn_tempo_set(&m, RATE, 96000, 4.5, 137, 3) == 0);
    CHECK(kn_tempo_beat(&m, RATE, 96000) == 4.5 && kn_tempo_bar(&m, 96000) == 3);
    CHECK(kn_tempo_bar(&m, 95999) == 4);
    /* beat 4.52 was played before 96000 and again after: the inverse says after */
    double f = kn_tempo_frame(&m, RATE, 4.52);
    CHECK(f > 96000 && fabs(kn_tempo_beat(&m, RATE, f) - 4.52) < 1e-12 && was > 4.52);
    CHECK(kn_tempo_beat_frame(&m, RATE, 4.5) == 96000);
    /* the same frame again replaces the step */
    uint32_t n = m.n;
    CHECK(kn_tempo_set(&m, RATE, 96000, 4.51, 140, 3) == 0);
    CHECK(m.n == n && kn_tempo_beat(&m, RATE, 96000) == 4.51 && kn_tempo_bpm(&m, RATE, 1e5) == 140);
    /* refusals leave the map as it was */
    kn_tempo_map copy = m;
    CHECK(kn_tempo_set(&m, RATE, 95999, 5, 140, 3) == -1);    /* before the newest */
    CHECK(kn_tempo_set(&m, RATE, 100000, 4.4, 140, 3) == -1); /* below 4.51, its start */
    CHECK(kn_tempo_set(&m, RATE, 100000, 5, 1001, 3) == -1);
    CHECK(kn_tempo_set(&m, RATE, 100000, 5, 140, 0) == -1);
    CHECK(kn_tempo_set(&m, RATE, 100000, NAN, 140, 3) == -1);
    CHECK(kn_tempo_set(&m, RATE, 100000, INFINITY, 140, 3) == -1);
    CHECK(kn_tempo_set(&m, 0, 100000, 5, 140, 3) == -1);
    CHECK(!memcmp(&copy, &m, sizeof m));
    /* replacing the only segment of a fresh map */
    kn_tempo_map z;
    kn_tempo_init(&z);
    CHECK(kn_tempo_set(&z, RATE, 0, 1.5, 90, 4) == 0);
    CHECK(z.n == 1 && kn_tempo_beat(&z, RATE, 32000) == 2.5);
}

/* ---- seqlock: a writer thread alternates two maps; readers never see a mix */

static kn_timeline_ctl shared_tl;
static _Atomic int writer_stop;
static _Atomic long writes;

/* Publishes the two maps in turn, pausing a little between writes (a
 * conductor writes rarely; without pauses no reader would ever get in). */
static void *writer(void *arg) {
    kn_tempo_map *maps = arg;
    for (unsigned i = 0; !atomic_load(&writer_stop); i++) {
        kn_tempo_publish(&shared_tl, &maps[i & 1]);
        atomic_fetch_add(&writes, 1);
        for (volatile int spin = 0; spin < (int)(i % 512); spin++) continue;
    }
    return NULL;
}

static void test_seqlock(void) {
    static kn_tempo_map maps[2];
    kn_tempo_init(&maps[0]);
    kn_tempo_init(&maps[1]);
    for (int i = 0; i < KN_TEMPO_SEGS + 2; i++) {
        kn_tempo_change(&maps[0], RATE, 1000 + (uint64_t)i * 1000, 100 + i, 4, 0);
        kn_tempo_change(&maps[1], RATE, 2000 + (uint64_t)i * 3000, 170 - i, 3, 1);
    }
    kn_tempo_map got;
    kn_tempo_init(&got);
    uint32_t seen = UINT32_MAX;
    /* never written: seq 0 and an all-zero map, which is refused */
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == -1);
    CHECK(got.n == 1 && got.seg[0].bpm_to == 120 && seen == 0);
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == 0); /* unchanged: no copy */
    kn_tempo_publish(&shared_tl, &maps[0]);
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == 1 && !memcmp(&got, &maps[0], sizeof got));
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == 0);
    /* stuck odd: bounded, keeps the copy */
    atomic_fetch_add(&shared_tl.tempo_seq, 1);
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == -1 && !memcmp(&got, &maps[0], sizeof got));
    kn_tempo_publish(&shared_tl, &maps[1]); /* the writer recovers from odd */
    CHECK((atomic_load(&shared_tl.tempo_seq) & 1) == 0);
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == 1 && !memcmp(&got, &maps[1], sizeof got));
    /* garbage published: refused, the last good copy stays */
    kn_tempo_map bad = maps[0];
    bad.seg[2].bpm_to = -5;
    kn_tempo_publish(&shared_tl, &bad);
    CHECK(kn_tempo_fetch(&shared_tl, &got, &seen) == -1 && !memcmp(&got, &maps[1], sizeof got));
    /* the race */
    pthread_t th;
    atomic_store(&writer_stop, 0);
    pthread_create(&th, NULL, writer, maps);
    while (atomic_load(&writes) < 10) continue;
    long ok = 0, failed = 0, mixed = 0;
    for (long i = 0; i < 20000000 && (ok < 20000 || failed < 10); i++) {
        int r = kn_tempo_fetch(&shared_tl, &got, &seen);
        if (r == 1) {
            ok++;
            mixed += memcmp(&got, &maps[0], sizeof got) && memcmp(&got, &maps[1], sizeof got);
        } else if (r == -1) {
            failed++;
        }
    }
    atomic_store(&writer_stop, 1);
    pthread_join(th, NULL);
    printf("  seqlock: %ld writes, %ld copies, %ld gave up after %d tries, %ld mixed\n",
           atomic_load(&writes), ok, failed, KN_TEMPO_TRIES, mixed);
    CHECK(mixed == 0 && ok > 0);
    CHECK(!memcmp(&got, &maps[0], sizeof got) || !memcmp(&got, &maps[1], sizeof got));
}

/* ---- the event queue */

static kn_ev_slot ev(uint64_t frame, uint32_t type, double value) {
    return (kn_ev_slot){.frame = frame, .type = type, .value = value};
}

static void test_queue(void) {
    static kn_ev_queue q, c;
    kn_ev_slot out[KN_EVQ_CAP + 8];
    /* FIFO through many wraps */
    uint64_t next = 0, got = 0;
    int bad = 0;
    for (int round = 0; round < 100; round++) {
        int k = 1 + round * 7 % 200;
        for (int i = 0; i < k; i++) {
            kn_ev_slot e = ev(next, KN_EVQ_TRIG, (double)next);
            bad += kn_evq_push(&q, &e) != 0;
            next++;
        }
        uint32_t n = kn_evq_take(&q, UINT64_MAX, out, KN_EVQ_CAP);
        for (uint32_t i = 0; i < n; i++) bad += out[i].value != (double)got++;
    }
    CHECK(bad == 0 && got == next && atomic_load(&q.head) == next && next > 10 * KN_EVQ_CAP);
    /* full at capacity */
    for (int i = 0; i < KN_EVQ_CAP; i++) {
        kn_ev_slot e = ev(1000, KN_EVQ_TRIG, i);
        CHECK(kn_evq_push(&q, &e) == 0);
    }
    kn_ev_slot e = ev(1000, KN_EVQ_TRIG, -1);
    CHECK(kn_evq_push(&q, &e) == -1 && kn_evq_count(&q) == KN_EVQ_CAP);
    CHECK(kn_evq_take(&q, 1000, out, KN_EVQ_CAP) == 0);               /* not due before 1000 */
    CHECK(kn_evq_take(&q, 1001, out, 10) == 10 && out[9].value == 9); /* `max` respected */
    CHECK(kn_evq_count(&q) == KN_EVQ_CAP - 10);
    CHECK(kn_evq_take(&q, 1001, out, KN_EVQ_CAP) == KN_EVQ_CAP - 10 && kn_evq_count(&q) == 0);
    /* out of time order: a far event does not hold back near ones */
    kn_ev_slot far = ev(900000, KN_EVQ_PARAM, 1), near1 = ev(2000, KN_EVQ_PARAM, 2),
               near2 = ev(1500, KN_EVQ_PARAM, 3);
    kn_evq_push(&q, &far);
    kn_evq_push(&q, &near1);
    kn_evq_push(&q, &near2);
    uint64_t h0 = atomic_load(&q.head);
    CHECK(kn_evq_take(&q, 3000, out, KN_EVQ_CAP) == 2 && out[0].value == 2 && out[1].value == 3);
    CHECK(atomic_load(&q.head) == h0 && kn_evq_count(&q) == 3); /* the far one holds the prefix */
    CHECK(kn_evq_take(&q, 3000, out, KN_EVQ_CAP) == 0);         /* taken ones are not repeated */
    /* a private copy: takes there leave the original alone */
    kn_evq_copy(&c, &q);
    CHECK(kn_evq_take(&c, UINT64_MAX, out, KN_EVQ_CAP) == 1 && out[0].value == 1);
    CHECK(kn_evq_count(&c) == 0 && kn_evq_count(&q) == 3);
    CHECK(kn_evq_take(&q, UINT64_MAX, out, KN_EVQ_CAP) == 1 && out[0].value == 1);
    CHECK(kn_evq_count(&q) == 0);
    /* garbage head past the tail: the pusher refuses, the consumer repairs */
    uint64_t t = atomic_load(&q.tail);
    atomic_store(&q.head, t + 12345);
    e = ev(5, KN_EVQ_TRIG, 7);
    CHECK(kn_evq_push(&q, &e) == -1 && kn_evq_count(&q) == 0);
    CHECK(kn_evq_take(&q, UINT64_MAX, out, KN_EVQ_CAP) == 0 && atomic_load(&q.head) == t);
    CHECK(kn_evq_push(&q, &e) == 0 && kn_evq_take(&q, 6, out, KN_EVQ_CAP) == 1);
    /* garbage tail far ahead: at most KN_EVQ_CAP slots are looked at */
    atomic_store(&q.tail, atomic_load(&q.head) + 1000000);
    CHECK(kn_evq_count(&q) == KN_EVQ_CAP);
    uint32_t n = kn_evq_take(&q, UINT64_MAX, out, KN_EVQ_CAP + 8);
    CHECK(n <= KN_EVQ_CAP && atomic_load(&q.head) == atomic_load(&q.tail));
    e = ev(5, KN_EVQ_TRIG, 8);
    CHECK(kn_evq_push(&q, &e) == 0 && kn_evq_take(&q, 6, out, KN_EVQ_CAP) == 1 &&
          out[0].value == 8);
    /* (64-bit positions never wrap: 2^64 events; a position near 2^64 is garbage) */
}

static void test_now(void) {
    CHECK(kn_tl_now(100, 0) == 100);
    CHECK(kn_tl_now(100, 50) == 150);
    CHECK(kn_tl_now(100, -30) == 70);
    CHECK(kn_tl_now(100, -300) == 0);
    CHECK(kn_tl_ceil(-1) == 0 && kn_tl_ceil(NAN) == 0 && kn_tl_ceil(0.5) == 1);
    CHECK(kn_tl_ceil(24240.000000000004) == 24240 && kn_tl_ceil(24240.00001) == 24241);
    CHECK(kn_tl_ceil(1e30) == UINT64_MAX);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_constant();
    test_grid();
    test_changes();
    test_inverse();
    test_valid();
    test_set();
    test_seqlock();
    test_queue();
    test_now();
    return check_report();
}
