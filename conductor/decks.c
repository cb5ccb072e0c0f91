/*
 * decks.c - decks and the cartridges that feed them (control thread).
 *
 * A deck is a slot (0..15) with three shared segments (ring, state, param)
 * and at most two cartridges: `cur`, the producer, and `next`, a successor
 * compiling or waiting for the ownership token. `kanon play` always starts
 * a successor; a newer play supersedes a successor that hasn't taken over.
 *
 *   spawn next ──report "compiled"──▶ token: owner (no producer) or
 *                                      next_owner (producer hands over)
 *   next reports "running" ─────────▶ next becomes cur; old cur exits
 *   cur exits (pidfd) ──────────────▶ logged; a waiting next gets the token
 *
 * Cartridges are started with posix_spawn (nng is not fork-safe), report
 * on a pipe (JSON lines, fd 3 in the child) and are watched through pidfds;
 * nothing here ever blocks on a cartridge. Killed ones go on a reap list.
 */
#include "conductor.h"
#include "futex.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void kn_log(const char *fmt, ...) {
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
    fprintf(stderr, "%s ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

kn_deck *kn_deck_find(kn_conductor *c, const char *name) {
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && c->deck[i].name[0] && !strcmp(c->deck[i].name, name))
            return &c->deck[i];
    return NULL;
}

static int slot_of(kn_conductor *c, kn_deck *d) { return (int)(d - c->deck); }

static void outcome_add(kn_deck *d, uint32_t id, int ok, double ms, const char *msg) {
    kn_outcome *o = &d->outcome[d->noutcome++ % KN_OUTCOMES];
    o->id = id;
    o->ok = ok;
    o->compile_ms = ms;
    snprintf(o->message, sizeof o->message, "%s", msg ? msg : "");
}

const kn_outcome *kn_deck_outcome(const kn_deck *d, uint32_t id) {
    for (int i = 0; i < KN_OUTCOMES; i++)
        if (d->outcome[i].id == id) return &d->outcome[i];
    return NULL;
}

/* ------------------------------------------------------------ segments */

static void segments_unlink(kn_conductor *c, int slot) {
    char name[KN_PATH_MAX];
    for (int k = KN_SEG_RING; k <= KN_SEG_PARAM; k++) {
        kn_seg_name(name, c->instance, slot, (enum kn_seg_kind)k);
        kn_seg_unlink(name);
    }
}

static int segments_create(kn_conductor *c, kn_deck *d, char *err, size_t errlen) {
    int slot = slot_of(c, d);
    uint32_t cap = 4096;
    while (cap < 2 * c->target) cap <<= 1;
    char name[KN_PATH_MAX];
    segments_unlink(c, slot);
    d->ring_bytes = kn_ring_bytes(cap, (uint32_t)c->channels);
    d->state_bytes = c->state_bytes;
    d->param_bytes = kn_param_bytes();
    int rc;
    kn_seg_name(name, c->instance, slot, KN_SEG_RING);
    if ((rc = kn_seg_create(name, d->ring_bytes, (void **)&d->ring))) goto fail;
    kn_ring_format(d->ring, cap, (uint32_t)c->channels, (uint32_t)c->block, c->target, c->rate);
    kn_seg_name(name, c->instance, slot, KN_SEG_STATE);
    if ((rc = kn_seg_create(name, d->state_bytes, (void **)&d->state))) goto fail;
    kn_state_format(d->state, d->state_bytes);
    kn_seg_name(name, c->instance, slot, KN_SEG_PARAM);
    if ((rc = kn_seg_create(name, d->param_bytes, (void **)&d->params))) goto fail;
    kn_param_format(d->params);
    return 0;
fail:
    snprintf(err, errlen, "cannot create shared memory %s: %s", name, strerror(-rc));
    kn_seg_unmap(d->ring, d->ring_bytes);
    kn_seg_unmap(d->state, d->state_bytes);
    d->ring = NULL;
    d->state = NULL;
    segments_unlink(c, slot);
    return -1;
}

static void segments_free(kn_conductor *c, kn_deck *d) {
    kn_seg_unmap(d->ring, d->ring_bytes);
    kn_seg_unmap(d->state, d->state_bytes);
    kn_seg_unmap(d->params, d->param_bytes);
    segments_unlink(c, slot_of(c, d));
}

