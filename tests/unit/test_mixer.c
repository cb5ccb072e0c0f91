// link: conductor/mixer.c
/*
 * test_mixer.c - the conductor's audio path, exercised directly.
 *
 * Proves, on real rings in process memory:
 *   - one deck at full level passes through bit-exact (no hidden gain);
 *   - two decks sum exactly;
 *   - NaN/Inf from a deck become 0 and are counted, never reach the master,
 *     and fault the deck (FAULTED, fade-out, then silence, holding its read
 *     position still until control restarts the ring, then skipping there);
 *   - NaN alone (no Inf, so the runaway guard cannot silence the chunk for
 *     it) is scrubbed in the deck's own chunk: a deck playing beside it is
 *     heard exactly at the NaN frames, not lost to the master's scrub of
 *     the sum;
 *   - output above +60 dBFS is silenced at once and faults the deck;
 *   - the limiter is bit-exact below -6 dBFS and never exceeds 0 dBFS
 *     (even for +100 dB input), with a continuous gain;
 *   - a dry ring fades out (no step larger than the signal's own), counts
 *     one underrun, waits for prefill and fades back in;
 *   - a corrupt write position reads as silence and is counted, never out
 *     of bounds (ASan would catch an overread);
 *   - a stopping deck fades out and reports DONE;
 *   - a gain change ramps linearly over the ramp (no jump), lands exactly,
 *     and per-channel targets give pan; back at unity it is exact again;
 *   - meter records carry the deck's post-gain peak and energy;
 *   - the audio thread's kn_mix_thread_init reads subnormal samples as 0
 *     (DAZ) and flushes subnormal results (FTZ): a deck of subnormals gives
 *     an exact zero master, where plain floats keep them;
 *   - the master route's latency compensation: a delay set while the deck
 *     plays is crossfaded in over 10 ms (no gap, no stale frames: no step
 *     beyond the signal's own plus the crossfade's), then the output is the
 *     input exactly `delay` frames late; back to 0 the same way, then
 *     bit-exact again; a deck that has not played yet starts at its delay;
 *   - a stopped deck's ring is released only when no callback can still
 *     read it (an audio thread mixing without pause while control stops
 *     and unmaps, thousands of times: a release one callback early reads
 *     unmapped memory and the test dies).
 */
#include "conductor.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>

#include "check.h"
#include <stdlib.h>
#include <string.h>

#define CH  2
#define CAP 4096u

typedef struct fake_deck {
    kn_ring_seg *seg;
    kn_ring_view w; /* producer view */
} fake_deck;

static void deck_open(kn_mix *m, int i, fake_deck *f, uint32_t prefill) {
    size_t bytes = kn_ring_bytes(CAP, CH, 0);
    f->seg = aligned_alloc(64, (bytes + 63) / 64 * 64);
    memset(f->seg, 0, bytes);
    kn_ring_format(f->seg, CAP, CH, 64, 512, 48000, 0);
    CHECK(kn_ring_view_init(&f->w, f->seg, bytes) == 0);
    CHECK(kn_ring_view_init(&m->deck[i].ring, f->seg, bytes) == 0);
    m->deck[i].prefill = prefill;
    atomic_store(&m->deck[i].state, KN_MIX_PLAY);
}

/* Pushes n frames of f(i) (same on both channels). */
static void push(fake_deck *f, int n, float (*gen)(uint64_t)) {
    static float a[KN_MIX_CHUNK], b[KN_MIX_CHUNK];
    float *planar[CH] = {a, b};
    while (n > 0) {
        int k = n < KN_MIX_CHUNK ? n : KN_MIX_CHUNK;
        for (int i = 0; i < k; i++) a[i] = b[i] = gen(f->w.pos + (uint64_t)i);
        kn_ring_write_planar(&f->w, planar, (uint32_t)k);
        n -= k;
    }
}

static float sine(uint64_t i) {
    return 0.3f * sinf(0.05f * (float)i);
}
static float quiet(uint64_t i) {
    return 0.1f * cosf(0.01f * (float)i);
}
static float loud(uint64_t i) {
    return 1e5f * sinf(0.02f * (float)i);
}
static float with_nan(uint64_t i) {
    return i % 7 == 0 ? NAN : (i % 11 == 0 ? INFINITY : 0.25f);
}

