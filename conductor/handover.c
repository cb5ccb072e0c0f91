/*
 * handover.c - who produces a deck's sound, who comes next, and what
 * happens when either fails: one state machine per deck (kn_deck.hs).
 *
 * A deck has at most one producer (`cur`, holding the ownership token of
 * kanon_shm.h) and one successor (`next`, compiling a newer version). A
 * faulty cartridge that was killed but not yet reaped is kept as `dying`:
 * no successor gets the token until it has been reaped (a dead process
 * publishes nothing). docs/hot-swap.md tells the story; this is the code.
 *
 *   state       producer  successor               heard?
 *   IDLE        -         -                       no: the first version was refused
 *   COMPILING   -         compiling               no: a new deck
 *   TAKING      -         holds the token         soon: in setup(), then renders
 *   PLAYING     running   -                       yes
 *   SWAPPING    running   compiling               yes, the producer plays on
 *   HANDING     running   named next_owner        yes: the producer renders the fade
 *                                                 lane and passes the token
 *   RECOVERING  (killed)  a revert (or a play)    no: silenced after a fault; the
 *                                                 token waits for the reaping
 *   SILENT      (killed)  -                       no: nothing to revert to, or shed
 *   STOPPING    -         -                       fading out; freed by decks.c
 *
 *   state       event      what it does                                  next
 *   IDLE        version    spawn a successor                             COMPILING
 *   COMPILING   version    kill the successor (superseded), spawn        COMPILING
 *   COMPILING   compiled   grant the token                               TAKING
 *   COMPILING   refused    say why                                       IDLE
 *   TAKING      running    commit the version to the history             PLAYING
 *   TAKING      died       silence, revert (fault)                       RECOVERING|SILENT
 *   PLAYING     version    spawn a successor                             SWAPPING
 *   PLAYING     died       silence, revert (fault)                       RECOVERING|SILENT
 *   PLAYING     shed       silence, kill (and a cc build on its way)     SILENT
 *   SWAPPING    version    supersede                                     SWAPPING
 *   SWAPPING    compiled   name it next_owner                            HANDING
 *   SWAPPING    refused    say why; the producer plays on                PLAYING
 *   HANDING     running    commit; kill the old producer (it is leaving) PLAYING
 *   HANDING     left       the producer passed the token and exited      TAKING
 *   HANDING     refused    withdraw next_owner; the producer plays on    PLAYING
 *   RECOVERING  compiled   grant once the culprit is reaped              TAKING|RECOVERING
 *   RECOVERING  reaped     grant once the successor compiled             TAKING|RECOVERING
 *   RECOVERING  version    supersede (a play or revert; a save waits)    RECOVERING
 *   RECOVERING  refused    the revert failed too                         SILENT
 *   SILENT      version    spawn a successor                             RECOVERING
 *   any         fault      silence, kill, revert to the last good        RECOVERING|SILENT
 *                          version; a version in progress gives way
 *                          and is compiled again after the revert
 *   any         stop       kill every cartridge, fade out                STOPPING
 *
 * Events: `version` is a play, save or revert (kn_handover_version; a save
 * waits while kn_handover_save_waits, any version gets -EBUSY while a
 * successor holds or awaits the token); `compiled`, `running` and the
 * refusal's words come from the cartridge's reports (kn_handover_report);
 * `refused`, `left` and `died` are exits (kn_handover_exit); `fault` comes
 * from faults.c, which only detects (a verdict of the audio thread, a hang,
 * a cartridge too slow), `shed` from load.c, `reaped` and `stop` from
 * decks.c. A fault reaches a deck in any state with a producer or a token
 * holder: TAKING, PLAYING, SWAPPING, HANDING.
 *
 * The mixer's state (mixer.c: PLAY, FAULTED, STOPPING) is the audio
 * thread's side: a fault sets FAULTED, and the first takeover after it
 * returns it to PLAY once the audio thread has skipped to the restarted
 * ring (kn_handover_tick), so the revert fades in.
 *
 * The cartridges themselves are started, signalled and killed through
 * proc.c (kn_proc_spawn, kn_proc_kill, kn_proc_sigkill, kn_proc_priority),
 * which tests/unit/test_handover.c replaces with a fake. Control thread
 * only; nothing here blocks.
 */
#include "conductor.h"
#include "futex.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOOD_AFTER_MS 1000 /* fault-free this long: the version is good to revert to */

static const char *const hs_names[] = {
    [KN_HS_IDLE] = "idle",
    [KN_HS_COMPILING] = "compiling",
    [KN_HS_TAKING] = "taking",
    [KN_HS_PLAYING] = "playing",
    [KN_HS_SWAPPING] = "swapping",
    [KN_HS_HANDING] = "handing",
    [KN_HS_RECOVERING] = "recovering",
    [KN_HS_SILENT] = "silent",
    [KN_HS_STOPPING] = "stopping",
};

