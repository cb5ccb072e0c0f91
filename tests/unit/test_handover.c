// link: conductor/handover.c conductor/optimize.c conductor/events.c conductor/history.c conductor/files.c conductor/segments.c conductor/timeline.c conductor/mixer.c conductor/routes.c
/*
 * test_handover.c - the deck's handover state machine (conductor/handover.c),
 * driven through every transition of its table with a fake process layer:
 * no cartridge runs. The segments, the history and the event log are the
 * real ones; what a cartridge would do on its side (pass the token, report,
 * exit) the test does by hand.
 *
 * After every event the state must agree with the cartridges
 * (kn_handover_check), and each test checks what the event must have done:
 * who holds the token, who was killed, what the history and the log say.
 * Also the state segment's growth (a refusal carrying state_need): before
 * the deck first plays, and at a swap; and held versions (a session's
 * group: compiled, they wait for `start`) and starts on a beat.
 */
#include "conductor.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------ the fake process layer */

static pid_t fake_pid = 1000;
static pid_t killed[64], sigkilled[64];
static int nkilled, nsigkilled, spawn_fails, nspawned;

int kn_proc_spawn(kn_conductor *c, kn_deck *d, kn_proc *p, const char *src_path, char *err,
                  size_t n) {
    (void)c, (void)d;
    if (spawn_fails) {
        snprintf(err, n, "cannot start the cartridge: %s", strerror(EAGAIN));
        return -EAGAIN;
    }
    CHECK(access(src_path, R_OK) == 0); /* the snapshot it would compile exists */
    uint32_t id = p->id;
    int restore = p->restore;
    memset(p, 0, sizeof *p);
    p->rfd = p->pidfd = -1;
    p->pid = ++fake_pid;
    p->id = id;
    p->restore = restore;
    p->st = KN_PROC_COMPILING;
    p->spawned_ns = kn_mono_ns();
    nspawned++;
    return 0;
}

void kn_proc_close(kn_proc *p) {
    memset(p, 0, sizeof *p);
    p->rfd = p->pidfd = -1;
}

void kn_proc_kill(kn_conductor *c, kn_proc *p) {
    (void)c;
    if (p->st == KN_PROC_NONE) return;
    killed[nkilled++ % 64] = p->pid;
    kn_proc_close(p);
}

void kn_proc_sigkill(const kn_proc *p) {
    sigkilled[nsigkilled++ % 64] = p->pid;
}

void kn_proc_priority(kn_conductor *c, kn_deck *d, const kn_proc *p) {
    (void)c, (void)d, (void)p;
}

/* optimize.c's compiles: none here (decks are --tier tcc: zeroed) */
int kn_proc_exited(int pidfd, pid_t pid, siginfo_t *si) {
    (void)pidfd, (void)pid, (void)si;
    return 0;
}

const char *kn_proc_describe_exit(const siginfo_t *si, char *buf, size_t n) {
    (void)si;
    snprintf(buf, n, "exited");
    return buf;
}

/* What timeline.c needs from the rest of the conductor. */
double kn_audio_latency(const kn_audio *a) {
    (void)a;
    return 0;
}

int kn_deck_stop(kn_conductor *cc, const char *name, char *err, size_t n) {
    (void)cc, (void)name, (void)err, (void)n;
    return 0;
}

static int was_killed(pid_t pid) {
    for (int i = 0; i < nkilled && i < 64; i++)
        if (killed[i] == pid) return 1;
    return 0;
}

static int was_sigkilled(pid_t pid) {
    for (int i = 0; i < nsigkilled && i < 64; i++)
        if (sigkilled[i] == pid) return 1;
    return 0;
}

/* ------------------------------------------------------------ fixtures */

static kn_conductor *c;
static kn_deck *d;
static char tmpdir[64];

