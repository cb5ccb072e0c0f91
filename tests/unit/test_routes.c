/*
 * test_routes.c - shm/route.h: what a consumer's cartridge does with its
 * routes (docs/routing.md).
 *
 *   - kn_route_mix: a route's gain multiplies exactly and adds to what the
 *     port holds; post-fader routes apply the source's fader per channel
 *     (left, right, others), pre-fader ones ignore it; a route seen before
 *     anything was rendered starts at its gain, one added later glides in
 *     from silence over the ramp, linearly, and lands exactly; a gain
 *     change glides the same way (the largest step is the change / ramp);
 *     a fader change glides over the fader's ramp;
 *   - a source that goes missing mid-block is held at its last frame and
 *     faded out linearly over `fade` frames, then silent; when it comes
 *     back it fades in over `fade` frames (no step larger than a fade
 *     step); NaN, Inf and samples beyond KN_ROUTE_CLAMP read as 0 (and are
 *     not held); a gain from shared memory that is NaN or beyond +24 dB
 *     counts as 0;
 *   - channels: the device input maps port channel c to input channel
 *     first + c % count; a deck source maps c to c % its width; a channel
 *     the source does not have reads as 0;
 *   - kn_ring_peek: frames not yet written count 0, a partial block gives
 *     what is there, frames overwritten (lapped) give -1, a copy across the
 *     ring's end is exact;
 *   - the table: kn_route_table_valid refuses every malformed field;
 *     kn_routes_fetch copies a new table once (an unchanged seq costs
 *     nothing), keeps its last good copy when the seq stays odd or the
 *     table is invalid (and does not retry an invalid one until it
 *     changes); a seq left odd by the writer is made even by the next
 *     publish; a reader racing a writer thread that publishes two
 *     different tables always gets one of them whole.
 */
#include "route.h"
#include "ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static uint32_t bitsf(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static kn_route_rec rec_of(uint32_t src, float gain, int pre) {
    kn_route_rec r;
    memset(&r, 0, sizeof r);
    r.src = src;
    r.dst = 1;
    r.pre = (uint32_t)pre;
    r.gain = bitsf(gain);
    r.in_count = 1;
    snprintf(r.port, sizeof r.port, "%s", KN_PORT_IN);
    return r;
}

#define N     256 /* frames per call */
#define CH    2
#define RAMP  64
#define FADE  48
#define FRAMP 32 /* the fader's ramp */

/* A port: CH planar channels of N frames. */
typedef struct port {
    float buf[KN_MAX_CHANNELS][N];
    float *ch[KN_MAX_CHANNELS];
} port;

static void port_clear(port *p, float v) {
    for (int c = 0; c < KN_MAX_CHANNELS; c++) {
        for (int i = 0; i < N; i++) p->buf[c][i] = v;
        p->ch[c] = p->buf[c];
    }
}

/* src: N frames of `sch` interleaved channels, constant per channel. */
static void src_fill(float *src, int sch, const float *v) {
    for (int i = 0; i < N; i++)
        for (int c = 0; c < sch; c++) src[i * sch + c] = v[c];
}

static const float unity[3] = {1, 1, 1};

/* Mixes one call; returns nothing, the port holds the result. */
static void mix(kn_route_run *run, const kn_route_rec *r, int fresh, const float *src, int sch,
                int have, port *p, int ch, const float fader[3]) {
    kn_route_mix(run, r, fresh, src, sch, have, N, (float *const *)p->ch, ch, fader, FRAMP, RAMP,
                 FADE);
}

static float max_step(const float *x, int n) {
    float m = 0;
    for (int i = 1; i < n; i++) m = fmaxf(m, fabsf(x[i] - x[i - 1]));
    return m;
}

/* ------------------------------------------------------------ kn_route_mix */

