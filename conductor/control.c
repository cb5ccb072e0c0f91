/*
 * control.c - the conductor's command socket.
 *
 * nng REP on ipc://<runtime dir>/<instance>.sock (mode 0600, directory
 * 0700). One request is one JSON object {"cmd": NAME, ...}; one reply is
 * {"ok": true, ...} or {"ok": false, "error": "what happened; what to do"}.
 * Requests are handled on the control thread's event loop and never wait on
 * a cartridge: `play` answers with the new cartridge's id at once and the
 * CLI polls `result` for the compile outcome. Every command is idempotent
 * or names what it acts on (REQ may resend on reconnect).
 *
 *   ping | status | play{file,display,deck,fade_ms,watch,quant?,tier?,start_beat?,source_file?,
 *   hold?,params?} | result{deck,id} | stop{deck,quant?,at_beat?} | set{deck,name,value}
 *   | params{deck} | record_start{path,display?,force?,stems?,deck?}
 *   record_stop | log{deck?,since?} | history{deck} | revert{deck,version?}
 *   get{deck,name} | mix | mixer{deck|"master",gain_db?,mute?,solo?,pan?,ramp_ms?}
 *   meters | map_load{path,origin?,check?} | map | link{on?,playing?}
 *   start{decks,start_beat?,lead_ms?} | discard{decks} | down
 *   note{deck,pitch,velocity?,dur?,at_beat?,quant?,channel?} | midi{deck,from?,channel?,off?}
 *   | midi_routes
 * (start, discard and play's start_beat, source_file, hold, params: session.c;
 * note: note.c; midi, midi_routes: midi.c)
 * set also takes ramp_ms. Any request may carry "req" (a string id): a
 * repeated id gets the cached reply instead of acting twice.
 */
#include "input.h"
#include "conductor.h"

#include <errno.h>
#include "osc.h"
#include "priority.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sched.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static nng_socket sock = NNG_SOCKET_INITIALIZER;
static int sock_fd = -1;

int kn_control_open(kn_conductor *c, char *err, size_t errlen) {
    char url[KN_PATH_MAX + 8];
    snprintf(url, sizeof url, "ipc://%s", c->sock_path);
    unlink(c->sock_path); /* stale from a killed conductor; we hold the lock */
    nng_listener l;
    int rc;
    if ((rc = nng_rep0_open(&sock)) || (rc = nng_listener_create(&l, sock, url)) ||
        (rc = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) ||
        (rc = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 1 << 16)) ||
        (rc = nng_listener_start(l, 0)) ||
        (rc = nng_socket_get_int(sock, NNG_OPT_RECVFD, &sock_fd))) {
        snprintf(err, errlen, "cannot listen on %s: %s", c->sock_path, nng_strerror(rc));
        return -EIO;
    }
    chmod(c->sock_path, 0600);
    return 0;
}

int kn_control_fd(void) {
    return sock_fd;
}

void kn_control_close(void) {
    nng_close(sock);
    sock_fd = -1;
}

/* ------------------------------------------------------------ replies */

static cJSON *ok_reply(void) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", 1);
    return r;
}

static cJSON *err_reply(const char *msg) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", 0);
    cJSON_AddStringToObject(r, "error", msg);
    return r;
}

static const char *str_arg(const cJSON *req, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, key));
}

static kn_deck *deck_arg(kn_conductor *c, const cJSON *req, cJSON **reply) {
    const char *name = str_arg(req, "deck");
    kn_deck *d = name ? kn_deck_find(c, name) : NULL;
    if (!d) {
        char m[128];
        snprintf(m, sizeof m, "no deck named '%.40s' (see `kanon status`)", name ? name : "");
        *reply = err_reply(m);
    }
    return d;
}

static cJSON *mix_json(kn_deck *d);
static cJSON *meter_json(const kn_meter *m);

/* ------------------------------------------------------------ status */

static const char *proc_state(const kn_proc *p) {
    switch (p->st) {
    case KN_PROC_COMPILING: return "compiling";
    case KN_PROC_READY: return "waiting";
    case KN_PROC_RUNNING: return "running";
    default: return "none";
    }
}

static cJSON *deck_json(kn_conductor *c, kn_deck *d) {
    kn_mix_deck *m = &c->mix.deck[d - c->deck];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "file", d->display);
    cJSON_AddStringToObject(o, "path", d->path);
    cJSON_AddStringToObject(o, "handover", kn_hs_name(d->hs));
    cJSON_AddNumberToObject(o, "slot", (double)(d - c->deck));
    cJSON *cart = cJSON_AddObjectToObject(o, "cartridge");
    cJSON_AddNumberToObject(cart, "id", d->cur.id);
    cJSON_AddNumberToObject(cart, "pid", d->cur.pid);
    cJSON_AddStringToObject(cart, "state", proc_state(&d->cur));
    cJSON_AddNumberToObject(cart, "compile_ms", d->cur.compile_ms);
    if (d->next.st != KN_PROC_NONE) {
        cJSON *n = cJSON_AddObjectToObject(o, "next");
        cJSON_AddNumberToObject(n, "id", d->next.id);
        cJSON_AddStringToObject(n, "state", proc_state(&d->next));
        /* a long compile (Faust can take seconds) shows how far it is */
        if (d->next.st == KN_PROC_COMPILING) {
            cJSON_AddStringToObject(n, "stage", d->next.testing ? "testing" : "compiling");
            cJSON_AddNumberToObject(n, "seconds",
                                    (double)(kn_mono_ns() - d->next.spawned_ns) / 1e9);
        }
    }
    cJSON_AddNumberToObject(o, "state_bytes", (double)d->state_bytes);
    cJSON_AddNumberToObject(o, "underruns", (double)atomic_load(&m->underruns));
    cJSON_AddNumberToObject(o, "nonfinite", (double)atomic_load(&m->nonfinite));
    cJSON_AddNumberToObject(o, "corrupt", (double)atomic_load(&m->corrupt));
    cJSON_AddNumberToObject(o, "silenced_rt", (double)atomic_load(&m->silenced_rt_ns) / 1e9);
    cJSON_AddNumberToObject(o, "frames", (double)atomic_load(&m->frames));
    cJSON_AddNumberToObject(o, "buffered", atomic_load(&m->buffered));
    cJSON_AddNumberToObject(o, "load", d->load);
    cJSON_AddStringToObject(o, KN_OPT_TIER, d->tier_cc ? KN_TIER_CC : KN_TIER_TCC);
    cJSON_AddBoolToObject(o, "tier_auto", d->tier_auto);
    if (d->opt.st != KN_OPT_IDLE) { /* the cc tier on its way (optimize.c) */
        cJSON *opt = cJSON_AddObjectToObject(o, "optimizing");
        cJSON_AddStringToObject(opt, "stage",
                                d->opt.st == KN_OPT_BUILDING ? "compiling" : "loading");
        cJSON_AddNumberToObject(opt, "version", d->opt.version);
        cJSON_AddNumberToObject(opt, "pid", d->opt.st == KN_OPT_BUILDING ? d->opt.pid : 0);
        cJSON_AddNumberToObject(opt, "seconds", (double)(kn_mono_ns() - d->opt.start_ns) / 1e9);
    } else
        cJSON_AddNullToObject(o, "optimizing");
    cJSON_AddNumberToObject(o, "cpu", d->cpu);
    cJSON_AddNumberToObject(o, "cpu_need", d->cpu_need);
    if (d->cpu_wait >= 0)
        cJSON_AddNumberToObject(o, "cpu_wait", d->cpu_wait);
    else
        cJSON_AddNullToObject(o, "cpu_wait");
    cJSON_AddBoolToObject(o, "shed", d->shed);
    cJSON_AddNumberToObject(o, "peak_db", c->meter[d - c->deck].peak_db);
    cJSON_AddNumberToObject(o, "rms_db", c->meter[d - c->deck].rms_db);
    cJSON_AddItemToObject(o, "mix", mix_json(d));
    cJSON_AddStringToObject(o, "last_event", d->last_event);
    cJSON_AddNumberToObject(o, "version", d->version);
    cJSON_AddNumberToObject(o, "fade_ms", d->fade_ms);
    cJSON_AddBoolToObject(o, "watching", d->watch && d->watch_wd >= 0);
    /* the timeline: where it started, its grid, what is pending */
    cJSON_AddNumberToObject(o, "quant", d->swap_quant);
    if (kn_timeline_deck_locked(c, d)) {
        cJSON_AddNumberToObject(o, "start_frame", (double)d->start_frame);
        cJSON_AddNumberToObject(o, "start_beat", d->start_beat); /* as placed: exact */
        cJSON_AddNumberToObject(o, "epoch", (double)atomic_load(&m->epoch));
    }
    kn_session_deck_json(c, d, o);
    cJSON *pend = cJSON_AddObjectToObject(o, "pending");
    if (d->pending_frame) {
        cJSON_AddNumberToObject(pend, "takeover_beat", kn_timeline_beat(c, d->pending_frame));
        cJSON_AddNumberToObject(pend, "takeover_frame", (double)d->pending_frame);
    }
    if (d->stop_frame)
        cJSON_AddNumberToObject(pend, "stop_beat", kn_timeline_beat(c, d->stop_frame));
    cJSON_AddNumberToObject(o, "late", (double)atomic_load(&d->ring->tl.late));
    cJSON_AddNumberToObject(o, "late_frames", (double)atomic_load(&m->late_frames));
    cJSON_AddNumberToObject(o, "slips", (double)atomic_load(&m->slips));
    /* routing: the latency its code declares, and its master route's delay */
    cJSON_AddNumberToObject(o, "latency", (double)atomic_load(&d->ring->ctl.latency));
    /* blocks its cartridge rendered without all of a routed source (late or gone) */
    cJSON_AddNumberToObject(o, "inputs_missed", (double)atomic_load(&d->ring->ctl.in_missed));
    cJSON_AddNumberToObject(o, "master_delay", (double)atomic_load(&m->master_delay));
    return o;
}