static void deck_new(void) {
    if (d) kn_deck_segments_free(d);
    d = &c->deck[0];
    memset(d, 0, sizeof *d);
    d->cur.rfd = d->cur.pidfd = d->next.rfd = d->next.pidfd = -1;
    d->dying.rfd = d->dying.pidfd = -1;
    for (int k = 0; k <= KN_SEG_KINDS; k++) d->seg_fd[k] = -1;
    char err[256];
    if (kn_deck_segments_create(c, d, err, sizeof err)) {
        printf("segments: %s\n", err);
        exit(1);
    }
    static int n;
    snprintf(d->name, sizeof d->name, "d%d", ++n); /* a fresh history per test */
    snprintf(d->display, sizeof d->display, "%s.c", d->name);
    snprintf(d->path, sizeof d->path, "%s/%s.c", tmpdir, d->name);
    d->used = 1;
    d->fade_ms = 10;
    memset(&c->mix.deck[0], 0, sizeof c->mix.deck[0]);
    kn_timeline_deck_new(c, d);
    atomic_store(&c->mix.deck[0].state, KN_MIX_PLAY);
}

#define AGREES()                                                                                   \
    do {                                                                                           \
        const char *why = kn_handover_check(d);                                                    \
        if (why) printf("state %s: %s\n", kn_hs_name(d->hs), why);                                 \
        CHECK(why == NULL);                                                                        \
    } while (0)

static int version_as(const char *origin) {
    static int n;
    char src[64], err[512];
    int len = snprintf(src, sizeof src, "void process(void) { /* %d */ }\n", ++n);
    uint32_t id = 0;
    int rc = kn_handover_version(c, d, src, (size_t)len, origin, 0, &id, err, sizeof err);
    AGREES();
    return rc;
}

static void report(kn_proc *p, kn_report_type type, double frame) {
    kn_report r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.frame = frame;
    r.ms = 1.5;
    if (type == KN_REP_ERROR)
        snprintf(r.message, sizeof r.message, "%.200s:3: error: nope", d->path);
    kn_handover_report(c, d, p, &r);
    AGREES();
}

static void exited(kn_proc *p, const char *how) {
    kn_exit x;
    memset(&x, 0, sizeof x);
    snprintf(x.how, sizeof x.how, "%s", how);
    kn_handover_exit(c, d, p, &x);
    AGREES();
}

/* The producer's side of a swap: at its block boundary it passes the token. */
static void pass_token(void) {
    uint32_t to = atomic_load(&d->ring->ctl.next_owner);
    atomic_store(&d->ring->ctl.owner, to);
    atomic_store(&d->ring->ctl.next_owner, 0);
}

static uint32_t owner(void) {
    return atomic_load(&d->ring->ctl.owner);
}

static int mix_state(void) {
    return atomic_load(&c->mix.deck[0].state);
}

/* A deck that plays version 1 (and, with good, has proven it). */
static void playing(int good) {
    deck_new();
    CHECK(d->hs == KN_HS_IDLE);
    CHECK(version_as("play") == 0);
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 0);
    CHECK(d->hs == KN_HS_PLAYING);
    if (good) kn_handover_tick(c, d, kn_mono_ns() + 2000000000ull);
}

static int last_event_has(const char *s) {
    return strstr(d->last_event, s) != NULL;
}

/* --------------------------------------------------------------- tests */

static void test_first_play(void) {
    deck_new();
    CHECK(version_as("play") == 0);
    CHECK(d->hs == KN_HS_COMPILING);
    uint32_t id = d->next.id;
    report(&d->next, KN_REP_TESTING, 0);
    CHECK(d->next.testing);
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_TAKING);
    CHECK(owner() == id); /* no producer: granted at once */
    report(&d->next, KN_REP_RUNNING, 0);
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(d->cur.id == id && d->cur.st == KN_PROC_RUNNING);
    CHECK(d->version == 1);
    const kn_outcome *o = kn_deck_outcome(d, id);
    CHECK(o && o->ok);
    char path[4400];
    CHECK(kn_history_file(c, d, 1, path, sizeof path) == 0);
}

