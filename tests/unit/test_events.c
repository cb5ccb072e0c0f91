// link: cartridge/api.c cartridge/render.c
/*
 * test_events.c - the timeline in the block renderer (cartridge/render.c):
 * timed events from the parameter segment's queue, the split of a block at
 * their samples, and the timeline fields of kn_ctx.
 *
 *   - no event: process() gets exactly one call per block, of k->block
 *     frames, into the block's own buffers, and the same samples as a
 *     render without the queue's code (kn_params_refresh's arithmetic);
 *   - a parameter event at offset o: process() gets [0, o) and [o, n) with
 *     the out pointers advanced and k->frame, k->now and k->beat of each
 *     part's first sample; event() is called between them with the offset,
 *     the declared handle and kn_target already at the new value;
 *     kn_target changes at exactly sample o; kn_smooth glides linearly from
 *     the value at o, 10 ms to the target (or the event's ramp), arriving
 *     exactly; the slot's value holds the new target, so the next block
 *     does not glide back; files without event() get the same split;
 *   - note and trigger events split a block only for a file with event();
 *     a NOTE_ON with velocity 0 arrives as a NOTE_OFF; events at one frame
 *     keep their queue order; malformed events (unknown type, a slot that
 *     does not exist, a note out of range, NaN values) are dropped; a head
 *     scribbled past the tail is repaired by the next block;
 *   - a late event applies at offset 0 and is counted;
 *   - the timeline: k->now = frame + epoch, k->beat and kn_beat_at from the
 *     tempo map (a ramp inside a block too), k->bpm, k->bar;
 *   - a render on a private copy (kn_cart_bind_private: the test render,
 *     the shadow) applies the queue's events without taking them from the
 *     shared queue.
 */
#include "cartridge.h"
#include "segment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define STATE_BYTES (64 * 1024)
#define BLOCK       64
#define RATE        48000.0

/* What process() and event() saw, call by call. */
typedef struct call {
    int kind; /* 'p' process, 'e' event */
    uint64_t frame, now;
    double beat, bpm;
    int bar, frames, offset, type, note, velocity, channel;
    long out_at; /* out[0] - the block's buffer */
    const kn_param *param;
    double value, target;
} call;

static call calls[256];
static int ncalls;
static float *base0; /* the cartridge's channel-0 buffer */
static kn_param *v, *w;

static void setup(kn_ctx *k) {
    v = kn_param_decl(k, "v", 0, 1, 0);
    w = kn_param_decl(k, "w", -10, 10, 1);
}

/* out[0]: kn_target(v); out[1]: kn_smooth(v) */
static void process(kn_ctx *k, float **out, int frames) {
    if (ncalls < 256)
        calls[ncalls++] = (call){.kind = 'p',
                                 .frame = k->frame,
                                 .now = k->now,
                                 .beat = k->beat,
                                 .bpm = k->bpm,
                                 .bar = k->bar,
                                 .frames = frames,
                                 .out_at = out[0] - base0};
    for (int i = 0; i < frames; i++) {
        out[0][i] = (float)kn_target(v);
        out[1][i] = (float)kn_smooth(v);
    }
}

static void event(kn_ctx *k, const kn_event *e) {
    if (ncalls < 256)
        calls[ncalls++] = (call){.kind = 'e',
                                 .frame = k->frame,
                                 .now = k->now,
                                 .beat = k->beat,
                                 .offset = e->offset,
                                 .type = e->type,
                                 .note = e->note,
                                 .velocity = e->velocity,
                                 .channel = e->channel,
                                 .param = e->param,
                                 .value = e->value,
                                 .target = e->param ? kn_target(e->param) : NAN};
}

typedef struct world {
    kn_state_seg *state;
    kn_param_seg *params;
    kn_cart c;
    kn_program prog;
} world;

static void world_new(world *wd, int with_event) {
    wd->state = calloc(1, STATE_BYTES);
    wd->params = calloc(1, sizeof *wd->params);
    kn_state_format(wd->state, STATE_BYTES, KN_SEG_STATE);
    kn_param_format(wd->params);
    CHECK(kn_cart_init(&wd->c, RATE, 2, BLOCK) == 0);
    wd->c.id = 1;
    wd->c.display = "test.c";
    wd->prog = (kn_program){.setup = setup, .process = process, .event = with_event ? event : 0};
    kn_cart_bind(&wd->c, &wd->prog, wd->state, STATE_BYTES, wd->params);
    base0 = wd->c.out[0];
}

