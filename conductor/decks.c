/*
 * decks.c - decks and the cartridges that feed them (control thread).
 *
 * A deck is a slot (0..15) with three shared segments (ring, state, param)
 * and at most two cartridges: `cur`, the producer, and `next`, a successor
 * compiling or waiting for the ownership token. A version (a play, a save
 * seen by watch.c, a revert) is read once, snapshotted into the history
 * (history.c) and compiled by a new successor. A newer version supersedes
 * a successor still compiling; one that already asked for the token is let
 * finish, and the newer version follows it.
 *
 *   spawn next ──report "compiled"──▶ token: owner (no producer) or
 *                                      next_owner (producer hands over)
 *   next reports "running" ─────────▶ next becomes cur; old cur exits;
 *                                      the version enters the history
 *   cur exits (pidfd) ──────────────▶ logged; a waiting next gets the token
 *
 * Cartridges are started, killed and reaped by proc.c, report on a pipe
 * (JSON lines on fd 3, shm/contract.h) read here, and are watched through
 * pidfds; nothing here ever blocks on a cartridge. What is said goes
 * through events.c; sources are read by files.c.
 */
#include "conductor.h"
#include "futex.h"
#include "contract.h"
#include "priority.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

kn_deck *kn_deck_find(kn_conductor *c, const char *name) {
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && c->deck[i].name[0] && !strcmp(c->deck[i].name, name))
            return &c->deck[i];
    return NULL;
}

static int slot_of(kn_conductor *c, kn_deck *d) {
    return (int)(d - c->deck);
}

/* ------------------------------------------------------------ segments */

static void segments_close(kn_deck *d) {
    for (int k = KN_SEG_RING; k <= KN_SEG_SNAP; k++) {
        if (d->seg_fd[k] >= 0) close(d->seg_fd[k]);
        d->seg_fd[k] = -1;
    }
}

static void segments_free(kn_deck *d) {
    kn_seg_unmap(d->ring, d->ring_bytes);
    kn_seg_unmap(d->state, d->state_bytes);
    kn_seg_unmap(d->params, d->param_bytes);
    d->ring = NULL;
    d->state = NULL;
    d->params = NULL;
    segments_close(d);
}

/* The deck's four segments, each created, mapped and formatted. The
 * snapshot is only for cartridges: the conductor unmaps it at once. */
static int segments_create(kn_conductor *c, kn_deck *d, char *err, size_t errlen) {
    /* Room for the target of any device kanon may fail over to (dummy:
     * 100 ms), so a deck never needs a bigger ring mid-life. */
    uint32_t cap = 4096;
    while (cap < 2 * c->target || cap < (uint32_t)(c->rate * 0.25)) cap <<= 1;
    uint32_t lane = ((uint32_t)c->rate + (uint32_t)c->block - 1) / (uint32_t)c->block *
                    (uint32_t)c->block; /* 1 s: the longest --fade */
    d->ring_cap = cap;
    d->lane_cap = lane;
    d->ring_bytes = kn_ring_bytes(cap, (uint32_t)c->channels, lane);
    d->state_bytes = c->state_bytes;
    d->param_bytes = kn_param_bytes();
    kn_state_seg *snap = NULL;
    struct {
        const char *label;
        size_t bytes;
        void **map;
    } seg[KN_SEG_KINDS + 1] = {
        [KN_SEG_RING] = {"kanon.ring", d->ring_bytes, (void **)&d->ring},
        [KN_SEG_STATE] = {"kanon.state", d->state_bytes, (void **)&d->state},
        [KN_SEG_PARAM] = {"kanon.param", d->param_bytes, (void **)&d->params},
        [KN_SEG_SNAP] = {"kanon.snap", d->state_bytes, (void **)&snap},
    };
    for (int k = KN_SEG_RING; k <= KN_SEG_SNAP; k++) {
        int rc = kn_seg_create(seg[k].label, seg[k].bytes, seg[k].map, &d->seg_fd[k]);
        if (rc) {
            snprintf(err, errlen, "cannot create shared memory (%s, %zu bytes): %s", seg[k].label,
                     seg[k].bytes, strerror(-rc));
            segments_free(d);
            return -1;
        }
    }
    kn_ring_format(d->ring, cap, (uint32_t)c->channels, (uint32_t)c->block, c->target, c->rate,
                   lane);
    kn_state_format(d->state, d->state_bytes, KN_SEG_STATE);
    kn_param_format(d->params);
    kn_state_format(snap, d->state_bytes, KN_SEG_SNAP);
    kn_seg_unmap(snap, d->state_bytes);
    return 0;
}

