/*
 * live.c - a live deck's cartridge: keep the deck's ring filled, and hand
 * it over to a successor without losing, repeating or delaying a frame.
 *
 *   1. map the deck's ring, state, parameter and snapshot segments (handed
 *      over as descriptors) and close the descriptors
 *   2. compile under time and memory limits; enter the sandbox
 *      (kn_sandbox_enter: namespaces, capabilities, seccomp);
 *      test-render a few blocks on a private copy of the state and
 *      parameters (NaN/Inf refuses the code); report "compiled" or "error"
 *   3. wait for the ownership token (kanon_shm.h, kn_deck_ctl)
 *   4. save the state into the snapshot segment (or, reverting after a
 *      fault, restore it from there) and unmap the snapshot, so no user
 *      code can reach it; bind to the shared state (setup() runs against
 *      it, phase SETUP), attach at the
 *      ring's write position P: the frame right after the predecessor's
 *      last one. If the predecessor left a fade lane for us starting at P,
 *      crossfade from it; report "running"
 *   5. render blocks until the ring holds `target` frames, sleep on the
 *      deck's futex until about one block has played, repeat
 *   6. when the conductor names a successor: at this block boundary, copy
 *      state and parameters privately, render `fade` frames of this code on
 *      the copy into the lane (the shadow), pass the token, exit
 *
 * The render loop follows the real-time rules: no allocation, no locks and
 * no blocking calls besides the deliberate futex sleep when the ring is
 * full (an idle cartridge costs ~0% CPU; nothing busy-waits). The handover
 * in step 6 copies and re-runs setup(), once, off the device's path: the
 * ring's runway covers it.
 *
 * The timeline (timeline.h). Before every block the loop reads the ring
 * segment's epoch and, if its seq moved, the tempo map (a seqlock read of
 * at most KN_TEMPO_TRIES attempts; a failed or invalid read keeps the last
 * good copy), so block P is rendered at timeline frame P + epoch.
 * kn_render_block then takes the deck's timed events due in the block from
 * the parameter segment's queue and splits the block at them; events that
 * were late are published in the ring's `late` counter.
 *
 * Who takes the events. Only the producer takes them from the shared
 * queue. The test render (step 2) and the shadow (step 6) render on
 * private copies of the parameter segment, and the copy includes the
 * queue (kn_cart_bind_private copies it up to the tail it reads with
 * acquire): they apply the same events, so the fading-out sound follows a
 * note or a timed set in the crossfade just as the incoming one does, but
 * they mark them taken only in their copy. The shared queue is left as the
 * last real block left it, and the successor, attaching at P, takes every
 * event from P on for real (and any pushed after the shadow's copy, which
 * only it hears). The late events of the test render and the shadow are
 * not counted.
 */
#include "cartridge.h"
#include "futex.h"
#include "contract.h"
#include "ring.h"
#include "segment.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int report_fd = -1;

/* The ring segment's timeline into the cartridge: epoch, and the tempo map
 * if it changed. Real-time safe (bounded, no system call). */
static void timeline_refresh(kn_cart *c, kn_ring_seg *ring) {
    c->epoch = atomic_load_explicit(&ring->tl.epoch, memory_order_acquire);
    kn_tempo_fetch(&ring->tl, &c->tempo, &c->tempo_seen);
}

static uint64_t first_frame; /* where this cartridge took over */
static int compiled_latency; /* k->latency after the test render's setup() */
static int cc_tier;          /* running a cc build (--so): "compiled" says how it compared */
static kn_tier_diff cc_diff;

/* One JSON object per line on the report pipe; "t" is the wall time at
 * which it happened (the conductor measures save-to-takeover with it).
 * The line, with its newline, malloc'd. */
static char *report_line(const char *event, const char *message, double ms, double test_ms,
                         int stamp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, KN_REPORT_EVENT, event);
    if (stamp) cJSON_AddNumberToObject(o, KN_REPORT_T, (double)kn_real_ns() / 1e9);
    if (!strcmp(event, KN_REPORT_RUNNING))
        cJSON_AddNumberToObject(o, KN_REPORT_FRAME, (double)first_frame);
    if (message) cJSON_AddStringToObject(o, KN_REPORT_MESSAGE, message);
    if (ms >= 0) cJSON_AddNumberToObject(o, KN_REPORT_MS, ms);
    if (test_ms >= 0) cJSON_AddNumberToObject(o, KN_REPORT_TEST_MS, test_ms);
    if (!strcmp(event, KN_REPORT_COMPILED) && compiled_latency > 0)
        cJSON_AddNumberToObject(o, KN_REPORT_LATENCY, compiled_latency);
    if (!strcmp(event, KN_REPORT_COMPILED) && cc_tier) {
        cJSON_AddStringToObject(o, KN_REPORT_TIER, KN_TIER_CC);
        cJSON_AddBoolToObject(o, KN_REPORT_SAME, cc_diff.first < 0);
        cJSON_AddNumberToObject(o, KN_REPORT_COMPARED, cc_diff.frames);
        if (cc_diff.first >= 0) {
            cJSON_AddNumberToObject(o, KN_REPORT_DIFF, isfinite(cc_diff.max) ? cc_diff.max : 1e30);
            cJSON_AddNumberToObject(o, KN_REPORT_DIFF_FRAME, (double)cc_diff.first);
        }
    }
    if (kn_state_need && (!strcmp(event, KN_REPORT_ERROR) || !strcmp(event, KN_REPORT_FATAL)))
        cJSON_AddNumberToObject(o, KN_REPORT_STATE_NEED, (double)kn_state_need);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t n = s ? strlen(s) : 0;
    char *line = s ? realloc(s, n + 2) : NULL;
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = 0;
    return line;
}