static void test_supersede_while_compiling(void) {
    deck_new();
    version_as("play");
    pid_t old = d->next.pid;
    uint32_t old_id = d->next.id;
    version_as("save");
    CHECK(d->hs == KN_HS_COMPILING);
    CHECK(was_killed(old));
    CHECK(d->next.id != old_id);
    const kn_outcome *o = kn_deck_outcome(d, old_id);
    CHECK(o && !o->ok && strstr(o->message, "superseded"));
}

static void test_first_refused(void) {
    deck_new();
    version_as("play");
    uint32_t id = d->next.id;
    report(&d->next, KN_REP_ERROR, 0);
    exited(&d->next, "exited with status 1");
    CHECK(d->hs == KN_HS_IDLE);
    const kn_outcome *o = kn_deck_outcome(d, id);
    CHECK(o && !o->ok && strstr(o->message, ":3: error: nope"));
    CHECK(d->version == 0);
    /* and the next save starts over */
    version_as("save");
    CHECK(d->hs == KN_HS_COMPILING);
}

static void test_spawn_fails(void) {
    deck_new();
    spawn_fails = 1;
    CHECK(version_as("play") == -EAGAIN);
    spawn_fails = 0;
    CHECK(d->hs == KN_HS_IDLE);
    playing(0);
    spawn_fails = 1;
    CHECK(version_as("save") == -EAGAIN);
    spawn_fails = 0;
    CHECK(d->hs == KN_HS_PLAYING);
}

static void test_swap(void) {
    playing(0);
    pid_t old = d->cur.pid;
    uint32_t old_id = d->cur.id;
    version_as("save");
    CHECK(d->hs == KN_HS_SWAPPING);
    CHECK(owner() == old_id); /* the producer plays on */
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_HANDING);
    CHECK(atomic_load(&d->ring->ctl.next_owner) == d->next.id);
    CHECK(d->cur.leaving);
    CHECK(owner() == old_id); /* the producer passes it, not the conductor */
    /* a version now must wait: a successor awaits the token */
    CHECK(version_as("save") == -EBUSY);
    CHECK(d->hs == KN_HS_HANDING);
    pass_token();
    report(&d->next, KN_REP_RUNNING, 4096);
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(was_killed(old));
    CHECK(d->version == 2);
    CHECK(d->audible_pending); /* a swap (frame > 0) is measured to the device */
}

static void test_swap_left_first(void) {
    playing(0);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    pass_token();
    exited(&d->cur, "exited with status 0"); /* left before "running" was read */
    CHECK(d->hs == KN_HS_TAKING);
    CHECK(d->cur.st == KN_PROC_NONE);
    CHECK(owner() == d->next.id);
    report(&d->next, KN_REP_RUNNING, 4096);
    CHECK(d->hs == KN_HS_PLAYING);
}

/* The run of a version ends when its successor's takeover is read, also
 * when the old producer left (after passing the token) before that: a
 * version 0.99 s old when it left and 1.5 s old when the report is read
 * (a busy machine) has played a second, as the log's times say. */
static void test_left_first_proven(void) {
    playing(0);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    pass_token();
    d->running_since = kn_mono_ns() - 990000000ull;
    exited(&d->cur, "exited with status 0");
    CHECK(d->good_version == 0);                     /* not a second yet */
    d->running_since = kn_mono_ns() - 1500000000ull; /* the report is read 0.51 s later */
    report(&d->next, KN_REP_RUNNING, 4096);
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(d->good_version == 1);
}

static void test_swap_refused(void) {
    playing(0);
    uint32_t prod = d->cur.id;
    version_as("save");
    report(&d->next, KN_REP_ERROR, 0);
    exited(&d->next, "exited with status 1");
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(d->cur.id == prod && owner() == prod);
    CHECK(last_event_has("the previous version plays on"));
    /* refused while waiting for the token: next_owner withdrawn */
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_HANDING);
    exited(&d->next, "killed by SIGSEGV");
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(atomic_load(&d->ring->ctl.next_owner) == 0);
    CHECK(!d->cur.leaving);
    CHECK(last_event_has("while waiting to take over"));
}