const char *kn_hs_name(kn_hs s) {
    return s >= 0 && s <= KN_HS_STOPPING ? hs_names[s] : "?";
}

static kn_mix_deck *mix_of(kn_conductor *c, kn_deck *d) {
    return &c->mix.deck[d - c->deck];
}

const char *kn_phase_text(const kn_deck *d) {
    switch (atomic_load(&d->ring->ctl.phase)) {
    case KN_PHASE_SETUP: return " in setup()";
    case KN_PHASE_PROCESS: return " in process()";
    default: return "";
    }
}

kn_proc *kn_deck_producer(kn_deck *d) {
    uint32_t owner = atomic_load(&d->ring->ctl.owner);
    if (owner && d->cur.st == KN_PROC_RUNNING && owner == d->cur.id) return &d->cur;
    if (owner && d->next.st == KN_PROC_READY && owner == d->next.id) return &d->next;
    return NULL;
}

/* -------------------------------------------------------------- token */

static void grant(kn_deck *d, uint32_t id) {
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store_explicit(&ctl->next_owner, 0, memory_order_relaxed);
    atomic_store_explicit(&ctl->owner, id, memory_order_release);
    kn_futex_wake(&ctl->wake);
}

/* After a fault: where the ring restarts. The faulty version's last write
 * position if it is plausible (the audio thread, at most one callback past
 * read_pub, cannot be beyond it), else a whole ring past the reader. The
 * audio thread skips to it (mixer.c fault_restart), so the leftovers are
 * dropped and the successor's first frame is the next one heard. */
static void ring_restart(kn_conductor *c, kn_deck *d) {
    kn_timeline_ctl *tl = &d->ring->tl;
    atomic_store(&tl->handover_at, 0);
    kn_mix_deck *m = mix_of(c, d);
    uint64_t r = atomic_load_explicit(&m->read_pub, memory_order_acquire);
    uint64_t w = atomic_load(&d->ring->write_pos);
    uint64_t at = kn_timeline_restart_pos(c, d, w, r);
    kn_deck_reformat(c, d);
    /* the writer waits until the reader got there (unless that is more
     * than a ring away: then the reader's old position is given up) */
    kn_ring_restart(d->ring, at - r <= d->ring_cap ? r : at, at);
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store(&ctl->stop, 0);
    atomic_store(&ctl->lane_for, 0);
    atomic_store(&ctl->phase, KN_PHASE_IDLE);
    atomic_store_explicit(&m->restart_pos, at, memory_order_relaxed);
    atomic_store_explicit(&m->restart_seq, ++d->restart_seq, memory_order_release);
}

/* Gives the compiled successor the token when nobody else can publish: no
 * producer, and no faulty one still dying. After a fault the ring
 * restarts first. COMPILING, RECOVERING or HANDING (left) -> TAKING. */
static void try_grant(kn_conductor *c, kn_deck *d) {
    if (d->next.st != KN_PROC_READY || d->cur.st != KN_PROC_NONE || d->dying.st != KN_PROC_NONE)
        return;
    if (d->repair) {
        ring_restart(c, d);
        d->repair = 0;
    }
    d->hb_last = atomic_load(&d->ring->ctl.heartbeat); /* setup() starts now */
    d->hb_time = kn_mono_ns();
    grant(d, d->next.id);
    d->hs = KN_HS_TAKING;
}

/* The successor is gone before taking over: where that leaves the deck. */
static void next_gone(kn_deck *d) {
    kn_deck_grow_drop(d); /* a larger state made for it */
    atomic_store(&d->ring->tl.handover_at, 0);
    d->pending_frame = 0;
    switch (d->hs) {
    case KN_HS_COMPILING: d->hs = KN_HS_IDLE; break;
    case KN_HS_SWAPPING:
    case KN_HS_HANDING: d->hs = KN_HS_PLAYING; break;
    case KN_HS_RECOVERING: d->hs = KN_HS_SILENT; break;
    default: break;
    }
}

/* ----------------------------------------------------------- versions */

int kn_handover_save_waits(const kn_deck *d) {
    return d->next.st == KN_PROC_READY || (d->next.st != KN_PROC_NONE && d->next.restore);
}