static void report(const char *event, const char *message, double ms, double test_ms) {
    char *s = report_line(event, message, ms, test_ms, 1);
    if (s) {
        ssize_t w = write(report_fd, s, strlen(s));
        (void)w;
    }
    free(s);
}

/* What the compile's time limit says when it strikes (sandbox.c): an
 * error line, made now (a signal handler may only write it). The
 * conductor adds that the previous version plays on. */
static void arm_compile_alarm(const kn_live_opts *o) {
    char m[2][1024], *t[2];
    for (int k = 0; k < 2; k++) {
        kn_compile_limit_text(m[k], sizeof m[k], o->display, o->compile_seconds, k,
                              "`kanon up --compile-timeout SECONDS`");
        t[k] = report_line(KN_REPORT_ERROR, m[k], -1, -1, 0);
    }
    kn_sandbox_compile_alarm(report_fd, t[0] ? t[0] : "", t[1] ? t[1] : "");
    free(t[0]);
    free(t[1]);
}

static void live_fatal(const char *msg) {
    report(KN_REPORT_FATAL, msg, -1, -1);
    _exit(3);
}

typedef struct deck {
    kn_ring_seg *ring;
    kn_state_seg *state, *snap;
    kn_param_seg *params;
    size_t ring_bytes, state_bytes, param_bytes, snap_bytes;
    kn_state_seg *old; /* a state that grows at this swap: the deck's smaller one (or NULL) */
    size_t old_bytes;
    kn_ring_view v;
    float *lane; /* the ring segment's fade lane, interleaved */
} deck;

/* The sources this deck may read (route.h): the routes segment and every
 * slot's ring, read-only, with our own copy of each ring's geometry. */
typedef struct source {
    const kn_ring_seg *ring;
    const float *data;
    size_t bytes;
    uint32_t cap, ch;
    uint32_t block; /* its writer's block: what it may be overwriting past write_pos */
} source;

typedef struct inputs {
    kn_routes_seg *routes;
    size_t routes_bytes;
    source src[KN_SRCS];
    int slot;             /* our deck */
    kn_route_table table; /* the last good copy */
    uint32_t seen;        /* its seq */
    kn_route_run run[KN_ROUTES_MAX];
    /* Routes of ours the table no longer has: they go on with their gain
     * gliding to 0 over the ramp, then go (an unroute never clicks). */
    kn_route_rec gone[KN_ROUTES_MAX];
    kn_route_run gone_run[KN_ROUTES_MAX];
    int ngone;
    int rendered;        /* a block has been rendered: new routes glide in */
    uint32_t ramp, fade; /* frames */
    float scratch[KN_BLOCK_MAX * KN_MAX_CHANNELS];
    uint64_t missing;     /* blocks a source was not there for in time */
    uint64_t missed_told; /* ... of which added to the ring's in_missed */
} inputs;

static inputs in;

/* Step 1: the segments arrive as descriptors (KN_FD_SEG); once mapped,
 * the descriptors are closed, so the user's code holds no handle it could
 * resize, map again or pass on. */
static int map_deck(deck *m) {
    int rc = kn_seg_map(KN_FD_SEG(KN_SEG_RING), KN_SEG_RING, (void **)&m->ring, &m->ring_bytes);
    if (!rc)
        rc = kn_seg_map(KN_FD_SEG(KN_SEG_STATE), KN_SEG_STATE, (void **)&m->state, &m->state_bytes);
    if (!rc)
        rc =
            kn_seg_map(KN_FD_SEG(KN_SEG_PARAM), KN_SEG_PARAM, (void **)&m->params, &m->param_bytes);
    if (!rc)
        rc = kn_seg_map(KN_FD_SEG(KN_SEG_SNAP), KN_SEG_SNAP, (void **)&m->snap, &m->snap_bytes);
    for (int k = KN_SEG_RING; k <= KN_SEG_SNAP; k++) close(KN_FD_SEG(k));
    if (!rc && fcntl(KN_FD_OLD_STATE, F_GETFD) >= 0) { /* the deck's state grows here */
        rc = kn_seg_map(KN_FD_OLD_STATE, KN_SEG_STATE, (void **)&m->old, &m->old_bytes);
        close(KN_FD_OLD_STATE);
        if (!rc && m->old_bytes >= m->state_bytes) rc = -1; /* it only ever grows */
    }
    if (rc || m->snap_bytes != m->state_bytes) return -1;
    if (m->param_bytes < sizeof(kn_param_seg) || kn_ring_view_init(&m->v, m->ring, m->ring_bytes))
        return -1;
    m->lane = (float *)((char *)m->ring + m->ring->lane_offset);
    return 0;
}