static float nan_only(uint64_t i) {
    return i % 7 == 0 ? NAN : 0.25f;
}

/* With only NaN in a chunk the deck's scrub is all that stands between
 * the NaN and the sum: the master's own scrub would turn the whole summed
 * frame to 0 and silence the healthy deck beside it, which is what a
 * missing deck scrub looks like from outside. */
static void test_nan_only(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a, b;
    deck_open(&m, 2, &a, 1);
    deck_open(&m, 4, &b, 1);
    push(&a, 250, nan_only);
    push(&b, 250, quiet);
    float out[KN_MIX_CHUNK * CH];
    kn_mix_run(&m, out, 250);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < 250; i++) {
        if (nan_only(i) == nan_only(i)) continue;
        bad++;
        /* the NaN deck contributes exactly 0 here (0 through any fade) */
        for (int c = 0; c < CH; c++) CHECK(out[i * CH + (uint64_t)c] == quiet(i));
    }
    CHECK(atomic_load(&m.deck[2].nonfinite) == bad * CH);
    CHECK(atomic_load(&m.deck[2].state) == KN_MIX_FAULTED &&
          atomic_load(&m.deck[2].fault) == KN_FAULT_NONFINITE);
    kn_mix_free(&m);
    free(a.seg);
    free(b.seg);
}

static void test_passthrough_and_sum(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a, b;
    deck_open(&m, 0, &a, 64);
    push(&a, 2048, sine);
    float out[KN_MIX_CHUNK * CH];
    uint64_t at = 0;
    for (int r = 0; r < 6; r++, at += 200) {
        kn_mix_run(&m, out, 200);
        for (int i = 0; i < 200; i++) CHECK(out[i * CH] == sine(at + (uint64_t)i));
    }
    deck_open(&m, 3, &b, 64);
    push(&a, 2048, sine);
    push(&b, 2048, quiet);
    kn_mix_run(&m, out, 256);
    for (int i = 0; i < 256; i++)
        CHECK(out[i * CH + 1] == sine(at + (uint64_t)i) + quiet((uint64_t)i));
    CHECK(atomic_load(&m.deck[0].underruns) == 0);
    CHECK(atomic_load(&m.limited) == 0);
    kn_mix_free(&m);
    free(a.seg);
    free(b.seg);
}

static void test_nonfinite(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a;
    deck_open(&m, 5, &a, 1);
    push(&a, 1000, with_nan);
    float out[KN_MIX_CHUNK * CH];
    uint64_t bad = 0;
    for (uint64_t i = 0; i < 250; i++) bad += !isfinite(with_nan(i));
    for (int r = 0; r < 4; r++) {
        kn_mix_run(&m, out, 250);
        for (int i = 0; i < 250 * CH; i++) CHECK(isfinite(out[i]) && fabsf(out[i]) <= 0.25f);
        if (r > 0)
            for (int i = 0; i < 250 * CH; i++) CHECK(out[i] == 0); /* faulted: silent */
    }
    CHECK(atomic_load(&m.deck[5].nonfinite) == bad * CH); /* counted in the first chunk */
    CHECK(atomic_load(&m.deck[5].state) == KN_MIX_FAULTED);
    CHECK(atomic_load(&m.deck[5].fault) == KN_FAULT_NONFINITE);
    /* after the fade-out chunk nothing more is taken; the position is published */
    CHECK(atomic_load(&m.deck[5].read_pub) == 250);
    CHECK(kn_ring_readable(&m.deck[5].ring) == 1000 - 250);
    /* control restarts the ring at 900: the deck skips there, once, and says so */
    atomic_store(&m.deck[5].restart_pos, 900);
    atomic_store(&m.deck[5].restart_seq, 1);
    kn_mix_run(&m, out, 250);
    CHECK(atomic_load(&m.deck[5].restart_done) == 1);
    CHECK(m.deck[5].ring.pos == 900 && atomic_load(&a.seg->read_pos) == 900);
    CHECK(kn_ring_readable(&m.deck[5].ring) == 100);
    kn_mix_run(&m, out, 250); /* still FAULTED: nothing taken, no second jump */
    CHECK(m.deck[5].ring.pos == 900);
    for (int i = 0; i < 250 * CH; i++) CHECK(out[i] == 0);
    /* back to PLAY: the frames from 900 on are heard, fading in */
    atomic_store(&m.deck[5].prefill, 1);
    atomic_store(&m.deck[5].state, KN_MIX_PLAY);
    kn_mix_run(&m, out, 100);
    CHECK(m.deck[5].ring.pos == 1000);
    /* runaway output: silenced in the very chunk that carries it */
    fake_deck b;
    deck_open(&m, 7, &b, 1);
    push(&b, 500, loud);
    kn_mix_run(&m, out, 250);
    for (int i = 0; i < 250 * CH; i++) CHECK(out[i] == 0);
    CHECK(atomic_load(&m.deck[7].state) == KN_MIX_FAULTED &&
          atomic_load(&m.deck[7].fault) == KN_FAULT_RUNAWAY);
    free(b.seg);
    kn_mix_free(&m);
    free(a.seg);
}