int kn_handover_version(kn_conductor *c, kn_deck *d, const char *src, size_t len,
                        const char *origin, int restore, uint32_t *id, char *err, size_t errlen) {
    uint64_t asked_rt = !strcmp(origin, "save") && d->saved_rt_ns ? d->saved_rt_ns : kn_real_ns();
    if (d->hs == KN_HS_STOPPING) {
        snprintf(err, errlen, "deck %s is stopping; play it again under its name", d->name);
        return -ESRCH;
    }
    if (d->next.st == KN_PROC_READY) { /* TAKING, HANDING, or a revert waiting to be granted */
        snprintf(err, errlen, "busy: deck %s is switching versions; try again", d->name);
        return -EBUSY;
    }
    int tier = !strcmp(origin, KN_ORIGIN_OPTIMIZE); /* optimize.c: the version's cc build */
    if (!tier)
        kn_opt_cancel(c, d,
                      d->opt.st == KN_OPT_BUILDING || d->opt.st == KN_OPT_READY
                          ? "a newer version came"
                          : NULL);
    if (d->next.st != KN_PROC_NONE) { /* still compiling: the newer version wins */
        kn_outcome_add(d, d->next.id, 0, 0, "superseded by a newer version before taking over");
        kn_history_discard(c, d, d->next.id);
        kn_proc_kill(c, &d->next);
        next_gone(d);
    }
    uint32_t nid = ++c->next_id;
    char snap[4400];
    int rc = tier ? 0 : kn_history_write(c, d, nid, src, len, snap, sizeof snap);
    if (tier) snprintf(snap, sizeof snap, "%s", d->opt.src); /* the version's own file */
    if (rc) {
        snprintf(err, errlen, "cannot keep a copy of %s in %s: %s", d->display, c->history_dir,
                 strerror(-rc));
        return rc;
    }
    atomic_store(&d->ring->ctl.fade, (uint32_t)(d->fade_ms * c->rate / 1000.0 + 0.5));
    d->next.id = nid;
    d->next.restore = restore;
    d->next.cc = tier;
    rc = kn_proc_spawn(c, d, &d->next, snap, err, errlen);
    if (rc) {
        if (!tier) kn_history_discard(c, d, nid);
        kn_proc_close(&d->next);
        return rc;
    }
    d->next.hash = tier ? d->opt.hash : kn_fnv1a(src, len);
    if (tier) d->opt.id = nid;
    d->next.asked_rt_ns = tier ? d->opt.asked_ns : asked_rt; /* tier: save -> cc running */
    snprintf(d->origin, sizeof d->origin, "%s", origin);
    *id = nid;
    switch (d->hs) {
    case KN_HS_IDLE: d->hs = KN_HS_COMPILING; break;
    case KN_HS_PLAYING: d->hs = KN_HS_SWAPPING; break;
    case KN_HS_SILENT: d->hs = KN_HS_RECOVERING; break;
    default: break; /* COMPILING, SWAPPING, RECOVERING: a successor replaced */
    }
    kn_deck_event(c, d, tier ? "tier" : "compiling", "cartridge %u compiling %s (%s)", nid,
                  d->display, origin);
    return 0;
}

/* A held version (`play` with hold, session.c): compiled and tested, it
 * waits for `start` instead of taking over; a new deck's or a swap's only. */
static int held(const kn_deck *d) {
    return d->hold_for && d->hold_for == d->next.id && d->next.st == KN_PROC_READY &&
           (d->hs == KN_HS_COMPILING || d->hs == KN_HS_SWAPPING);
}

int kn_handover_held(const kn_deck *d) {
    return held(d);
}

static void proceed(kn_conductor *c, kn_deck *d);

/* The successor compiled: give it the token, directly or via the producer
 * (a held one waits for kn_handover_release). */
static void on_compiled(kn_conductor *c, kn_deck *d) {
    d->next.st = KN_PROC_READY;
    if (held(d)) {
        d->hold_ns = kn_mono_ns(); /* session.c drops it if nobody starts it */
        kn_deck_event(c, d, "note", "cartridge %u compiled; held until its group starts",
                      d->next.id);
        return;
    }
    if (d->hold_for == d->next.id) d->hold_for = 0; /* a revert's, not a version to hold */
    proceed(c, d);
}

void kn_handover_release(kn_conductor *c, kn_deck *d) {
    int was = held(d);
    d->hold_for = 0;
    if (was) proceed(c, d);
}

void kn_handover_discard(kn_conductor *c, kn_deck *d, const char *why) {
    if (!d->hold_for || d->hold_for != d->next.id || d->next.st == KN_PROC_NONE) return;
    d->hold_for = 0;
    kn_outcome_add(d, d->next.id, 0, 0, why);
    kn_history_discard(c, d, d->next.id);
    kn_deck_event(c, d, "note", "cartridge %u discarded: %s", d->next.id, why);
    kn_proc_kill(c, &d->next);
    next_gone(d);
}

static void proceed(kn_conductor *c, kn_deck *d) {
    if (d->hs == KN_HS_SWAPPING) {
        d->cur.leaving = 1;         /* it may exit once it handed over */
        kn_timeline_handover(c, d); /* on a beat, if quantized: before next_owner */
        atomic_store_explicit(&d->ring->ctl.next_owner, d->next.id, memory_order_release);
        kn_futex_wake(&d->ring->ctl.wake);
        d->hs = KN_HS_HANDING;
        return;
    }
    try_grant(c, d); /* COMPILING -> TAKING; RECOVERING -> TAKING once reaped */
}