static void test_gain_and_taps(void) {
    float src[N * CH], v[CH] = {0.3f, -0.7f};
    src_fill(src, CH, v);
    port p;
    kn_route_run run;

    /* fresh, post, unity fader: gain times source, added to the port */
    memset(&run, 0, sizeof run);
    kn_route_rec r = rec_of(0, 0.5f, 0);
    port_clear(&p, 0.25f);
    mix(&run, &r, 1, src, CH, N, &p, CH, unity);
    int exact = 1;
    for (int i = 0; i < N; i++)
        exact &= p.buf[0][i] == 0.25f + 0.3f * 0.5f && p.buf[1][i] == 0.25f + -0.7f * 0.5f;
    CHECK(exact);

    /* post: the fader per channel; pre: no fader */
    float fader[3] = {0.5f, 0.25f, 2.0f};
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r, 1, src, CH, N, &p, CH, fader);
    exact = 1;
    for (int i = 0; i < N; i++)
        exact &= p.buf[0][i] == 0.3f * 0.5f * 0.5f && p.buf[1][i] == -0.7f * 0.25f * 0.5f;
    CHECK(exact);
    kn_route_rec pre = rec_of(0, 0.5f, 1);
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &pre, 1, src, CH, N, &p, CH, fader);
    exact = 1;
    for (int i = 0; i < N; i++) exact &= p.buf[0][i] == 0.3f * 0.5f && p.buf[1][i] == -0.7f * 0.5f;
    CHECK(exact);

    /* a third channel takes the fader's third gain ("any other channel") */
    float v4[4] = {0.1f, 0.1f, 0.1f, 0.1f}, src4[N * 4];
    src_fill(src4, 4, v4);
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    kn_route_rec r1 = rec_of(0, 1.0f, 0);
    mix(&run, &r1, 1, src4, 4, N, &p, 4, fader);
    CHECK(p.buf[2][N - 1] == 0.1f * 2.0f && p.buf[3][0] == 0.1f * 2.0f);

    /* a fader change on a post route glides over the fader's ramp */
    float half[3] = {0.5f, 0.5f, 0.5f};
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r1, 1, src, CH, N, &p, CH, unity);
    port_clear(&p, 0);
    mix(&run, &r1, 1, src, CH, N, &p, CH, half);
    CHECK(p.buf[0][0] == 0.3f);            /* the old gain on the first frame */
    CHECK(p.buf[0][FRAMP] == 0.3f * 0.5f); /* the new one after the ramp */
    CHECK(p.buf[0][FRAMP / 2] < 0.3f * 0.8f && p.buf[0][FRAMP / 2] > 0.3f * 0.7f);
    CHECK(max_step(p.buf[0], N) <= 0.3f * 0.5f / FRAMP * 1.001f);
    /* ... and is ignored by a pre route */
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    kn_route_rec pre1 = rec_of(0, 1.0f, 1);
    mix(&run, &pre1, 1, src, CH, N, &p, CH, unity);
    port_clear(&p, 0);
    mix(&run, &pre1, 1, src, CH, N, &p, CH, half);
    CHECK(p.buf[0][0] == 0.3f && p.buf[0][N - 1] == 0.3f && max_step(p.buf[0], N) == 0);
}

static void test_glides(void) {
    float src[N * CH], v[CH] = {0.5f, 0.5f};
    src_fill(src, CH, v);
    port p;
    kn_route_run run;
    kn_route_rec r = rec_of(0, 0.8f, 0);

    /* added while rendering: glides in from silence over RAMP frames */
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r, 0, src, CH, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0);
    CHECK(fabsf(p.buf[0][RAMP] - 0.5f * 0.8f) < 1e-6f);
    CHECK(p.buf[0][RAMP + 1] == 0.5f * 0.8f); /* lands exactly */
    CHECK(p.buf[0][N - 1] == 0.5f * 0.8f);
    int rising = 1;
    for (int i = 1; i <= RAMP; i++) rising &= p.buf[0][i] > p.buf[0][i - 1];
    CHECK(rising);
    CHECK(max_step(p.buf[0], N) <= 0.5f * 0.8f / RAMP * 1.001f);
    /* linear: the middle of the ramp is at half the level */
    CHECK(fabsf(p.buf[0][RAMP / 2] - 0.5f * 0.4f) < 1e-6f);

    /* a gain change glides from the old gain to the new one, lands exactly */
    r.gain = bitsf(0.2f);
    port_clear(&p, 0);
    mix(&run, &r, 0, src, CH, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0.5f * 0.8f);
    CHECK(fabsf(p.buf[0][RAMP] - 0.5f * 0.2f) < 1e-6f);
    CHECK(p.buf[0][RAMP + 1] == 0.5f * 0.2f && p.buf[1][N - 1] == 0.5f * 0.2f);
    CHECK(max_step(p.buf[0], N) <= 0.5f * 0.6f / RAMP * 1.001f);
    CHECK(max_step(p.buf[0], N) >= 0.5f * 0.6f / RAMP * 0.999f);

    /* the same gain again: nothing moves */
    port_clear(&p, 0);
    mix(&run, &r, 0, src, CH, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0.5f * 0.2f && max_step(p.buf[0], N) == 0);

    /* a gain that is not a gain (NaN, beyond +24 dB) counts as 0: glides out */
    r.gain = bitsf(NAN);
    port_clear(&p, 0);
    mix(&run, &r, 0, src, CH, N, &p, CH, unity);
    CHECK(p.buf[0][RAMP + 1] == 0 && p.buf[0][N - 1] == 0);
    kn_route_run fresh;
    memset(&fresh, 0, sizeof fresh);
    r.gain = bitsf(100.0f);
    port_clear(&p, 0);
    mix(&fresh, &r, 1, src, CH, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0 && p.buf[1][N - 1] == 0);
}