static void test_spoofed_running(void) {
    playing(0);
    version_as("save");
    report(&d->next, KN_REP_RUNNING, 100); /* not compiled, no token: ignored */
    CHECK(d->hs == KN_HS_SWAPPING);
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 100); /* compiled, but the token is not its yet */
    CHECK(d->hs == KN_HS_HANDING);
    report(&d->next, KN_REP_COMPILED, 0); /* twice: nothing new */
    CHECK(d->hs == KN_HS_HANDING);
}

static void test_fault_reverts(void) {
    playing(1);
    CHECK(d->good_version == 1);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    pass_token();
    report(&d->next, KN_REP_RUNNING, 4096);
    CHECK(d->version == 2);
    pid_t culprit = d->cur.pid;
    uint32_t seq = d->restart_seq;
    kn_handover_fault(c, d, &d->cur, d->cur.id, "cartridge hung");
    AGREES();
    CHECK(d->hs == KN_HS_RECOVERING);
    CHECK(mix_state() == KN_MIX_FAULTED);
    CHECK(owner() == 0);
    CHECK(was_sigkilled(culprit) && d->dying.pid == culprit);
    CHECK(d->next.restore); /* resumes from the snapshot */
    CHECK(strstr(d->origin, "revert to v1"));
    CHECK(last_event_has("reverted to version 1"));
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_RECOVERING); /* the culprit is not reaped yet */
    CHECK(owner() == 0);
    kn_handover_reaped(c, d);
    AGREES();
    CHECK(d->hs == KN_HS_TAKING);
    CHECK(d->restart_seq == seq + 1 && !d->repair); /* the ring restarted first */
    CHECK(owner() == d->next.id);
    report(&d->next, KN_REP_RUNNING, 8192);
    CHECK(d->hs == KN_HS_PLAYING);
    /* audible again only once the audio thread skipped to the restart */
    kn_handover_tick(c, d, kn_mono_ns());
    CHECK(mix_state() == KN_MIX_FAULTED);
    atomic_store(&c->mix.deck[0].restart_done, d->restart_seq);
    kn_handover_tick(c, d, kn_mono_ns());
    CHECK(mix_state() == KN_MIX_PLAY);
}

static void test_fault_reaped_first(void) {
    playing(1);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "NaN");
    kn_handover_reaped(c, d);
    AGREES();
    CHECK(d->hs == KN_HS_RECOVERING); /* the revert still compiles */
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_TAKING);
}

static void test_producer_died(void) {
    playing(1);
    uint32_t id = d->cur.id;
    exited(&d->cur, "killed by SIGSEGV");
    CHECK(d->hs == KN_HS_RECOVERING);
    CHECK(d->dying.st == KN_PROC_NONE); /* already dead: nothing to wait for */
    CHECK(last_event_has("killed by SIGSEGV"));
    char text[64];
    snprintf(text, sizeof text, "cartridge %u", id);
    CHECK(last_event_has(text));
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_TAKING);
}

static void test_no_good_version(void) {
    playing(0);
    exited(&d->cur, "exited with status 0"); /* exiting unasked is a fault too */
    CHECK(d->hs == KN_HS_SILENT);
    CHECK(last_event_has("no good version"));
    CHECK(mix_state() == KN_MIX_FAULTED);
    version_as("save");
    CHECK(d->hs == KN_HS_RECOVERING);
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_TAKING);
    CHECK(!d->repair);
}

static void test_revert_fails_again(void) {
    playing(1);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung");
    kn_handover_reaped(c, d);
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 100);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung again");
    AGREES();
    CHECK(d->hs == KN_HS_SILENT);
    CHECK(d->good_version == 0);
    CHECK(last_event_has("failed again"));
}