/* The producer's run ends (at `end`, monotonic): a version that played
 * fault-free for GOOD_AFTER_MS is good to revert to. Checked when its run
 * ends as well as every tick, so a late tick cannot miss it. A run ends
 * when the successor's takeover is read (on_running), even if the old
 * producer, having passed the token, exited before that was read: so the
 * run is still counted while the token is on its way (HANDING, TAKING).
 * A fault ends it at once (running_since = 0). */
static void proven(kn_deck *d, uint64_t end) {
    int counting = d->cur.st == KN_PROC_RUNNING || d->hs == KN_HS_HANDING || d->hs == KN_HS_TAKING;
    if (counting && d->running_since && end > d->running_since &&
        end - d->running_since >= GOOD_AFTER_MS * 1000000ull && d->good_version != d->version) {
        d->good_version = d->version;
        d->revert_id = 0;
    }
}

/* The successor took over (its first frame is in the ring): it is the
 * producer now, and its version enters the history. */
static void on_running(kn_conductor *c, kn_deck *d, double at_s) {
    /* The predecessor's run ends now, as its start was taken when its own
     * "running" was read: both ends on the same footing, so a late loop
     * iteration (a busy machine) shortens or lengthens neither (the report's
     * own time `at_s` would end it earlier than it began to count). */
    (void)at_s;
    proven(d, kn_mono_ns());
    kn_outcome_add(d, d->next.id, 1, d->next.compile_ms, NULL);
    int tier = d->next.cc; /* a tier swap: the same version, no new one */
    int v = tier ? d->version : kn_history_commit(c, d, d->next.id, d->next.compile_ms);
    if (v < 0) { /* keep playing and counting; say why the history has a gap */
        kn_deck_event(c, d, "note", "cannot keep version in %s: %s", c->history_dir, strerror(-v));
        v = ++d->version;
    }
    double at = at_s > 0 ? at_s * 1e9 : (double)kn_real_ns(); /* when the cartridge took over */
    double swap_ms = (at - (double)d->next.asked_rt_ns) / 1e6;
    char text[512];
    if (tier)
        snprintf(text, sizeof text,
                 "v%d runs its cc build (cartridge %u): cc %.0f ms, test %.2f ms, %.2f ms after "
                 "the save or request",
                 v, d->next.id, d->opt.cc_ms, d->next.test_ms, swap_ms);
    else
        snprintf(text, sizeof text,
                 "v%d took over (cartridge %u, %s): compile %.2f ms, test %.2f ms, %.2f ms after "
                 "the %s",
                 v, d->next.id, d->origin, d->next.compile_ms, d->next.test_ms, swap_ms,
                 strcmp(d->origin, "save") ? "request" : "save");
    kn_log_entry *e = kn_event_add(c, d, tier ? "tier" : "running", text);
    e->version = v;
    e->compile_ms = d->next.compile_ms;
    e->test_ms = d->next.test_ms;
    e->swap_ms = swap_ms;
    e->ready_ms = d->next.ready_ms;
    if (d->cur.st != KN_PROC_NONE) kn_proc_kill(c, &d->cur); /* it handed over and is leaving */
    if (d->grow_state && d->grow_for == d->next.id)
        kn_deck_grow_commit(d); /* it copied the state into the larger pair: the deck's now */
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
    d->hs = KN_HS_PLAYING;
    atomic_store(&d->ring->tl.handover_at, 0);
    d->pending_frame = 0;
    kn_timeline_deck_start(c, d); /* a new deck waits for its place on the timeline */
    d->tier_cc = tier;
    d->tier_id = d->cur.id;
    d->tier_hash = d->cur.hash;
    if (tier)
        kn_opt_cancel(c, d, NULL); /* loaded: its directory goes */
    else
        kn_opt_start(c, d); /* on its tcc build: compile it with cc */
}

/* ------------------------------------------------------------ reports */

/* A version asked for more state than the deck's segment holds
 * (contract.h, state_need), within the cap: the segment grows and the same
 * version starts again, with the same id and the same pending copy, so
 * `kanon play` just waits a little longer. A quarter more than asked
 * leaves room for what setup() asks for next; at most 4 times a version.
 *   - Before anything of the deck has played (COMPILING) there is no state
 *     to keep: the segments are replaced at once.
 *   - At a swap (SWAPPING) the producer plays on in the old state: the
 *     larger pair waits beside it for this successor, which gets the old
 *     state too and copies it over when it takes over (the producer has
 *     passed the token by then); it becomes the deck's when the successor
 *     runs (on_running), and is dropped if it never does (next_gone,
 *     silence).
 * 1 if it did. */