/* ---------------------------------------------------------- processes */

static void proc_close(kn_proc *p) {
    if (p->rfd >= 0) close(p->rfd);
    if (p->pidfd >= 0) close(p->pidfd);
    memset(p, 0, sizeof *p);
    p->rfd = p->pidfd = -1;
}

/* Kills a cartridge and hands its pidfd to the reap list. */
static void proc_kill(kn_conductor *c, kn_proc *p) {
    if (p->st == KN_PROC_NONE) return;
    if (p->pidfd >= 0) syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    for (int i = 0; i < 64; i++)
        if (c->reap_fd[i] < 0) {
            c->reap_fd[i] = p->pidfd;
            c->reap_pid[i] = p->pid;
            p->pidfd = -1;
            break;
        }
    if (p->pidfd >= 0) waitpid(p->pid, NULL, 0); /* reap list full: SIGKILLed, so brief */
    proc_close(p);
}

static int spawn(kn_conductor *c, kn_deck *d, kn_proc *p, char *err, size_t errlen) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    char deck[16], id[16];
    snprintf(deck, sizeof deck, "%d", slot_of(c, d));
    snprintf(id, sizeof id, "%u", p->id);
    char *argv[] = {c->cartridge_bin, "live",       d->path,      "--display", d->display,
                    "--instance",     c->instance,  "--deck",     deck,        "--id",
                    id,               "--report-fd", "3",         NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 3);
    pid_t pid;
    int rc = posix_spawn(&pid, c->cartridge_bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc) {
        close(pfd[0]);
        snprintf(err, errlen, "cannot start %s: %s", c->cartridge_bin, strerror(rc));
        return -1;
    }
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->rfd = pfd[0];
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    p->st = KN_PROC_COMPILING;
    p->spawned_ns = now_ns();
    return 0;
}

/* ---------------------------------------------------------- ownership */

static void grant(kn_deck *d, uint32_t id) {
    kn_deck_ctl *ctl = &d->ring->ctl;
    atomic_store_explicit(&ctl->next_owner, 0, memory_order_relaxed);
    atomic_store_explicit(&ctl->owner, id, memory_order_release);
    kn_futex_wake(&ctl->wake);
}

/* The successor compiled: give it the token, directly or via the producer. */
static void successor_ready(kn_deck *d) {
    d->next.st = KN_PROC_READY;
    if (d->cur.st == KN_PROC_NONE) {
        grant(d, d->next.id);
        return;
    }
    atomic_store_explicit(&d->ring->ctl.next_owner, d->next.id, memory_order_release);
    kn_futex_wake(&d->ring->ctl.wake);
}

static void successor_running(kn_conductor *c, kn_deck *d) {
    outcome_add(d, d->next.id, 1, d->next.compile_ms, NULL);
    snprintf(d->last_event, sizeof d->last_event, "cartridge %u took over (compiled in %.2f ms)",
             d->next.id, d->next.compile_ms);
    kn_log("deck %s: %s", d->name, d->last_event);
    if (d->cur.st != KN_PROC_NONE) proc_kill(c, &d->cur); /* it handed over and is leaving */
    d->cur = d->next;
    d->cur.st = KN_PROC_RUNNING;
    memset(&d->next, 0, sizeof d->next);
    d->next.rfd = d->next.pidfd = -1;
    d->blocks0 = atomic_load(&d->ring->ctl.blocks);
    d->busy0 = atomic_load(&d->ring->ctl.busy_ns);
    d->load_t0 = now_ns();
}

/* ------------------------------------------------------------ reports */