/* ---------------------------------------------------------- ownership */

static void grant(kn_deck *d, uint32_t id) {
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store_explicit(&ctl->next_owner, 0, memory_order_relaxed);
    atomic_store_explicit(&ctl->owner, id, memory_order_release);
    kn_futex_wake(&ctl->wake);
}

/* A cartridge can write anything over its deck's shared memory. Whatever
 * the next cartridges and the conductor rely on is rewritten from our own
 * copy: segment headers (cartridges refuse to map a segment without them)
 * and the ring's geometry. The state's contents are the snapshot's
 * business (live.c), the parameters' are checked where they are read. */
void kn_deck_reformat(kn_conductor *c, kn_deck *d) {
    kn_ring_set_geometry(d->ring, d->ring_cap, (uint32_t)c->channels, (uint32_t)c->block, c->target,
                         c->rate, d->lane_cap);
    kn_seg_header *h = &d->state->hdr;
    *h = (kn_seg_header){KN_MAGIC, KN_LAYOUT_VERSION, KN_SEG_STATE, d->state_bytes};
    h = &d->params->hdr;
    *h = (kn_seg_header){KN_MAGIC, KN_LAYOUT_VERSION, KN_SEG_PARAM, d->param_bytes};
}

/* After a fault: where the ring restarts. The faulty version's last write
 * position if it is plausible (the audio thread, at most one callback past
 * read_pub, cannot be beyond it), else a whole ring past the reader. The
 * audio thread skips to it (mixer.c fault_restart), so the leftovers are
 * dropped and the successor's first frame is the next one heard. */
static void ring_restart(kn_conductor *c, kn_deck *d) {
    kn_mix_deck *m = &c->mix.deck[slot_of(c, d)];
    uint64_t r = atomic_load_explicit(&m->read_pub, memory_order_acquire);
    uint64_t w = atomic_load(&d->ring->write_pos);
    uint64_t at = w >= r && w - r <= d->ring_cap ? w : r + d->ring_cap;
    kn_deck_reformat(c, d);
    kn_ring_restart(d->ring, r, at); /* the writer waits until the reader got there */
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store(&ctl->stop, 0);
    atomic_store(&ctl->lane_for, 0);
    atomic_store(&ctl->phase, KN_PHASE_IDLE);
    atomic_store_explicit(&m->restart_pos, at, memory_order_relaxed);
    atomic_store_explicit(&m->restart_seq, ++d->restart_seq, memory_order_release);
}

/* Gives the waiting successor the token when nobody else can publish: no
 * producer, and no faulty one still dying (reaped: it cannot publish a late
 * block). After a fault the ring restarts first. */
void kn_deck_grant(kn_conductor *c, kn_deck *d) {
    if (d->next.st != KN_PROC_READY || d->cur.st != KN_PROC_NONE || d->dying.st != KN_PROC_NONE)
        return;
    if (d->repair) {
        ring_restart(c, d);
        d->repair = 0;
    }
    d->hb_last = atomic_load(&d->ring->ctl.heartbeat); /* setup() starts now */
    d->hb_time = kn_mono_ns();
    grant(d, d->next.id);
}

/* The successor compiled: give it the token, directly or via the producer. */
static void successor_ready(kn_conductor *c, kn_deck *d) {
    d->next.st = KN_PROC_READY;
    if (d->cur.st == KN_PROC_NONE) {
        kn_deck_grant(c, d);
        return;
    }
    d->cur.leaving = 1; /* it may exit once it handed over */
    atomic_store_explicit(&d->ring->ctl.next_owner, d->next.id, memory_order_release);
    kn_futex_wake(&d->ring->ctl.wake);
}

/* The producing cartridge's render loop runs SCHED_FIFO
 * KN_CARTRIDGE_RT_PRIO, below the audio thread (shm/priority.h), or at
 * normal priority while the audio thread is not real-time (it must not be
 * outranked) or the cartridges alone overload the machine (load.c). We
 * set it: a cartridge never holds the right to raise its own priority (a
 * root one has no CAP_SYS_NICE), and it capped its RLIMIT_RTTIME before
 * its code ran, so a loop that never sleeps gets SIGXCPU instead of
 * starving the machine. Without that cap, or without the right, it plays
 * at normal priority. */