static int grow_state(kn_conductor *c, kn_deck *d, kn_proc *p, uint64_t need) {
    int first = d->hs == KN_HS_COMPILING && d->cur.st == KN_PROC_NONE;
    int swap = d->hs == KN_HS_SWAPPING && d->cur.st == KN_PROC_RUNNING;
    if (p != &d->next || p->st != KN_PROC_COMPILING || p->restore || p->cc || !(first || swap) ||
        d->dying.st != KN_PROC_NONE || d->repair || need <= d->state_bytes || need > c->state_cap ||
        p->grown >= 4)
        return 0;
    const uint64_t mib = 1u << 20;
    uint64_t want = (need + need / 4 + mib - 1) / mib * mib;
    if (want > c->state_cap) want = c->state_cap;
    size_t was = d->state_bytes;
    char path[4400], err[512];
    int rc = first ? kn_deck_state_resize(c, d, (size_t)want, err, sizeof err)
                   : kn_deck_grow_start(d, (size_t)want, p->id, err, sizeof err);
    if (rc) {
        kn_deck_event(c, d, "note", "cartridge %u: cannot grow the deck's state: %s", p->id, err);
        return 0;
    }
    kn_proc q = *p; /* what the version keeps across the restart */
    kn_proc_kill(c, p);
    kn_history_pending(c, d, q.id, path, sizeof path);
    d->next.id = q.id;
    d->next.restore = 0;
    if (kn_proc_spawn(c, d, &d->next, path, err, sizeof err)) {
        kn_outcome_add(d, q.id, 0, 0, err);
        kn_history_discard(c, d, q.id);
        kn_deck_event(c, d, "error", "%s", err);
        kn_proc_close(&d->next);
        next_gone(d);
        return 1;
    }
    d->next.hash = q.hash;
    d->next.asked_rt_ns = q.asked_rt_ns;
    d->next.grown = q.grown + 1;
    d->next.told = q.told;
    kn_deck_event(c, d, "note",
                  "cartridge %u: %s needs %llu bytes of state; the deck's state segment %s from "
                  "%zu to %llu MiB (at most %llu: --state-mb); compiling it again",
                  q.id, d->display, (unsigned long long)need,
                  first ? "grew" : "grows, when this version takes over,", was >> 20,
                  (unsigned long long)(want >> 20), (unsigned long long)(c->state_cap >> 20));
    return 1;
}

kn_proc *kn_handover_report(kn_conductor *c, kn_deck *d, kn_proc *p, const kn_report *r) {
    switch (r->type) {
    case KN_REP_OTHER: break; /* a newer cartridge's word: nothing to do */
    case KN_REP_MALFORMED:
        kn_log("deck %s: cartridge %u sent a malformed report", d->name, p->id);
        break;
    case KN_REP_COMPILED:
        if (p != &d->next || p->st != KN_PROC_COMPILING) break;
        if (p->cc && r->tier_cc) kn_opt_compared(c, d, r); /* the same samples: no fade */
        p->compile_ms = r->ms;
        p->test_ms = r->test_ms;
        p->ready_ms = r->t > 0 ? (r->t * 1e9 - (double)p->asked_rt_ns) / 1e6 : 0;
        if (d->cur.st == KN_PROC_NONE && r->latency > 0) {
            /* a deck's first version: its latency counts before it plays,
             * so every deck of a session starts with the delays that
             * compensate it (routes.c); later, its producer says so */
            uint32_t l = r->latency > KN_LATENCY_MAX ? KN_LATENCY_MAX : (uint32_t)r->latency;
            atomic_store(&d->ring->ctl.latency, l);
            kn_routes_update(c);
        }
        on_compiled(c, d);
        break;
    case KN_REP_TESTING:
        p->testing = 1;
        p->testing_ns = kn_mono_ns();
        break;
    case KN_REP_NOTE: kn_deck_event(c, d, "note", "cartridge %u: %s", p->id, r->message); break;
    case KN_REP_BLOCKED:
        if (p->blocked < KN_BLOCKED_LOGGED)
            kn_deck_event(c, d, "sandbox", "cartridge %u tried %.40s; refused by the sandbox",
                          p->id, r->syscall[0] ? r->syscall : "a system call");
        else if (p->blocked == KN_BLOCKED_LOGGED) /* a flood is not logged line by line */
            kn_deck_event(c, d, "sandbox",
                          "cartridge %u keeps trying calls the sandbox refuses; no more are "
                          "logged",
                          p->id);
        p->blocked++;
        break;
    case KN_REP_RUNNING:
        /* only a successor holding the token takes over (a report is not proof) */
        if (p != &d->next || p->st != KN_PROC_READY || atomic_load(&d->ring->ctl.owner) != p->id)
            break;
        /* frame 0: a new deck, not a swap; a tier swap brings no new sound */
        if (r->frame > 0 && !d->next.cc) {
            d->audible_pending = 1;
            d->audible_asked_rt_ns = d->next.asked_rt_ns;
            atomic_store_explicit(&mix_of(c, d)->mark_frame, (uint64_t)r->frame,
                                  memory_order_release);
        }
        on_running(c, d, r->t);
        return &d->cur;
    case KN_REP_ERROR: {
        int compiling = p == &d->next;
        if (compiling && r->state_need > 0 && grow_state(c, d, p, (uint64_t)r->state_need))
            break; /* the same version again, with room: no refusal */
        const char *msg = r->message[0] ? r->message : "unknown error";
        char m[sizeof r->message + 200];
        snprintf(m, sizeof m, "%s%s%s", msg,
                 compiling && r->state_need > 0
                     ? "; the deck's state segment could not grow now (see `kanon log`): "
                       "`kanon stop` the deck and play it again"
                     : "",
                 compiling && d->cur.st ? " (the previous version plays on)" : "");
        kn_outcome_add(d, p->id, 0, 0, m);
        if (compiling) kn_history_discard(c, d, p->id);
        kn_deck_event(c, d, "error", "%s", m);
        break;
    }
    }
    return p;
}