static cJSON *tempo_json_at(kn_conductor *c, uint64_t now) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bpm", kn_tempo_bpm(&c->tempo, c->rate, (double)now));
    cJSON_AddNumberToObject(o, "bar", kn_tempo_bar(&c->tempo, (double)now));
    cJSON_AddNumberToObject(o, "beat", kn_timeline_beat(c, now));
    cJSON_AddNumberToObject(o, "frame", (double)now);
    /* where the map goes: its newest change (a step or glide may still lie ahead) */
    const kn_tempo_seg *last = kn_tempo_newest(&c->tempo);
    cJSON_AddNumberToObject(o, "final_bpm", last->bpm_to);
    cJSON_AddNumberToObject(o, "final_bar", last->bar);
    /* when that frame is heard: two conductors' beats compared at one instant */
    int64_t heard = kn_timeline_mono_at(c, now);
    if (heard >= 0)
        cJSON_AddNumberToObject(o, "mono_ns", (double)heard);
    else
        cJSON_AddNullToObject(o, "mono_ns");
    return o;
}

/* Ableton Link (link_sync.c keeps peers, playing and phase_ms current). */
static cJSON *link_json(const kn_conductor *c) {
    const kn_link_ctl *k = &c->link;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", k->on);
    cJSON_AddNumberToObject(o, "peers", k->on ? k->peers : 0);
    /* the bar where the next change would land: what the sync compares */
    cJSON_AddNumberToObject(o, "quantum",
                            kn_tempo_bar(&c->tempo, (double)kn_tempo_newest(&c->tempo)->at));
    cJSON_AddBoolToObject(o, "playing", k->on && k->playing);
    cJSON_AddNumberToObject(o, "phase_ms", k->on ? k->phase_ms : 0);
    cJSON_AddNumberToObject(o, "aligned", (double)k->aligned);
    if (k->error[0]) cJSON_AddStringToObject(o, "error", k->error);
    return o;
}

/* The tempo, bar and beat at the frame the mixer mixes next. */
static cJSON *tempo_json(kn_conductor *c) {
    return tempo_json_at(c, kn_timeline_now(c));
}

/* Who and where the conductor is and how it plays: the head of `status`
 * and the whole of the ready report that `kanon up` prints. */
void kn_conductor_describe(const kn_conductor *c, cJSON *r) {
    cJSON_AddNumberToObject(r, "pid", getpid());
    cJSON_AddStringToObject(r, "instance", c->instance);
    cJSON_AddStringToObject(r, "socket", c->sock_path);
    cJSON_AddStringToObject(r, "log", c->log_path);
    cJSON_AddStringToObject(r, "history", c->history_dir);
    cJSON_AddNumberToObject(r, "osc_port", c->osc_port);
    cJSON_AddStringToObject(r, "osc_host", c->osc_host);
    cJSON_AddStringToObject(r, "osc_unix", c->osc_unix);
    cJSON_AddBoolToObject(r, "osc_trust_udp", c->osc_trust_udp);
    cJSON_AddStringToObject(r, "backend", kn_audio_backend(c->audio));
    cJSON_AddStringToObject(r, "device", kn_audio_device(c->audio));
    cJSON_AddStringToObject(r, "backend_choice", kn_audio_why(c->audio));
    cJSON_AddNumberToObject(r, "rate", c->rate);
    cJSON_AddNumberToObject(r, "channels", c->channels);
    cJSON_AddNumberToObject(r, "block", c->block);
    cJSON_AddNumberToObject(r, "device_latency_ms", kn_audio_latency(c->audio) * 1000);
    cJSON_AddNumberToObject(r, "ring_target_ms", c->target * 1000.0 / c->rate);
    cJSON_AddBoolToObject(r, "ring_adaptive", !c->ring_fixed);
    cJSON_AddNumberToObject(r, "ring_grown", c->ring_grown);
    cJSON_AddItemToObject(r, "input", kn_capture_json(kn_audio_capture(c->audio)));
    cJSON_AddItemToObject(r, "midi", kn_midi_json((kn_conductor *)c));
    cJSON_AddItemToObject(r, "tempo", tempo_json((kn_conductor *)c));
    cJSON_AddNumberToObject(r, "events_late", (double)c->events_late);
    cJSON_AddItemToObject(r, "link", link_json(c));
    cJSON_AddNumberToObject(r, "compile_timeout_s", c->compile_timeout);
    cJSON_AddNumberToObject(r, "state_mb", (double)c->state_cap / 1048576);
}

/* What the latest recording writes: mode, the deck (deck mode), its files
 * ({deck, path, frames}; stems: master.wav first) and the decks it could
 * not record ({deck, why}). */