static void test_limiter(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    float x[KN_MIX_CHUNK * CH], y[KN_MIX_CHUNK * CH];
    /* Below -6 dBFS: bit-exact, envelope idle. */
    for (int i = 0; i < KN_MIX_CHUNK * CH; i++) x[i] = y[i] = 0.4999f * sinf(0.1f * (float)i);
    kn_limit(&m, y, KN_MIX_CHUNK);
    CHECK(memcmp(x, y, sizeof x) == 0);
    /* +100 dB: never above 0 dBFS, never NaN. */
    float prev = 0, maxjump = 0;
    for (int r = 0; r < 40; r++) {
        for (int i = 0; i < KN_MIX_CHUNK; i++)
            y[i * CH] = y[i * CH + 1] = loud((uint64_t)(r * KN_MIX_CHUNK + i));
        kn_limit(&m, y, KN_MIX_CHUNK);
        for (int i = 0; i < KN_MIX_CHUNK * CH; i++) CHECK(isfinite(y[i]) && fabsf(y[i]) <= 1.0f);
        for (int i = 0; i < KN_MIX_CHUNK; i++) {
            if (r > 0) maxjump = fmaxf(maxjump, fabsf(y[i * CH] - prev));
            prev = y[i * CH];
        }
    }
    CHECK(atomic_load(&m.limited) > 0);
    /* Without look-ahead the onset is hard (the first rising samples map to
     * ~1.0); once the envelope holds the peak, the gain is steady and the
     * output is the sine scaled down: at most ~0.02 change per sample. */
    CHECK(maxjump < 0.1f);
    kn_mix_free(&m);
}

static void test_underrun_fade(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    int fade = m.fade_frames;
    fake_deck a;
    deck_open(&m, 1, &a, 256);
    float out[KN_MIX_CHUNK * CH];
    kn_mix_run(&m, out, 200); /* nothing yet: silence, waiting for prefill */
    for (int i = 0; i < 200 * CH; i++) CHECK(out[i] == 0);
    CHECK(atomic_load(&m.deck[1].underruns) == 0);
    push(&a, 300, sine);
    kn_mix_run(&m, out, 200); /* first start: exact, no fade */
    for (int i = 0; i < 200; i++) CHECK(out[i * CH] == sine((uint64_t)i));
    kn_mix_run(&m, out, 200); /* only 100 left: play them fading out */
    CHECK(atomic_load(&m.deck[1].underruns) == 1);
    for (int i = 0; i < 100; i++)
        CHECK(fabsf(out[i * CH]) <= fabsf(sine(200 + (uint64_t)i)) + 1e-7f);
    CHECK(fabsf(out[99 * CH]) <= 0.3f / (float)fade + 1e-6f); /* reaches ~0 */
    for (int i = 100; i < 200; i++) CHECK(out[i * CH] == 0);
    push(&a, 100, sine);
    kn_mix_run(&m, out, 200); /* below prefill: still silent, no new underrun */
    CHECK(out[0] == 0 && atomic_load(&m.deck[1].underruns) == 1);
    push(&a, 400, sine);
    kn_mix_run(&m, out, 200); /* back: fades in from 0 */
    CHECK(out[0] == 0);
    CHECK(fabsf(out[(fade / 2) * CH]) <= fabsf(sine(300 + (uint64_t)fade / 2)) * 0.51f + 1e-6f);
    CHECK(out[(fade + 5) * CH] == sine(300 + (uint64_t)fade + 5));
    kn_mix_free(&m);
    free(a.seg);
}