static void test_revert_refused(void) {
    playing(1);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung");
    CHECK(d->hs == KN_HS_RECOVERING);
    report(&d->next, KN_REP_ERROR, 0);
    exited(&d->next, "exited with status 1");
    CHECK(d->hs == KN_HS_SILENT);
}

static void test_fault_during_fade(void) {
    /* the producer is rendering the fade lane for a successor: the
     * successor gives way, the revert comes first, the save follows it */
    playing(1);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_HANDING);
    pid_t successor = d->next.pid;
    uint32_t sid = d->next.id;
    kn_handover_fault(c, d, &d->cur, d->cur.id, "NaN in process()");
    AGREES();
    CHECK(d->hs == KN_HS_RECOVERING);
    CHECK(was_killed(successor));
    const kn_outcome *o = kn_deck_outcome(d, sid);
    CHECK(o && !o->ok && strstr(o->message, "compiled again after the revert"));
    CHECK(d->dirty_ns != 0); /* decks.c reloads the save once the revert runs */
    CHECK(d->next.restore);
    CHECK(last_event_has("restarts after it"));
    /* the successor took the token and faults while the old producer is
     * still leaving: both go */
    playing(1);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    pass_token();
    pid_t old = d->cur.pid;
    kn_proc *p = kn_deck_producer(d);
    CHECK(p == &d->next);
    pid_t culprit = p->pid;
    kn_handover_fault(c, d, p, p->id, "hung in setup()");
    AGREES();
    CHECK(d->hs == KN_HS_RECOVERING);
    CHECK(was_killed(old));
    CHECK(was_sigkilled(culprit) && d->dying.pid == culprit);
    /* and after the takeover, in the successor's crossfade */
    kn_handover_reaped(c, d);
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 100);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    pass_token();
    report(&d->next, KN_REP_RUNNING, 200);
    CHECK(d->hs == KN_HS_PLAYING);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "NaN while fading in");
    CHECK(d->hs == KN_HS_RECOVERING);
}

static void test_died_taking(void) {
    deck_new();
    version_as("play");
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_TAKING);
    exited(&d->next, "killed by SIGSEGV"); /* in setup(), holding the token */
    CHECK(d->hs == KN_HS_SILENT);          /* a new deck: nothing to revert to */
    CHECK(last_event_has("no good version"));
}

static void test_save_during_revert(void) {
    playing(1);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung");
    CHECK(d->hs == KN_HS_RECOVERING);
    CHECK(kn_handover_save_waits(d)); /* a save must not supersede the revert */
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(version_as("save") == -EBUSY); /* compiled, awaiting the reap */
    CHECK(d->hs == KN_HS_RECOVERING);
    kn_handover_reaped(c, d);
    CHECK(kn_handover_save_waits(d));
    report(&d->next, KN_REP_RUNNING, 100);
    CHECK(!kn_handover_save_waits(d));
    CHECK(version_as("save") == 0);
    CHECK(d->hs == KN_HS_SWAPPING);
    /* a play (not a save) during a revert still compiling replaces it */
    playing(1);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung");
    CHECK(d->hs == KN_HS_RECOVERING);
    CHECK(version_as("play") == 0);
    CHECK(d->hs == KN_HS_RECOVERING && !d->next.restore);
}

static void test_stop_during_takeover(void) {
    deck_new();
    version_as("play");
    report(&d->next, KN_REP_COMPILED, 0);
    pid_t taker = d->next.pid;
    kn_handover_stop(c, d);
    AGREES();
    CHECK(d->hs == KN_HS_STOPPING);
    CHECK(was_killed(taker));
    CHECK(atomic_load(&d->ring->ctl.stop) == 1);
    CHECK(mix_state() == KN_MIX_STOPPING);
    char err[256];
    uint32_t id;
    CHECK(kn_handover_version(c, d, "x", 1, "save", 0, &id, err, sizeof err) == -ESRCH);
    /* and during a swap's handing over */
    playing(0);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    pid_t a = d->cur.pid, b = d->next.pid;
    kn_handover_stop(c, d);
    AGREES();
    CHECK(was_killed(a) && was_killed(b));
    /* a silenced deck stops too */
    playing(1);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung");
    kn_handover_stop(c, d);
    AGREES();
    CHECK(mix_state() == KN_MIX_STOPPING);
}

