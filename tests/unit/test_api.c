// link: cartridge/api.c cartridge/render.c
/*
 * test_api.c - kanon.h's state and parameter semantics, against real
 * segment layouts in process memory (the same code live decks run).
 *
 *   - kn_state: zero-filled on creation; the same name gives the same bytes
 *     to a later "cartridge"; a grown region keeps its common prefix and
 *     zero-fills the rest; a shrunk one keeps the prefix; a full segment
 *     is a clear fatal error, not a crash.
 *   - kn_state refusals: a size that would wrap ((size_t)-1, SIZE_MAX-62,
 *     which rounds to 0 mod 64), one just past the segment, one past the
 *     free heap, and a 65th region are each a fatal error naming the
 *     region, the size asked and the segment's size, and leave every byte
 *     of the state segment as it was (the next version finds its regions).
 *   - kn_param_decl: default on first declaration; a value set from
 *     outside survives re-declaration; a new range clamps it; non-finite
 *     or inverted ranges are refused.
 *   - smoothing: a set glides linearly to its target over 10 ms (or the
 *     set's ramp), one step per block for kn_get and per sample for
 *     kn_smooth, arrives exactly, never overshoots; the smoothed value is
 *     published to the slot (`current`) for feedback and successors.
 *   - kn_bind: each control name ("knob N", "button N", "main", after
 *     "shift", with "log" or "momentary") is published in the slot's `bind`
 *     as its KN_BIND_* code; a re-declaration clears it (a version without
 *     the kn_bind unbinds); names outside the grammar ("knob 0", "knob 17",
 *     "button 1 log", "main 2", "", extra words) are fatal errors naming
 *     the parameter and the controls.
 */
#include "cartridge.h"
#include "segment.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>

#include "check.h"
#include <stdlib.h>
#include <string.h>

static jmp_buf fatal_jump;
static char fatal_msg[512];
static void on_fatal(const char *msg) {
    snprintf(fatal_msg, sizeof fatal_msg, "%s", msg);
    longjmp(fatal_jump, 1);
}

#define STATE_BYTES (64 * 1024)

typedef struct world {
    kn_state_seg *state;
    kn_param_seg *params;
} world;

static void new_cart(kn_cart *c, world *w, uint32_t id) {
    CHECK(kn_cart_init(c, 48000, 2, 64) == 0);
    c->state = w->state;
    c->state_bytes = STATE_BYTES;
    c->params = w->params;
    c->id = id;
    c->display = "test.c";
}

static void test_state(world *w) {
    kn_cart a, b;
    new_cart(&a, w, 1);
    double *p = kn_state(&a.ctx, "osc", 2 * sizeof(double));
    CHECK(p && p[0] == 0 && p[1] == 0);
    p[0] = 0.25;
    p[1] = 0.5;
    CHECK(kn_state(&a.ctx, "osc", 2 * sizeof(double)) == p); /* same call, same bytes */
    new_cart(&b, w, 2);                                      /* a later cartridge */
    double *q = kn_state(&b.ctx, "osc", 2 * sizeof(double));
    CHECK(q == p && q[0] == 0.25 && q[1] == 0.5);
    double *g = kn_state(&b.ctx, "osc", 4 * sizeof(double)); /* a field appended */
    CHECK(g[0] == 0.25 && g[1] == 0.5 && g[2] == 0 && g[3] == 0);
    g[3] = 9;
    double *s = kn_state(&b.ctx, "osc", 1 * sizeof(double)); /* shrunk */
    CHECK(s[0] == 0.25);
    char *other = kn_state(&b.ctx, "other", 100);
    CHECK(other && other != (char *)s);
    kn_fatal_hook = on_fatal;
    if (!setjmp(fatal_jump)) {
        kn_state(&b.ctx, "huge", STATE_BYTES * 2);
        CHECK(!"a region larger than the segment must be refused");
    } else {
        CHECK(strstr(fatal_msg, "test.c: error:") && strstr(fatal_msg, "\"huge\"") &&
              strstr(fatal_msg, "131072 bytes requested") && strstr(fatal_msg, "holds 65536"));
    }
    if (!setjmp(fatal_jump)) {
        kn_state(&b.ctx, "a-name-that-is-far-too-long-for-kanon", 8);
        CHECK(!"an overlong name must be refused");
    }
    kn_cart_free(&a);
    kn_cart_free(&b);
}

/* kn_state(NAME, BYTES) must be refused with a message containing WANT,
 * without changing one byte of the state segment. Statics, not locals:
 * they are read again after the longjmp. */