/* Running dry with less than a fade left (none, or 10 frames): the fade
 * still lasts m.fade_frames, on the last frame held, and the output moves
 * by no more than a fade step (plus the sine's own step) per sample. */
static void test_dry_at_boundary(void) {
    for (int left = 0; left <= 10; left += 10) {
        kn_mix m;
        CHECK(kn_mix_init(&m, CH, 48000) == 0);
        int fade = m.fade_frames;
        fake_deck a;
        deck_open(&m, 1, &a, 256);
        push(&a, 400 + left, sine);
        float out[KN_MIX_CHUNK * CH], prev;
        kn_mix_run(&m, out, 200);
        kn_mix_run(&m, out, 200); /* the ring holds `left` frames now */
        prev = out[199 * CH];
        CHECK(prev == sine(399));
        kn_mix_run(&m, out, 200);
        CHECK(atomic_load(&m.deck[1].underruns) == 1);
        float held = sine(399 + (uint64_t)left), maxstep = 0;
        for (int i = 0; i < fade; i++) {
            maxstep = fmaxf(maxstep, fabsf(out[i * CH] - prev));
            prev = out[i * CH];
        }
        CHECK(maxstep <= 0.3f / (float)fade + 0.3f * 0.05f /* the sine's own step */ + 1e-6f);
        CHECK(fabsf(out[(fade - 1) * CH]) <= fabsf(held) / (float)fade + 1e-6f); /* ~0 */
        CHECK(fabsf(out[(fade / 2) * CH]) >= fabsf(held) * 0.4f);                /* not a cut */
        for (int i = fade; i < 200; i++) CHECK(out[i * CH] == 0);
        kn_mix_free(&m);
        free(a.seg);
    }
}

static void test_corrupt_and_stop(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a;
    deck_open(&m, 2, &a, 1);
    push(&a, 500, sine);
    float out[KN_MIX_CHUNK * CH];
    kn_mix_run(&m, out, 100);
    atomic_store(&a.seg->write_pos, (uint64_t)1 << 40); /* a scribbled header */
    kn_mix_run(&m, out, 100);
    for (int i = 0; i < 100 * CH; i++) CHECK(isfinite(out[i]));
    CHECK(atomic_load(&m.deck[2].corrupt) >= 1);
    CHECK(atomic_load(&m.deck[2].state) == KN_MIX_FAULTED &&
          atomic_load(&m.deck[2].fault) == KN_FAULT_CORRUPT);
    atomic_store(&a.seg->write_pos, 50); /* behind the reader: still silent, never read */
    kn_mix_run(&m, out, 100);
    for (int i = 0; i < 100 * CH; i++) CHECK(out[i] == 0);
    /* stopping: a healthy deck fades over fade_frames, then reports DONE */
    fake_deck b;
    deck_open(&m, 4, &b, 1);
    push(&b, 1000, quiet);
    kn_mix_run(&m, out, 100);
    atomic_store(&m.deck[4].state, KN_MIX_STOPPING);
    kn_mix_run(&m, out, 100);
    CHECK(atomic_load(&m.deck[4].state) == KN_MIX_DONE);
    CHECK(out[(m.fade_frames - 1) * CH] == 0 || fabsf(out[(m.fade_frames - 1) * CH]) < 0.01f);
    for (int i = m.fade_frames; i < 100; i++) CHECK(out[i * CH] == 0);
    kn_mix_free(&m);
    free(a.seg);
    free(b.seg);
}