/* Maps the routes segment and every source's ring read-only, then closes
 * the descriptors (a source without a ring, such as a missing device
 * input, is left out). */
static void map_sources(int slot, double rate) {
    memset(&in, 0, sizeof in);
    in.slot = slot;
    in.seen = UINT32_MAX;
    in.ramp = (uint32_t)(rate * KN_ROUTE_RAMP_MS / 1000);
    in.fade = (uint32_t)(rate / 1000) ? (uint32_t)(rate / 1000) : 1;
    const void *map;
    size_t bytes;
    if (!kn_seg_map_ro(KN_FD_ROUTES, KN_SEG_ROUTES, &map, &bytes) &&
        bytes >= sizeof(kn_routes_seg)) {
        in.routes = (kn_routes_seg *)map;
        in.routes_bytes = bytes;
    }
    close(KN_FD_ROUTES);
    for (int i = 0; i < KN_SRCS; i++) {
        source *s = &in.src[i];
        if (!kn_seg_map_ro(KN_FD_SRC(i), KN_SEG_RING, &map, &bytes)) {
            kn_ring_view v;
            if (!kn_ring_view_init(&v, (kn_ring_seg *)map, bytes)) {
                s->ring = map;
                s->data = v.data;
                s->bytes = bytes;
                s->cap = v.capacity;
                s->ch = v.channels;
                uint32_t b = ((const kn_ring_seg *)map)->block; /* the conductor's, at start */
                s->block = b >= 1 && b <= KN_BLOCK_MAX ? b : KN_BLOCK_MAX;
            } else {
                kn_seg_unmap((void *)map, bytes);
            }
        }
        close(KN_FD_SRC(i));
    }
}

/* The same tap of the same route: its source, port, tap point and delay.
 * A route whose tap or delay changed reads other frames: its old tap
 * glides out while the new one glides in (a 10 ms crossfade), rather
 * than jumping. */
static int same_tap(const kn_route_rec *a, const kn_route_rec *b) {
    return a->src == b->src && a->dst == b->dst && !strcmp(a->port, b->port) && a->pre == b->pre &&
           a->delay == b->delay;
}

/* A new table: each route keeps its running state (glides, held frame)
 * if it was there before; a new one starts fresh. */
static void routes_refresh(void) {
    static kn_route_table old;
    static kn_route_run was[KN_ROUTES_MAX];
    if (!in.routes) return;
    old = in.table;
    if (kn_routes_fetch(in.routes, &in.table, &in.seen) != 1) return;
    memcpy(was, in.run, sizeof was);
    for (uint32_t i = 0; i < in.table.count; i++) {
        const kn_route_rec *r = &in.table.route[i];
        memset(&in.run[i], 0, sizeof in.run[i]);
        for (uint32_t j = 0; j < old.count; j++)
            if (same_tap(&old.route[j], r)) {
                in.run[i] = was[j];
                break;
            }
    }
    /* ours that went (or changed tap), and were heard: they glide out
     * (see fill_inputs) */
    for (uint32_t j = 0; j < old.count && in.ngone < KN_ROUTES_MAX; j++) {
        const kn_route_rec *o = &old.route[j];
        int kept = 0;
        for (uint32_t i = 0; i < in.table.count && !kept; i++)
            kept = same_tap(o, &in.table.route[i]);
        if (kept || (int)o->dst != in.slot || !was[j].primed) continue;
        in.gone[in.ngone] = *o;
        in.gone[in.ngone].gain = 0; /* float 0.0: the glide's target */
        in.gone_run[in.ngone++] = was[j];
    }
}

/* Timeline frame `now` of source r minus its delay, as a ring position:
 * -1 if the source is not there (not live, being reformatted, not
 * started by then). *gen is the generation to check after the copy. */
static int64_t source_pos(const kn_route_rec *r, uint64_t now, uint32_t *gen) {
    const kn_src_info *si = &in.routes->src[r->src];
    *gen = atomic_load_explicit(&si->gen, memory_order_acquire);
    if ((*gen & 1) || !atomic_load_explicit(&si->live, memory_order_acquire) ||
        !in.src[r->src].ring)
        return -1;
    int64_t q = (int64_t)(now - r->delay) - atomic_load_explicit(&si->epoch, memory_order_relaxed);
    return now < r->delay || q < 0 ? -1 : q;
}

/* How many frames of [now, now+n) the source of route r (ours) has yet to
 * write: 0 if it is there, stopping, or starts later; n if its deck exists
 * (the route is in the table) but is not on the timeline yet (a session's
 * decks start together, and one of them may report a moment after us). */
