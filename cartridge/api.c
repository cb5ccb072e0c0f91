/*
 * api.c - kanon.h's functions: persistent state regions and parameters.
 *
 * State: a directory of named regions plus a bump heap in the deck's state
 * segment. A region asked for with a new size is re-allocated and the
 * common prefix copied, so appending a field to a struct keeps the old
 * fields. Only one cartridge of a deck touches the segment at a time, so
 * no atomics are needed; offsets are still validated (never trusted).
 *
 * Parameters: slots in the deck's parameter segment, found again by name.
 * The target lives in shared memory (the conductor writes it). Each block
 * the cartridge moves a private smoothed value towards the clamped target
 * (linearly, over the set's ramp or at least KN_SMOOTH_MS), so kn_get is
 * constant within a block and never jumps; kn_smooth interpolates inside
 * the block. The smoothed value is published back (slot.current) while it
 * moves; a knob at rest costs a block two loads and two compares (read)
 * and one test (advance), so 1024 knobs stay cheap (scripts/bench.py,
 * section params). Names are found through a private hash (below).
 *
 * Timed parameter events (timeline.h) cut a block into parts: the slots
 * are read once, at the block's start (kn_params_read), and the smoothing
 * advances part by part (kn_params_advance), so a block without events
 * does exactly the arithmetic it always did. An event moves the target at
 * its sample (kn_param_apply): the glide starts from where the smoothing
 * stands at that sample. It also stores the value into the slot, without a
 * seq bump, so the next block's read finds nothing new, `kanon get` shows
 * it and the next cartridge starts from it. A `kanon set` racing with it
 * ends the same way as two sets: the slot's last value wins, and the
 * cartridge always converges to the slot.
 */
#include "cartridge.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void (*kn_fatal_hook)(const char *msg);

#define KN_SMOOTH_MS 10.0 /* the shortest glide: removes zipper noise */

/* Hands "FILE: error: ..." to kn_fatal_hook, which does not come back (it
 * exits; a unit test jumps out). */
void kn_cart_fatal(const kn_cart *c, const char *fmt, ...) {
    char what[600], msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s: error: %s", c->display ? c->display : "?", what);
    kn_fatal_hook(msg);
}

static int name_ok(const char *name) {
    size_t n = name ? strnlen(name, KN_NAME_MAX) : 0;
    return n > 0 && n < KN_NAME_MAX;
}

static kn_region *region_find(kn_state_seg *s, const char *name) {
    uint32_t n = s->count < KN_MAX_REGIONS ? s->count : KN_MAX_REGIONS;
    for (uint32_t i = 0; i < n; i++)
        if (!strncmp(s->region[i].name, name, KN_NAME_MAX)) return &s->region[i];
    return NULL;
}

/* Whether a directory entry points inside the heap (the directory is in
 * shared memory: never trusted). */
static int region_ok(const kn_state_seg *s, const kn_region *r, uint64_t total) {
    return r->offset >= s->heap_offset && r->offset <= total && r->size <= total - r->offset;
}

/* Heap bytes not yet handed out; 0 if the header was scribbled over. */
static uint64_t heap_free(const kn_state_seg *s, uint64_t total) {
    if (s->heap_offset > total || s->heap_used > total - s->heap_offset) return 0;
    return total - s->heap_offset - s->heap_used;
}

uint64_t kn_state_need;

/* The end of a refusal for lack of room: what the deck's state would need
 * for this request (every region so far, and this one), and whether the
 * cap lets the segment grow that far. When it does, kn_state_need says how
 * far: live, the conductor makes the segment that large and starts the
 * same version again (contract.h, state_need), so the user never sees
 * this message unless the deck cannot grow now. */