static void rec_files_json(const kn_conductor *c, cJSON *o) {
    const char *deck, *why;
    static const char *const modes[] = {"master", "stems", "deck"};
    enum kn_rec_mode mode = kn_rec_mode(c->rec, &deck);
    cJSON_AddStringToObject(o, "mode", modes[mode]);
    if (mode == KN_REC_DECK) cJSON_AddStringToObject(o, "deck", deck);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    static kn_rec_file f; /* 4 KiB: not on the stack */
    for (int i = 0; kn_rec_file_info(c->rec, i, &f); i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "deck", f.deck);
        cJSON_AddStringToObject(x, "path", f.path);
        cJSON_AddNumberToObject(x, "frames", (double)f.frames);
        cJSON_AddItemToArray(files, x);
    }
    cJSON *skipped = cJSON_AddArrayToObject(o, "skipped");
    for (int i = 0; kn_rec_skipped(c->rec, i, &deck, &why); i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "deck", deck);
        cJSON_AddStringToObject(x, "why", why);
        cJSON_AddItemToArray(skipped, x);
    }
}

/* frames, dropped, lost, seconds and error (null while writing works) of a recording */
static void rec_stats_json(const kn_conductor *c, cJSON *o, const kn_rec_stats *st) {
    cJSON_AddNumberToObject(o, "frames", (double)st->frames);
    cJSON_AddNumberToObject(o, "dropped", (double)st->dropped);
    cJSON_AddNumberToObject(o, "lost", (double)st->lost);
    cJSON_AddNumberToObject(o, "timeline_frame", (double)st->timeline_frame);
    cJSON_AddNumberToObject(o, "seconds", (double)st->frames / c->rate);
    if (st->error[0])
        cJSON_AddStringToObject(o, "error", st->error);
    else
        cJSON_AddNullToObject(o, "error");
}

/* Who outranks whom (shm/priority.h): the audio thread, and what the
 * cartridges are started with. */
static cJSON *audio_rt_json(const kn_conductor *c) {
    cJSON *o = cJSON_CreateObject();
    int prio, policy = kn_audio_rt(c->audio, &prio), rt = kn_audio_outranks_cartridges(c->audio);
    cJSON_AddStringToObject(o, "policy",
                            policy == SCHED_FIFO ? "fifo"
                            : policy == SCHED_RR ? "rr"
                            : policy < 0         ? "unknown"
                                                 : "other");
    cJSON_AddNumberToObject(o, "priority", prio);
    cJSON_AddStringToObject(o, "cartridge_policy", rt ? "fifo" : "other");
    cJSON_AddNumberToObject(o, "cartridge_priority", rt ? KN_CARTRIDGE_RT_PRIO : 0);
    /* what was granted, and by whom: the process itself (RLIMIT_RTPRIO,
     * root), JACK, rtkit, or nobody */
    cJSON_AddBoolToObject(o, "granted", policy == SCHED_FIFO || policy == SCHED_RR);
    cJSON_AddStringToObject(o, "via", kn_audio_rt_via(c->audio));
    cJSON_AddStringToObject(o, "cartridge_via",
                            !rt              ? "none"
                            : c->cart_rt_via ? c->cart_rt_via
                                             : "not yet");
    return o;
}

/* The machine's load and what was shed (load.c). */
static cJSON *overload_json(const kn_conductor *c) {
    const kn_overload *v = &c->ov;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", v->overloaded ? "overloaded" : "ok");
    cJSON_AddNumberToObject(o, "total_load", v->total_load);
    cJSON_AddNumberToObject(o, "cpu_total", v->cpu_cartridges + v->cpu_conductor);
    cJSON_AddNumberToObject(o, "cpu_cartridges", v->cpu_cartridges);
    cJSON_AddNumberToObject(o, "cpu_conductor", v->cpu_conductor);
    cJSON_AddNumberToObject(o, "cpu_need", v->cpu_need);
    cJSON_AddNumberToObject(o, "cores", v->cores);
    uint64_t recent = 0;
    for (uint64_t k = 0; k < KN_LOAD_RECENT && k < v->nwin; k++) recent += v->recent[k];
    cJSON *u = cJSON_AddObjectToObject(o, "underflows");
    cJSON_AddNumberToObject(u, "total", (double)kn_audio_underflows(c->audio));
    cJSON_AddNumberToObject(u, "recent", (double)recent);
    cJSON_AddNumberToObject(u, "recent_s", KN_LOAD_RECENT * 0.5);
    cJSON_AddNumberToObject(o, "short_decks", v->short_decks);
    cJSON_AddNumberToObject(o, "overloaded_s", v->windows * 0.5);
    cJSON_AddStringToObject(o, "why", v->overloaded ? v->why : "");
    if (v->last_rt_ns) { /* the latest overloaded window, after it is over too */
        cJSON *last = cJSON_AddObjectToObject(o, "last");
        cJSON_AddNumberToObject(last, "time", (double)v->last_rt_ns / 1e9);
        cJSON_AddStringToObject(last, "why", v->why);
    } else {
        cJSON_AddNullToObject(o, "last");
    }
    cJSON_AddBoolToObject(o, "shedding", !v->shed_off);
    cJSON_AddBoolToObject(o, "cartridges_demoted", v->demoted);
    cJSON *shed = cJSON_AddArrayToObject(o, "shed"); /* newest last */
    for (uint64_t i = v->nshed > KN_SHED_LOG ? v->nshed - KN_SHED_LOG : 0; i < v->nshed; i++) {
        const kn_shed_rec *e = &v->shed[i % KN_SHED_LOG];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "deck", e->deck);
        cJSON_AddNumberToObject(x, "cpu_need", e->cpu);
        cJSON_AddNumberToObject(x, "time", (double)e->rt_ns / 1e9);
        cJSON_AddItemToArray(shed, x);
    }
    return o;
}

static cJSON *cmd_status(kn_conductor *c, const cJSON *req) {
    (void)req;
    cJSON *r = ok_reply();
    kn_conductor_describe(c, r);
    cJSON_AddNumberToObject(r, "device_underflows", (double)kn_audio_underflows(c->audio));
    /* frames the device played without us: the audio thread was late (audio.c) */
    cJSON_AddNumberToObject(r, "device_lost_frames", (double)atomic_load(kn_audio_lost(c->audio)));
    cJSON_AddNumberToObject(r, "frames", (double)kn_audio_frames(c->audio));
    cJSON_AddNumberToObject(r, "failovers", kn_audio_failovers(c->audio));
    cJSON_AddItemToObject(r, "audio_rt", audio_rt_json(c));
    cJSON_AddItemToObject(r, "overload", overload_json(c));
    cJSON_AddBoolToObject(r, "limiter", atomic_load(&c->mix.limiter_on));
    cJSON_AddItemToObject(r, "master", meter_json(&c->meter[KN_MAX_DECKS]));
    cJSON_AddNumberToObject(cJSON_GetObjectItem(r, "master"), "gain_db", c->master_db);
    cJSON_AddNumberToObject(r, "limited_frames", (double)atomic_load(&c->mix.limited));
    char path[4096];
    kn_rec_stats st;
    if (kn_rec_active(c->rec, path, sizeof path, &st)) {
        cJSON *rec = cJSON_AddObjectToObject(r, "recording");
        cJSON_AddStringToObject(rec, "path", path);
        rec_files_json(c, rec);
        rec_stats_json(c, rec, &st);
    } else {
        cJSON_AddNullToObject(r, "recording");
    }
    cJSON *aud = cJSON_AddArrayToObject(r, "swap_to_device_ms"); /* newest last */
    uint64_t n0 = c->naudible > KN_AUDIBLE ? c->naudible - KN_AUDIBLE : 0;
    for (uint64_t i = n0; i < c->naudible; i++)
        cJSON_AddItemToArray(aud, cJSON_CreateNumber(c->audible_ms[i % KN_AUDIBLE]));
    cJSON *decks = cJSON_AddArrayToObject(r, "decks");
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && c->deck[i].name[0])
            cJSON_AddItemToArray(decks, deck_json(c, &c->deck[i]));
    return r;
}