static uint64_t source_behind(const kn_route_rec *r, uint64_t now, int n) {
    uint32_t gen;
    if ((int)r->dst != in.slot) return 0;
    const kn_src_info *si = &in.routes->src[r->src];
    if (atomic_load_explicit(&si->stop_at, memory_order_relaxed)) return 0;
    if (!atomic_load_explicit(&si->live, memory_order_acquire))
        return in.src[r->src].ring ? (uint64_t)n : 0;
    int64_t q = source_pos(r, now, &gen);
    if (q < 0) return 0;
    uint64_t w = atomic_load_explicit(&in.src[r->src].ring->write_pos, memory_order_acquire);
    uint64_t end = (uint64_t)q + (uint64_t)n;
    return w < end && end - w <= in.src[r->src].cap ? end - w : 0;
}

/* How far behind the live source furthest behind is (0: every source is
 * there): a route gliding out is waited for too, or its glide would end in
 * a 1 ms fade. */
static uint64_t sources_behind(uint64_t now, int n) {
    uint64_t most = 0, b;
    for (uint32_t i = 0; in.routes && i < in.table.count; i++)
        if ((b = source_behind(&in.table.route[i], now, n)) > most) most = b;
    for (int i = 0; in.routes && i < in.ngone; i++)
        if ((b = source_behind(&in.gone[i], now, n)) > most) most = b;
    return most;
}

/* Whether this deck may still wait for a late source before rendering the
 * block at timeline frame `now`: while the device is more than a few
 * milliseconds away from it (the device clock, route.h); before the
 * conductor has a clock, while the ring holds more than half its target or
 * the mixer has not started on it. */
static int may_wait(const kn_ring_seg *ring, uint64_t now, uint32_t fill, uint32_t target,
                    uint32_t block, double rate) {
    uint64_t cf, cns;
    if (in.routes && !kn_routes_clock_read(in.routes, &cf, &cns)) {
        double due = (double)cns + ((double)now - (double)cf) / rate * 1e9;
        /* the device takes a whole period at once, before its last frame
         * plays; then two blocks and 3 ms to render and publish */
        uint32_t period = atomic_load_explicit(&in.routes->period, memory_order_relaxed);
        if (period > target) period = target; /* never trust it past the ring's lead */
        double slack = ((double)period + 2.0 * block) / rate * 1e9 + 3e6;
        return (double)kn_mono_ns() + slack < due;
    }
    /* no clock yet (the conductor has just started): while the mixer has
     * taken nothing from us, nothing of ours is due */
    return fill > (target / 2 > block ? target / 2 : block) ||
           !atomic_load_explicit(&ring->read_pos, memory_order_acquire);
}

/* One route's frames [now, now+n) into its port (if this code declares
 * it). */
static void route_into(kn_cart *c, const kn_route_rec *r, kn_route_run *run, uint64_t now, int n) {
    int p = kn_port_find(c, r->port);
    if (p < 0) return; /* a port this code does not declare */
    const source *s = &in.src[r->src];
    const kn_src_info *si = &in.routes->src[r->src];
    uint32_t gen;
    int64_t q = source_pos(r, now, &gen);
    int have = q < 0 ? 0
                     : kn_ring_peek(s->ring, s->data, s->cap, s->ch, s->block, (uint64_t)q,
                                    (uint32_t)n, in.scratch);
    if (have > 0 && atomic_load_explicit(&si->gen, memory_order_acquire) != gen) have = 0;
    if (have < 0) have = 0;
    /* a stopping source: from its stop on it is gone (held and faded) */
    uint64_t stop = atomic_load_explicit(&si->stop_at, memory_order_relaxed);
    if (stop && have > 0) {
        uint64_t from = now - r->delay;
        have = stop <= from ? 0 : stop - from < (uint64_t)have ? (int)(stop - from) : have;
    }
    float fader[3];
    for (int k = 0; k < 3; k++) {
        uint32_t b = atomic_load_explicit(&si->fader[k], memory_order_relaxed);
        memcpy(&fader[k], &b, sizeof b);
    }
    kn_route_mix(run, r, !in.rendered, in.scratch, (int)s->ch, have, n,
                 (float *const *)c->port_buf[p], c->ctx.channels, fader,
                 atomic_load_explicit(&si->fader_ramp, memory_order_relaxed), in.ramp,
                 (int)in.fade);
}

/* kn_cart.fill: sums this block's routes into the ports. Real-time safe:
 * bounded by the table and the block. */
static void fill_inputs(kn_cart *c, uint64_t now, int n) {
    for (uint32_t i = 0; in.routes && i < in.table.count; i++) {
        const kn_route_rec *r = &in.table.route[i];
        if ((int)r->dst != in.slot) continue;
        route_into(c, r, &in.run[i], now, n);
    }
    for (int i = 0; i < in.ngone; i++) { /* removed: gliding out, then gone */
        route_into(c, &in.gone[i], &in.gone_run[i], now, n);
        if (in.gone_run[i].gain.g == 0 && in.gone_run[i].gain.to == 0) {
            in.gone[i] = in.gone[--in.ngone];
            in.gone_run[i--] = in.gone_run[in.ngone];
        }
    }
    in.rendered = 1;
}