static uint32_t fb(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float one(uint64_t i) {
    (void)i;
    return 0.5f;
}

static void test_gains_and_meters(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a;
    deck_open(&m, 6, &a, 1);
    push(&a, 4000, one);
    float out[KN_MIX_CHUNK * CH];
    kn_meter_rec rec;
    kn_mix_run(&m, out, 100);
    CHECK(out[0] == 0.5f && out[1] == 0.5f);
    CHECK(kn_mix_meters_take(&m, &rec) && rec.frames == 100 && rec.peak[6] == 0.5f &&
          fabsf(rec.sumsq[6] - 100 * CH * 0.25f) < 1e-3f && rec.peak[KN_MAX_DECKS] == 0.5f);
    /* left to 0 (pan right) over 200 frames; right stays; others follow g[2] */
    atomic_store(&m.deck[6].ramp_frames, 200);
    atomic_store(&m.deck[6].gain_target[0], fb(0));
    float prev = 0.5f;
    for (int r = 0; r < 3; r++) {
        kn_mix_run(&m, out, 100);
        for (int i = 0; i < 100; i++) {
            CHECK(out[i * CH] <= prev && prev - out[i * CH] <= 0.5f / 200 + 1e-6f);
            CHECK(out[i * CH + 1] == 0.5f);
            prev = out[i * CH];
        }
    }
    CHECK(out[99 * CH] == 0); /* arrived exactly */
    atomic_store(&m.deck[6].gain_target[0], fb(1));
    for (int r = 0; r < 4; r++) kn_mix_run(&m, out, 100); /* the 200-frame ramp, then more */
    CHECK(out[0] == 0.5f && out[99 * CH] == 0.5f);        /* unity again: bit-exact */
    while (kn_mix_meters_take(&m, &rec)) {
    }
    /* master gain: -6.02 dB ramps to 0.25 */
    atomic_store(&m.master_target, fb(0.5f));
    for (int r = 0; r < 6; r++) kn_mix_run(&m, out, 100);
    CHECK(out[0] == 0.25f);
    kn_mix_free(&m);
    free(a.seg);
}

static float tiny(uint64_t i) {
    return (i & 1 ? 1e-40f : -1e-40f) * (float)(1 + i % 5); /* subnormal */
}

/* A deck of subnormals at a ramping gain, in a thread of its own (the flag
 * is per thread, like the audio thread's). */
static void *mix_tiny(void *arg) {
    int ftz = *(int *)arg;
    if (ftz) kn_mix_thread_init();
    kn_mix m;
    fake_deck f;
    static float out[KN_MIX_CHUNK * CH];
    int nonzero = 0;
    if (kn_mix_init(&m, CH, 48000)) return NULL;
    deck_open(&m, 0, &f, 64);
    push(&f, 2048, tiny);
    uint32_t half = 0x3f000000u; /* 0.5f: the multiply path */
    for (int j = 0; j < 3; j++) atomic_store(&m.deck[0].gain_target[j], half);
    atomic_store(&m.deck[0].ramp_frames, 512);
    for (int k = 0; k < 1024 / KN_MIX_CHUNK; k++) {
        kn_mix_run(&m, out, KN_MIX_CHUNK);
        for (int i = 0; i < KN_MIX_CHUNK * CH; i++) nonzero += out[i] != 0.0f;
    }
    kn_mix_free(&m);
    free(f.seg);
    *(int *)arg = nonzero;
    return NULL;
}

static void test_subnormals_flushed(void) {
    int with = 1, without = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, mix_tiny, &with) == 0 && pthread_join(t, NULL) == 0);
    CHECK(pthread_create(&t, NULL, mix_tiny, &without) == 0 && pthread_join(t, NULL) == 0);
    CHECK(with == 0);   /* FTZ/DAZ: silence, exactly */
    CHECK(without > 0); /* the control: without it, subnormals reach the master */
}

static kn_mix rel_mix;
static _Atomic uint64_t rel_callbacks;
static _Atomic int rel_stop;

/* The audio thread: callbacks back to back, counting the finished ones. */
static void *rel_audio(void *arg) {
    (void)arg;
    static float out[KN_MIX_CHUNK * CH];
    while (!atomic_load(&rel_stop)) {
        kn_mix_run(&rel_mix, out, KN_MIX_CHUNK);
        atomic_fetch_add_explicit(&rel_callbacks, 1, memory_order_release);
    }
    return NULL;
}

static void wait_callbacks(uint64_t n) {
    uint64_t c0 = atomic_load(&rel_callbacks);
    while (atomic_load(&rel_callbacks) < c0 + n) sched_yield();
}

/* Each round: a ring in fresh pages, played, stopped, and released along
 * the slow path at once (as if the fade had taken 250 ms), then unmapped;
 * its pages are left PROT_NONE, so a late read faults instead of finding
 * the next round's ring there. */