void kn_proc_priority(kn_conductor *c, kn_deck *d, const kn_proc *p) {
    struct rlimit rt;
    const char *why = NULL;
    int mixer_rt = kn_audio_outranks_cartridges(c->audio), want = mixer_rt && !c->ov.demoted;
    struct sched_param sp = {.sched_priority = want ? KN_CARTRIDGE_RT_PRIO : 0};
    if (p->pid <= 0) return;
    if (!want) {
        sched_setscheduler(p->pid, SCHED_OTHER, &sp); /* lowering needs no right */
        if (d && !mixer_rt)
            kn_deck_event(c, d, "note",
                          "cartridge %u: real-time scheduling off: the conductor's audio thread "
                          "runs at normal priority, and must not be outranked",
                          p->id);
        return;
    }
    if (prlimit(p->pid, RLIMIT_RTTIME, NULL, &rt) || rt.rlim_max == RLIM_INFINITY)
        why = "its CPU time is not capped";
    else if (sched_setscheduler(p->pid, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
        why = strerror(errno);
    if (why && !c->rt_refused) /* once: the next cartridges fare the same */
        kn_log("cartridges play at normal priority: real-time scheduling unavailable (%s)", why);
    c->rt_refused = why != NULL;
}

static void successor_running(kn_conductor *c, kn_deck *d, double at_s) {
    kn_outcome_add(d, d->next.id, 1, d->next.compile_ms, NULL);
    int v = kn_history_commit(c, d, d->next.id, d->next.compile_ms);
    if (v < 0) { /* keep playing and counting; say why the history has a gap */
        kn_deck_event(c, d, "note", "cannot keep version in %s: %s", c->history_dir, strerror(-v));
        v = ++d->version;
    }
    double at = at_s > 0 ? at_s * 1e9 : (double)kn_real_ns(); /* when the cartridge took over */
    double swap_ms = (at - (double)d->next.asked_rt_ns) / 1e6;
    char text[512];
    snprintf(
        text, sizeof text,
        "v%d took over (cartridge %u, %s): compile %.2f ms, test %.2f ms, %.2f ms after the %s", v,
        d->next.id, d->origin, d->next.compile_ms, d->next.test_ms, swap_ms,
        strcmp(d->origin, "save") ? "request" : "save");
    kn_event *e = kn_event_add(c, d, "running", text);
    e->version = v;
    e->compile_ms = d->next.compile_ms;
    e->test_ms = d->next.test_ms;
    e->swap_ms = swap_ms;
    e->ready_ms = d->next.ready_ms;
    if (d->cur.st != KN_PROC_NONE) kn_proc_kill(c, &d->cur); /* it handed over and is leaving */
    /* A good version runs again: it becomes audible, fading in, once the
     * audio thread has silenced the faulted one (kn_faults_tick). */
    d->running_since = kn_mono_ns();
    d->hb_last = atomic_load(&d->ring->ctl.heartbeat);
    d->hb_time = d->running_since;
    d->ov_count = 0;
    d->ov_t0 = 0;
    d->cur = d->next;
    d->cur.st = KN_PROC_RUNNING;
    kn_proc_priority(c, d, &d->cur);
    memset(&d->next, 0, sizeof d->next);
    d->next.rfd = d->next.pidfd = -1;
    d->blocks0 = atomic_load(&d->ring->ctl.blocks);
    d->busy0 = atomic_load(&d->ring->ctl.busy_ns);
    d->load_t0 = kn_mono_ns();
}

/* ------------------------------------------------------------ reports */

static void on_report(kn_conductor *c, kn_deck *d, kn_proc *p, const char *line) {
    cJSON *o = cJSON_Parse(line);
    const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(o, KN_REPORT_EVENT));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(o, KN_REPORT_MESSAGE));
    cJSON *ms = cJSON_GetObjectItem(o, KN_REPORT_MS);
    if (!ev) {
        kn_log("deck %s: cartridge %u sent a malformed report", d->name, p->id);
    } else if (!strcmp(ev, KN_REPORT_COMPILED) && p == &d->next) {
        cJSON *tms = cJSON_GetObjectItem(o, KN_REPORT_TEST_MS);
        cJSON *t = cJSON_GetObjectItem(o, KN_REPORT_T);
        p->compile_ms = cJSON_IsNumber(ms) ? ms->valuedouble : 0;
        p->test_ms = cJSON_IsNumber(tms) ? tms->valuedouble : 0;
        p->ready_ms = cJSON_IsNumber(t) ? (t->valuedouble * 1e9 - (double)p->asked_rt_ns) / 1e6 : 0;
        successor_ready(c, d);
    } else if (!strcmp(ev, KN_REPORT_TESTING)) {
        p->testing = 1;
        p->testing_ns = kn_mono_ns();
    } else if (!strcmp(ev, KN_REPORT_NOTE)) {
        kn_deck_event(c, d, "note", "cartridge %u: %s", p->id, msg ? msg : "");
    } else if (!strcmp(ev, KN_REPORT_BLOCKED)) {
        const char *call = cJSON_GetStringValue(cJSON_GetObjectItem(o, KN_REPORT_SYSCALL));
        if (p->blocked < KN_BLOCKED_LOGGED)
            kn_deck_event(c, d, "sandbox", "cartridge %u tried %.40s; refused by the sandbox",
                          p->id, call ? call : "a system call");
        else if (p->blocked == KN_BLOCKED_LOGGED) /* a flood is not logged line by line */
            kn_deck_event(c, d, "sandbox",
                          "cartridge %u keeps trying calls the sandbox refuses; no more are "
                          "logged",
                          p->id);
        p->blocked++;
    } else if (!strcmp(ev, KN_REPORT_RUNNING) && p == &d->next) {
        cJSON *t = cJSON_GetObjectItem(o, KN_REPORT_T),
              *f = cJSON_GetObjectItem(o, KN_REPORT_FRAME);
        kn_mix_deck *m = &c->mix.deck[slot_of(c, d)];
        if (cJSON_IsNumber(f) && f->valuedouble > 0) { /* frame 0: a new deck, not a swap */
            d->audible_pending = 1;
            d->audible_asked_rt_ns = d->next.asked_rt_ns;
            atomic_store_explicit(&m->mark_frame, (uint64_t)f->valuedouble, memory_order_release);
        }
        successor_running(c, d, cJSON_IsNumber(t) ? t->valuedouble : 0);
    } else if (!strcmp(ev, KN_REPORT_ERROR) || !strcmp(ev, KN_REPORT_FATAL)) {
        int compiling = p == &d->next;
        kn_outcome_add(d, p->id, 0, 0, msg ? msg : "unknown error");
        if (compiling) kn_history_discard(c, d, p->id);
        kn_deck_event(c, d, "error", "%s%s", msg ? msg : "error",
                      compiling && d->cur.st ? " (the previous version plays on)" : "");
    }
    cJSON_Delete(o);
}