/* Step 2: render on a scratch copy; refuse NaN/Inf before taking over. */
static int test_render(kn_cart *c, const kn_program *p, deck *m, int restore, int blocks, char *why,
                       size_t n) {
    kn_sandbox_deadline(2); /* a hang here (setup() included) dies by SIGALRM: refused */
    /* a revert starts from the snapshot: test it on that; a state that
     * grows here, on the deck's old one in the new size */
    kn_state_seg *from = restore ? m->snap : m->old ? m->old : m->state;
    size_t from_bytes = !restore && m->old ? m->old_bytes : m->state_bytes;
    if (kn_cart_bind_private(c, p, from, from_bytes, m->state_bytes, m->params)) {
        snprintf(why, n, "%s: error: cannot copy the deck's state for the test render", c->display);
        return -1;
    }
    uint64_t frame = atomic_load(&m->ring->write_pos);
    timeline_refresh(c, m->ring);
    float peak = 0;
    c->nonfinite = 0;
    for (int b = 0; b < blocks && !c->nonfinite && peak <= KN_RUNAWAY; b++) {
        kn_render_block(c, p, frame + (uint64_t)b * (uint64_t)c->ctx.block);
        for (int ch = 0; ch < c->ctx.channels; ch++)
            for (int i = 0; i < c->ctx.block; i++) peak = fmaxf(peak, fabsf(c->out[ch][i]));
    }
    kn_sandbox_deadline(0);
    if (c->nonfinite)
        snprintf(why, n, "%s: error: refused: process() produced NaN or Inf in its test render",
                 c->display);
    else if (peak > KN_RUNAWAY)
        snprintf(why, n,
                 "%s: error: refused: process() produced output above +60 dBFS in its "
                 "test render",
                 c->display);
    return c->nonfinite || peak > KN_RUNAWAY ? -1 : 0;
}

/* The cc tier: its build and the tcc build render the same frames from
 * one copy of the deck's state (tier.c); then the cc build replaces the
 * tcc one in `prog`, which the test render and the run use. */
static int tier_up(kn_cart *c, kn_program *prog, kn_program *cc, deck *m, char *why, size_t n) {
    kn_sandbox_deadline(2); /* both setup()s and renders, as the test render's limit */
    timeline_refresh(c, m->ring);
    uint64_t frame = atomic_load(&m->ring->write_pos);
    int frames = (KN_TIER_COMPARE_FRAMES / c->ctx.block + 1) * c->ctx.block;
    int rc =
        kn_tier_compare(c, prog, cc, m->state, m->state_bytes, m->params, frame, frames, &cc_diff);
    kn_sandbox_deadline(0);
    if (rc) {
        snprintf(why, n, "%s: error: no memory to compare the cc build with the tcc build",
                 c->display);
        return -1;
    }
    cc_tier = 1;
    double ms = prog->compile_ms;
    kn_program_free(prog);
    *prog = *cc;
    prog->compile_ms = ms;
    return 0;
}

/* Copies the used part of one state segment over another of the same size
 * (headers included: the region directory travels with the bytes). */
static void state_copy(kn_state_seg *to, const kn_state_seg *from, size_t bytes) {
    if (!kn_state_valid(from, bytes)) return; /* scribbled: leave it */
    uint64_t used = from->heap_offset + from->heap_used;
    memcpy((char *)to + sizeof(kn_seg_header), (const char *)from + sizeof(kn_seg_header),
           used - sizeof(kn_seg_header));
}

/* Step 4: snapshot (or restore) the state, then drop the snapshot's
 * mapping before any user code of ours runs against the shared state. A
 * state an earlier version wrote garbage over starts afresh (with a note):
 * its regions can no longer be trusted. */
static void snapshot(deck *m, int restore) {
    if (m->old) { /* grown: the deck's state so far moves into the larger segment */
        state_copy(m->state, m->old, m->old_bytes);
        kn_seg_unmap(m->old, m->old_bytes);
        m->old = NULL;
    }
    if (restore) state_copy(m->state, m->snap, m->state_bytes);
    if (!kn_state_valid(m->state, m->state_bytes)) {
        kn_state_format(m->state, m->state_bytes, KN_SEG_STATE);
        report(KN_REPORT_NOTE,
               "the deck's state was corrupt (written over by an earlier version); "
               "starting from a fresh state",
               -1, -1);
    }
    if (!restore) state_copy(m->snap, m->state, m->state_bytes);
    kn_seg_unmap(m->snap, m->snap_bytes);
    m->snap = NULL;
}