static void test_missing_source(void) {
    float src[N * CH], v[CH] = {0.4f, -0.4f};
    src_fill(src, CH, v);
    src[(N / 2 - 1) * CH] = 0.6f; /* the last frame there differs: it is what is held */
    port p;
    kn_route_run run;
    memset(&run, 0, sizeof run);
    kn_route_rec r = rec_of(0, 1.0f, 0);

    /* half a block, then missing: held at 0.6 and faded out over FADE */
    port_clear(&p, 0);
    mix(&run, &r, 1, src, CH, N / 2, &p, CH, unity);
    int h = N / 2;
    CHECK(p.buf[0][h - 1] == 0.6f);
    CHECK(p.buf[0][h] == 0.6f); /* held: the first missing frame repeats the last one */
    CHECK(fabsf(p.buf[0][h + 1] - 0.6f * (1.0f - 1.0f / FADE)) < 1e-6f);
    CHECK(fabsf(p.buf[0][h + FADE / 2] - 0.6f * 0.5f) < 1e-6f);
    int falling = 1;
    for (int i = h + 1; i < h + FADE; i++) falling &= p.buf[0][i] < p.buf[0][i - 1];
    CHECK(falling);
    CHECK(fabsf(p.buf[0][h + FADE]) < 1e-6f);
    CHECK(p.buf[0][h + FADE + 1] == 0 && p.buf[0][N - 1] == 0 && p.buf[1][N - 1] == 0);
    CHECK(max_step(p.buf[0] + h - 1, N - h + 1) <= 0.6f / FADE * 1.001f);

    /* a whole block missing: silence */
    port_clear(&p, 0);
    mix(&run, &r, 1, src, CH, 0, &p, CH, unity);
    CHECK(max_step(p.buf[0], N) == 0 && p.buf[0][0] == 0 && p.buf[1][N - 1] == 0);

    /* back: faded in over FADE frames, from 0, no step beyond a fade step */
    src_fill(src, CH, v);
    port_clear(&p, 0);
    mix(&run, &r, 1, src, CH, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0);
    CHECK(fabsf(p.buf[0][1] - 0.4f / FADE) < 1e-7f);
    CHECK(fabsf(p.buf[0][FADE] - 0.4f) < 1e-6f);
    CHECK(p.buf[0][FADE + 1] == 0.4f && p.buf[0][N - 1] == 0.4f && p.buf[1][N - 1] == -0.4f);
    CHECK(max_step(p.buf[0], N) <= 0.4f / FADE * 1.001f);
}