static void on_report(kn_conductor *c, kn_deck *d, kn_proc *p, const char *line) {
    cJSON *o = cJSON_Parse(line);
    const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(o, "event"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(o, "message"));
    cJSON *ms = cJSON_GetObjectItem(o, "ms");
    if (!ev) {
        kn_log("deck %s: cartridge %u sent a malformed report", d->name, p->id);
    } else if (!strcmp(ev, "compiled") && p == &d->next) {
        p->compile_ms = cJSON_IsNumber(ms) ? ms->valuedouble : 0;
        successor_ready(d);
    } else if (!strcmp(ev, "running") && p == &d->next) {
        successor_running(c, d);
    } else if (!strcmp(ev, "error") || !strcmp(ev, "fatal")) {
        int compiling = p == &d->next;
        outcome_add(d, p->id, 0, 0, msg ? msg : "unknown error");
        snprintf(d->last_event, sizeof d->last_event, "cartridge %u: %s%s", p->id,
                 msg ? msg : "error", compiling && d->cur.st ? " (the previous code plays on)" : "");
        kn_log("deck %s: %s", d->name, d->last_event);
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
            kn_proc *owner = p; /* on_report may move next into cur */
            on_report(c, d, owner, p->line);
            if (owner->st == KN_PROC_NONE) return;
            size_t used = (size_t)(nl - p->line) + 1;
            memmove(p->line, nl + 1, p->len - used);
            p->len -= used;
        }
        if (p->len >= sizeof p->line - 1) p->len = 0; /* an absurd line: drop it */
    }
}

static const char *describe_exit(const siginfo_t *si, char *buf, size_t n) {
    if (si->si_code == CLD_EXITED)
        snprintf(buf, n, "exited with status %d", si->si_status);
    else
        snprintf(buf, n, "killed by %s", sigabbrev_np(si->si_status) ? sigabbrev_np(si->si_status)
                                                                     : "a signal");
    return buf;
}

/* Non-blocking exit check; returns 1 (and fills si) if the process ended. */
static int exited(int pidfd, siginfo_t *si) {
    memset(si, 0, sizeof *si);
    return pidfd >= 0 && waitid(P_PIDFD, (id_t)pidfd, si, WEXITED | WNOHANG) == 0 && si->si_pid;
}

static void check_exit(kn_conductor *c, kn_deck *d, kn_proc *p) {
    siginfo_t si;
    if (p->st == KN_PROC_NONE || !exited(p->pidfd, &si)) return;
    read_reports(c, d, p);
    if (p->st == KN_PROC_NONE) return;
    char how[64];
    describe_exit(&si, how, sizeof how);
    if (p == &d->next) {
        if (!kn_deck_outcome(d, p->id)) {
            char m[700];
            snprintf(m, sizeof m, "%s: error: cartridge %u %s before taking over", d->display,
                     p->id, how);
            outcome_add(d, p->id, 0, 0, m);
            snprintf(d->last_event, sizeof d->last_event, "%s", m);
        }
        proc_close(p);
        return;
    }
    snprintf(d->last_event, sizeof d->last_event, "cartridge %u %s", p->id, how);
    kn_log("deck %s: %s", d->name, d->last_event);
    proc_close(p);
    /* A dead producer cannot publish: a waiting successor may take over. */
    if (d->next.st == KN_PROC_READY) grant(d, d->next.id);
}

/* ------------------------------------------------------------- public */

int kn_deck_play(kn_conductor *c, const char *path, const char *display, const char *name,
                 uint32_t *id, char *err, size_t errlen) {
    if (access(path, R_OK)) {
        snprintf(err, errlen, "cannot read %s: %s", display, strerror(errno));
        return -1;
    }
    kn_deck *d = kn_deck_find(c, name);
    if (!d) {
        for (int i = 0; i < KN_MAX_DECKS && !d; i++)
            if (!c->deck[i].used) d = &c->deck[i];
        if (!d) {
            snprintf(err, errlen, "all %d decks are in use; free one with `kanon stop DECK`",
                     KN_MAX_DECKS);
            return -1;
        }
        memset(d, 0, sizeof *d);
        d->cur.rfd = d->cur.pidfd = d->next.rfd = d->next.pidfd = -1;
        if (segments_create(c, d, err, errlen)) return -1;
        snprintf(d->name, sizeof d->name, "%s", name);
        d->used = 1;
        kn_mix_deck *m = &c->mix.deck[slot_of(c, d)];
        if (kn_ring_view_init(&m->ring, d->ring, d->ring_bytes)) abort(); /* we just made it */
        m->prefill = c->target;
        m->playing = m->started = 0;
        atomic_store(&m->underruns, 0);
        atomic_store(&m->nonfinite, 0);
        atomic_store(&m->frames, 0);
        atomic_store(&m->corrupt, 0);
        atomic_store_explicit(&m->state, KN_MIX_PLAY, memory_order_release);
        kn_log("deck %s: created in slot %d", name, slot_of(c, d));
    }
    snprintf(d->path, sizeof d->path, "%s", path);
    snprintf(d->display, sizeof d->display, "%s", display);
    if (d->next.st != KN_PROC_NONE) { /* a newer save wins */
        outcome_add(d, d->next.id, 0, 0, "superseded by a newer version before taking over");
        if (d->next.st == KN_PROC_READY) atomic_store(&d->ring->ctl.next_owner, 0);
        proc_kill(c, &d->next);
    }
    d->next.id = ++c->next_id;
    if (spawn(c, d, &d->next, err, errlen)) {
        proc_close(&d->next);
        return -1;
    }
    *id = d->next.id;
    kn_log("deck %s: cartridge %u compiling %s", d->name, *id, display);
    return 0;
}