/* ---------------------------------------------------------- commands */

static cJSON *cmd_play(kn_conductor *c, const cJSON *req) {
    const char *file = str_arg(req, "file"), *deck = str_arg(req, "deck");
    const char *display = str_arg(req, "display");
    const cJSON *fade = cJSON_GetObjectItemCaseSensitive(req, "fade_ms");
    const cJSON *watch = cJSON_GetObjectItemCaseSensitive(req, "watch");
    if (!file) return err_reply("play needs \"file\": an absolute path to a .c file");
    if (fade && !cJSON_IsNumber(fade))
        return err_reply("\"fade_ms\" must be a number of milliseconds, 0..1000");
    const cJSON *quant = cJSON_GetObjectItemCaseSensitive(req, "quant");
    if (quant && !cJSON_IsNumber(quant))
        return err_reply("\"quant\" must be a number of beats (0: at once)");
    const char *tier = str_arg(req, KN_OPT_TIER);
    if (tier && strcmp(tier, KN_TIER_TCC) && strcmp(tier, KN_TIER_AUTO))
        return err_reply("\"tier\" is \"tcc\" or \"auto\"");
    const cJSON *voices = cJSON_GetObjectItemCaseSensitive(req, KN_OPT_VOICES);
    if (voices && (!cJSON_IsNumber(voices) || voices->valuedouble < 0 ||
                   voices->valuedouble > KN_VOICES_OPT_MAX ||
                   voices->valuedouble != (int)voices->valuedouble))
        return err_reply("\"voices\" is a whole number 0..32 (0: the program's own)");
    kn_play_opts o = {.path = file,
                      .display = display && strlen(display) < 512 ? display : file,
                      .deck = deck,
                      .fade_ms = fade ? fade->valuedouble : 20,
                      .watch = watch ? cJSON_IsTrue(watch) : 1,
                      .quant = quant ? quant->valuedouble : 0,
                      .tier = !tier                        ? 0
                              : !strcmp(tier, KN_TIER_TCC) ? KN_PLAY_TIER_TCC
                                                           : KN_PLAY_TIER_AUTO,
                      .voices = voices ? voices->valueint : -1};
    char err[1024];
    uint32_t id;
    static kn_preset presets[KN_MAX_PARAMS];
    if (kn_session_play_args(req, &o, presets, KN_MAX_PARAMS, err, sizeof err) ||
        kn_cmd_play(c, &o, &id, err, sizeof err))
        return err_reply(err);
    cJSON *r = ok_reply();
    cJSON_AddStringToObject(r, "deck", deck);
    cJSON_AddNumberToObject(r, "id", id);
    kn_deck *d = kn_deck_find(c, deck);
    cJSON_AddBoolToObject(r, "created", d->cur.st == KN_PROC_NONE);
    if (o.hold) cJSON_AddBoolToObject(r, "held", d->hold_for == id);
    return r;
}

static cJSON *cmd_result(kn_conductor *c, const cJSON *req) {
    cJSON *r = NULL;
    kn_deck *d = deck_arg(c, req, &r);
    if (!d) return r;
    const cJSON *idj = cJSON_GetObjectItemCaseSensitive(req, "id");
    if (!cJSON_IsNumber(idj)) return err_reply("result needs a numeric \"id\"");
    if (!(idj->valuedouble >= 1 && idj->valuedouble <= 4294967295.0))
        return err_reply("\"id\" must be a cartridge id (1..4294967295)");
    uint32_t id = (uint32_t)idj->valuedouble;
    const kn_outcome *o = kn_deck_outcome(d, id);
    r = ok_reply();
    if (o) {
        cJSON_AddStringToObject(r, "state", o->ok ? "running" : "error");
        cJSON_AddNumberToObject(r, "compile_ms", o->compile_ms);
        if (!o->ok) cJSON_AddStringToObject(r, "message", o->message);
    } else if (d->next.id == id || d->cur.id == id) {
        /* held: compiled, waiting for `start` (session.c) */
        cJSON_AddStringToObject(r, "state",
                                d->next.id == id && kn_handover_held(d) ? "held" : "compiling");
        if (d->next.id == id && d->next.st == KN_PROC_COMPILING) /* how long so far */
            cJSON_AddNumberToObject(r, "seconds",
                                    (double)(kn_mono_ns() - d->next.spawned_ns) / 1e9);
    } else {
        cJSON_Delete(r);
        return err_reply("unknown cartridge id for this deck");
    }
    return r;
}