static void read_reports(kn_conductor *c, kn_deck *d, kn_proc *p) {
    if (p->rfd < 0) return;
    for (;;) {
        ssize_t n = read(p->rfd, p->line + p->len, sizeof p->line - 1 - p->len);
        if (n <= 0) break;
        p->len += (size_t)n;
        p->line[p->len] = 0;
        char *nl;
        while ((nl = memchr(p->line, '\n', p->len))) {
            *nl = 0;
            uint32_t id = p->id;
            size_t used = (size_t)(nl - p->line) + 1;
            on_report(c, d, p, p->line);
            if (p->st == KN_PROC_NONE) {
                /* "running" moved next into cur, buffer and all: the rest of
                 * the buffer is cur's now */
                if (p != &d->next || d->cur.id != id) return;
                p = &d->cur;
            }
            /* not nl + 1: after "running" that points into next, now cleared */
            memmove(p->line, p->line + used, p->len - used);
            p->len -= used;
        }
        if (p->len >= sizeof p->line - 1) p->len = 0; /* an absurd line: drop it */
    }
}

static void check_exit(kn_conductor *c, kn_deck *d, kn_proc *p) {
    siginfo_t si;
    if (p->st == KN_PROC_NONE || !kn_proc_exited(p->pidfd, p->pid, &si)) return;
    read_reports(c, d, p);
    if (p->st == KN_PROC_NONE) return;
    char how[128];
    uint32_t id = p->id;
    kn_proc_describe_exit(&si, how, sizeof how);
    if (p == &d->next && atomic_load(&d->ring->ctl.owner) == p->id) {
        /* it had taken the token: it died in setup() at takeover */
        char what[200];
        snprintf(what, sizeof what, "cartridge %u %s%s", id, how, kn_phase_text(d));
        kn_outcome_add(d, id, 0, 0, what);
        kn_history_discard(c, d, id);
        kn_proc_close(p);
        kn_deck_fault(c, d, NULL, id, what);
        return;
    }
    if (p == &d->next) {
        if (!kn_deck_outcome(d, p->id)) {
            char m[1024];
            uint32_t mine = p->id; /* the producer must not hand over to a dead successor */
            if (atomic_compare_exchange_strong(&d->ring->ctl.next_owner, &mine, 0))
                d->cur.leaving = 0;
            int alarm = si.si_code != CLD_EXITED && si.si_status == SIGALRM;
            const char *plays_on =
                d->cur.st == KN_PROC_RUNNING ? " (the previous version plays on)" : "";
            if (p->killed_for) /* our own deadline */
                snprintf(m, sizeof m, "%s: error: cartridge %u %s; refused%s", d->display, p->id,
                         p->killed_for, plays_on);
            else if (alarm) /* the cartridge's own deadline */
                snprintf(m, sizeof m, "%s: error: cartridge %u took too long %s; refused%s",
                         d->display, p->id,
                         p->testing ? "in its test render (2 s limit: a hang?)"
                                    : "to compile (time limit)",
                         plays_on);
            else
                snprintf(m, sizeof m, "%s: error: cartridge %u %s %s; refused%s", d->display, p->id,
                         how,
                         p->st == KN_PROC_READY ? "while waiting to take over"
                         : p->testing           ? "in its test render"
                                                : "while compiling",
                         plays_on);
            kn_outcome_add(d, p->id, 0, 0, m);
            kn_history_discard(c, d, p->id);
            kn_deck_event(c, d, "error", "%s", m);
        }
        kn_proc_close(p);
        return;
    }
    /* Leaving after handing the token on, when asked to, is the normal end
     * of a cartridge (once the token is passed, even a crash harms no one);
     * any other exit, even with status 0, is a fault. */
    int handed_over = p->leaving && atomic_load(&d->ring->ctl.owner) != p->id;
    if (!handed_over) {
        char what[300];
        if (si.si_code != CLD_EXITED && si.si_status == SIGXCPU)
            kn_xcpu_text(c, d, id, what, sizeof what);
        else
            snprintf(what, sizeof what, "cartridge %u %s%s", id, how, kn_phase_text(d));
        kn_proc_close(p);
        kn_deck_fault(c, d, NULL, id, what);
        return;
    }
    kn_proc_close(p);
    /* A dead producer cannot publish: a waiting successor may take over. */
    kn_deck_grant(c, d);
}

