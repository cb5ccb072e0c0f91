/*
 * live.c - a live deck's cartridge: keep the deck's ring filled.
 *
 *   1. map the deck's ring, state and parameter segments (made by the conductor)
 *   2. compile the file; report "compiled" or "error" on the report pipe
 *   3. wait until the conductor makes this cartridge the ring's owner
 *   4. setup(), then render blocks until the ring holds `target` frames,
 *      sleep until about one block has been consumed, repeat
 *   5. when the conductor names a successor (next_owner), hand the ring
 *      over at the block boundary: store owner = successor, wake, exit.
 *      Also exit when asked to stop or when the conductor dies
 *      (PR_SET_PDEATHSIG).
 *
 * The render loop follows the real-time rules: no allocation, no locks and
 * no blocking calls besides the deliberate sleep when the ring is full
 * (an idle cartridge costs ~0% CPU; nothing busy-waits).
 */
#include "cartridge.h"
#include "futex.h"
#include "ring.h"
#include "segment.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int report_fd = -1;

/* One JSON object per line on the report pipe. */
static void report(const char *event, const char *message, double ms) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", event);
    if (message) cJSON_AddStringToObject(o, "message", message);
    if (ms >= 0) cJSON_AddNumberToObject(o, "ms", ms);
    char *s = cJSON_PrintUnformatted(o);
    if (s && report_fd >= 0) {
        size_t n = strlen(s);
        s[n] = '\n'; /* replaces the NUL; write n+1 bytes below */
        ssize_t w = write(report_fd, s, n + 1);
        (void)w;
    } else if (s) {
        fprintf(stderr, "%s\n", message ? message : event);
    }
    free(s);
    cJSON_Delete(o);
}

static void live_fatal(const char *msg) {
    report("fatal", msg, -1);
    _exit(3);
}

typedef struct deck_maps {
    kn_ring_seg *ring;
    kn_state_seg *state;
    kn_param_seg *params;
    size_t ring_bytes, state_bytes, param_bytes;
} deck_maps;

static int map_deck(const kn_live_opts *o, deck_maps *m) {
    char name[KN_PATH_MAX];
    kn_seg_name(name, o->instance, o->deck, KN_SEG_RING);
    if (kn_seg_open(name, KN_SEG_RING, (void **)&m->ring, &m->ring_bytes)) return -1;
    kn_seg_name(name, o->instance, o->deck, KN_SEG_STATE);
    if (kn_seg_open(name, KN_SEG_STATE, (void **)&m->state, &m->state_bytes)) return -1;
    kn_seg_name(name, o->instance, o->deck, KN_SEG_PARAM);
    if (kn_seg_open(name, KN_SEG_PARAM, (void **)&m->params, &m->param_bytes)) return -1;
    return m->param_bytes >= sizeof(kn_param_seg) ? 0 : -1;
}

/* Waits for the ownership token; 0 when granted, -1 if orphaned. */
static int wait_for_ownership(kn_deck_ctl *ctl, uint32_t id) {
    for (;;) {
        uint32_t seq = atomic_load_explicit(&ctl->wake, memory_order_acquire);
        if (atomic_load_explicit(&ctl->owner, memory_order_acquire) == id) return 0;
        if (getppid() == 1) return -1;
        kn_futex_wait(&ctl->wake, seq, 50000000);
    }
}

/* Called after this owner's last publish: pass the token on. */
static void hand_over(kn_deck_ctl *ctl, uint32_t successor) {
    atomic_store_explicit(&ctl->owner, successor, memory_order_release);
    kn_futex_wake(&ctl->wake);
}

static void render_loop(kn_ring_view *v, kn_cart *c, const kn_program *p, uint32_t id) {
    kn_ring_seg *r = v->seg;
    kn_deck_ctl *ctl = &r->ctl;
    uint32_t block = r->block, target = r->target, cap = v->capacity;
    double rate = r->rate;
    for (;;) {
        uint32_t seq = atomic_load_explicit(&ctl->wake, memory_order_acquire);
        atomic_fetch_add_explicit(&ctl->heartbeat, 1, memory_order_relaxed);
        uint32_t next = atomic_load_explicit(&ctl->next_owner, memory_order_acquire);
        if (next && next != id) {
            hand_over(ctl, next);
            return;
        }
        if (atomic_load_explicit(&ctl->stop, memory_order_acquire) ||
            atomic_load_explicit(&ctl->owner, memory_order_acquire) != id)
            return;
        uint32_t fill = kn_ring_fill(v);
        if (fill == KN_RING_CORRUPT) live_fatal("ring positions corrupted; cartridge stops");
        if (fill < target && cap - fill >= block) {
            uint64_t ns = kn_render_block(c, p, v->pos);
            kn_ring_write_planar(v, c->out, block);
            atomic_fetch_add_explicit(&ctl->busy_ns, ns, memory_order_relaxed);
            atomic_fetch_add_explicit(&ctl->blocks, 1, memory_order_relaxed);
            continue;
        }
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

    deck_maps m = {0};
    if (map_deck(o, &m)) {
        report("fatal", "cannot map the deck's shared memory", -1);
        return 3;
    }
    kn_ring_view v;
    if (kn_ring_view_init(&v, m.ring, m.ring_bytes)) {
        report("fatal", "the deck's ring segment is malformed", -1);
        return 3;
    }
    kn_program prog;
    char err[8192];
    if (kn_compile(&prog, o->path, o->display, err, sizeof err)) {
        report("error", err, -1);
        return 1;
    }
    report("compiled", NULL, prog.compile_ms);

    if (wait_for_ownership(&m.ring->ctl, o->id)) return 0;
    kn_cart c;
    if (kn_cart_init(&c, m.ring->rate, (int)v.channels, (int)m.ring->block)) return 3;
    c.state = m.state;
    c.state_bytes = m.state_bytes;
    c.params = m.params;
    c.id = o->id;
    c.display = o->display;
    if (prog.setup) prog.setup(&c.ctx);
    kn_ring_writer_attach(&v);
    report("running", NULL, -1);
    render_loop(&v, &c, &prog, o->id);
    return 0;
}