static void test_shed(void) {
    playing(1);
    pid_t p = d->cur.pid;
    kn_handover_shed(c, d, "shed: too much");
    AGREES();
    CHECK(d->hs == KN_HS_SILENT);
    CHECK(d->shed && was_sigkilled(p));
    CHECK(d->next.st == KN_PROC_NONE); /* no revert: the same code would overload again */
    /* shedding while a (maybe lighter) save compiles: it is granted later */
    playing(1);
    version_as("save");
    kn_handover_shed(c, d, "shed");
    CHECK(d->hs == KN_HS_RECOVERING);
    report(&d->next, KN_REP_COMPILED, 0);
    kn_handover_reaped(c, d);
    CHECK(d->hs == KN_HS_TAKING);
    report(&d->next, KN_REP_RUNNING, 100);
    kn_handover_tick(c, d, kn_mono_ns());
    CHECK(!d->shed);
}

static void test_limit(void) {
    playing(0);
    version_as("save");
    pid_t p = d->next.pid;
    kn_handover_limit(c, d, "took more than 15 s to compile and test");
    CHECK(was_sigkilled(p));
    CHECK(d->hs == KN_HS_SWAPPING); /* the exit tells */
    exited(&d->next, "killed by SIGKILL");
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(last_event_has("took more than 15 s"));
    CHECK(last_event_has("refused (the previous version plays on)"));
}

/* The timeline's part in the handover: the first takeover places the deck
 * (epoch set in the ring and the mixer), a quantized save names the frame
 * the producer hands over at, and a refusal or the takeover clears it. */
/* A refusal that only needs a larger state (contract.h, state_need). */
static void needs_state(kn_proc *p, double bytes) {
    kn_report r;
    memset(&r, 0, sizeof r);
    r.type = KN_REP_ERROR;
    r.state_need = bytes;
    snprintf(r.message, sizeof r.message, "%.200s: error: kn_state(\"x\"): too small", d->path);
    kn_handover_report(c, d, p, &r);
    AGREES();
}

static void test_state_grows(void) {
    c->state_cap = 1u << 24;
    /* before the deck first plays: replaced at once, the same version again */
    deck_new();
    version_as("play");
    uint32_t id = d->next.id;
    pid_t pid = d->next.pid;
    needs_state(&d->next, 300000);
    CHECK(d->hs == KN_HS_COMPILING && d->next.id == id && d->next.pid != pid);
    CHECK(was_killed(pid) && !kn_deck_outcome(d, id));
    CHECK(d->state_bytes >= 300000 && d->state_bytes % (1u << 20) == 0);
    CHECK(last_event_has("grew from 0 to 1 MiB"));
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 0);
    CHECK(d->hs == KN_HS_PLAYING && d->version == 1);
    /* at a swap: a larger pair waits for the successor, the deck's once it runs */
    size_t was = d->state_bytes;
    version_as("save");
    id = d->next.id;
    needs_state(&d->next, (double)was + 1);
    CHECK(d->hs == KN_HS_SWAPPING && d->next.id == id && !kn_deck_outcome(d, id));
    CHECK(d->grow_state && d->grow_for == id && d->grow_bytes > was && d->state_bytes == was);
    CHECK(last_event_has("grows, when this version takes over,"));
    report(&d->next, KN_REP_COMPILED, 0);
    pass_token();
    report(&d->next, KN_REP_RUNNING, 4096);
    CHECK(d->hs == KN_HS_PLAYING && d->cur.id == id);
    CHECK(!d->grow_state && d->state_bytes > was);
    /* refused for another reason: the pair is dropped, the deck keeps its state */
    was = d->state_bytes;
    version_as("save");
    needs_state(&d->next, (double)was + 1);
    CHECK(d->grow_state);
    report(&d->next, KN_REP_ERROR, 0);
    exited(&d->next, "exited with status 1");
    CHECK(d->hs == KN_HS_PLAYING && !d->grow_state && d->state_bytes == was);
    /* a fault of the producer while it compiles: dropped too */
    kn_handover_tick(c, d, kn_mono_ns() + 2000000000ull); /* proven good */
    version_as("save");
    needs_state(&d->next, (double)was + 1);
    CHECK(d->grow_state);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "cartridge N killed by SIGSEGV");
    CHECK(!d->grow_state && d->state_bytes == was);
    /* beyond the cap: refused, saying the segment could not grow */
    playing(0);
    version_as("save");
    id = d->next.id;
    needs_state(&d->next, (double)c->state_cap + 1);
    const kn_outcome *o = kn_deck_outcome(d, id);
    CHECK(o && !o->ok && strstr(o->message, "could not grow now") && !d->grow_state);
    c->state_cap = 0;
}

