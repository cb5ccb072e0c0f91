/*
 * decks.c - the deck slots and the event loop's work for them (control
 * thread).
 *
 * A deck is a slot (0..15) with four shared segments (segments.c) and the
 * cartridges of handover.c: a producer, a successor, a dying culprit. Here
 * a deck is created and freed, a version (a play, a save seen by watch.c
 * and debounced, a revert) is read from its file and handed to the
 * handover, and the loop's readiness is turned into the handover's events:
 * report lines (parsed by proc.c) and exits (pidfds) of the deck's
 * cartridges, reaped culprits, and the mixer letting a stopped deck go
 * (only after two callbacks: it may still be reading the ring). Nothing
 * here ever blocks on a cartridge; sources are read by files.c.
 */
#include "conductor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* -------------------------------------------- reports and exits */

/* Hands every complete report line to the handover; "running" moves next
 * into cur, buffer and all, so reading goes on from where it is now. */
static void read_reports(kn_conductor *c, kn_deck *d, kn_proc *p) {
    static kn_report r; /* 4 KiB: not on the stack of every call */
    while (p && p->st != KN_PROC_NONE && kn_proc_report(p, &r)) p = kn_handover_report(c, d, p, &r);
}

static void check_exit(kn_conductor *c, kn_deck *d, kn_proc *p) {
    siginfo_t si;
    if (p->st == KN_PROC_NONE || !kn_proc_exited(p->pidfd, p->pid, &si)) return;
    read_reports(c, d, p); /* its last words first */
    if (p->st == KN_PROC_NONE) return;
    kn_exit x = {.alarm = si.si_code != CLD_EXITED && si.si_status == SIGALRM};
    kn_proc_describe_exit(&si, x.how, sizeof x.how);
    if (p == &d->cur && si.si_code != CLD_EXITED && si.si_status == SIGXCPU)
        kn_xcpu_text(c, d, p->id, x.why, sizeof x.why);
    kn_handover_exit(c, d, p, &x);
}

/* ------------------------------------------------------------- public */

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
    d->dying.rfd = d->dying.pidfd = d->opt.pidfd = -1;
    d->tier_auto = c->tier_auto; /* `kanon up --tier`, until a play says otherwise */
    for (int k = 0; k <= KN_SEG_KINDS; k++) d->seg_fd[k] = -1;
    if (kn_deck_segments_create(c, d, err, errlen)) return NULL;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->used = 1;
    d->version = kn_history_count(c, d);
    kn_mix_deck *m = &c->mix.deck[slot_of(c, d)];
    if (kn_ring_view_init(&m->ring, d->ring, d->ring_bytes)) abort(); /* we just made it */
    m->midi_out = &d->params->midi_out;
    m->prefill = c->target;
    m->playing = m->started = 0;
    memset(m->delay, 0, (size_t)KN_MIX_DELAY * (size_t)c->channels * sizeof(float));
    m->dpos = m->dcur = m->dfrom = 0;
    m->dfade_i = UINT32_MAX; /* no crossfade: a new deck starts at its delay */
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
    kn_timeline_deck_new(c, d);
    kn_rec_deck_new(c->rec, slot_of(c, d), name); /* a stems recording gets its file */
    atomic_store_explicit(&m->state, KN_MIX_PLAY, memory_order_release);
    kn_levels_reset_deck(c, slot_of(c, d));
    kn_routes_update(c); /* routes that waited for this name */
    kn_log("deck %s: created in slot %d", name, slot_of(c, d));
    return d;
}