static void world_free(world *wd) {
    kn_cart_free(&wd->c);
    free(wd->state);
    free(wd->params);
}

static void push(world *wd, kn_ev_slot e) {
    CHECK(kn_evq_push(&wd->params->evq, &e) == 0);
}

static kn_ev_slot param_ev(uint64_t frame, uint32_t slot, double value) {
    return (kn_ev_slot){.frame = frame, .type = KN_EVQ_PARAM, .param = slot, .value = value};
}

static void render(world *wd, uint64_t frame) {
    ncalls = 0;
    kn_render_block(&wd->c, &wd->prog, frame);
}

static void test_no_events(void) {
    world a, b;
    world_new(&b, 0);
    world_new(&a, 1); /* last: process() uses a's handles */
    /* a glide in progress: the same samples as kn_params_refresh + one process() */
    kn_param_slot *sl = &a.params->slot[0];
    atomic_store(&sl->value, kn_dbits(1));
    atomic_fetch_add(&sl->seq, 1);
    int bad = 0;
    for (uint64_t blk = 0; blk < 20; blk++) {
        render(&a, blk * BLOCK);
        CHECK(ncalls == 1 && calls[0].frames == BLOCK && calls[0].out_at == 0 &&
              calls[0].frame == blk * BLOCK);
        /* the reference: the renderer as it was, one refresh per block */
        atomic_store(&b.params->slot[0].value, kn_dbits(1));
        if (blk == 0) atomic_fetch_add(&b.params->slot[0].seq, 1);
        kn_params_refresh(&b.c);
        for (int i = 0; i < BLOCK; i++) bad += a.c.out[1][i] != (float)kn_smooth(&b.c.local[0]);
    }
    CHECK(bad == 0);
    world_free(&a);
    world_free(&b);
}

static void test_param_event(int with_event) {
    world wd;
    world_new(&wd, with_event);
    render(&wd, 0);
    /* an event at timeline frame 64 + 23 */
    push(&wd, param_ev(BLOCK + 23, 0, 0.5));
    render(&wd, BLOCK);
    int want = with_event ? 3 : 2;
    CHECK(ncalls == want);
    if (ncalls == want) {
        call *p0 = &calls[0], *p1 = &calls[want - 1];
        CHECK(p0->kind == 'p' && p0->frames == 23 && p0->out_at == 0 && p0->frame == BLOCK);
        CHECK(p1->kind == 'p' && p1->frames == BLOCK - 23 && p1->out_at == 23 &&
              p1->frame == BLOCK + 23 && p1->now == BLOCK + 23);
        CHECK(fabs(p1->beat - (BLOCK + 23) / 24000.0) < 1e-12);
        if (with_event) {
            call *e = &calls[1];
            CHECK(e->kind == 'e' && e->type == KN_EV_PARAM && e->offset == 23 && e->param == v &&
                  e->value == 0.5 && e->target == 0.5 && e->frame == BLOCK + 23);
        }
    }
    /* kn_target changes at exactly sample 23; kn_smooth starts there from 0 */
    float *t = wd.c.out[0], *s = wd.c.out[1];
    CHECK(t[22] == 0 && t[23] == 0.5f && t[63] == 0.5f);
    CHECK(s[22] == 0 && s[23] == 0);
    double step = 0.5 / 480; /* 10 ms at 48 kHz */
    CHECK(fabs(s[24] - step) < 1e-6 && fabs(s[63] - 40 * step) < 1e-6);
    /* the glide goes on at that rate; it arrives in the block where 480
     * frames have passed (kn_smooth meets the target at that block's end) */
    CHECK(kn_bitsd(atomic_load(&wd.params->slot[0].value)) == 0.5);
    int bad = 0;
    float prev = s[63];
    for (uint64_t f = 2 * BLOCK; f < 12 * BLOCK; f += BLOCK) {
        render(&wd, f);
        CHECK(ncalls == 1);
        double first = (double)f - (BLOCK + 23); /* frames since the event */
        int arriving = first < 480 && first + BLOCK >= 480;
        for (int i = 0; i < BLOCK; i++) {
            double at = first + i;
            float x = wd.c.out[1][i];
            bad += wd.c.out[0][i] != 0.5f || x < prev;
            if (!arriving) bad += fabs(x - (at >= 480 ? 0.5 : at * step)) > 1e-6;
            prev = x;
        }
    }
    CHECK(bad == 0 && prev == 0.5f);
    CHECK(kn_get(v) == 0.5 && kn_smooth(v) == 0.5f);
    /* an event with its own ramp (100 ms), at offset 0 */
    push(&wd, (kn_ev_slot){.frame = 12 * BLOCK, .type = KN_EVQ_PARAM, .value = 1, .ramp = 100});
    render(&wd, 12 * BLOCK);
    CHECK(ncalls == want - 1 && calls[ncalls - 1].frames == BLOCK && wd.c.out[0][0] == 1.0f);
    CHECK(fabs(wd.c.out[1][1] - (0.5 + 0.5 / 4800)) < 1e-6);
    /* a value out of range is clamped, and it is stored as the slot's target */
    push(&wd, param_ev(13 * BLOCK + 5, 1, 99));
    render(&wd, 13 * BLOCK);
    CHECK(kn_target(w) == 10 && kn_bitsd(atomic_load(&wd.params->slot[1].value)) == 10);
    world_free(&wd);
}