static void test_release_under_callback(void) {
    const int rounds = 2000;
    CHECK(kn_mix_init(&rel_mix, CH, 48000) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, rel_audio, NULL) == 0);
    size_t bytes = kn_ring_bytes(CAP, CH, 0);
    kn_mix_deck *d = &rel_mix.deck[0];
    int released = 0, slow = 0;
    for (int round = 0; round < rounds; round++) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED);
        if (p == MAP_FAILED) break;
        fake_deck f = {.seg = p};
        kn_ring_format(f.seg, CAP, CH, 64, 512, 48000, 0);
        kn_ring_view_init(&f.w, f.seg, bytes);
        push(&f, CAP - 64, sine);
        kn_ring_view_init(&d->ring, f.seg, bytes); /* OFF: the audio thread does not look */
        d->prefill = 64;
        d->playing = d->started = 0;
        d->release_cb = 0;
        atomic_store_explicit(&d->state, KN_MIX_PLAY, memory_order_release);
        wait_callbacks(2);
        atomic_store_explicit(&d->state, KN_MIX_STOPPING, memory_order_release);
        for (;;) {
            int st = atomic_load(&d->state);
            if (st == KN_MIX_DONE) break;
            if (kn_mix_deck_released(d, KN_MIX_RELEASE_NS + 1, atomic_load(&rel_callbacks), 1)) {
                slow++;
                break;
            }
            sched_yield();
        }
        atomic_store_explicit(&d->state, KN_MIX_OFF, memory_order_release);
        munmap(p, bytes);
        mmap(p, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        released++;
    }
    atomic_store(&rel_stop, 1);
    pthread_join(t, NULL);
    CHECK(released == rounds);
    CHECK(slow > rounds / 2); /* the path under test, not the audio thread's DONE */
    printf("release under a running callback: %d rounds, %d by the slow path\n", released, slow);
    kn_mix_free(&rel_mix);
}

/* A deck on the timeline (ring position p plays at timeline frame
 * p + epoch): it starts exactly on its frame, mid-chunk; after a dry spell
 * it drops the frames that came late and plays each later frame at its
 * own timeline frame; it resumes although the reader moved on while it
 * waited (a producer keeping the ring at a fixed fill never stalls it). */
static void test_timeline_lock(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a;
    deck_open(&m, 2, &a, 512);
    atomic_store(&m.deck[2].epoch, 300); /* ring position 0 plays at timeline frame 300 */
    atomic_store(&m.deck[2].locked, 1);
    push(&a, 1024, sine);
    float out[KN_MIX_CHUNK * CH];
    kn_mix_run(&m, out, 200); /* frames 0..199: not yet */
    for (int i = 0; i < 200 * CH; i++) CHECK(out[i] == 0);
    kn_mix_run(&m, out, 200); /* frames 200..399: starts at 300, exactly */
    for (int i = 0; i < 100; i++) CHECK(out[i * CH] == 0);
    for (int i = 100; i < 200; i++) CHECK(out[i * CH] == sine((uint64_t)(i - 100)));
    uint64_t tl = 400;
    while (kn_ring_readable(&m.deck[2].ring) >= 200) { /* play the rest, on time */
        kn_mix_run(&m, out, 200);
        for (int i = 0; i < 200; i += 37) CHECK(out[i * CH] == sine(tl + (uint64_t)i - 300));
        tl += 200;
    }
    kn_mix_run(&m, out, 200); /* runs dry */
    tl += 200;
    CHECK(atomic_load(&m.deck[2].underruns) == 1);
    for (int k = 0; k < 5; k++, tl += 200) kn_mix_run(&m, out, 200); /* 1000 frames silent */
    /* the producer comes back behind the timeline and keeps 512 frames
     * past the reader: the late ones are dropped, the rest plays on time */
    for (int k = 0; k < 8; k++, tl += 200) {
        uint64_t r = atomic_load(&a.seg->read_pos), w = a.w.pos;
        if (w < r + 512) push(&a, (int)(r + 512 - w), sine);
        kn_mix_run(&m, out, 200);
        if (k >= 4) /* resumed (faded in) by then */
            for (int i = 0; i < 200; i += 23) CHECK(out[i * CH] == sine(tl + (uint64_t)i - 300));
    }
    CHECK(atomic_load(&m.deck[2].late_frames) > 0);
    CHECK(atomic_load(&m.deck[2].underruns) <= 2); /* not one per chunk while catching up */
    CHECK(atomic_load(&m.deck[2].slips) == 0);
    /* starved for longer: a producer that stays 300 ms behind is not
     * dropped for ever: the deck slips back to it (once) and is heard */
    for (int k = 0; k < 8; k++) kn_mix_run(&m, out, 200); /* runs dry, then waits */
    int heard = 0;
    for (int k = 0; k < 120 && !heard; k++) {
        uint64_t r = atomic_load(&a.seg->read_pos), w = a.w.pos;
        if (w < r + 300) push(&a, (int)(r + 300 - w), sine); /* behind the timeline */
        kn_mix_run(&m, out, 200);
        for (int i = 0; i < 200; i++) heard |= out[i * CH] != 0;
    }
    CHECK(heard);
    CHECK(atomic_load(&m.deck[2].slips) == 1);
    kn_mix_free(&m);
    free(a.seg);
}