/* -------------------------------------------------------------- faults */

/* The first half of a fault: silence, revoke, kill, repair. The culprit
 * (alive, or NULL if it already died) is kept as `dying` until reaped; a
 * producer that already passed the token to a faulty successor is killed
 * too: it publishes nothing more anyway. */
static void silence(kn_conductor *c, kn_deck *d, kn_proc *culprit) {
    kn_mix_deck *m = mix_of(c, d);
    int st = KN_MIX_PLAY;
    atomic_compare_exchange_strong(&m->state, &st, KN_MIX_FAULTED);
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store(&ctl->owner, 0); /* revoked: a live culprit publishes no more blocks */
    atomic_store(&ctl->next_owner, 0);
    /* its route readers stop waiting for it (route.h); the replacement's
     * "running" makes it live again (kn_timeline_deck_start) */
    if (c->routes_seg) atomic_store(&c->routes_seg->src[d - c->deck].live, 0);
    if (culprit && culprit->st != KN_PROC_NONE) {
        kn_proc_sigkill(culprit);
        if (d->dying.st != KN_PROC_NONE) kn_proc_kill(c, &d->dying); /* an earlier one */
        d->dying = *culprit; /* reaped by decks.c; grants wait for it */
        memset(culprit, 0, sizeof *culprit);
        culprit->rfd = culprit->pidfd = -1;
    }
    if (d->cur.st != KN_PROC_NONE && d->cur.leaving) kn_proc_kill(c, &d->cur);
    kn_deck_grow_drop(d);   /* its successor will not run: the deck keeps its state */
    kn_deck_reformat(c, d); /* before the revert's cartridge maps the segments */
    d->repair = 1;
    d->primed = 0;
    d->running_since = 0;
}

/* Drops the version in progress because of a fault; a save or play is
 * compiled again from the file once the revert has taken over. */
static void abandon_next(kn_conductor *c, kn_deck *d) {
    if (d->next.st == KN_PROC_NONE) return;
    int refile = !strcmp(d->origin, "save") || !strcmp(d->origin, "play");
    kn_outcome_add(d, d->next.id, 0, 0,
                   refile ? "interrupted by a fault; compiled again after the revert"
                          : "interrupted by a fault");
    kn_history_discard(c, d, d->next.id);
    kn_proc_kill(c, &d->next);
    if (refile && !d->dirty_ns) d->dirty_ns = kn_mono_ns(); /* decks.c reloads after the revert */
}

/* Starts version `to` from the history (its tcc build), resuming from the
 * snapshot; returns its version or 0. */
static int revert(kn_conductor *c, kn_deck *d, int to) {
    char path[4400], origin[64], err[1024];
    size_t len;
    if (kn_history_file(c, d, to, path, sizeof path)) return 0;
    char *src = kn_slurp(path, &len);
    if (!src) return 0;
    snprintf(origin, sizeof origin, "revert to v%d after a fault", to);
    d->next_quant = 0; /* the deck is silent: back at once, not on the grid */
    uint32_t id;
    int rc = kn_handover_version(c, d, src, len, origin, 1, &id, err, sizeof err);
    free(src);
    if (rc) kn_log("deck %s: revert failed: %s", d->name, err);
    return rc ? 0 : to;
}