/* Waits for the ownership token; 0 when granted, -1 if orphaned. */
static int wait_for_token(kn_deck_ctl *ctl, uint32_t id) {
    for (;;) {
        uint32_t seq = atomic_load_explicit(&ctl->wake, memory_order_acquire);
        if (atomic_load_explicit(&ctl->owner, memory_order_acquire) == id) return 0;
        if (getppid() == 1) return -1;
        kn_futex_wait(&ctl->wake, seq, 50000000);
    }
}

/* A deck's first producer renders nothing until the conductor has placed
 * the deck on the timeline (kn_timeline_ctl): it picks the frame the first
 * sample plays at once setup() is done, which "running" tells it. Later
 * producers find it set. 1 if the token was taken away meanwhile. */
static int wait_for_epoch(kn_deck_ctl *ctl, kn_timeline_ctl *tl, uint32_t id) {
    for (int i = 0; i < 100; i++) { /* 5 s: a conductor that never answers */
        uint32_t seq = atomic_load_explicit(&ctl->wake, memory_order_acquire);
        if (atomic_load_explicit(&tl->epoch_set, memory_order_acquire)) return 0;
        if (atomic_load_explicit(&ctl->owner, memory_order_acquire) != id ||
            atomic_load_explicit(&ctl->stop, memory_order_acquire))
            return 1;
        atomic_fetch_add_explicit(&ctl->heartbeat, 1, memory_order_relaxed); /* waiting, not hung */
        kn_futex_wait(&ctl->wake, seq, 50000000);
    }
    return 0;
}

/* Crossfades the block at `frame` from the lane (below). */
static void crossfade(kn_cart *c, const deck *m, uint64_t frame, uint64_t start, uint32_t frames);

/* Step 6. If this cartridge is itself still fading in (its own lane from
 * its predecessor, `ls`/`lf`), the shadow is what it really outputs: its
 * code crossfaded with that older lane, so the successor starts from the
 * sound actually heard. The old lane is read at frame-ls and the new one
 * written at frame-at, and at >= ls, so reads stay ahead of writes. */
static void hand_over(kn_cart *c, const kn_program *p, deck *m, uint32_t successor, uint64_t ls,
                      uint32_t lf) {
    kn_deck_ctl *ctl = &m->ring->ctl;
    uint64_t at = m->v.pos;
    uint32_t fade = atomic_load(&ctl->fade), ch = m->v.channels, block = (uint32_t)c->ctx.block;
    /* No fade (a tier swap of identical builds), but this cartridge is
     * still fading in: the rest of its crossfade is what is heard, so the
     * shadow carries it to the successor rather than cut it short. */
    if (!fade && at < ls + lf) fade = (uint32_t)(ls + lf - at);
    if (fade > m->ring->lane_capacity) fade = m->ring->lane_capacity;
    atomic_store_explicit(&ctl->lane_for, 0, memory_order_relaxed);
    kn_sandbox_normal(); /* up to a second of rendering at once: not under the RT cap */
    timeline_refresh(c, m->ring);
    /* on a private copy of the parameters and their event queue: see the top */
    if (fade && !kn_cart_bind_private(c, p, m->state, m->state_bytes, m->state_bytes, m->params)) {
        for (uint32_t done = 0; done < fade; done += block) {
            atomic_fetch_add_explicit(&ctl->heartbeat, 1, memory_order_relaxed); /* alive */
            kn_render_block(c, p, at + done);
            if (at + done < ls + lf) crossfade(c, m, at + done, ls, lf);
            for (uint32_t i = 0; i < block && done + i < fade; i++)
                for (uint32_t k = 0; k < ch; k++)
                    m->lane[(size_t)(done + i) * ch + k] = c->out[k][i];
        }
        atomic_store_explicit(&ctl->lane_start, at, memory_order_relaxed);
        atomic_store_explicit(&ctl->lane_frames, fade, memory_order_relaxed);
        atomic_store_explicit(&ctl->lane_for, successor, memory_order_release);
    }
    atomic_store_explicit(&ctl->owner, successor, memory_order_release);
    kn_futex_wake(&ctl->wake);
}

/* Linear crossfade from the lane (old code) to c->out (new code) for the
 * block starting at `frame`: out = old + g*(new - old), g = f/F. Linear, so
 * the level never exceeds the larger of the two; equal inputs stay exact. */
static void crossfade(kn_cart *c, const deck *m, uint64_t frame, uint64_t start, uint32_t frames) {
    uint32_t ch = m->v.channels;
    for (int i = 0; i < c->ctx.block; i++) {
        uint64_t f = frame + (uint64_t)i - start;
        if (f >= frames) break;
        float g = (float)f / (float)frames;
        for (uint32_t k = 0; k < ch; k++) {
            float old = m->lane[f * ch + k], x = c->out[k][i];
            c->out[k][i] = old + g * (x - old);
        }
    }
}

/* The latency the code declares (k->latency), for the conductor's
 * compensation (route.h); clamped, and only stored when it changed. */