/* A number argument: 0 if absent, -1 (with *r set) if not a number. */
static int num_arg(const cJSON *req, const char *key, double def, double *out, cJSON **r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    *out = def;
    if (!v) return 0;
    if (!cJSON_IsNumber(v)) {
        char m[96];
        snprintf(m, sizeof m, "\"%s\" must be a number", key);
        *r = err_reply(m);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static cJSON *cmd_stop(kn_conductor *c, const cJSON *req) {
    char err[256];
    double quant, at_beat;
    cJSON *r = NULL;
    if (num_arg(req, "quant", 0, &quant, &r) || num_arg(req, "at_beat", -1, &at_beat, &r)) return r;
    kn_deck *d = (quant > 0 || at_beat >= 0) && str_arg(req, "deck")
                     ? kn_deck_find(c, str_arg(req, "deck"))
                     : NULL;
    if (kn_cmd_stop_when(c, str_arg(req, "deck"), at_beat, quant, err, sizeof err))
        return err_reply(err);
    r = ok_reply();
    if (d && d->name[0] && d->stop_frame) /* still playing: it stops on its beat */
        cJSON_AddNumberToObject(r, "stop_beat", kn_timeline_beat(c, d->stop_frame));
    return r;
}

static cJSON *cmd_quant(kn_conductor *c, const cJSON *req) {
    char err[256];
    double quant;
    cJSON *r = NULL;
    if (num_arg(req, "quant", -1, &quant, &r)) return r;
    if (kn_cmd_quant(c, str_arg(req, "deck"), quant, err, sizeof err)) return err_reply(err);
    r = ok_reply();
    cJSON_AddNumberToObject(r, "quant", quant);
    return r;
}

static cJSON *cmd_tempo(kn_conductor *c, const cJSON *req) {
    char err[256];
    double bpm, bar, ramp;
    cJSON *r = NULL;
    if (num_arg(req, "bpm", 0, &bpm, &r) || num_arg(req, "bar", 0, &bar, &r) ||
        num_arg(req, "ramp_beats", 0, &ramp, &r))
        return r;
    if (cJSON_GetObjectItemCaseSensitive(req, "bpm") || bar) {
        if (!bpm) bpm = kn_tempo_bpm(&c->tempo, c->rate, (double)kn_timeline_now(c));
        if (bar != (int)bar || bar < 0) return err_reply("\"bar\" must be a whole number of beats");
        if (kn_cmd_tempo(c, bpm, (int)bar, ramp, err, sizeof err)) return err_reply(err);
        r = ok_reply(); /* where the change begins: no deck has rendered that frame yet */
        cJSON_AddItemToObject(r, "tempo", tempo_json_at(c, kn_tempo_newest(&c->tempo)->at));
        return r;
    }
    r = ok_reply();
    cJSON_AddItemToObject(r, "tempo", tempo_json(c));
    return r;
}

/* {"on": bool} joins or leaves the session, {"playing": bool} asks it to
 * start or stop on the next bar; either way the reply is the link state. */
static cJSON *cmd_link(kn_conductor *c, const cJSON *req) {
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(req, "on");
    const cJSON *playing = cJSON_GetObjectItemCaseSensitive(req, "playing");
    if ((on && !cJSON_IsBool(on)) || (playing && !cJSON_IsBool(playing)))
        return err_reply("\"on\" and \"playing\" must be true or false");
    char err[256];
    if (kn_cmd_link(c, on ? cJSON_IsTrue(on) : -1, playing ? cJSON_IsTrue(playing) : -1, err,
                    sizeof err))
        return err_reply(err);
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "link", link_json(c));
    return r;
}

static cJSON *param_json(kn_param_slot *s) {
    cJSON *o = cJSON_CreateObject();
    char name[KN_NAME_MAX];
    snprintf(name, sizeof name, "%.*s", KN_NAME_MAX - 1, s->name); /* bounded: untrusted */
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "value", kn_bitsd(atomic_load(&s->value)));
    cJSON_AddNumberToObject(o, "current", kn_bitsd(atomic_load(&s->current)));
    cJSON_AddNumberToObject(o, "min", kn_bitsd(atomic_load(&s->min)));
    cJSON_AddNumberToObject(o, "max", kn_bitsd(atomic_load(&s->max)));
    cJSON_AddNumberToObject(o, "default", kn_bitsd(atomic_load(&s->def)));
    char bind[48];
    kn_surface_bind_name(atomic_load(&s->bind), bind, sizeof bind);
    if (bind[0]) cJSON_AddStringToObject(o, "bind", bind); /* kn_bind: its surface control */
    return o;
}

static cJSON *cmd_set(kn_conductor *c, const cJSON *req) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "value");
    const cJSON *ramp = cJSON_GetObjectItemCaseSensitive(req, "ramp_ms");
    if (!str_arg(req, "name") || !cJSON_IsNumber(v))
        return err_reply("set needs \"name\" and a finite numeric \"value\"");
    if (ramp && !cJSON_IsNumber(ramp))
        return err_reply("\"ramp_ms\" must be a number of milliseconds, 0..3600000");
    kn_param_slot *s;
    char err[256];
    double at_beat, quant;
    cJSON *r = NULL;
    if (num_arg(req, "at_beat", -1, &at_beat, &r) || num_arg(req, "quant", 0, &quant, &r)) return r;
    if (at_beat >= 0 || quant > 0) { /* a timed set: on its exact frame */
        uint64_t frame;
        if (kn_cmd_when(c, str_arg(req, "deck"), at_beat, quant, &frame, err, sizeof err) ||
            kn_cmd_set_at(c, str_arg(req, "deck"), str_arg(req, "name"), v->valuedouble,
                          ramp ? ramp->valuedouble : 0, frame, err, sizeof err))
            return err_reply(err);
        r = ok_reply();
        cJSON_AddNumberToObject(r, "frame", (double)frame);
        cJSON_AddNumberToObject(r, "beat", kn_timeline_beat(c, frame));
        return r;
    }
    if (kn_cmd_set(c, str_arg(req, "deck"), str_arg(req, "name"), v->valuedouble,
                   ramp ? ramp->valuedouble : 0, &s, err, sizeof err))
        return err_reply(err);
    r = ok_reply();
    cJSON_AddItemToObject(r, "param", param_json(s));
    return r;
}

/* {"cmd":"note","deck":D,"pitch":P,"velocity":V?,"dur":BEATS?,"at_beat":B?,"quant":N?}
 * (note.c); the reply says where it landed. */
static cJSON *cmd_note(kn_conductor *c, const cJSON *req) {
    kn_note nt = {0};
    double ch;
    cJSON *r = NULL;
    char err[256];
    if (num_arg(req, "pitch", -1, &nt.pitch, &r) ||
        num_arg(req, "velocity", 100, &nt.velocity, &r) || num_arg(req, "dur", 0, &nt.dur, &r) ||
        num_arg(req, "at_beat", -1, &nt.at_beat, &r) || num_arg(req, "quant", 0, &nt.quant, &r) ||
        num_arg(req, "channel", 0, &ch, &r))
        return r;
    if (!(ch >= 0 && ch <= 15) || ch != floor(ch))
        return err_reply("\"channel\" must be 0..15 (MIDI's channels 1..16)");
    nt.channel = (int)ch;
    uint64_t frame;
    int late;
    if (kn_cmd_note(c, str_arg(req, "deck"), &nt, &frame, &late, err, sizeof err))
        return err_reply(err);
    r = ok_reply();
    cJSON_AddNumberToObject(r, "frame", (double)frame);
    cJSON_AddNumberToObject(r, "beat", kn_timeline_beat(c, frame));
    cJSON_AddBoolToObject(r, "late", late);
    return r;
}

/* {"cmd":"midi","deck":D,"from":PORT?,"channel":1..16?,"off":bool?} (midi.c) */
static cJSON *cmd_midi(kn_conductor *c, const cJSON *req) {
    double ch;
    cJSON *r = NULL;
    char err[256];
    if (num_arg(req, "channel", 0, &ch, &r)) return r;
    if (ch != floor(ch) || !(ch >= 0 && ch <= 16))
        return err_reply("\"channel\" must be a MIDI channel, 1..16 (0: every channel)");
    if (kn_midi_route(c, str_arg(req, "deck"), str_arg(req, "from"), (int)ch,
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "off")), err, sizeof err))
        return err_reply(err);
    r = ok_reply();
    cJSON_AddItemToObject(r, "routes", kn_midi_routes_json(c));
    return r;
}

static cJSON *cmd_midi_routes(kn_conductor *c, const cJSON *req) {
    (void)req;
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "routes", kn_midi_routes_json(c));
    cJSON_AddItemToObject(r, "midi", kn_midi_json(c));
    return r;
}

/* Parameters the deck's current code declares (removed ones are hidden,
 * and keep their value for when the code declares them again). */
static int param_live(const kn_deck *d, const kn_param_slot *s) {
    uint32_t by = atomic_load(&s->declared_by);
    return by && (by == d->cur.id || (d->cur.st == KN_PROC_NONE && by == d->next.id));
}