static void test_timeline(void) {
    deck_new();
    CHECK(!atomic_load(&d->ring->tl.epoch_set));
    version_as("play");
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 0);
    CHECK(atomic_load(&d->ring->tl.epoch_set) == 1);
    CHECK(atomic_load(&c->mix.deck[0].locked) == 1);
    CHECK(atomic_load(&d->ring->tl.epoch) == atomic_load(&c->mix.deck[0].epoch));
    d->next_quant = 1; /* `kanon quant d 1`, then a save */
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_HANDING);
    uint64_t at = atomic_load(&d->ring->tl.handover_at);
    int64_t ep = atomic_load(&c->mix.deck[0].epoch);
    CHECK(at > 0 && d->pending_frame == at + (uint64_t)ep);
    CHECK(d->pending_frame % 24000 == 0);  /* 48 kHz, 120 bpm: a beat */
    exited(&d->next, "killed by SIGSEGV"); /* refused while waiting: nothing pending */
    CHECK(atomic_load(&d->ring->tl.handover_at) == 0 && d->pending_frame == 0);
    version_as("save");
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(atomic_load(&d->ring->tl.handover_at) != 0);
    pass_token();
    report(&d->next, KN_REP_RUNNING, 100);
    CHECK(d->hs == KN_HS_PLAYING);
    CHECK(atomic_load(&d->ring->tl.handover_at) == 0 && d->pending_frame == 0);
    /* a quantized deck's fault revert is not quantized: back at once */
    kn_handover_tick(c, d, kn_mono_ns() + 2000000000ull);
    kn_handover_fault(c, d, &d->cur, d->cur.id, "hung");
    CHECK(d->next_quant == 0);
}

/* A held version (`play` hold, conductor/session.c) waits, compiled, for
 * its group's `start`: a new deck's gets no token, a swap's no next_owner;
 * released, it goes on onto its beat (start_beat), or it is discarded. */