int kn_deck_stop(kn_conductor *c, const char *name, char *err, size_t errlen) {
    kn_deck *d = kn_deck_find(c, name);
    if (!d) {
        snprintf(err, errlen, "no deck named '%s' (see `kanon status`)", name);
        return -1;
    }
    atomic_store(&d->ring->ctl.stop, 1);
    kn_futex_wake(&d->ring->ctl.wake);
    proc_kill(c, &d->cur);
    proc_kill(c, &d->next);
    int expected = KN_MIX_PLAY;
    atomic_compare_exchange_strong(&c->mix.deck[slot_of(c, d)].state, &expected, KN_MIX_STOPPING);
    kn_log("deck %s: stopping", d->name);
    d->name[0] = 0; /* the name is free at once; the slot when the fade is done */
    d->load_t0 = now_ns();
    return 0;
}

int kn_decks_pollfds(kn_conductor *c, struct pollfd *fds, int max) {
    int n = 0;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_proc *ps[2] = {&c->deck[i].cur, &c->deck[i].next};
        for (int k = 0; k < 2 && c->deck[i].used; k++) {
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
    }
    for (int i = 0; i < 64; i++) {
        siginfo_t si;
        if (c->reap_fd[i] >= 0 && exited(c->reap_fd[i], &si)) {
            close(c->reap_fd[i]);
            c->reap_fd[i] = -1;
        }
    }
}

static void deck_free(kn_conductor *c, kn_deck *d) {
    proc_kill(c, &d->cur);
    proc_kill(c, &d->next);
    atomic_store_explicit(&c->mix.deck[slot_of(c, d)].state, KN_MIX_OFF, memory_order_release);
    segments_free(c, d);
    memset(d, 0, sizeof *d);
    d->cur.rfd = d->cur.pidfd = d->next.rfd = d->next.pidfd = -1;
}

void kn_decks_tick(kn_conductor *c) {
    uint64_t now = now_ns();
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used) continue;
        int st = atomic_load_explicit(&c->mix.deck[i].state, memory_order_acquire);
        /* Free once the audio thread let go, or after 250 ms if it is gone. */
        if (st == KN_MIX_DONE || (st == KN_MIX_STOPPING && now - d->load_t0 > 250000000u)) {
            deck_free(c, d);
            continue;
        }
        if (d->cur.st == KN_PROC_RUNNING && now - d->load_t0 >= 500000000u) {
            uint64_t b = atomic_load(&d->ring->ctl.blocks), busy = atomic_load(&d->ring->ctl.busy_ns);
            double audio_ns = (double)(b - d->blocks0) * c->block / c->rate * 1e9;
            d->load = audio_ns > 0 ? 100.0 * (double)(busy - d->busy0) / audio_ns : 0;
            d->blocks0 = b;
            d->busy0 = busy;
            d->load_t0 = now;
        }
    }
}

void kn_decks_shutdown(kn_conductor *c) {
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used) continue;
        atomic_store_explicit(&c->mix.deck[i].state, KN_MIX_OFF, memory_order_release);
        deck_free(c, d);
    }
    for (int i = 0; i < 64; i++)
        if (c->reap_fd[i] >= 0) {
            waitpid(c->reap_pid[i], NULL, 0); /* all SIGKILLed: returns promptly */
            close(c->reap_fd[i]);
            c->reap_fd[i] = -1;
        }
}