void kn_handover_fault(kn_conductor *c, kn_deck *d, kn_proc *culprit, uint32_t id,
                       const char *what) {
    /* A fault of a cc build (optimize.c) reverts to the same version's tcc
     * build first: the cc tier is what changed. */
    int tier_fault = kn_opt_fault(d, id);
    kn_opt_cancel(c, d, "a fault");
    silence(c, d, culprit);
    uint64_t now = kn_mono_ns();
    /* Give up only when the version we reverted to fails again soon: an
     * unrelated new save failing after a revert is reverted like any other.
     * (A tcc build reverted to after its cc build failed, failing too,
     * leaves the last good version to revert to, unless it is that one.) */
    int again = id && id == d->revert_id && now - d->revert_started < GOOD_AFTER_MS * 1000000ull;
    if (again && (!d->revert_tier || d->good_version == d->version))
        d->good_version = 0; /* don't loop on a version that fails */
    /* A version in progress (a save compiling or waiting for the token)
     * gives way: the revert comes first, so the deck plays again within
     * milliseconds whatever becomes of the save, which is compiled again
     * afterwards and takes over from the revert like any save. */
    uint32_t pending = d->next.st != KN_PROC_NONE ? d->next.id : 0;
    abandon_next(c, d);
    d->hs = KN_HS_SILENT;
    int to = tier_fault ? d->version : d->good_version;
    int v = to > 0 ? revert(c, d, to) : 0; /* SILENT -> RECOVERING */
    d->revert_tier = tier_fault && v;
    if (v) {
        d->revert_started = now;
        d->revert_id = d->next.id;
    }
    char also[96] = "";
    if (pending)
        snprintf(also, sizeof also, "; cartridge %u (in progress) restarts after it", pending);
    if (v)
        kn_deck_event(c, d, "fault", "%s; reverted to version %d%s%s", what, v,
                      tier_fault ? " (its tcc build: the cc build is not used again)" : "", also);
    else
        kn_deck_event(c, d, "fault", "%s; %s: silent until the next save", what,
                      again ? "the version reverted to failed again"
                            : "no good version to revert to");
}

void kn_handover_shed(kn_conductor *c, kn_deck *d, const char *what) {
    silence(c, d, &d->cur);
    d->shed = 1;
    /* the version's cc build is not a save: it must not bring the deck back */
    if (d->opt.st == KN_OPT_LOADING && d->next.id == d->opt.id && d->next.st != KN_PROC_NONE &&
        d->next.st != KN_PROC_READY) {
        kn_outcome_add(d, d->next.id, 0, 0, "superseded: the deck was shed");
        kn_proc_kill(c, &d->next);
        next_gone(d);
    }
    kn_opt_cancel(c, d, "the deck was shed");
    /* a version in progress goes on: it may be lighter (granted once reaped) */
    d->hs = d->next.st != KN_PROC_NONE ? KN_HS_RECOVERING : KN_HS_SILENT;
    kn_deck_event(c, d, "shed", "%s", what);
}

void kn_handover_limit(kn_conductor *c, kn_deck *d, const char *why) {
    (void)c;
    if (d->next.st == KN_PROC_NONE || d->next.killed_for[0]) return;
    /* its exit is reported as a refusal, with this */
    snprintf(d->next.killed_for, sizeof d->next.killed_for, "%s", why);
    kn_proc_sigkill(&d->next);
}

/* ---------------------------------------------------------------- exits */

/* Why a successor ended before taking over, in `file: error:` form. */
static void refusal_text(const kn_deck *d, const kn_proc *p, const kn_exit *x, char *m, size_t n) {
    const char *plays_on = d->cur.st == KN_PROC_RUNNING ? " (the previous version plays on)" : "";
    if (p->killed_for[0]) /* our own deadline */
        snprintf(m, n, "%s: error: cartridge %u %s; refused%s", d->display, p->id, p->killed_for,
                 plays_on);
    else if (x->alarm) /* the cartridge's own deadline */
        snprintf(m, n, "%s: error: cartridge %u took too long %s; refused%s", d->display, p->id,
                 p->testing ? "in its test render (2 s limit: a hang?)" : "to compile (time limit)",
                 plays_on);
    else
        snprintf(m, n, "%s: error: cartridge %u %s %s; refused%s", d->display, p->id, x->how,
                 p->st == KN_PROC_READY ? "while waiting to take over"
                 : p->testing           ? "in its test render"
                                        : "while compiling",
                 plays_on);
}