static cJSON *cmd_params(kn_conductor *c, const cJSON *req) {
    cJSON *r = NULL;
    kn_deck *d = deck_arg(c, req, &r);
    if (!d) return r;
    r = ok_reply();
    cJSON_AddStringToObject(r, "deck", d->name);
    cJSON *a = cJSON_AddArrayToObject(r, "params");
    uint32_t n = atomic_load_explicit(&d->params->count, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < KN_MAX_PARAMS; i++)
        if (param_live(d, &d->params->slot[i]))
            cJSON_AddItemToArray(a, param_json(&d->params->slot[i]));
    return r;
}

static cJSON *cmd_get(kn_conductor *c, const cJSON *req) {
    cJSON *r = NULL;
    kn_deck *d = deck_arg(c, req, &r);
    if (!d) return r;
    const char *name = str_arg(req, "name");
    kn_param_slot *s = name ? kn_param_find(d, name) : NULL;
    if (!s) {
        char m[160];
        snprintf(m, sizeof m, "deck %s has no parameter '%.40s' (see `kanon params %s`)", d->name,
                 name ? name : "", d->name);
        return err_reply(m);
    }
    r = ok_reply();
    cJSON_AddItemToObject(r, "param", param_json(s));
    return r;
}

static cJSON *mix_json(kn_deck *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddNumberToObject(o, "gain_db", d->gain_db);
    cJSON_AddBoolToObject(o, "mute", d->mute);
    cJSON_AddBoolToObject(o, "solo", d->solo);
    cJSON_AddNumberToObject(o, "pan", d->pan);
    return o;
}

static cJSON *cmd_mix(kn_conductor *c, const cJSON *req) {
    (void)req;
    cJSON *r = ok_reply();
    cJSON *m = cJSON_AddObjectToObject(r, "master");
    cJSON_AddNumberToObject(m, "gain_db", c->master_db);
    cJSON_AddBoolToObject(m, "limiter", atomic_load(&c->mix.limiter_on));
    cJSON *a = cJSON_AddArrayToObject(r, "decks");
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && c->deck[i].name[0]) cJSON_AddItemToArray(a, mix_json(&c->deck[i]));
    return r;
}

/* Any of gain_db, mute, solo, pan for a deck or "master" (kn_cmd_mix). */
static cJSON *cmd_mixer(kn_conductor *c, const cJSON *req) {
    const cJSON *gain = cJSON_GetObjectItemCaseSensitive(req, "gain_db");
    const cJSON *mute = cJSON_GetObjectItemCaseSensitive(req, "mute");
    const cJSON *solo = cJSON_GetObjectItemCaseSensitive(req, "solo");
    const cJSON *pan = cJSON_GetObjectItemCaseSensitive(req, "pan");
    const cJSON *ramp = cJSON_GetObjectItemCaseSensitive(req, "ramp_ms");
    if (gain && !cJSON_IsNumber(gain))
        return err_reply("\"gain_db\" must be a number of dB, -120..24");
    if (pan && !cJSON_IsNumber(pan))
        return err_reply("\"pan\" must be a number, -1 (left) .. 1 (right)");
    if ((mute && !cJSON_IsBool(mute)) || (solo && !cJSON_IsBool(solo)))
        return err_reply("\"mute\" and \"solo\" must be true or false");
    if (ramp && !cJSON_IsNumber(ramp))
        return err_reply("\"ramp_ms\" must be a number of milliseconds, 0..60000");
    kn_mix_change m = {gain != NULL,
                       pan != NULL,
                       mute != NULL,
                       solo != NULL,
                       gain ? gain->valuedouble : 0,
                       pan ? pan->valuedouble : 0,
                       cJSON_IsTrue(mute),
                       cJSON_IsTrue(solo),
                       ramp ? ramp->valuedouble : 10};
    kn_deck *d;
    char err[256];
    if (kn_cmd_mix(c, str_arg(req, "deck"), &m, &d, err, sizeof err)) return err_reply(err);
    if (!d) return cmd_mix(c, req);
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "deck", mix_json(d));
    return r;
}

static cJSON *meter_json(const kn_meter *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "peak_db", m->peak_db);
    cJSON_AddNumberToObject(o, "rms_db", m->rms_db);
    return o;
}

/* {"cmd":"route","src":S,"dst":"D[:PORT]","gain_db":G,"pre":B} */
static cJSON *cmd_route(kn_conductor *c, const cJSON *req) {
    const cJSON *gain = cJSON_GetObjectItemCaseSensitive(req, "gain_db");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(req, "pre");
    if (gain && !cJSON_IsNumber(gain))
        return err_reply("\"gain_db\" must be a number of dB, -120..24");
    if (pre && !cJSON_IsBool(pre)) return err_reply("\"pre\" must be true or false");
    char err[1024];
    if (kn_route_add(c, str_arg(req, "src"), str_arg(req, "dst"), gain ? gain->valuedouble : 0,
                     cJSON_IsTrue(pre), err, sizeof err))
        return err_reply(err);
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "routes", kn_routes_json(c));
    return r;
}

static cJSON *cmd_unroute(kn_conductor *c, const cJSON *req) {
    char err[1024];
    if (kn_route_remove(c, str_arg(req, "src"), str_arg(req, "dst"), err, sizeof err))
        return err_reply(err);
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "routes", kn_routes_json(c));
    return r;
}

static cJSON *cmd_routes(kn_conductor *c, const cJSON *req) {
    (void)req;
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "routes", kn_routes_json(c));
    cJSON_AddNumberToObject(r, "master_latency", (double)c->master_latency);
    return r;
}

static cJSON *cmd_meters(kn_conductor *c, const cJSON *req) {
    (void)req;
    cJSON *r = ok_reply();
    cJSON *m = meter_json(&c->meter[KN_MAX_DECKS]);
    cJSON_AddNumberToObject(m, "limited_frames", (double)atomic_load(&c->mix.limited));
    cJSON_AddItemToObject(r, "master", m);
    cJSON *a = cJSON_AddArrayToObject(r, "decks");
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0]) continue;
        cJSON *o = meter_json(&c->meter[i]);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddNumberToObject(o, "load", d->load);
        cJSON_AddNumberToObject(o, "underruns", (double)atomic_load(&c->mix.deck[i].underruns));
        cJSON_AddNumberToObject(o, "nonfinite", (double)atomic_load(&c->mix.deck[i].nonfinite));
        cJSON_AddItemToArray(a, o);
    }
    return r;
}

/* Why a recording must not write `path` (NULL: it may): the source of a
 * deck (compared as files, so any spelling of the path is caught), or a
 * file that is not a WAV, or not a regular file. */
static const char *record_refusal(kn_conductor *c, const char *path, char *buf, size_t n) {
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (d->used && d->path[0] && kn_same_file(d->path, path)) {
            snprintf(buf, n, "is the source of deck '%s'", d->name);
            return buf;
        }
    }
    return kn_overwrite_refusal(path);
}

/* --stems into `dir`: refused if it is not a directory, or if a file it
 * would write there may not be written (unless forced); created (mkdir -p,
 * 0700) if missing. 0, or -1 with the reason in err. */