static void publish_latency(const kn_cart *c, kn_deck_ctl *ctl) {
    int l = c->ctx.latency;
    uint32_t v = l < 0 ? 0 : l > KN_LATENCY_MAX ? KN_LATENCY_MAX : (uint32_t)l;
    if (atomic_load_explicit(&ctl->latency, memory_order_relaxed) != v)
        atomic_store_explicit(&ctl->latency, v, memory_order_relaxed);
}

static void render_loop(kn_cart *c, const kn_program *p, deck *m, uint32_t id, uint64_t lane_start,
                        uint32_t lane_frames) {
    kn_ring_view *v = &m->v;
    kn_deck_ctl *ctl = &m->ring->ctl;
    uint32_t block = (uint32_t)c->ctx.block, cap = v->capacity;
    double rate = c->ctx.rate;
    uint64_t run_ns = 0, run_frames = 0; /* rendering since the last sleep */
    uint64_t late = c->late;             /* late events already published */
    for (;;) {
        uint32_t seq = atomic_load_explicit(&ctl->wake, memory_order_acquire);
        atomic_fetch_add_explicit(&ctl->heartbeat, 1, memory_order_relaxed);
        uint32_t next = atomic_load_explicit(&ctl->next_owner, memory_order_acquire);
        /* a quantized takeover: render up to exactly its frame, then hand over */
        uint64_t hand_at = atomic_load_explicit(&m->ring->tl.handover_at, memory_order_relaxed);
        uint32_t n = block;
        if (next && next != id && hand_at > v->pos && hand_at - v->pos < block)
            n = (uint32_t)(hand_at - v->pos);
        if (next && next != id && hand_at <= v->pos) {
            hand_over(c, p, m, next, lane_start, lane_frames);
            return;
        }
        if (atomic_load_explicit(&ctl->stop, memory_order_acquire) ||
            atomic_load_explicit(&ctl->owner, memory_order_acquire) != id)
            return;
        uint32_t fill = kn_ring_fill(v);
        uint32_t target = atomic_load_explicit(&m->ring->target, memory_order_relaxed);
        if (target > cap - block) target = cap - block; /* never trust a scribbled header */
        if (fill == KN_RING_CORRUPT) live_fatal("ring positions corrupted; cartridge stops");
        if (fill < target && cap - fill >= block) {
            timeline_refresh(c, m->ring);
            routes_refresh();
            /* A source of ours has not rendered these frames yet: wait for
             * it (a short sleep) while there is time (may_wait); past that,
             * render without it (it is held and faded: kn_route_mix),
             * rather than run dry ourselves. */
            uint64_t now = kn_tl_now(v->pos, c->epoch);
            uint64_t behind = in.routes ? sources_behind(now, (int)n) : 0;
            if (behind && !may_wait(m->ring, now, fill, target, block, rate)) {
                in.missing++; /* rendered without it: counted (status inputs_missed) */
                behind = 0;
            }
            if (behind) {
                /* a source renders when the device has made room in its
                 * ring: the frames we lack come about that much later */
                uint64_t ns = (uint64_t)((double)behind / rate * 1e9);
                kn_futex_wait(&ctl->wake, seq, ns < 100000 ? 100000 : ns > 2000000 ? 2000000 : ns);
                continue;
            }
            atomic_store_explicit(&ctl->phase, KN_PHASE_PROCESS, memory_order_relaxed);
            uint64_t ns = kn_render_frames(c, p, v->pos, (int)n);
            atomic_store_explicit(&ctl->phase, KN_PHASE_IDLE, memory_order_relaxed);
            if (c->late != late) {
                atomic_fetch_add_explicit(&m->ring->tl.late, c->late - late, memory_order_relaxed);
                late = c->late;
            }
            if (v->pos < lane_start + lane_frames) crossfade(c, m, v->pos, lane_start, lane_frames);
            kn_ring_write_planar(v, c->out, n);
            atomic_fetch_add_explicit(&ctl->busy_ns, ns, memory_order_relaxed);
            atomic_fetch_add_explicit(&ctl->blocks, 1, memory_order_relaxed);
            publish_latency(c, ctl);
            if (in.missing != in.missed_told) { /* the deck's count, across its cartridges */
                atomic_fetch_add_explicit(&ctl->in_missed, in.missing - in.missed_told,
                                          memory_order_relaxed);
                in.missed_told = in.missing;
            }
            /* Filling a low ring (a new deck, or after the machine starved
             * us) renders without sleeping. If that runs faster than real
             * time, it is catching up, not hung or too slow: a short sleep
             * every 20 ms restarts RLIMIT_RTTIME's count (and lets the
             * other real-time cartridges have a turn). */
            run_ns += ns;
            run_frames += n;
            if (run_ns >= 20000000) {
                if ((double)run_frames / rate * 1e9 > (double)run_ns)
                    kn_futex_wait(&ctl->wake, seq, 50000);
                run_ns = run_frames = 0;
            }
            continue;
        }
        run_ns = run_frames = 0;
        /* Full: sleep until roughly one block has been played, or until
         * the conductor wakes us (swap, stop). */
        uint64_t ahead = fill > target ? fill - target : 0;
        uint64_t ns = (uint64_t)((double)(ahead + block) / rate * 1e9);
        kn_futex_wait(&ctl->wake, seq, ns < 200000 ? 200000 : ns > 5000000 ? 5000000 : ns);
    }
}