static void test_notes(void) {
    world wd;
    world_new(&wd, 1);
    push(&wd, (kn_ev_slot){.frame = 10, .type = KN_EVQ_NOTE_ON, .note = 60, .velocity = 100});
    push(&wd, (kn_ev_slot){.frame = 10, .type = KN_EVQ_NOTE_ON, .note = 64, .velocity = 0});
    push(&wd, (kn_ev_slot){.frame = 5, .type = KN_EVQ_TRIG, .value = 3, .channel = 2});
    push(&wd, (kn_ev_slot){.frame = 7, .type = 99}); /* unknown */
    push(&wd, param_ev(8, 40, 1));                   /* no slot */
    push(&wd, (kn_ev_slot){.frame = 9, .type = KN_EVQ_NOTE_ON, .note = 200, .velocity = 1});
    push(&wd, (kn_ev_slot){.frame = 9, .type = KN_EVQ_TRIG, .value = NAN});
    push(&wd, (kn_ev_slot){.frame = 70, .type = KN_EVQ_NOTE_OFF, .note = 60}); /* next block */
    render(&wd, 0);
    /* p[0,5) e(trig) p[5,10) e(on 60) e(off 64) p[10,64) */
    CHECK(ncalls == 6);
    if (ncalls == 6) {
        CHECK(calls[0].kind == 'p' && calls[0].frames == 5);
        CHECK(calls[1].kind == 'e' && calls[1].type == KN_EV_TRIG && calls[1].value == 3 &&
              calls[1].channel == 2 && calls[1].offset == 5 && calls[1].param == NULL);
        CHECK(calls[2].kind == 'p' && calls[2].frames == 5 && calls[2].out_at == 5);
        CHECK(calls[3].kind == 'e' && calls[3].type == KN_EV_NOTE_ON && calls[3].note == 60 &&
              calls[3].velocity == 100 && calls[3].offset == 10);
        CHECK(calls[4].kind == 'e' && calls[4].type == KN_EV_NOTE_OFF && calls[4].note == 64);
        CHECK(calls[5].kind == 'p' && calls[5].frames == 54 && calls[5].frame == 10);
    }
    CHECK(kn_evq_count(&wd.params->evq) == 1); /* the one for the next block */
    render(&wd, BLOCK);
    CHECK(ncalls == 3 && calls[1].type == KN_EV_NOTE_OFF && calls[1].offset == 6);
    CHECK(kn_evq_count(&wd.params->evq) == 0 && wd.c.late == 0);
    /* without event(): notes and triggers are dropped and do not split */
    world nw;
    world_new(&nw, 0);
    push(&nw, (kn_ev_slot){.frame = 10, .type = KN_EVQ_NOTE_ON, .note = 60, .velocity = 100});
    push(&nw, (kn_ev_slot){.frame = 20, .type = KN_EVQ_TRIG, .value = 1});
    render(&nw, 0);
    CHECK(ncalls == 1 && calls[0].frames == BLOCK && kn_evq_count(&nw.params->evq) == 0);
    world_free(&nw);
    world_free(&wd);
}