static int stems_refusal(kn_conductor *c, const char *dir, const char *shown, int force, char *err,
                         size_t n) {
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(err, n,
                 "%s is not a directory; --stems writes master.wav and one WAV per deck into a "
                 "directory (give a new or existing one)",
                 shown);
        return -1;
    }
    if (stat(dir, &st)) {
        int e = kn_mkdirs(dir);
        if (e) snprintf(err, n, "cannot create the directory %s: %s", shown, strerror(-e));
        return e ? -1 : 0; /* new: nothing in it to overwrite */
    }
    for (int i = -1; i < KN_MAX_DECKS && !force; i++) {
        const char *name = i < 0 ? "master" : c->deck[i].used ? c->deck[i].name : "";
        if (!name[0]) continue;
        char file[4200], why[128];
        snprintf(file, sizeof file, "%s/%s.wav", dir, name);
        const char *refusal = record_refusal(c, file, why, sizeof why);
        if (refusal) {
            snprintf(err, n,
                     "%s/%s.wav %s; refusing to overwrite it (choose another directory, "
                     "or --force)",
                     shown, name, refusal);
            return -1;
        }
    }
    return 0;
}

static cJSON *cmd_record_start(kn_conductor *c, const cJSON *req) {
    const char *arg = str_arg(req, "path");
    if (!arg || arg[0] != '/') return err_reply("record_start needs an absolute \"path\"");
    static char path[4096]; /* control thread only; not on the stack */
    if (snprintf(path, sizeof path, "%s", arg) >= (int)sizeof path)
        return err_reply("record_start: the path is too long");
    const char *display = str_arg(req, "display"); /* the path as the user typed it */
    const char *deck = str_arg(req, "deck");       /* --deck X: X's post-fader signal */
    int stems = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "stems"));
    size_t len = strlen(path); /* DIR/ and DIR are one directory (it names the files in it) */
    while (stems && len > 1 && path[len - 1] == '/') path[--len] = 0;
    int force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "force"));
    const char *shown = display && strlen(display) < 512 ? display : path;
    char err[4200], why[128];
    if (stems && deck) return err_reply("record with --stems or --deck, not both");
    if (deck && !kn_deck_find(c, deck)) {
        snprintf(err, sizeof err, "no deck named '%.64s' to record (see `kanon status`)", deck);
        return err_reply(err);
    }
    if (stems) {
        if (stems_refusal(c, path, shown, force, err, sizeof err)) return err_reply(err);
    } else {
        const char *refusal = record_refusal(c, path, why, sizeof why);
        if (refusal && !force) {
            snprintf(err, sizeof err,
                     "%s %s; refusing to overwrite it (choose another name, or --force)", shown,
                     refusal);
            return err_reply(err);
        }
    }
    kn_rec_opts o = {.mode = stems  ? KN_REC_STEMS
                             : deck ? KN_REC_DECK
                                    : KN_REC_MASTER,
                     .path = path,
                     .deck = deck,
                     .force = force,
                     .rate = c->rate,
                     .lost = kn_audio_lost(c->audio)};
    for (int i = 0; i < KN_MAX_DECKS; i++)
        o.slots[i] = c->deck[i].used && c->deck[i].name[0] ? c->deck[i].name : NULL;
    if (kn_rec_start(c->rec, &o, err, sizeof err)) return err_reply(err);
    if (stems)
        kn_log("recording stems to %s", path);
    else if (deck)
        kn_log("recording deck %s to %s", deck, path);
    else
        kn_log("recording to %s", path);
    cJSON *r = ok_reply();
    cJSON_AddStringToObject(r, "path", path);
    rec_files_json(c, r);
    return r;
}

static cJSON *cmd_record_stop(kn_conductor *c, const cJSON *req) {
    (void)req;
    char err[4200], path[4096] = "";
    kn_rec_stats st;
    kn_rec_active(c->rec, path, sizeof path, &st);
    if (kn_rec_stop(c->rec, kn_audio_callbacks(c->audio), &st, err, sizeof err)) {
        if (path[0]) kn_log("recording stopped: %s", err);
        return err_reply(err);
    }
    kn_log("recording stopped: %llu frames, %llu dropped, %llu lost", (unsigned long long)st.frames,
           (unsigned long long)st.dropped, (unsigned long long)st.lost);
    cJSON *r = ok_reply();
    cJSON_AddStringToObject(r, "path", path);
    rec_files_json(c, r);
    rec_stats_json(c, r, &st);
    return r;
}

static cJSON *cmd_log(kn_conductor *c, const cJSON *req) {
    const char *deck = str_arg(req, "deck");
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(req, "since");
    uint64_t from = !cJSON_IsNumber(since) || !(since->valuedouble > 0) ? 0
                    : since->valuedouble >= (double)c->nevents
                        ? c->nevents /* "only what comes next"; also bounds the cast */
                        : (uint64_t)since->valuedouble;
    uint64_t first = c->nevents > KN_EVENTS ? c->nevents - KN_EVENTS + 1 : 1;
    cJSON *r = ok_reply();
    cJSON_AddNumberToObject(r, "last", (double)c->nevents);
    cJSON *a = cJSON_AddArrayToObject(r, "events");
    for (uint64_t s = from + 1 > first ? from + 1 : first; s <= c->nevents; s++) {
        const kn_log_entry *e = &c->events[(s - 1) % KN_EVENTS];
        if (deck && strcmp(deck, e->deck)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)e->seq);
        cJSON_AddNumberToObject(o, "time", (double)e->rt_ns / 1e9);
        cJSON_AddStringToObject(o, "deck", e->deck);
        cJSON_AddStringToObject(o, "kind", e->kind);
        cJSON_AddStringToObject(o, "text", e->text);
        cJSON_AddNumberToObject(o, "version", e->version);
        if (!strcmp(e->kind, "running") || (!strcmp(e->kind, "tier") && e->swap_ms > 0)) {
            cJSON_AddNumberToObject(o, "compile_ms", e->compile_ms);
            cJSON_AddNumberToObject(o, "test_ms", e->test_ms);
            cJSON_AddNumberToObject(o, "swap_ms", e->swap_ms);
            cJSON_AddNumberToObject(o, "ready_ms", e->ready_ms);
        }
        cJSON_AddItemToArray(a, o);
    }
    return r;
}

static cJSON *cmd_history(kn_conductor *c, const cJSON *req) {
    cJSON *r = NULL;
    kn_deck *d = deck_arg(c, req, &r);
    if (!d) return r;
    r = ok_reply();
    cJSON_AddStringToObject(r, "dir", c->history_dir);
    cJSON_AddNumberToObject(r, "current", d->version);
    cJSON_AddItemToObject(r, "versions", kn_history_list(c, d));
    return r;
}

static cJSON *cmd_revert(kn_conductor *c, const cJSON *req) {
    cJSON *r = NULL;
    kn_deck *d = deck_arg(c, req, &r);
    if (!d) return r;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "version");
    char err[1024];
    uint32_t id;
    if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble <= 1e6)))
        return err_reply("\"version\" must be a version number (see `kanon history DECK`)");
    if (kn_deck_revert(c, d, v ? (int)v->valuedouble : 0, &id, err, sizeof err))
        return err_reply(err);
    r = ok_reply();
    cJSON_AddStringToObject(r, "deck", d->name);
    cJSON_AddNumberToObject(r, "id", id);
    return r;
}

/* Replies to the last requests that carried an id and changed something: a
 * resent request (nng REQ resends on reconnect) is answered again, not
 * executed twice. Read-only commands are not cached (they are harmless to
 * repeat), so polling cannot push a `play` out of the cache. */