static kn_cart *refused_cart;
static char *refused_before;
static void expect_refused(kn_cart *c, const char *name, size_t bytes, const char *want) {
    refused_cart = c;
    refused_before = malloc(c->state_bytes);
    memcpy(refused_before, c->state, c->state_bytes);
    fatal_msg[0] = 0;
    if (!setjmp(fatal_jump)) {
        kn_state(&c->ctx, name, bytes);
        CHECK(!"the request must be refused");
    }
    if (!strstr(fatal_msg, want)) printf("  message: %s\n  wanted: %s\n", fatal_msg, want);
    CHECK(strstr(fatal_msg, want) != NULL);
    CHECK(memcmp(refused_before, refused_cart->state, refused_cart->state_bytes) == 0);
    free(refused_before);
}

static void test_state_refused(void) {
    kn_state_seg *seg = calloc(1, STATE_BYTES);
    kn_param_seg *ps = calloc(1, sizeof *ps);
    kn_state_format(seg, STATE_BYTES, KN_SEG_STATE);
    kn_param_format(ps);
    world w = {seg, ps};
    kn_cart a;
    new_cart(&a, &w, 1);
    uint64_t *ctr = kn_state(&a.ctx, "ctr", sizeof *ctr);
    *ctr = 12345;
    kn_fatal_hook = on_fatal;
    char want[256];
    /* wraps to 0 in the 64-byte rounding: used to be accepted, size 2^64-1 */
    snprintf(want, sizeof want,
             "test.c: error: kn_state(\"x\"): %zu bytes requested, but the deck's state "
             "segment holds %d bytes",
             (size_t)-1, STATE_BYTES);
    expect_refused(&a, "x", (size_t)-1, want);
    expect_refused(&a, "x", (size_t)-1 - 62, "bytes requested, but the deck's state segment holds");
    expect_refused(&a, "ctr", (size_t)-1, "kn_state(\"ctr\"): 18446744073709551615 bytes");
    expect_refused(&a, "x", STATE_BYTES + 1, "65537 bytes requested");
    size_t room = STATE_BYTES - seg->heap_offset - seg->heap_used;
    expect_refused(&a, "x", room + 1, "state segment is full");
    CHECK(seg->count == 1);
    /* the region survives all of it, for this and the next cartridge */
    CHECK(kn_state(&a.ctx, "ctr", sizeof *ctr) == ctr && *ctr == 12345);
    kn_cart b;
    new_cart(&b, &w, 2);
    uint64_t *again = kn_state(&b.ctx, "ctr", sizeof *again);
    CHECK(again == ctr && *again == 12345);
    /* exactly the free room still fits */
    CHECK(kn_state(&b.ctx, "rest", room) != NULL);
    CHECK(seg->heap_used + seg->heap_offset == STATE_BYTES);
    kn_cart_free(&b);
    /* a 65th region is refused before any heap is handed out */
    kn_state_format(seg, STATE_BYTES, KN_SEG_STATE);
    for (int i = 0; i < KN_MAX_REGIONS; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        CHECK(kn_state(&a.ctx, name, 8) != NULL);
    }
    expect_refused(&a, "one-too-many", 8, "too many state regions");
    kn_cart_free(&a);
    free(seg);
    free(ps);
}

/* Sets a slot like the conductor does (value, ramp, seq bump). */
static void conductor_set(kn_param_slot *s, double v, double ramp_ms) {
    atomic_store(&s->ramp, kn_dbits(ramp_ms));
    atomic_store(&s->value, kn_dbits(v));
    atomic_fetch_add(&s->seq, 1);
}

/* Refreshes until the value settles; checks every step on the way. */
static int glide(kn_cart *c, kn_param *p, double from, double to, double max_step) {
    double prev = from;
    int blocks = 0;
    for (; blocks < 100000; blocks++) {
        kn_params_refresh(c);
        double v = kn_get(p);
        CHECK(fabs(v - prev) <= max_step + 1e-9);
        CHECK(to >= from ? v >= prev && v <= to : v <= prev && v >= to);
        double s0 = kn_smooth(p), s1 = kn_smooth(p); /* per-sample values inside the block */
        CHECK(s0 == v && fabs(s1 - s0) <= max_step / c->ctx.block + 1e-9);
        prev = v;
        if (v == to) break;
    }
    return blocks;
}