/* Exact, never 0, rising by 1/16384 a frame (no wrap within the test). */
static float ramp(uint64_t i) {
    return (float)(i % 8192 + 1) / 16384.0f;
}

/* Mixes `chunks` chunks of 200 frames of deck 2 from frame *t on; the
 * largest step and any 0 go to *step and *gap; returns 1 if every frame f
 * was ramp(f - lag) exactly (lag < 0: not checked). */
static int mix_lag(kn_mix *m, uint64_t *t, int chunks, int64_t lag, float *step, int *gap) {
    static float out[KN_MIX_CHUNK * CH], prev;
    int exact = 1;
    for (int r = 0; r < chunks; r++, *t += 200) {
        kn_mix_run(m, out, 200);
        for (int i = 0; i < 200; i++) {
            uint64_t f = *t + (uint64_t)i;
            float y = out[i * CH];
            if (f > 0) *step = fmaxf(*step, fabsf(y - prev));
            *gap |= y == 0;
            prev = y;
            if (lag >= 0) exact &= y == ramp(f - (uint64_t)lag);
        }
    }
    return exact;
}

static void test_master_delay(void) {
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    fake_deck a;
    deck_open(&m, 2, &a, 64);
    push(&a, 4096, ramp);
    uint64_t t = 0;
    float step = 0;
    int gap = 0;
    CHECK(mix_lag(&m, &t, 2, 0, &step, &gap)); /* no delay: exact */
    /* a delay of 100 while playing: crossfaded over 480 frames, no gap, no
     * step beyond the signal's own and a 100-frame jump spread over 480 */
    atomic_store(&m.deck[2].master_delay, 100);
    step = 0;
    mix_lag(&m, &t, 3, -1, &step, &gap);
    CHECK(step <= 1.0f / 16384 + 100.0f / 16384 / 480 * 1.01f);
    CHECK(!gap);
    CHECK(mix_lag(&m, &t, 3, 100, &step, &gap)); /* then exactly 100 frames late */
    atomic_store(&m.deck[2].master_delay, 0);
    step = 0;
    mix_lag(&m, &t, 3, -1, &step, &gap);
    CHECK(step <= 1.0f / 16384 + 100.0f / 16384 / 480 * 1.01f);
    CHECK(!gap);
    CHECK(mix_lag(&m, &t, 3, 0, &step, &gap)); /* and exact again */
    /* a deck that has not played yet takes its delay at once */
    atomic_store(&m.deck[2].state, KN_MIX_OFF);
    fake_deck b;
    atomic_store(&m.deck[6].master_delay, 300);
    deck_open(&m, 6, &b, 64);
    push(&b, 1024, ramp);
    float out[KN_MIX_CHUNK * CH];
    kn_mix_run(&m, out, 256);
    int exact = 1;
    for (int i = 0; i < 256; i++) exact &= out[i * CH] == 0;
    kn_mix_run(&m, out, 256); /* frames 256..511: the deck's 0..211 */
    for (int i = 0; i < 256; i++)
        exact &= out[i * CH] == (256 + i >= 300 ? ramp(256 + (uint64_t)i - 300) : 0);
    CHECK(exact);
    kn_mix_free(&m);
    free(a.seg);
    free(b.seg);
}

int main(void) {
    test_gains_and_meters();
    test_passthrough_and_sum();
    test_nonfinite();
    test_nan_only();
    test_limiter();
    test_underrun_fade();
    test_timeline_lock();
    test_dry_at_boundary();
    test_corrupt_and_stop();
    test_subnormals_flushed();
    test_release_under_callback();
    test_master_delay();
    printf("test_mixer: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