#define REQ_CACHE 256
static struct {
    char id[64];
    char *reply;
} req_cache[REQ_CACHE];
static unsigned req_next;

static char *cached_reply(const char *id) {
    for (int i = 0; id && i < REQ_CACHE; i++)
        if (req_cache[i].reply && !strcmp(req_cache[i].id, id)) return strdup(req_cache[i].reply);
    return NULL;
}

static void cache_reply(const char *id, const char *reply) {
    if (!id || strlen(id) >= sizeof req_cache[0].id) return;
    unsigned i = req_next++ % REQ_CACHE;
    free(req_cache[i].reply);
    snprintf(req_cache[i].id, sizeof req_cache[i].id, "%s", id);
    req_cache[i].reply = strdup(reply);
}

static cJSON *cmd_ping(kn_conductor *c, const cJSON *req) {
    (void)c;
    (void)req;
    cJSON *r = ok_reply();
    cJSON_AddNumberToObject(r, "pid", getpid());
    return r;
}

/* origin: the file the user named, when path is a copy of it (a session's);
 * check: only whether it would load. */
static cJSON *cmd_map_load(kn_conductor *c, const cJSON *req) {
    const char *path = str_arg(req, "path"), *origin = str_arg(req, "origin");
    char err[600];
    if (!path || path[0] != '/') return err_reply("map_load needs an absolute \"path\"");
    if (kn_surface_load_as(c, path, origin ? origin : path,
                           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "check")), err,
                           sizeof err))
        return err_reply(err);
    return ok_reply();
}

/* The control-surface map in force, as loaded: {path, content} or null. */
static cJSON *cmd_map(kn_conductor *c, const cJSON *req) {
    (void)c;
    (void)req;
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "map", kn_surface_json());
    return r;
}

/* {"cmd":"learn","deck":D,"param":P,"timeout":S,"log":B}: arms learning;
 * with "cc" (and "from": a port, "channel": 1..16) binds at once instead;
 * {"cmd":"learn","cancel":true}. Replies with the bindings. */
/* ok, and the bindings as they are now (learn, unlearn, learned). */
static cJSON *learn_reply(void) {
    cJSON *r = ok_reply();
    cJSON_AddItemToObject(r, "learn", kn_learn_json());
    return r;
}

static cJSON *cmd_learn(kn_conductor *c, const cJSON *req) {
    char err[512];
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(req, "cc");
    const cJSON *tmo = cJSON_GetObjectItemCaseSensitive(req, "timeout");
    int log = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "log")), e;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "cancel"))) {
        kn_learn_cancel();
        e = 0;
    } else if (cc) {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(req, "channel");
        if (!cJSON_IsNumber(cc) || (ch && !cJSON_IsNumber(ch)))
            return err_reply("\"cc\" and \"channel\" must be numbers");
        e = kn_learn_bind(c, str_arg(req, "deck"), str_arg(req, "param"), str_arg(req, "from"),
                          ch ? ch->valueint : 1, cc->valueint, log, err, sizeof err);
    } else {
        if (tmo && !cJSON_IsNumber(tmo)) return err_reply("\"timeout\" must be seconds");
        e = kn_learn_arm(c, str_arg(req, "deck"), str_arg(req, "param"),
                         tmo ? tmo->valuedouble : 10, log, err, sizeof err);
    }
    if (e) return err_reply(err);
    return learn_reply();
}

static cJSON *cmd_unlearn(kn_conductor *c, const cJSON *req) {
    (void)c;
    char err[512];
    if (kn_learn_forget(str_arg(req, "deck"), str_arg(req, "param"), err, sizeof err))
        return err_reply(err);
    return learn_reply();
}

static cJSON *cmd_learned(kn_conductor *c, const cJSON *req) {
    (void)c;
    (void)req;
    return learn_reply();
}

static cJSON *cmd_down(kn_conductor *c, const cJSON *req) {
    (void)req;
    c->quit = 1;
    return ok_reply();
}

/* Every command; `mutating` ones cache their reply by request id. */
static const struct command {
    const char *name;
    cJSON *(*run)(kn_conductor *c, const cJSON *req);
    int mutating;
} commands[] = {
    {"ping", cmd_ping, 0},
    {"status", cmd_status, 0},
    {"play", cmd_play, 1},
    {"result", cmd_result, 0},
    {"stop", cmd_stop, 1},
    {"quant", cmd_quant, 1},
    {"tempo", cmd_tempo, 1},
    {"link", cmd_link, 1},
    {"set", cmd_set, 1},
    {"note", cmd_note, 1},
    {"midi", cmd_midi, 1},
    {"midi_routes", cmd_midi_routes, 0},
    {"params", cmd_params, 0},
    {"get", cmd_get, 0},
    {"record_start", cmd_record_start, 1},
    {"record_stop", cmd_record_stop, 1},
    {"log", cmd_log, 0},
    {"history", cmd_history, 0},
    {"revert", cmd_revert, 1},
    {"mix", cmd_mix, 0},
    {"mixer", cmd_mixer, 1},
    {"route", cmd_route, 1},
    {"unroute", cmd_unroute, 1},
    {"routes", cmd_routes, 0},
    {"meters", cmd_meters, 0},
    {"map_load", cmd_map_load, 1},
    {"map", cmd_map, 0},
    {"learn", cmd_learn, 1},
    {"unlearn", cmd_unlearn, 1},
    {"learned", cmd_learned, 0},
    {"start", kn_session_cmd_start, 1},
    {"discard", kn_session_cmd_discard, 1},
    {"down", cmd_down, 1},
};

char *kn_control_dispatch(kn_conductor *c, const char *text, size_t len) {
    cJSON *req = cJSON_ParseWithLength(text, len);
    const char *name = str_arg(req, "cmd");
    const struct command *cmd = NULL;
    for (size_t i = 0; name && i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) cmd = &commands[i];
    const char *rid = cmd && cmd->mutating ? str_arg(req, "req") : NULL;
    char *again = cached_reply(rid);
    if (again) {
        cJSON_Delete(req);
        return again;
    }
    cJSON *r;
    if (!req || !cJSON_IsObject(req)) {
        r = err_reply("malformed request: expected a JSON object like {\"cmd\":\"status\"}");
    } else if (!name) {
        r = err_reply("malformed request: missing \"cmd\"");
    } else if (!cmd) {
        char m[128];
        snprintf(m, sizeof m, "unknown command '%.40s' (see `kanon --help`)", name);
        r = err_reply(m);
    } else {
        r = cmd->run(c, req);
    }
    char *out = cJSON_PrintUnformatted(r);
    if (out) cache_reply(rid, out);
    cJSON_Delete(r);
    cJSON_Delete(req);
    return out;
}

void kn_control_handle(kn_conductor *c) {
    for (int i = 0; i < 64; i++) { /* bounded: the loop gets back to other fds */
        nng_msg *m;
        if (nng_recvmsg(sock, &m, NNG_FLAG_NONBLOCK)) return;
        char *reply = kn_control_dispatch(c, nng_msg_body(m), nng_msg_len(m));
        nng_msg_clear(m);
        if (reply) nng_msg_append(m, reply, strlen(reply));
        free(reply);
        if (nng_sendmsg(sock, m, 0)) nng_msg_free(m);
    }
}