static void test_garbage(void) {
    float src[N * CH];
    float v[CH] = {0.2f, 0.2f};
    src_fill(src, CH, v);
    src[10 * CH] = NAN;
    src[11 * CH] = INFINITY;
    src[12 * CH] = -INFINITY;
    src[13 * CH] = KN_ROUTE_CLAMP * 2;
    src[14 * CH] = -KN_ROUTE_CLAMP * 1.5f;
    src[15 * CH] = 999.0f;   /* loud, but within the clamp: passed on */
    src[(N - 1) * CH] = NAN; /* the last frame there: nothing to hold */
    port p;
    kn_route_run run;
    memset(&run, 0, sizeof run);
    kn_route_rec r = rec_of(0, 1.0f, 0);
    port_clear(&p, 0);
    mix(&run, &r, 1, src, CH, N, &p, CH, unity);
    int finite = 1;
    for (int i = 0; i < N; i++) finite &= isfinite(p.buf[0][i]) && isfinite(p.buf[1][i]);
    CHECK(finite);
    CHECK(p.buf[0][10] == 0 && p.buf[0][11] == 0 && p.buf[0][12] == 0);
    CHECK(p.buf[0][13] == 0 && p.buf[0][14] == 0);
    CHECK(p.buf[0][15] == 999.0f && p.buf[0][16] == 0.2f);
    CHECK(p.buf[1][10] == 0.2f); /* the other channel of that frame is untouched */
    CHECK(p.buf[0][N - 1] == 0);
    /* the next block is missing: what is held is the 0, not the NaN */
    port_clear(&p, 0);
    mix(&run, &r, 1, src, CH, 0, &p, CH, unity);
    finite = 1;
    for (int i = 0; i < N; i++) finite &= p.buf[0][i] == 0;
    CHECK(finite);
}

static void test_channels(void) {
    float in4[N * 4], v4[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    src_fill(in4, 4, v4);
    port p;
    kn_route_run run;

    /* the device input, "in:2" (first 1, count 1): both port channels read it */
    kn_route_rec r = rec_of(KN_SRC_IN, 1.0f, 1);
    r.in_first = 1;
    r.in_count = 1;
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r, 1, in4, 4, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0.2f && p.buf[1][N - 1] == 0.2f);

    /* "in:3-4": port channel c reads input channel 2 + c */
    r.in_first = 2;
    r.in_count = 2;
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r, 1, in4, 4, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0.3f && p.buf[1][0] == 0.4f);

    /* "in:3-4" into a 4-channel port: channels wrap within the pair */
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r, 1, in4, 4, N, &p, 4, unity);
    CHECK(p.buf[2][0] == 0.3f && p.buf[3][0] == 0.4f);

    /* an input narrower than the route says: the missing channel is 0 */
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &r, 1, in4, 3, N, &p, CH, unity); /* in4 read as 3 wide: garbage layout, */
    CHECK(p.buf[1][0] == 0);                    /* but channel 3 is out of reach */

    /* a mono deck into a stereo port: both channels read its one */
    float mono[N], m1[1] = {0.7f};
    src_fill(mono, 1, m1);
    kn_route_rec d = rec_of(3, 1.0f, 1);
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &d, 1, mono, 1, N, &p, CH, unity);
    CHECK(p.buf[0][5] == 0.7f && p.buf[1][5] == 0.7f);

    /* a deck's in_first/in_count are ignored: channel c reads channel c */
    float s2[N * 2], v2[2] = {0.5f, 0.25f};
    src_fill(s2, 2, v2);
    d.in_first = 1;
    memset(&run, 0, sizeof run);
    port_clear(&p, 0);
    mix(&run, &d, 1, s2, 2, N, &p, CH, unity);
    CHECK(p.buf[0][0] == 0.5f && p.buf[1][0] == 0.25f);
}

/* ------------------------------------------------------------ kn_ring_peek */

/* A never-zero, exact sample for (frame, channel). */
static float sample(uint64_t f, uint32_t c) {
    return (float)((f * 8 + c) % 1000003 + 1);
}