int kn_deck_play(kn_conductor *c, const kn_play_opts *o, uint32_t *id, char *err, size_t errlen) {
    size_t len;
    char *src = kn_slurp(o->source ? o->source : o->path, &len); /* session.c: a session's copy */
    if (!src) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s", o->source ? o->source : o->display,
                 e == EINVAL ? "not a regular file" : strerror(e));
        return -e;
    }
    kn_deck *d = kn_deck_find(c, o->deck);
    int rc = kn_session_play_check(c, d, o, err, errlen);
    if (rc || (!d && !(d = deck_create(c, o->deck, err, errlen)))) {
        free(src);
        return rc ? rc : -ENOSPC;
    }
    kn_session_play_presets(d, o);
    snprintf(d->path, sizeof d->path, "%s", o->path);
    snprintf(d->display, sizeof d->display, "%s", o->display);
    d->fade_ms = o->fade_ms;
    if (o->tier) /* --tier; a new deck starts as `kanon up` said (deck_create) */
        d->tier_auto = o->tier == KN_PLAY_TIER_AUTO;
    if (o->voices >= 0) d->voices = o->voices; /* kept for the saves that follow */
    if (d->hs == KN_HS_IDLE || d->hs == KN_HS_COMPILING) d->start_quant = o->quant; /* new */
    d->next_quant = o->quant > 0 ? o->quant : d->swap_quant;
    kn_unwatch_deck(c, d);
    d->watch = o->watch;
    if (d->watch && kn_watch_deck(c, d))
        kn_deck_event(c, d, "note", "cannot watch %s for saves: %s", d->display, strerror(errno));
    d->dirty_ns = 0;
    rc = kn_handover_version(c, d, src, len, "play", 0, id, err, errlen);
    free(src);
    if (!rc) kn_session_play_done(c, d, o, *id);
    return rc;
}

int kn_deck_revert(kn_conductor *c, kn_deck *d, int v, uint32_t *id, char *err, size_t errlen) {
    if (v <= 0) v = d->version - 1;
    char path[4300], origin[32];
    if (v <= 0 || kn_history_file(c, d, v, path, sizeof path)) {
        snprintf(err, errlen, "deck %s has no version %d (see `kanon history %s`)", d->name, v,
                 d->name);
        return -ENOENT;
    }
    size_t len;
    char *src = kn_slurp(path, &len);
    if (!src) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    snprintf(origin, sizeof origin, "revert to v%d", v);
    d->next_quant = d->swap_quant;
    int rc = kn_handover_version(c, d, src, len, origin, 0, id, err, errlen);
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
    d->next_quant = d->swap_quant; /* `kanon quant`: saves take over on the grid */
    if (len == 0 || h == newest) {
        d->dirty_ns = 0;
    } else if (kn_handover_version(c, d, src, len, "save", 0, &id, err, sizeof err) == 0) {
        d->dirty_ns = 0;
    } else if (d->next.st != KN_PROC_READY) {
        d->dirty_ns = 0;
        kn_deck_event(c, d, "error", "%s", err);
    } /* else busy: stays dirty, retried once the successor took over */
    free(src);
}

int kn_decks_timeout_ms(kn_conductor *c, int max) {
    uint64_t now = kn_mono_ns();
    int ms = max;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->dirty_ns || kn_handover_save_waits(d)) continue;
        int left = d->dirty_ns > now ? (int)((d->dirty_ns - now + 999999) / 1000000) : 0;
        if (left < ms) ms = left;
    }
    return ms;
}

int kn_deck_stop(kn_conductor *c, const char *name, char *err, size_t errlen) {
    kn_deck *d = kn_deck_find(c, name);
    if (!d) {
        snprintf(err, errlen, "no deck named '%s' (see `kanon status`)", name);
        return -ENOENT;
    }
    kn_unwatch_deck(c, d);
    kn_handover_stop(c, d);
    /* its route readers fade it out too (route.h), from now or its beat */
    kn_src_info *si = c->routes_seg ? &c->routes_seg->src[slot_of(c, d)] : NULL;
    if (si && !atomic_load(&si->stop_at)) atomic_store(&si->stop_at, kn_timeline_now(c));
    /* the name is free at once; the slot when the fade is done (its routes
     * hold on to it as `gone` until then, so they fade rather than cut) */
    snprintf(d->gone, sizeof d->gone, "%s", d->name);
    d->name[0] = 0;
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
    return n + kn_opt_pollfds(c, fds + n, max - n); /* the cc tier's compiles */
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
        if (d->dying.st != KN_PROC_NONE && kn_proc_exited(d->dying.pidfd, d->dying.pid, &si))
            kn_handover_reaped(c, d);
    }
    kn_opt_handle(c);
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
    kn_opt_cancel(c, d, NULL);
    kn_proc_kill(c, &d->cur);
    kn_proc_kill(c, &d->dying);
    if (d->next.st != KN_PROC_NONE) kn_history_discard(c, d, d->next.id);
    kn_proc_kill(c, &d->next);
    kn_unwatch_deck(c, d);
    atomic_store_explicit(&c->mix.deck[slot_of(c, d)].state, KN_MIX_OFF, memory_order_release);
    if (c->routes_seg) /* its readers hear it no more */
        atomic_store_explicit(&c->routes_seg->src[slot_of(c, d)].live, 0, memory_order_release);
    kn_deck_segments_free(d);
    int soloed = d->solo;
    memset(d, 0, sizeof *d);
    d->cur.rfd = d->cur.pidfd = d->next.rfd = d->next.pidfd = -1;
    d->dying.rfd = d->dying.pidfd = -1;
    if (soloed) kn_levels_apply(c, 10); /* the others become audible again */
    kn_routes_update(c);                /* its routes wait for its name again */
}