/* ------------------------------------------------------------- public */

/* Starts a successor compiling `src`. -EBUSY if a successor already asked
 * for the token (the caller retries after it took over). */
int kn_deck_start_version(kn_conductor *c, kn_deck *d, const char *src, size_t len,
                          const char *origin, int restore, uint32_t *id, char *err, size_t errlen) {
    uint64_t asked_rt = !strcmp(origin, "save") && d->saved_rt_ns ? d->saved_rt_ns : kn_real_ns();
    if (d->next.st == KN_PROC_READY) {
        snprintf(err, errlen, "busy: deck %s is switching versions; try again", d->name);
        return -EBUSY;
    }
    if (d->next.st != KN_PROC_NONE) { /* still compiling: the newer version wins */
        kn_outcome_add(d, d->next.id, 0, 0, "superseded by a newer version before taking over");
        kn_history_discard(c, d, d->next.id);
        kn_proc_kill(c, &d->next);
    }
    uint32_t nid = ++c->next_id;
    char snap[4400];
    int rc = kn_history_write(c, d, nid, src, len, snap, sizeof snap);
    if (rc) {
        snprintf(err, errlen, "cannot keep a copy of %s in %s: %s", d->display, c->history_dir,
                 strerror(-rc));
        return rc;
    }
    atomic_store(&d->ring->ctl.fade, (uint32_t)(d->fade_ms * c->rate / 1000.0 + 0.5));
    d->next.id = nid;
    d->next.restore = restore;
    if (kn_proc_spawn(c, d, &d->next, snap, err, errlen)) {
        kn_history_discard(c, d, nid);
        kn_proc_close(&d->next);
        return -1;
    }
    d->next.hash = kn_fnv1a(src, len);
    d->next.asked_rt_ns = asked_rt;
    snprintf(d->origin, sizeof d->origin, "%s", origin);
    *id = nid;
    kn_deck_event(c, d, "compiling", "cartridge %u compiling %s (%s)", nid, d->display, origin);
    return 0;
}