static void test_peek(void) {
    enum { CAP = 64, PCH = 2 };
    size_t bytes = kn_ring_bytes(CAP, PCH, 0);
    kn_ring_seg *seg = aligned_alloc(64, (bytes + 63) / 64 * 64);
    memset(seg, 0, bytes);
    kn_ring_format(seg, CAP, PCH, 16, 32, 48000, 0);
    kn_ring_view w;
    CHECK(!kn_ring_view_init(&w, seg, bytes));
    const float *data = w.data;
    float dst[CAP * PCH * 2];

    /* nothing written yet */
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 0, 16, dst) == 0);

    /* write frames 0..(n-1) in blocks of 10 */
    float l[10], r[10];
    float *planar[2] = {l, r};
    uint64_t f = 0;
    for (int b = 0; b < 4; b++) { /* 40 frames */
        for (int i = 0; i < 10; i++)
            l[i] = sample(f + (uint64_t)i, 0), r[i] = sample(f + (uint64_t)i, 1);
        kn_ring_write_planar(&w, planar, 10);
        f += 10;
    }
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 40, 8, dst) == 0); /* not yet */
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 45, 8, dst) == 0);
    /* part of a block: what is there */
    memset(dst, 0, sizeof dst);
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 36, 8, dst) == 4);
    CHECK(dst[0] == sample(36, 0) && dst[7] == sample(39, 1) && dst[8] == 0);
    /* whole */
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 0, 40, dst) == 40);
    int exact = 1;
    for (int i = 0; i < 40; i++)
        exact &=
            dst[i * PCH] == sample((uint64_t)i, 0) && dst[i * PCH + 1] == sample((uint64_t)i, 1);
    CHECK(exact);

    /* on to frame 150: frames before 150 - CAP are gone, across the end exact */
    while (f < 150) {
        for (int i = 0; i < 10; i++)
            l[i] = sample(f + (uint64_t)i, 0), r[i] = sample(f + (uint64_t)i, 1);
        kn_ring_write_planar(&w, planar, 10);
        f += 10;
    }
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 0, 8, dst) == -1);
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 150 - CAP - 1, 8, dst) ==
          -1);                                                           /* one frame too old */
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 150 - CAP, 8, dst) == 8); /* the oldest there */
    CHECK(dst[0] == sample(150 - CAP, 0));
    /* a writer that may be writing its next 10-frame block (past 150)
     * overwrites the 10 oldest: with that margin they no longer count */
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 10, 150 - CAP, 8, dst) == -1);
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 10, 150 - CAP + 10, 8, dst) == 8);
    /* 120..149 spans positions 56..63 and 0..21 of the ring */
    memset(dst, 0, sizeof dst);
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 120, 30, dst) == 30);
    exact = 1;
    for (int i = 0; i < 30; i++)
        exact &= dst[i * PCH] == sample(120 + (uint64_t)i, 0) &&
                 dst[i * PCH + 1] == sample(120 + (uint64_t)i, 1);
    CHECK(exact);
    /* a whole ring's worth, the oldest frame first */
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 150 - CAP, CAP, dst) == CAP);
    exact = 1;
    for (int i = 0; i < CAP; i++) exact &= dst[i * PCH + 1] == sample(150 - CAP + (uint64_t)i, 1);
    CHECK(exact);
    /* a write position moved back (the ring was reset): not there */
    kn_ring_restart(seg, 0, 10);
    CHECK(kn_ring_peek(seg, data, CAP, PCH, 0, 120, 8, dst) == 0);
    free(seg);
}

/* ------------------------------------------------------------ the table */

static kn_route_table table_of(uint32_t n, uint32_t tag) {
    kn_route_table t;
    memset(&t, 0, sizeof t);
    t.count = n;
    for (uint32_t i = 0; i < n; i++) {
        t.route[i] = rec_of(i % KN_SRCS, (float)(tag + i) / 1000.0f, (int)(i & 1));
        t.route[i].dst = (i + 1) % KN_MAX_DECKS;
        t.route[i].delay = tag % (KN_ROUTE_DELAY_MAX + 1);
    }
    return t;
}