static void test_params(world *w) {
    kn_cart a, b;
    new_cart(&a, w, 3);
    kn_param *f = kn_param_decl(&a.ctx, "freq", 20, 2000, 440);
    CHECK(kn_get(f) == 440);
    CHECK(kn_param_decl(&a.ctx, "freq", 20, 2000, 440) == f);
    /* the conductor sets a value in the segment; it shows at the next block */
    kn_param_slot *slot = &w->params->slot[0];
    conductor_set(slot, 1000, 0);
    CHECK(kn_get(f) == 440);
    /* default smoothing: 10 ms = 480 frames = 7.5 blocks of 64 */
    int n = glide(&a, f, 440, 1000, 560.0 / 480 * 64);
    CHECK(n >= 7 && n <= 9);
    CHECK(kn_bitsd(atomic_load(&slot->current)) == 1000);
    conductor_set(slot, 1e9, 100); /* out of range from outside: clamped; 100 ms ramp */
    n = glide(&a, f, 1000, 2000, 1000.0 / 4800 * 64);
    CHECK(n >= 75 && n <= 77);
    conductor_set(slot, 1000, 0);
    glide(&a, f, 2000, 1000, 1000.0 / 480 * 64);
    /* a new cartridge re-declares with a narrower range: value kept, clamped */
    new_cart(&b, w, 4);
    kn_param *f2 = kn_param_decl(&b.ctx, "freq", 20, 500, 100);
    CHECK(kn_get(f2) == 500);
    CHECK(kn_bitsd(atomic_load(&slot->max)) == 500 && atomic_load(&slot->declared_by) == 4);
    kn_param *g = kn_param_decl(&b.ctx, "gain", 0, 1, 5); /* default clamped too */
    CHECK(kn_get(g) == 1);
    CHECK(atomic_load(&w->params->count) == 2);
    CHECK(kn_param_preset(w->params, "gain", 0.5) == 0);
    glide(&b, g, 1, 0.5, 0.5 / 480 * 64);
    kn_fatal_hook = on_fatal;
    if (!setjmp(fatal_jump)) {
        kn_param_decl(&b.ctx, "bad", 1, 0, 0.5);
        CHECK(!"min > max must be refused");
    } else {
        CHECK(strstr(fatal_msg, "min <= max") != NULL);
    }
    kn_cart_free(&a);
    kn_cart_free(&b);
}

static void test_bind(world *w) {
    kn_cart a, b;
    new_cart(&a, w, 5);
    kn_param *p = kn_param_decl(&a.ctx, "cut", 0, 1, 0.5);
    kn_param_slot *slot = &w->params->slot[p->slot];
    CHECK(atomic_load(&slot->bind) == 0);
    static const struct {
        const char *name;
        uint32_t code;
    } ok[] = {
        {"knob 3", KN_BIND_MAKE(KN_BIND_KNOB, 3)},
        {"knob 16", KN_BIND_MAKE(KN_BIND_KNOB, 16)},
        {"  knob   1 log ", KN_BIND_MAKE(KN_BIND_KNOB, 1) | KN_BIND_LOG},
        {"button 2", KN_BIND_MAKE(KN_BIND_BUTTON, 2)},
        {"button 1 momentary", KN_BIND_MAKE(KN_BIND_BUTTON, 1) | KN_BIND_MOMENTARY},
        {"main", KN_BIND_MAKE(KN_BIND_MAIN, 0)},
        {"main log", KN_BIND_MAKE(KN_BIND_MAIN, 0) | KN_BIND_LOG},
        {"shift knob 4", KN_BIND_MAKE(KN_BIND_KNOB, 4) | KN_BIND_SHIFT},
        {"shift button 5 momentary",
         KN_BIND_MAKE(KN_BIND_BUTTON, 5) | KN_BIND_SHIFT | KN_BIND_MOMENTARY},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        kn_bind(p, ok[i].name);
        if (atomic_load(&slot->bind) != ok[i].code) printf("  kn_bind \"%s\"\n", ok[i].name);
        CHECK(atomic_load(&slot->bind) == ok[i].code);
    }
    new_cart(&b, w, 6); /* the next version declares the knob without kn_bind */
    kn_param *q = kn_param_decl(&b.ctx, "cut", 0, 1, 0.5);
    CHECK(q->slot == p->slot && atomic_load(&slot->bind) == 0);
    static const char *const bad[] = {
        "knob 0",         "knob 17", "knob",   "button 1 log", "main 2",          "",
        "knob 1 log log", "shift",   "dial 1", "knob 1x",      "knob 1 momentary"};
    kn_fatal_hook = on_fatal;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fatal_msg[0] = 0;
        if (!setjmp(fatal_jump)) {
            kn_bind(q, bad[i]);
            printf("  kn_bind \"%s\" was accepted\n", bad[i]);
            CHECK(!"a bad control name must be refused");
        } else {
            CHECK(strstr(fatal_msg, "test.c: error: kn_bind(cut, ") &&
                  strstr(fatal_msg, "not a control; say \"knob N\", \"button N\" (N = 1..16)"));
        }
    }
    CHECK(atomic_load(&slot->bind) == 0);
    kn_cart_free(&a);
    kn_cart_free(&b);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* the checks that failed show even if a later one crashes */
    world w = {calloc(1, STATE_BYTES), calloc(1, sizeof(kn_param_seg))};
    kn_state_format(w.state, STATE_BYTES, KN_SEG_STATE);
    kn_param_format(w.params);
    test_state(&w);
    test_state_refused();
    test_params(&w);
    test_bind(&w);
    free(w.state);
    free(w.params);
    printf("test_api: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