int kn_live_run(const kn_live_opts *o) {
    report_fd = o->report_fd;
    kn_fatal_hook = live_fatal;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the conductor */
    if (getppid() == 1) return 1;

    /* Relative paths in user code (samples) mean the patch's directory. */
    if (o->include_dir && chdir(o->include_dir))
        report(KN_REPORT_NOTE, "cannot enter the patch's directory", -1, -1);
    deck m = {0};
    if (map_deck(&m)) {
        report(KN_REPORT_FATAL, "cannot map the deck's shared memory", -1, -1);
        return 3;
    }
    map_sources(o->deck, m.ring->rate);
    kn_program prog;
    char err[8192];
    kn_sandbox_fpu();
    /* room for the state, its snapshot and a private copy, whatever --state-mb */
    size_t copies = o->so ? 4 : 3; /* the cc tier compares on one more copy */
    size_t mem = o->mem_bytes > copies * m.state_bytes + ((size_t)512 << 20)
                     ? o->mem_bytes
                     : copies * m.state_bytes + ((size_t)512 << 20);
    arm_compile_alarm(o);
    kn_sandbox_compile_limits(o->compile_seconds, mem);
    kn_program cc = {0}; /* the cc tier (--so): loaded before the sandbox, as tcc compiles */
    if (kn_compile(&prog, o->path, o->display, o->include_dir, err, sizeof err) ||
        (o->so && kn_program_load(&cc, o->so, o->display, err, sizeof err))) {
        report(KN_REPORT_ERROR, err, -1, -1);
        return 1;
    }
    kn_sandbox_run_limits(mem);
    char why[256];
    if (kn_sandbox_enter(o->hide, o->nhide, report_fd, why, sizeof why)) {
        char note[320];
        snprintf(note, sizeof note, "sandbox incomplete: %s", why);
        report(KN_REPORT_NOTE, note, -1, -1);
    }
    report(KN_REPORT_TESTING, NULL, prog.compile_ms, -1);
    kn_cart c;
    if (kn_cart_init(&c, m.ring->rate, (int)m.v.channels, (int)m.ring->block)) return 3;
    c.id = o->id;
    c.display = o->display;
    c.state_cap = o->state_cap;
    c.state_option = "kanon up --state-mb";
    c.fill = fill_inputs;
    routes_refresh();
    uint64_t t0 = kn_mono_ns();
    if (o->so && tier_up(&c, &prog, &cc, &m, err, sizeof err)) {
        report(KN_REPORT_ERROR, err, -1, -1);
        return 1;
    }
    if (test_render(&c, &prog, &m, o->restore, o->test_blocks, err, sizeof err)) {
        report(KN_REPORT_ERROR, err, -1, -1);
        return 1;
    }
    compiled_latency = c.ctx.latency;
    report(KN_REPORT_COMPILED, NULL, prog.compile_ms, (double)(kn_mono_ns() - t0) / 1e6);

    kn_deck_ctl *ctl = &m.ring->ctl;
    if (wait_for_token(ctl, o->id)) return 0;
    snapshot(&m, o->restore);
    atomic_store_explicit(&ctl->phase, KN_PHASE_SETUP, memory_order_relaxed);
    kn_cart_bind(&c, &prog, m.state, m.state_bytes, m.params);
    atomic_store_explicit(&ctl->phase, KN_PHASE_IDLE, memory_order_relaxed);
    publish_latency(&c, ctl);
    /* the test render's inputs were a rehearsal: the routes start afresh */
    memset(in.run, 0, sizeof in.run);
    in.missing = in.missed_told = 0;
    in.ngone = 0;
    in.rendered = 0;
    c.nonfinite = 0;
    kn_ring_writer_attach(&m.v);
    uint64_t lane_start = 0;
    uint32_t lane_frames = 0;
    if (atomic_load_explicit(&ctl->lane_for, memory_order_acquire) == o->id &&
        atomic_load(&ctl->lane_start) == m.v.pos) {
        lane_start = m.v.pos;
        lane_frames = atomic_load(&ctl->lane_frames);
        if (lane_frames > m.ring->lane_capacity) lane_frames = m.ring->lane_capacity;
    }
    /* Taken over: the first block at P is about to be published. */
    first_frame = m.v.pos;
    c.snap_params = first_frame == 0; /* the deck's first sound: nothing to glide from */
    report(KN_REPORT_RUNNING, NULL, -1, -1);
    if (wait_for_epoch(ctl, &m.ring->tl, o->id)) return 0;
    render_loop(&c, &prog, &m, o->id, lane_start, lane_frames);
    return 0;
}