void kn_handover_exit(kn_conductor *c, kn_deck *d, kn_proc *p, const kn_exit *x) {
    if (p->st == KN_PROC_NONE) return;
    uint32_t id = p->id, owner = atomic_load(&d->ring->ctl.owner);
    char what[1024];
    if (p == &d->next && owner == id) { /* died holding the token: in setup() at takeover */
        snprintf(what, sizeof what, "cartridge %u %s%s", id, x->how, kn_phase_text(d));
        kn_outcome_add(d, id, 0, 0, what);
        kn_history_discard(c, d, id);
        kn_proc_close(p);
        kn_handover_fault(c, d, NULL, id, what);
        return;
    }
    if (p == &d->next) {    /* refused */
        uint32_t mine = id; /* the producer must not hand over to a dead successor */
        if (atomic_compare_exchange_strong(&d->ring->ctl.next_owner, &mine, 0)) d->cur.leaving = 0;
        if (!kn_deck_outcome(d, id)) {
            refusal_text(d, p, x, what, sizeof what);
            kn_outcome_add(d, id, 0, 0, what);
            kn_history_discard(c, d, id);
            kn_deck_event(c, d, "error", "%s", what);
        }
        kn_proc_close(p);
        next_gone(d);
        return;
    }
    /* The producer. Leaving after handing the token on, when asked to, is
     * its normal end (once the token is passed, even a crash harms no one);
     * any other exit, even with status 0, is a fault. */
    if (p->leaving && owner != id) {
        proven(d, kn_mono_ns()); /* its run ended with the token's passing, just now */
        kn_proc_close(p);
        try_grant(c, d); /* HANDING -> TAKING */
        return;
    }
    if (x->why[0])
        snprintf(what, sizeof what, "%s", x->why);
    else
        snprintf(what, sizeof what, "cartridge %u %s%s", id, x->how, kn_phase_text(d));
    kn_proc_close(p);
    kn_handover_fault(c, d, NULL, id, what);
}

void kn_handover_reaped(kn_conductor *c, kn_deck *d) {
    kn_proc_close(&d->dying); /* reaped: it can publish nothing more */
    try_grant(c, d);
}

/* ------------------------------------------------------------ the rest */

void kn_handover_stop(kn_conductor *c, kn_deck *d) {
    kn_opt_cancel(c, d, NULL);
    atomic_store(&d->ring->ctl.stop, 1);
    kn_futex_wake(&d->ring->ctl.wake);
    kn_proc_kill(c, &d->cur);
    if (d->next.st != KN_PROC_NONE) kn_history_discard(c, d, d->next.id);
    kn_proc_kill(c, &d->next);
    kn_mix_deck *m = mix_of(c, d);
    int expected = KN_MIX_PLAY;
    if (!atomic_compare_exchange_strong(&m->state, &expected, KN_MIX_STOPPING)) {
        expected = KN_MIX_FAULTED; /* silent already: the audio thread just lets go */
        atomic_compare_exchange_strong(&m->state, &expected, KN_MIX_STOPPING);
    }
    d->hs = KN_HS_STOPPING;
    kn_deck_event(c, d, "stop", "stopped");
}

void kn_handover_tick(kn_conductor *c, kn_deck *d, uint64_t now) {
    kn_mix_deck *m = mix_of(c, d);
    if (d->shed && d->cur.st == KN_PROC_RUNNING) d->shed = 0; /* a new version plays */
    /* Back to PLAY, once per restart, when the replacement runs and the
     * audio thread has silenced the faulty version and skipped to the
     * replacement's first frame: it then fades in, not spliced. */
    int faulted = KN_MIX_FAULTED;
    if (d->cur.st == KN_PROC_RUNNING && !d->repair && d->resumed_seq != d->restart_seq &&
        atomic_load_explicit(&m->restart_done, memory_order_acquire) == d->restart_seq) {
        atomic_compare_exchange_strong(&m->state, &faulted, KN_MIX_PLAY);
        d->resumed_seq = d->restart_seq;
    }
    proven(d, now); /* played fault-free for a second */
}

/* What each state says about the cartridges; 0 if they agree. */
const char *kn_handover_check(const kn_deck *d) {
    int cur = d->cur.st, next = d->next.st;
    uint32_t owner = atomic_load(&d->ring->ctl.owner);
    switch (d->hs) {
    case KN_HS_IDLE: return cur || next || d->repair ? "idle with a cartridge or a repair" : NULL;
    case KN_HS_COMPILING:
        return cur || (next != KN_PROC_COMPILING && !held(d)) || d->repair
                   ? "compiling: no successor compiling"
                   : NULL;
    case KN_HS_TAKING:
        return cur || next != KN_PROC_READY || owner != d->next.id ? "taking: no token holder"
                                                                   : NULL;
    case KN_HS_PLAYING:
        return cur != KN_PROC_RUNNING || next ? "playing: not one producer alone" : NULL;
    case KN_HS_SWAPPING:
        return cur != KN_PROC_RUNNING || (next != KN_PROC_COMPILING && !held(d))
                   ? "swapping: not producer and compiling successor"
                   : NULL;
    case KN_HS_HANDING:
        return cur != KN_PROC_RUNNING || next != KN_PROC_READY || !d->cur.leaving
                   ? "handing: not a leaving producer and a ready successor"
                   : NULL;
    case KN_HS_RECOVERING:
        return cur || !next || !d->repair || owner ? "recovering: no successor, or a token holder"
                                                   : NULL;
    case KN_HS_SILENT: return cur || next || owner ? "silent with a cartridge" : NULL;
    case KN_HS_STOPPING: return cur || next ? "stopping with a cartridge" : NULL;
    }
    return "unknown state";
}