static void room_hint(kn_cart *c, size_t bytes, uint64_t total, char *out, size_t n) {
    const kn_state_seg *s = c->state;
    uint64_t used = s->heap_offset <= total && s->heap_used <= total - s->heap_offset
                        ? s->heap_offset + s->heap_used
                        : total;
    uint64_t block = bytes > UINT64_MAX - 63 ? UINT64_MAX : ((uint64_t)bytes + 63) & ~(uint64_t)63;
    uint64_t need = block > UINT64_MAX - used ? UINT64_MAX : used + block;
    const char *opt = c->state_option ? c->state_option : "kanon up --state-mb";
    uint64_t mb = need / 1048576 + 1;
    if (!c->state_cap)
        snprintf(out, n, "%s sets its size", opt);
    else if (need <= c->state_cap && c->state_cap > total) {
        kn_state_need = need;
        snprintf(out, n,
                 "the deck's state needs %" PRIu64 " bytes in all; it may grow to %" PRIu64
                 ", the %s cap",
                 need, c->state_cap, opt);
    } else if (mb <= KN_STATE_MB_MAX)
        snprintf(out, n,
                 "the deck's state would need %" PRIu64 " bytes in all, and may have %" PRIu64
                 " at most: %s %" PRIu64 " allows it",
                 need, c->state_cap, opt, mb);
    else
        snprintf(out, n, "more than a deck's state may ever hold: %s %d at most", opt,
                 KN_STATE_MB_MAX);
}

void *kn_state(kn_ctx *k, const char *name, size_t bytes) {
    kn_cart *c = (kn_cart *)k;
    kn_state_seg *s = c->state;
    uint64_t total = c->state_bytes;
    if (!name_ok(name)) {
        kn_cart_fatal(c, "kn_state: name must be 1..%d characters", KN_NAME_MAX - 1);
        return NULL;
    }
    if (bytes == 0) bytes = 1;
    kn_region *r = region_find(s, name);
    int r_ok = r && region_ok(s, r, total);
    if (r_ok && r->size == bytes) return (char *)s + r->offset;
    /* Every check comes before the first write: a refused request must leave
     * the state exactly as the next version will find it. */
    uint64_t heap = s->heap_offset <= total ? total - s->heap_offset : 0;
    char hint[200];
    if (bytes > heap) { /* also keeps the rounding below from wrapping */
        room_hint(c, bytes, total, hint, sizeof hint);
        kn_cart_fatal(
            c,
            "kn_state(\"%s\"): %zu bytes requested, but the deck's state segment holds %" PRIu64
            " bytes (%" PRIu64 " for regions; %s)",
            name, bytes, total, heap, hint);
        return NULL;
    }
    uint64_t need = ((uint64_t)bytes + 63) & ~(uint64_t)63; /* 64-byte aligned blocks */
    uint64_t avail = heap_free(s, total);
    if (need > avail) {
        room_hint(c, bytes, total, hint, sizeof hint);
        kn_cart_fatal(
            c,
            "kn_state(\"%s\"): the deck's state segment is full: %zu bytes requested, %" PRIu64
            " of %" PRIu64 " free (a resized region keeps its old block until `kanon stop`; %s)",
            name, bytes, avail, total, hint);
        return NULL;
    }
    if (!r && s->count >= KN_MAX_REGIONS) {
        kn_cart_fatal(c, "kn_state(\"%s\"): too many state regions (at most %d)", name,
                      KN_MAX_REGIONS);
        return NULL;
    }
    uint64_t at = s->heap_offset + s->heap_used;
    memset((char *)s + at, 0, need);
    if (r_ok) /* resized: keep the common prefix */
        memcpy((char *)s + at, (char *)s + r->offset, r->size < bytes ? r->size : bytes);
    if (!r) {
        r = &s->region[s->count];
        memset(r->name, 0, sizeof r->name);
        strncpy(r->name, name, KN_NAME_MAX - 1);
        s->count++;
    }
    s->heap_used += need;
    r->offset = at;
    r->size = bytes;
    return (char *)s + at;
}