static kn_deck *deck_create(kn_conductor *c, const char *name, char *err, size_t errlen) {
    kn_deck *d = NULL;
    for (int i = 0; i < KN_MAX_DECKS && !d; i++)
        if (!c->deck[i].used) d = &c->deck[i];
    if (!d) {
        snprintf(err, errlen, "all %d decks are in use; free one with `kanon stop DECK`",
                 KN_MAX_DECKS);
        return NULL;
    }
    memset(d, 0, sizeof *d);
    d->cur.rfd = d->cur.pidfd = d->next.rfd = d->next.pidfd = d->watch_wd = -1;
    d->dying.rfd = d->dying.pidfd = -1;
    for (int k = 0; k <= KN_SEG_KINDS; k++) d->seg_fd[k] = -1;
    if (segments_create(c, d, err, errlen)) return NULL;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->used = 1;
    d->version = kn_history_count(c, d);
    kn_mix_deck *m = &c->mix.deck[slot_of(c, d)];
    if (kn_ring_view_init(&m->ring, d->ring, d->ring_bytes)) abort(); /* we just made it */
    m->prefill = c->target;
    m->playing = m->started = 0;
    atomic_store(&m->underruns, 0);
    atomic_store(&m->nonfinite, 0);
    atomic_store(&m->frames, 0);
    atomic_store(&m->corrupt, 0);
    atomic_store(&m->read_pub, 0);
    atomic_store(&m->restart_seq, 0);
    atomic_store(&m->restart_done, 0);
    atomic_store(&m->silenced_rt_ns, 0);
    m->silenced = 0;
    m->restart_seen = 0;
    m->release_cb = 0;
    atomic_store_explicit(&m->state, KN_MIX_PLAY, memory_order_release);
    kn_levels_reset_deck(c, slot_of(c, d));
    kn_log("deck %s: created in slot %d", name, slot_of(c, d));
    return d;
}

int kn_deck_play(kn_conductor *c, const kn_play_opts *o, uint32_t *id, char *err, size_t errlen) {
    size_t len;
    char *src = kn_slurp(o->path, &len);
    if (!src) {
        snprintf(err, errlen, "cannot read %s: %s", o->display,
                 errno == EINVAL ? "not a regular file" : strerror(errno));
        return -1;
    }
    kn_deck *d = kn_deck_find(c, o->deck);
    if (!d && !(d = deck_create(c, o->deck, err, errlen))) {
        free(src);
        return -1;
    }
    snprintf(d->path, sizeof d->path, "%s", o->path);
    snprintf(d->display, sizeof d->display, "%s", o->display);
    d->fade_ms = o->fade_ms;
    kn_unwatch_deck(c, d);
    d->watch = o->watch;
    if (d->watch && kn_watch_deck(c, d))
        kn_deck_event(c, d, "note", "cannot watch %s for saves: %s", d->display, strerror(errno));
    d->dirty_ns = 0;
    int rc = kn_deck_start_version(c, d, src, len, "play", 0, id, err, errlen);
    free(src);
    return rc;
}

int kn_deck_revert(kn_conductor *c, kn_deck *d, int v, uint32_t *id, char *err, size_t errlen) {
    if (v <= 0) v = d->version - 1;
    char path[4300], origin[32];
    if (v <= 0 || kn_history_file(c, d, v, path, sizeof path)) {
        snprintf(err, errlen, "deck %s has no version %d (see `kanon history %s`)", d->name, v,
                 d->name);
        return -1;
    }
    size_t len;
    char *src = kn_slurp(path, &len);
    if (!src) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(origin, sizeof origin, "revert to v%d", v);
    int rc = kn_deck_start_version(c, d, src, len, origin, 0, id, err, errlen);
    free(src);
    return rc;
}

/* A save was seen and the debounce has passed: start the new version,
 * unless the file is empty (mid-write) or unchanged. */
static void reload(kn_conductor *c, kn_deck *d) {
    size_t len;
    char *src = kn_slurp(d->path, &len);
    if (!src) {
        d->dirty_ns = 0;
        if (errno != ENOENT)
            kn_deck_event(c, d, "note", "cannot read %s: %s", d->display, strerror(errno));
        return;
    }
    uint64_t h = kn_fnv1a(src, len);
    uint64_t newest = d->next.st != KN_PROC_NONE ? d->next.hash : d->cur.hash;
    uint32_t id;
    char err[1024];
    if (len == 0 || h == newest) {
        d->dirty_ns = 0;
    } else if (kn_deck_start_version(c, d, src, len, "save", 0, &id, err, sizeof err) == 0) {
        d->dirty_ns = 0;
    } else if (d->next.st != KN_PROC_READY) {
        d->dirty_ns = 0;
        kn_deck_event(c, d, "error", "%s", err);
    } /* else busy: stays dirty, retried once the successor took over */
    free(src);
}