static void test_valid(void) {
    kn_route_table t = table_of(3, 7);
    CHECK(kn_route_table_valid(&t));
    t.route[1].dst = KN_DST_MASTER;
    CHECK(kn_route_table_valid(&t));
    kn_route_table b = t;
    b.count = KN_ROUTES_MAX + 1;
    CHECK(!kn_route_table_valid(&b));
    b = t, b.route[0].src = KN_SRCS;
    CHECK(!kn_route_table_valid(&b));
    b = t, b.route[0].dst = KN_MAX_DECKS;
    CHECK(!kn_route_table_valid(&b));
    b = t, b.route[2].delay = KN_ROUTE_DELAY_MAX + 1;
    CHECK(!kn_route_table_valid(&b));
    b = t, memset(b.route[1].port, 'x', sizeof b.route[1].port);
    CHECK(!kn_route_table_valid(&b));
    b = t, b.route[0].in_count = 0;
    CHECK(!kn_route_table_valid(&b));
    b = t, b.route[0].in_first = KN_MAX_CHANNELS;
    CHECK(!kn_route_table_valid(&b));
    b = t, b.route[0].in_first = KN_MAX_CHANNELS - 1, b.route[0].in_count = 2;
    CHECK(!kn_route_table_valid(&b));
    /* a bad route past `count` is not looked at */
    b = t, b.route[5].src = 1000;
    CHECK(kn_route_table_valid(&b));
}

static int same_table(const kn_route_table *a, const kn_route_table *b) {
    return !memcmp(a, b, sizeof *a);
}

static void test_fetch(void) {
    kn_routes_seg *s = calloc(1, sizeof *s);
    kn_route_table got, a = table_of(3, 1), b = table_of(5, 2);
    memset(&got, 0, sizeof got);
    uint32_t seen = UINT32_MAX; /* odd: the first fetch copies */

    kn_route_table_publish(s, &a);
    CHECK(kn_routes_fetch(s, &got, &seen) == 1 && same_table(&got, &a));
    CHECK(!(seen & 1));
    CHECK(kn_routes_fetch(s, &got, &seen) == 0); /* unchanged */

    /* a writer caught mid-way (seq odd): no copy, the last good one stays */
    uint32_t q = atomic_load(&s->seq);
    atomic_store(&s->seq, q + 1);
    for (size_t i = 0; i < KN_ROUTE_WORDS / 2; i++)
        atomic_store(&s->table[i], 0xdeadbeefdeadbeefull);
    CHECK(kn_routes_fetch(s, &got, &seen) == -1 && same_table(&got, &a));
    /* its next publish starts from an even seq again */
    kn_route_table_publish(s, &b);
    CHECK(!(atomic_load(&s->seq) & 1));
    CHECK(kn_routes_fetch(s, &got, &seen) == 1 && same_table(&got, &b));

    /* an invalid table is refused once, and not copied again until it changes */
    kn_route_table bad = a;
    bad.route[2].src = KN_SRCS + 3;
    kn_route_table_publish(s, &bad);
    CHECK(kn_routes_fetch(s, &got, &seen) == -1 && same_table(&got, &b));
    CHECK(kn_routes_fetch(s, &got, &seen) == 0 && same_table(&got, &b));
    kn_route_table_publish(s, &a);
    CHECK(kn_routes_fetch(s, &got, &seen) == 1 && same_table(&got, &a));
    /* words that do not even form a table (count huge) */
    uint32_t q2 = atomic_load(&s->seq);
    atomic_store(&s->seq, q2 + 1);
    atomic_store(&s->table[0], 0xffffffffffffffffull);
    atomic_store(&s->seq, q2 + 2);
    CHECK(kn_routes_fetch(s, &got, &seen) == -1 && same_table(&got, &a));
    free(s);
}

/* The seqlock under a real race: the writer flips between two tables. */
static kn_routes_seg *race_seg;
static atomic_int race_stop;
static kn_route_table race_t[2];

static void *race_writer(void *arg) {
    (void)arg;
    for (unsigned i = 0; !atomic_load_explicit(&race_stop, memory_order_relaxed); i++) {
        kn_route_table_publish(race_seg, &race_t[i & 1]);
        /* a pause now and then, as the conductor's writes are rare: the
         * reader gets whole copies as well as torn attempts */
        for (volatile int k = 0; k < (int)(i % 64) * 20; k++) {
        }
    }
    return NULL;
}