static void test_held(void) {
    deck_new();
    version_as("play");
    uint32_t id = d->next.id;
    d->hold_for = id;
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_COMPILING && d->next.st == KN_PROC_READY && kn_handover_held(d));
    CHECK(owner() == 0);
    CHECK(kn_handover_save_waits(d) && version_as("save") == -EBUSY); /* it keeps its place */
    d->at_for = id;
    d->at_beat = 8;
    kn_handover_release(c, d);
    AGREES();
    CHECK(d->hs == KN_HS_TAKING && owner() == id && !kn_handover_held(d));
    report(&d->next, KN_REP_RUNNING, 0);
    /* 48 kHz, 120 bpm: beat 8 is frame 192000, far past what is due now */
    CHECK(d->start_frame == 192000 && d->start_beat == 8 && !d->start_late);
    CHECK(atomic_load(&c->mix.deck[0].epoch) == 192000 && d->at_for == 0);
    /* a held swap: the producer plays on, no next_owner, until released */
    uint32_t prod = d->cur.id;
    version_as("save");
    id = d->next.id;
    d->hold_for = id;
    report(&d->next, KN_REP_COMPILED, 0);
    CHECK(d->hs == KN_HS_SWAPPING && kn_handover_held(d));
    CHECK(atomic_load(&d->ring->ctl.next_owner) == 0 && !d->cur.leaving && owner() == prod);
    d->at_for = id;
    d->at_beat = 16;
    kn_handover_release(c, d);
    AGREES();
    CHECK(d->hs == KN_HS_HANDING && atomic_load(&d->ring->ctl.next_owner) == id);
    CHECK(d->pending_frame == 384000); /* takes over on beat 16 exactly */
    CHECK(atomic_load(&d->ring->tl.handover_at) == 384000 - 192000);
    pass_token();
    report(&d->next, KN_REP_RUNNING, 192000);
    CHECK(d->hs == KN_HS_PLAYING && d->cur.id == id);
    /* a held swap discarded: the producer plays on, the version is refused */
    version_as("save");
    id = d->next.id;
    pid_t pid = d->next.pid;
    d->hold_for = id;
    report(&d->next, KN_REP_COMPILED, 0);
    kn_handover_discard(c, d, "its group did not start");
    AGREES();
    CHECK(d->hs == KN_HS_PLAYING && was_killed(pid) && d->next.st == KN_PROC_NONE);
    const kn_outcome *o = kn_deck_outcome(d, id);
    CHECK(o && !o->ok && strstr(o->message, "its group did not start"));
    /* a held first version discarded: the deck is left idle (session.c stops it) */
    deck_new();
    version_as("play");
    d->hold_for = d->next.id;
    kn_handover_discard(c, d, "its group did not start"); /* still compiling: goes too */
    AGREES();
    CHECK(d->hs == KN_HS_IDLE && d->next.st == KN_PROC_NONE);
}

/* A start on a beat that has passed lands whole bars later, on the same
 * place in the bar, and says so. */
static void test_start_late(void) {
    deck_new();
    version_as("play");
    d->at_for = d->next.id;
    d->at_beat = 0.5;  /* frame 12000: before what is due (now + ring target + block) */
    c->target = 24000; /* what is due: a beat ahead */
    report(&d->next, KN_REP_COMPILED, 0);
    report(&d->next, KN_REP_RUNNING, 0);
    CHECK(d->start_late && d->asked_beat == 0.5 && d->start_beat == 4.5);
    CHECK(d->start_frame == 108000 && last_event_has("starts late, on beat 4.5"));
    c->target = 1024;
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kanon-test-handover-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    c = calloc(1, sizeof *c);
    c->rate = 48000;
    c->channels = 2;
    c->block = 64;
    c->target = 1024;
    c->state_bytes = 1 << 16;
    snprintf(c->instance, sizeof c->instance, "test");
    kn_history_init(c, tmpdir);
    kn_timeline_init(c);
    fclose(stderr); /* the event log's lines: the checks say what matters */
    test_first_play();
    test_supersede_while_compiling();
    test_first_refused();
    test_spawn_fails();
    test_swap();
    test_swap_left_first();
    test_swap_refused();
    test_spoofed_running();
    test_fault_reverts();
    test_fault_reaped_first();
    test_producer_died();
    test_no_good_version();
    test_left_first_proven();
    test_revert_fails_again();
    test_revert_refused();
    test_fault_during_fade();
    test_died_taking();
    test_save_during_revert();
    test_stop_during_takeover();
    test_shed();
    test_limit();
    test_state_grows();
    test_timeline();
    test_held();
    test_start_late();
    kn_deck_segments_free(d);
    free(c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) printf("could not remove %s\n", tmpdir);
    return check_report();
}