static double clampd(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* The first slot named `name` in a segment, by a scan: for presets
 * (`render --set`), before any cartridge is bound. */
static kn_param_slot *slot_find(kn_param_seg *ps, const char *name, uint32_t *index) {
    uint32_t n = atomic_load_explicit(&ps->count, memory_order_acquire);
    if (n > KN_MAX_PARAMS) n = KN_MAX_PARAMS;
    for (uint32_t i = 0; i < n; i++)
        if (!strncmp(ps->slot[i].name, name, KN_NAME_MAX)) {
            *index = i;
            return &ps->slot[i];
        }
    return NULL;
}

/* ------------------------------------------------------ the name index
 *
 * A Faust matrix declares hundreds of knobs in setup(), which runs again
 * at every takeover while the ring's runway drains: a scan of every slot
 * for every declaration (and another of every knob) would make that
 * quadratic. The cartridge keeps a private hash of the bound segment's
 * slot names instead, extended as slots are added (by anyone: slots are
 * only ever appended) and verified against the shared name on every hit,
 * so a name written over in shared memory only ever misses. */

static uint32_t name_hash(const char *name) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < KN_NAME_MAX && name[i]; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

void kn_params_reset(kn_cart *c) {
    c->nlocal = 0;
    c->pindexed = 0;
    memset(c->phash, 0, sizeof c->phash);
    memset(c->local_of, 0, sizeof c->local_of);
}

static void index_add(kn_cart *c, uint32_t slot) {
    char name[KN_NAME_MAX];
    memcpy(name, c->params->slot[slot].name, KN_NAME_MAX); /* one read of shared bytes */
    name[KN_NAME_MAX - 1] = 0;
    for (uint32_t h = name_hash(name);; h++)
        if (!c->phash[h & (KN_PARAM_HASH - 1)]) {
            c->phash[h & (KN_PARAM_HASH - 1)] = (uint16_t)(slot + 1);
            return;
        }
}

/* The bound segment's slot named `name`, through the index. */
static kn_param_slot *slot_lookup(kn_cart *c, const char *name, uint32_t *index) {
    kn_param_seg *ps = c->params;
    uint32_t n = atomic_load_explicit(&ps->count, memory_order_acquire);
    if (n > KN_MAX_PARAMS) n = KN_MAX_PARAMS;
    while (c->pindexed < n) index_add(c, c->pindexed++);
    for (uint32_t h = name_hash(name);; h++) {
        uint32_t e = c->phash[h & (KN_PARAM_HASH - 1)];
        if (!e) return NULL;
        if (e - 1 < n && !strncmp(ps->slot[e - 1].name, name, KN_NAME_MAX)) {
            *index = e - 1;
            return &ps->slot[e - 1];
        }
    }
}

/* Adds a slot with its name and value; min/max/def are filled by the caller
 * before anyone can see them only if it wants; published by the count. */
static kn_param_slot *slot_add(kn_param_seg *ps, const char *name, double min, double max,
                               double def, double value, uint32_t *index) {
    uint32_t n = atomic_load_explicit(&ps->count, memory_order_acquire);
    if (n >= KN_MAX_PARAMS) return NULL;
    kn_param_slot *sl = &ps->slot[n];
    memset(sl->name, 0, sizeof sl->name);
    strncpy(sl->name, name, KN_NAME_MAX - 1);
    atomic_store(&sl->min, kn_dbits(min));
    atomic_store(&sl->max, kn_dbits(max));
    atomic_store(&sl->def, kn_dbits(def));
    atomic_store(&sl->value, kn_dbits(value));
    atomic_store(&sl->current, kn_dbits(value));
    atomic_store(&sl->ramp, kn_dbits(0));
    atomic_store(&sl->seq, 0);
    atomic_store(&sl->declared_by, 0);
    atomic_store_explicit(&ps->count, n + 1, memory_order_release);
    *index = n;
    return sl;
}

kn_param *kn_param_decl(kn_ctx *k, const char *name, double min, double max, double def) {
    kn_cart *c = (kn_cart *)k;
    if (!name_ok(name))
        kn_cart_fatal(c, "kn_param_decl: name must be 1..%d characters", KN_NAME_MAX - 1);
    if (!(isfinite(min) && isfinite(max) && isfinite(def) && min <= max))
        kn_cart_fatal(
            c, "kn_param_decl(\"%s\"): min, max and default must be finite with min <= max", name);
    def = clampd(def, min, max);
    uint32_t idx;
    kn_param_slot *sl = slot_lookup(c, name, &idx);
    if (sl && c->local_of[idx]) return &c->local[c->local_of[idx] - 1];
    if (c->nlocal >= KN_MAX_PARAMS)
        kn_cart_fatal(c, "kn_param_decl(\"%s\"): too many parameters (at most %d per deck)", name,
                      KN_MAX_PARAMS);
    if (sl) { /* known from an earlier cartridge or a preset: keep its value */
        double v = kn_bitsd(atomic_load(&sl->value));
        atomic_store(&sl->min, kn_dbits(min));
        atomic_store(&sl->max, kn_dbits(max));
        atomic_store(&sl->def, kn_dbits(def));
        atomic_store(&sl->value, kn_dbits(isfinite(v) ? clampd(v, min, max) : def));
    } else {
        sl = slot_add(c->params, name, min, max, def, def, &idx);
        if (!sl)
            kn_cart_fatal(
                c,
                "kn_param_decl(\"%s\"): too many parameters: the deck's %d slots are taken "
                "(parameters of earlier versions keep theirs until `kanon stop`)",
                name, KN_MAX_PARAMS);
    }
    atomic_store(&sl->bind, 0); /* until this version's kn_bind says otherwise */
    atomic_store(&sl->declared_by, c->id);
    c->local_of[idx] = (uint16_t)(c->nlocal + 1);
    kn_param *p = &c->local[c->nlocal++];
    p->cart = c;
    double target = kn_bitsd(atomic_load(&sl->value));
    double now = kn_bitsd(atomic_load(&sl->current)); /* a glide in progress continues */
    p->slot = idx;
    p->target = target;
    p->now = p->value = p->s = isfinite(now) ? clampd(now, min, max) : target;
    /* published now: a knob at rest is not published again (advance) */
    atomic_store(&sl->current, kn_dbits(p->now));
    p->seq = atomic_load(&sl->seq);
    /* the glide in progress goes on at its pace (a step toward the target,
     * as the last producer published it), else a new one of 10 ms */
    double step = kn_bitsd(atomic_load(&sl->step));
    if (p->now == target)
        p->step = 0;
    else if (isfinite(step) && step != 0 && (step > 0) == (target > p->now))
        p->step = step;
    else
        p->step = (target - p->now) / (KN_SMOOTH_MS * c->ctx.rate / 1000.0);
    atomic_store(&sl->step, kn_dbits(p->step));
    p->inc = 0;
    return p;
}

double kn_get(const kn_param *p) {
    return p->value;
}

double kn_target(const kn_param *p) {
    return p->target;
}

/* Real-time safe: a scan of at most KN_PORTS_MAX short names. A port is
 * declared by asking for it in setup(); asked for later, an undeclared one
 * is silence (declaring it then would change the deck's ports between two
 * blocks, behind the conductor's back). */
const float *const *kn_in(kn_ctx *k, const char *port) {
    kn_cart *c = (kn_cart *)k->internal;
    if (!port || !name_ok(port))
        kn_cart_fatal(c, "kn_in: a port name is 1..%d characters", KN_NAME_MAX - 1);
    int p = kn_port_find(c, port);
    if (p < 0 && c->in_setup) {
        if (c->nports >= KN_PORTS_MAX)
            kn_cart_fatal(c, "kn_in: a deck has at most %d input ports (\"in\" and %d more)",
                          KN_PORTS_MAX, KN_PORTS_MAX - 1);
        p = c->nports++;
        snprintf(c->port_name[p], sizeof c->port_name[p], "%s", port);
    }
    return p < 0 ? c->silent : c->port_view[p];
}

double kn_smooth(kn_param *p) {
    double v = p->s;
    p->s += p->inc;
    return v;
}

int kn_param_preset(kn_param_seg *ps, const char *name, double value) {
    uint32_t idx;
    if (!name_ok(name) || !isfinite(value)) return -1;
    kn_param_slot *sl = slot_find(ps, name, &idx);
    if (sl) {
        atomic_store(&sl->value, kn_dbits(value));
        atomic_store(&sl->current, kn_dbits(value));
        return 0;
    }
    return slot_add(ps, name, -INFINITY, INFINITY, value, value, &idx) ? 0 : -1;
}

/* Starts a glide to the slot's target when it changed (a set, or a new
 * range that clamps it). */
static void glide_start(kn_cart *c, kn_param *p, kn_param_slot *sl, double target) {
    uint32_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
    if (seq == p->seq && target == p->target) return;
    double ramp = seq != p->seq ? kn_bitsd(atomic_load(&sl->ramp)) : 0;
    if (!(ramp >= KN_SMOOTH_MS && ramp <= 3.6e6)) ramp = KN_SMOOTH_MS;
    p->seq = seq;
    p->target = target;
    p->step = (target - p->now) / (ramp * c->ctx.rate / 1000.0);
}

/* Once per block, before its first part. Real-time safe: bounded by the
 * number of declared knobs. */
void kn_params_read(kn_cart *c) {
    for (int i = 0; i < c->nlocal; i++) {
        kn_param *p = &c->local[i];
        kn_param_slot *sl = &c->params->slot[p->slot];
        double v = kn_bitsd(atomic_load_explicit(&sl->value, memory_order_relaxed));
        /* nothing new (the usual case): the target stands, already clamped */
        if (v == p->target && atomic_load_explicit(&sl->seq, memory_order_acquire) == p->seq)
            continue;
        double lo = kn_bitsd(atomic_load_explicit(&sl->min, memory_order_relaxed));
        double hi = kn_bitsd(atomic_load_explicit(&sl->max, memory_order_relaxed));
        if (isfinite(v)) glide_start(c, p, sl, clampd(v, lo, hi));
    }
}

/* Every knob at its target at once: before a deck's very first block
 * nothing has been heard at the old values (a session's values, set while
 * the deck waited for its start, take effect from its first sample, as in
 * the session's offline render). */
void kn_params_snap(kn_cart *c) {
    for (int i = 0; i < c->nlocal; i++) {
        kn_param *p = &c->local[i];
        p->now = p->value = p->s = p->target;
        p->step = p->inc = 0;
        atomic_store_explicit(&c->params->slot[p->slot].current, kn_dbits(p->now),
                              memory_order_relaxed);
        atomic_store_explicit(&c->params->slot[p->slot].step, 0, memory_order_relaxed);
    }
}

/* Before each part of `n` frames (the whole block when no event cuts it):
 * kn_get's value for the part, and kn_smooth's per-sample steps through
 * it; the smoothing position is published. */
void kn_params_advance(kn_cart *c, int n) {
    double frames = n;
    for (int i = 0; i < c->nlocal; i++) {
        kn_param *p = &c->local[i];
        /* at rest (most knobs, most of the time): nothing moves, and
         * `current` already holds where it stands */
        if (p->step == 0 && p->inc == 0 && p->value == p->now) continue;
        kn_param_slot *sl = &c->params->slot[p->slot];
        p->value = p->now;
        if (p->step != 0) {
            double next = p->now + p->step * frames;
            int arrived = p->step > 0 ? next >= p->target : next <= p->target;
            p->now = arrived ? p->target : next;
            if (arrived) p->step = 0;
        }
        p->s = p->value;
        p->inc = (p->now - p->value) / frames;
        atomic_store_explicit(&sl->current, kn_dbits(p->now), memory_order_relaxed);
        atomic_store_explicit(&sl->step, kn_dbits(p->step), memory_order_relaxed);
    }
}

void kn_params_refresh(kn_cart *c) {
    kn_params_read(c);
    kn_params_advance(c, c->ctx.block);
}

kn_param *kn_param_apply(kn_cart *c, uint32_t slot, double value, double ramp_ms) {
    uint32_t n = atomic_load_explicit(&c->params->count, memory_order_acquire);
    if (slot >= n || slot >= KN_MAX_PARAMS || !isfinite(value)) return NULL;
    kn_param_slot *sl = &c->params->slot[slot];
    double lo = kn_bitsd(atomic_load_explicit(&sl->min, memory_order_relaxed));
    double hi = kn_bitsd(atomic_load_explicit(&sl->max, memory_order_relaxed));
    double v = clampd(value, lo, hi);
    if (!isfinite(v)) return NULL; /* a scribbled range */
    atomic_store_explicit(&sl->value, kn_dbits(v), memory_order_relaxed);
    if (!(ramp_ms >= KN_SMOOTH_MS && ramp_ms <= 3.6e6)) ramp_ms = KN_SMOOTH_MS;
    if (!c->local_of[slot]) return NULL;
    kn_param *p = &c->local[c->local_of[slot] - 1];
    p->target = v;
    p->step = (v - p->now) / (ramp_ms * c->ctx.rate / 1000.0);
    return p;
}

/* ------------------------------------------------------------ kn_bind */

/* Parses "[shift] knob N|button N|main [log|momentary]" (words separated
 * by spaces) into a KN_BIND_* code; 0 if it is not one. */
static uint32_t bind_parse(const char *s) {
    char w[4][16];
    int n = 0;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        size_t len = strcspn(s, " ");
        if (n == 4 || len >= sizeof w[0]) return 0;
        snprintf(w[n++], sizeof w[0], "%.*s", (int)len, s);
        s += len;
    }
    int i = 0;
    uint32_t code = 0;
    if (i < n && !strcmp(w[i], "shift")) code |= KN_BIND_SHIFT, i++;
    if (i == n) return 0;
    int kind = !strcmp(w[i], "knob")     ? KN_BIND_KNOB
               : !strcmp(w[i], "button") ? KN_BIND_BUTTON
               : !strcmp(w[i], "main")   ? KN_BIND_MAIN
                                         : 0;
    if (!kind) return 0;
    i++;
    int num = 0;
    if (kind != KN_BIND_MAIN) {
        char *end;
        long v = i < n ? strtol(w[i], &end, 10) : 0;
        if (i == n || *end || v < 1 || v > KN_BIND_MAX) return 0;
        num = (int)v;
        i++;
    }
    code |= KN_BIND_MAKE(kind, num);
    if (i < n && kind != KN_BIND_BUTTON && !strcmp(w[i], "log"))
        code |= KN_BIND_LOG, i++;
    else if (i < n && kind == KN_BIND_BUTTON && !strcmp(w[i], "momentary"))
        code |= KN_BIND_MOMENTARY, i++;
    return i == n ? code : 0;
}