/* A save waits while a successor holds its place in line: one that asked
 * for the token, or a revert after a fault (which a save must not
 * supersede: if the save were refused, the deck would stay silent). */
static int save_waits(const kn_deck *d) {
    return d->next.st == KN_PROC_READY || (d->next.st != KN_PROC_NONE && d->next.restore);
}

void kn_deck_abandon_next(kn_conductor *c, kn_deck *d) {
    if (d->next.st == KN_PROC_NONE) return;
    int refile = !strcmp(d->origin, "save") || !strcmp(d->origin, "play");
    kn_outcome_add(d, d->next.id, 0, 0,
                   refile ? "interrupted by a fault; compiled again after the revert"
                          : "interrupted by a fault");
    kn_history_discard(c, d, d->next.id);
    uint32_t mine = d->next.id;
    if (atomic_compare_exchange_strong(&d->ring->ctl.next_owner, &mine, 0)) d->cur.leaving = 0;
    kn_proc_kill(c, &d->next);
    if (refile && !d->dirty_ns) d->dirty_ns = kn_mono_ns(); /* reload() once the revert runs */
}

int kn_decks_timeout_ms(kn_conductor *c, int max) {
    uint64_t now = kn_mono_ns();
    int ms = max;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->dirty_ns || save_waits(d)) continue;
        int left = d->dirty_ns > now ? (int)((d->dirty_ns - now + 999999) / 1000000) : 0;
        if (left < ms) ms = left;
    }
    return ms;
}

int kn_deck_stop(kn_conductor *c, const char *name, char *err, size_t errlen) {
    kn_deck *d = kn_deck_find(c, name);
    if (!d) {
        snprintf(err, errlen, "no deck named '%s' (see `kanon status`)", name);
        return -1;
    }
    atomic_store(&d->ring->ctl.stop, 1);
    kn_futex_wake(&d->ring->ctl.wake);
    kn_proc_kill(c, &d->cur);
    if (d->next.st != KN_PROC_NONE) kn_history_discard(c, d, d->next.id);
    kn_proc_kill(c, &d->next);
    kn_unwatch_deck(c, d);
    int expected = KN_MIX_PLAY;
    if (!atomic_compare_exchange_strong(&c->mix.deck[slot_of(c, d)].state, &expected,
                                        KN_MIX_STOPPING)) {
        expected = KN_MIX_FAULTED; /* silent already: the audio thread just lets go */
        atomic_compare_exchange_strong(&c->mix.deck[slot_of(c, d)].state, &expected,
                                       KN_MIX_STOPPING);
    }
    kn_deck_event(c, d, "stop", "stopped");
    d->name[0] = 0; /* the name is free at once; the slot when the fade is done */
    d->load_t0 = kn_mono_ns();
    return 0;
}

int kn_decks_pollfds(kn_conductor *c, struct pollfd *fds, int max) {
    int n = 0;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_proc *ps[3] = {&c->deck[i].cur, &c->deck[i].next, &c->deck[i].dying};
        for (int k = 0; k < 3 && c->deck[i].used; k++) {
            if (ps[k]->rfd >= 0 && n < max) fds[n++] = (struct pollfd){ps[k]->rfd, POLLIN, 0};
            if (ps[k]->pidfd >= 0 && n < max) fds[n++] = (struct pollfd){ps[k]->pidfd, POLLIN, 0};
        }
    }
    for (int i = 0; i < 64; i++)
        if (c->reap_fd[i] >= 0 && n < max) fds[n++] = (struct pollfd){c->reap_fd[i], POLLIN, 0};
    return n;
}

void kn_decks_handle(kn_conductor *c) {
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        read_reports(c, d, &d->next);
        read_reports(c, d, &d->cur);
        check_exit(c, d, &d->next);
        check_exit(c, d, &d->cur);
        siginfo_t si;
        if (d->dying.st != KN_PROC_NONE && kn_proc_exited(d->dying.pidfd, d->dying.pid, &si)) {
            kn_proc_close(&d->dying); /* reaped: it can publish nothing more */
            kn_deck_grant(c, d);
        }
    }
    for (int i = 0; i < 64; i++) {
        siginfo_t si;
        if (c->reap_pid[i] > 0 && kn_proc_exited(c->reap_fd[i], c->reap_pid[i], &si)) {
            if (c->reap_fd[i] >= 0) close(c->reap_fd[i]);
            c->reap_fd[i] = -1;
            c->reap_pid[i] = 0;
        }
    }
}