/* The slack a device starts with: a lean ring where the device's period
 * is short (JACK, ALSA: the latency is worth saving, and a real-time
 * cartridge wakes in time), the old 10 ms and a block where it is long
 * (the dummy backend's 100 ms, PulseAudio) or the user fixed --latency. */
static uint32_t slack_start(kn_conductor *c) {
    uint32_t ten_ms = (uint32_t)(c->rate / 100) + (uint32_t)c->block;
    if (c->ring_fixed || kn_audio_period(c->audio) >= c->rate / 20) return ten_ms;
    return 0;
}

/* A deck that plays underran: one block more slack (see conductor.h). */
static void ring_learn(kn_conductor *c, uint64_t now) {
    uint64_t under = 0;
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used) under += atomic_load(&c->mix.deck[i].underruns);
    uint64_t was = c->ring_under;
    c->ring_under = under;
    uint32_t cap = (uint32_t)(c->rate / 50) + (uint32_t)c->block;
    if (c->ring_fixed || under <= was || c->ring_slack >= cap ||
        now - c->ring_grown_ns < 500000000u)
        return;
    c->ring_slack += (uint32_t)c->block;
    c->ring_grown++;
    c->ring_grown_ns = now;
    kn_decks_retarget(c);
    kn_log("ring target %.2f ms after an underrun (%d time%s grown)", c->target * 1000.0 / c->rate,
           c->ring_grown, c->ring_grown == 1 ? "" : "s");
}

void kn_decks_tick(kn_conductor *c) {
    uint64_t now = kn_mono_ns();
    kn_spare_ensure(c); /* replaces a used or dead spare off the swap path */
    kn_session_tick(c); /* held versions nobody started */
    kn_faults_tick(c);
    kn_timeline_tick(c); /* quantized stops whose frame the ring now holds */
    kn_routes_tick(c);   /* a deck declared a new latency: compensate */
    ring_learn(c, now);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used) continue;
        int st = atomic_load_explicit(&c->mix.deck[i].state, memory_order_acquire);
        if (st == KN_MIX_DONE ||
            (st != KN_MIX_PLAY && st != KN_MIX_FAULTED &&
             /* load_t0 may be later than now: a stop in this tick */
             kn_mix_deck_released(&c->mix.deck[i], now > d->load_t0 ? now - d->load_t0 : 0,
                                  atomic_load(kn_audio_callbacks(c->audio)),
                                  kn_audio_streaming(c->audio)))) {
            deck_free(c, d);
            continue;
        }
        if (d->name[0] && d->dirty_ns && now >= d->dirty_ns && !kn_handover_save_waits(d))
            reload(c, d);
        const char *odd = d->name[0] ? kn_handover_check(d) : NULL;
        if (odd && !d->odd_logged) /* a bug of ours: say so once, in words the tests look for */
            kn_deck_event(c, d, "bug", "handover state %s disagrees with its cartridges: %s",
                          kn_hs_name(d->hs), odd);
        d->odd_logged = odd != NULL;
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
    /* The device's largest request, a block and the slack; a whole number
     * of blocks. A new device starts from its own lean slack again. */
    uint32_t period = (uint32_t)kn_audio_period(c->audio);
    if (period != c->ring_period) c->ring_slack = slack_start(c), c->ring_period = period;
    uint32_t t = period + c->ring_slack + (uint32_t)c->block;
    c->target = (t + (uint32_t)c->block - 1) / (uint32_t)c->block * (uint32_t)c->block;
    /* the input is stamped that far ahead of the device (capture.c) */
    kn_capture_lead(kn_audio_capture(c->audio), c->target + (uint32_t)c->block);
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