void kn_bind(kn_param *p, const char *control) {
    if (!p || !p->cart) {
        kn_fatal_hook("kn_bind: error: the knob is NULL (pass what kn_param_decl returned)");
        return;
    }
    kn_cart *c = p->cart;
    uint32_t code = control ? bind_parse(control) : 0;
    if (!code)
        kn_cart_fatal(c,
                      "kn_bind(%.31s, \"%.40s\"): not a control; say \"knob N\", \"button N\" "
                      "(N = 1..%d) or \"main\", optionally after \"shift\" and followed by "
                      "\"log\" (knobs, main) or \"momentary\" (buttons)",
                      c->params->slot[p->slot].name, control ? control : "(null)", KN_BIND_MAX);
    atomic_store(&c->params->slot[p->slot].bind, code);
}

double kn_beat_at(kn_ctx *k, int i) {
    kn_cart *c = (kn_cart *)k;
    return kn_tempo_beat(&c->tempo, k->rate, (double)k->now + i);
}

/* Real-time safe: a bounded copy into the deck's MIDI out queue (shm/midi.h),
 * stamped with the timeline frame of the sample. */
int kn_midi_out(kn_ctx *k, int offset, int status, int data1, int data2) {
    kn_cart *c = (kn_cart *)k;
    if (offset < 0 || offset >= k->block || status < 0 || status > 255 || data1 < 0 ||
        data1 > 127 || data2 < 0 || data2 > 127)
        return -1;
    kn_midi_msg m = {.frame = k->now + (uint64_t)offset,
                     .bytes = {(uint8_t)status, (uint8_t)data1, (uint8_t)data2}};
    int n = kn_midi_out_ok(m.bytes);
    if (!n) return -1;
    if (n < 3) m.bytes[2] = 0;
    if (n < 2) m.bytes[1] = 0;
    m.len = (uint8_t)n;
    return kn_midi_outq_push(&c->params->midi_out, &m);
}