static void deck_free(kn_conductor *c, kn_deck *d) {
    kn_proc_kill(c, &d->cur);
    kn_proc_kill(c, &d->dying);
    if (d->next.st != KN_PROC_NONE) kn_history_discard(c, d, d->next.id);
    kn_proc_kill(c, &d->next);
    kn_unwatch_deck(c, d);
    atomic_store_explicit(&c->mix.deck[slot_of(c, d)].state, KN_MIX_OFF, memory_order_release);
    segments_free(d);
    int soloed = d->solo;
    memset(d, 0, sizeof *d);
    d->cur.rfd = d->cur.pidfd = d->next.rfd = d->next.pidfd = -1;
    d->dying.rfd = d->dying.pidfd = -1;
    if (soloed) kn_levels_apply(c, 10); /* the others become audible again */
}

void kn_decks_tick(kn_conductor *c) {
    uint64_t now = kn_mono_ns();
    kn_spare_ensure(c); /* replaces a used or dead spare off the swap path */
    kn_faults_tick(c);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used) continue;
        int st = atomic_load_explicit(&c->mix.deck[i].state, memory_order_acquire);
        if (st == KN_MIX_DONE || (st != KN_MIX_PLAY && st != KN_MIX_FAULTED &&
                                  kn_mix_deck_released(&c->mix.deck[i], now - d->load_t0,
                                                       atomic_load(kn_audio_callbacks(c->audio)),
                                                       kn_audio_streaming(c->audio)))) {
            deck_free(c, d);
            continue;
        }
        if (d->name[0] && d->dirty_ns && now >= d->dirty_ns && !save_waits(d)) reload(c, d);
        kn_mix_deck *m = &c->mix.deck[i];
        if (d->audible_pending && !atomic_load_explicit(&m->mark_frame, memory_order_acquire)) {
            d->audible_pending = 0;
            c->audible_ms[c->naudible++ % KN_AUDIBLE] =
                ((double)atomic_load(&m->mark_rt_ns) - (double)d->audible_asked_rt_ns) / 1e6;
        }
        if (d->cur.st == KN_PROC_RUNNING && now - d->load_t0 >= 500000000u) {
            uint64_t b = atomic_load(&d->ring->ctl.blocks),
                     busy = atomic_load(&d->ring->ctl.busy_ns);
            double audio_ns = (double)(b - d->blocks0) * c->block / c->rate * 1e9;
            d->load = audio_ns > 0 ? 100.0 * (double)(busy - d->busy0) / audio_ns : 0;
            d->blocks0 = b;
            d->busy0 = busy;
            d->load_t0 = now;
        }
    }
}

void kn_decks_retarget(kn_conductor *c) {
    /* The device's largest request, 10 ms for a cartridge's wake-up jitter,
     * and two blocks; a whole number of blocks. */
    uint32_t t = (uint32_t)kn_audio_period(c->audio) + (uint32_t)(c->rate / 100) + 2u * c->block;
    c->target = (t + (uint32_t)c->block - 1) / (uint32_t)c->block * (uint32_t)c->block;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        if (!c->deck[i].used) continue;
        uint32_t cap = c->deck[i].ring->capacity;
        uint32_t t_deck = c->target < cap / 2 ? c->target : cap / 2;
        atomic_store(&c->deck[i].ring->target, t_deck);
        atomic_store_explicit(&c->mix.deck[i].prefill, t_deck, memory_order_relaxed);
    }
}

void kn_decks_shutdown(kn_conductor *c) {
    if (c->spare.st != KN_PROC_NONE) {
        close(c->spare_job);
        kn_proc_kill(c, &c->spare);
    }
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used) continue;
        atomic_store_explicit(&c->mix.deck[i].state, KN_MIX_OFF, memory_order_release);
        deck_free(c, d);
    }
    for (int i = 0; i < 64; i++)
        if (c->reap_pid[i] > 0) {
            waitpid(c->reap_pid[i], NULL, 0); /* all SIGKILLed: returns promptly */
            if (c->reap_fd[i] >= 0) close(c->reap_fd[i]);
            c->reap_fd[i] = -1;
            c->reap_pid[i] = 0;
        }
}