static void test_late(void) {
    world wd;
    world_new(&wd, 1);
    wd.c.epoch = 1000; /* block 0 is timeline frame 1000 */
    push(&wd, param_ev(400, 0, 0.25));
    push(&wd, param_ev(1010, 0, 0.75));
    render(&wd, 0);
    CHECK(wd.c.late == 1 && wd.c.events == 2);
    CHECK(ncalls == 4 && calls[0].kind == 'e' && calls[0].offset == 0 && calls[0].now == 1000);
    CHECK(calls[1].kind == 'p' && calls[1].frames == 10 && calls[1].now == 1000 &&
          calls[1].frame == 0);
    CHECK(wd.c.out[0][0] == 0.25f && wd.c.out[0][9] == 0.25f && wd.c.out[0][10] == 0.75f);
    world_free(&wd);
}

static void test_timeline_fields(void) {
    world wd;
    world_new(&wd, 1);
    wd.c.epoch = 24000 - 32; /* beat 1 falls inside the first block, at sample 32 */
    kn_tempo_change(&wd.c.tempo, RATE, 24000, 60, 3, 1); /* slowing down from beat 1 */
    render(&wd, 0);
    CHECK(ncalls == 1 && calls[0].now == 24000 - 32 && calls[0].bpm == 120 && calls[0].bar == 4);
    CHECK(fabs(calls[0].beat - (24000 - 32) / 24000.0) < 1e-12);
    /* kn_beat_at inside the block, through the start of the ramp */
    kn_ctx *k = &wd.c.ctx;
    k->now = 24000 - 32;
    CHECK(fabs(kn_beat_at(k, 32) - 1) < 1e-12);
    CHECK(fabs(kn_beat_at(k, 0) - (24000 - 32) / 24000.0) < 1e-12);
    double prev = kn_beat_at(k, 0);
    int bad = 0;
    for (int i = 1; i <= BLOCK; i++) {
        double b = kn_beat_at(k, i);
        bad += !(b > prev) || b - prev > 120 / 60.0 / RATE * 1.0001;
        prev = b;
    }
    CHECK(bad == 0);
    /* in the ramp: the block's tempo, the bar from the change on */
    render(&wd, 24000); /* timeline frame 47968: the ramp runs from 24000 to 56000 */
    CHECK(wd.c.tempo.seg[1].ramp == 32000);
    CHECK(calls[0].bar == 3 && calls[0].bpm < 120 && calls[0].bpm > 60);
    CHECK(fabs(calls[0].beat - kn_tempo_beat(&wd.c.tempo, RATE, 24000 + 24000 - 32)) < 1e-12);
    world_free(&wd);
}

/* A head scribbled past the tail: the conductor cannot push, and the next
 * block repairs it. */
static void test_garbage_head(void) {
    world wd;
    world_new(&wd, 1);
    atomic_store(&wd.params->evq.head, 999);
    kn_ev_slot e = param_ev(10, 0, 0.5);
    CHECK(kn_evq_push(&wd.params->evq, &e) == -1);
    render(&wd, 0);
    CHECK(ncalls == 1 && atomic_load(&wd.params->evq.head) == 0);
    push(&wd, param_ev(BLOCK + 10, 0, 0.5));
    render(&wd, BLOCK);
    CHECK(ncalls == 3 && wd.c.out[0][10] == 0.5f && wd.c.out[0][9] == 0);
    world_free(&wd);
}

static void test_private_copy(void) {
    world wd;
    world_new(&wd, 1);
    push(&wd, param_ev(30, 0, 0.5));
    /* the shadow / test render: on a copy */
    CHECK(kn_cart_bind_private(&wd.c, &wd.prog, wd.state, STATE_BYTES, STATE_BYTES, wd.params) ==
          0);
    base0 = wd.c.out[0];
    render(&wd, 0);
    CHECK(ncalls == 3 && wd.c.out[0][30] == 0.5f);
    CHECK(kn_evq_count(&wd.params->evq) == 1 && kn_evq_count(&wd.c.priv_params->evq) == 0);
    CHECK(kn_bitsd(atomic_load(&wd.params->slot[0].value)) == 0); /* the shared slot untouched */
    /* the real producer takes it */
    kn_cart_bind(&wd.c, &wd.prog, wd.state, STATE_BYTES, wd.params);
    render(&wd, 0);
    CHECK(ncalls == 3 && wd.c.out[0][30] == 0.5f && kn_evq_count(&wd.params->evq) == 0);
    world_free(&wd);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_no_events();
    test_param_event(1);
    test_param_event(0);
    test_notes();
    test_late();
    test_timeline_fields();
    test_garbage_head();
    test_private_copy();
    return check_report();
}