static void test_race(void) {
    race_seg = calloc(1, sizeof *race_seg);
    race_t[0] = table_of(KN_ROUTES_MAX, 100);
    race_t[1] = table_of(KN_ROUTES_MAX - 1, 200);
    kn_route_table_publish(race_seg, &race_t[0]);
    pthread_t th;
    CHECK(!pthread_create(&th, NULL, race_writer, NULL));
    kn_route_table got;
    uint32_t seen = UINT32_MAX;
    long copies = 0, mixed = 0, kept = 0;
    /* bounded by tries, not time: a loaded machine only makes it slower */
    for (long i = 0; i < 2000000 && copies < 20000; i++) {
        int rc = kn_routes_fetch(race_seg, &got, &seen);
        if (rc == 1) {
            copies++;
            mixed += !same_table(&got, &race_t[0]) && !same_table(&got, &race_t[1]);
        } else if (rc == -1) {
            kept++; /* gave up: the last good copy, checked when it was taken */
        }
    }
    atomic_store(&race_stop, 1);
    pthread_join(th, NULL);
    /* what must hold: no copy mixes two tables. (How many whole copies a
     * reader gets depends on the machine: beside another `make test` a
     * starved one got 6.) */
    CHECK(mixed == 0);
    printf("seqlock race: %ld copies, %ld gave up (kept the last), %ld mixed\n", copies, kept,
           mixed);
    free(race_seg);
}

/* kn_ring_peek under a real race: a writer that never waits (as the
 * device input's, which no reader holds back) laps the ring while the
 * reader copies its oldest frames. Every frame holds its own position, so a
 * frame overwritten during the copy shows: a peek must never return one as
 * good (it returns -1 instead). */
enum { PR_CAP = 64, PR_BLOCK = 8 };
static kn_ring_seg *pr_seg;
static atomic_int pr_stop;

static void *peek_writer(void *arg) {
    kn_ring_view *w = arg;
    float block[PR_BLOCK], *planar[1] = {block};
    while (!atomic_load_explicit(&pr_stop, memory_order_relaxed)) {
        for (int i = 0; i < PR_BLOCK; i++) block[i] = (float)((w->pos + (uint64_t)i) % 8000000 + 1);
        kn_ring_write_planar(w, planar, PR_BLOCK);
    }
    return NULL;
}

static void test_peek_race(void) {
    size_t bytes = kn_ring_bytes(PR_CAP, 1, 0);
    pr_seg = aligned_alloc(64, (bytes + 63) / 64 * 64);
    memset(pr_seg, 0, bytes);
    kn_ring_format(pr_seg, PR_CAP, 1, PR_BLOCK, 32, 48000, 0);
    static kn_ring_view w;
    CHECK(!kn_ring_view_init(&w, pr_seg, bytes));
    const float *data = w.data;
    pthread_t th;
    CHECK(!pthread_create(&th, NULL, peek_writer, &w));
    float dst[PR_CAP];
    long good = 0, gone = 0, torn = 0;
    while (atomic_load_explicit(&pr_seg->write_pos, memory_order_acquire) < PR_CAP) sched_yield();
    /* bounded by tries, not time: the oldest frames a peek may return, all
     * of them, so the writer laps them often while they are copied */
    for (long i = 0; i < 400000 && good < 50000; i++) {
        uint64_t at = atomic_load_explicit(&pr_seg->write_pos, memory_order_acquire);
        uint64_t q = at - PR_CAP + PR_BLOCK;
        int rc = kn_ring_peek(pr_seg, data, PR_CAP, 1, PR_BLOCK, q, PR_CAP - PR_BLOCK, dst);
        if (rc < 0) {
            gone++;
            continue;
        }
        good += rc > 0;
        for (int k = 0; k < rc; k++) torn += dst[k] != (float)((q + (uint64_t)k) % 8000000 + 1);
    }
    atomic_store(&pr_stop, 1);
    pthread_join(th, NULL);
    printf("peek race: %ld copies returned, %ld refused as overwritten, %ld torn frames\n", good,
           gone, torn);
    /* what must hold: no frame returned torn. (On a starved reader every
     * peek may be refused: that is the machine, and nothing was returned.) */
    CHECK(torn == 0);
    free(pr_seg);
}

int main(void) {
    test_gain_and_taps();
    test_glides();
    test_missing_source();
    test_garbage();
    test_channels();
    test_peek();
    test_valid();
    test_fetch();
    test_race();
    test_peek_race();
    return check_report();
}
