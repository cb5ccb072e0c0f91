/*
 * session.c - what `kanon session load` needs of the conductor: a group
 * of versions that start together, on one timeline frame.
 *
 *   play {..., "source_file": PATH}   the version's text is read from PATH
 *                                     (the deck still watches and includes
 *                                     from "file"): a session's copy of it
 *   play {..., "start_beat": B}       a new deck's first sample falls on
 *                                     beat B's frame; on a playing deck the
 *                                     version takes over there (late: whole
 *                                     bars later, timeline.c)
 *   play {..., "params": {N: V}}      a new deck's code starts with these
 *                                     values (presets in its parameter
 *                                     segment, kept by kn_param_decl): the
 *                                     first sample already has them
 *   play {..., "hold": true}          the version compiles and test-renders,
 *                                     then waits (`result` says "held")
 *   start {"decks": [...], "start_beat"?: B, "lead_ms"?: MS}
 *                                     releases the held versions together:
 *                                     every new deck's first sample and
 *                                     every swap's takeover on beat B (by
 *                                     default the next bar line at least
 *                                     lead_ms past what the decks render)
 *   discard {"decks": [...]}          drops held versions: a playing deck
 *                                     plays on, a new deck goes away
 *
 * A held version waits with its cartridge compiled and tested, not yet
 * holding the token: so every deck of a group is ready before the group's
 * beat is chosen, however long each took to compile, and only setup()
 * (for a new deck) or the handover (a swap) lies between `start` and the
 * beat. A held version that is not started within HOLD_MAX_S is dropped
 * (the command that held it went away). Control thread only.
 */
#include "conductor.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define HOLD_MAX_S   60  /* the text in kn_session_tick says so */
#define LEAD_MS_BASE 500 /* `start` without a beat: this, plus LEAD_MS_DECK per deck */
#define LEAD_MS_DECK 100

static cJSON *reply_ok(void) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", 1);
    return r;
}

static cJSON *reply_err(const char *msg) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", 0);
    cJSON_AddStringToObject(r, "error", msg);
    return r;
}

/* ------------------------------------------------------------- play */

int kn_session_play_args(const cJSON *req, kn_play_opts *o, kn_preset *buf, int max, char *err,
                         size_t n) {
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(req, "source_file");
    const cJSON *beat = cJSON_GetObjectItemCaseSensitive(req, "start_beat");
    const cJSON *hold = cJSON_GetObjectItemCaseSensitive(req, "hold");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
    if (src) {
        if (!cJSON_IsString(src) || src->valuestring[0] != '/' ||
            strlen(src->valuestring) >= 4096) {
            snprintf(err, n, "\"source_file\" must be an absolute path to the version's text");
            return -EINVAL;
        }
        o->source = src->valuestring;
    }
    if (beat) {
        if (!cJSON_IsNumber(beat) || !(beat->valuedouble >= 0 && beat->valuedouble <= 1e12)) {
            snprintf(err, n, "\"start_beat\" must be a beat number, 0..1e12");
            return -EINVAL;
        }
        if (o->quant > 0) {
            snprintf(err, n, "give \"start_beat\" (a beat) or \"quant\" (a grid), not both");
            return -EINVAL;
        }
        o->has_start_beat = 1;
        o->start_beat = beat->valuedouble;
    }
    if (hold && !cJSON_IsBool(hold)) {
        snprintf(err, n, "\"hold\" must be true or false");
        return -EINVAL;
    }
    o->hold = cJSON_IsTrue(hold);
    if (params && !cJSON_IsObject(params)) {
        snprintf(err, n, "\"params\" must be an object of parameter names and values");
        return -EINVAL;
    }
    const cJSON *p;
    o->npresets = 0;
    o->presets = buf;
    cJSON_ArrayForEach(p, params) {
        size_t len = strlen(p->string);
        if (!len || len >= KN_NAME_MAX) {
            snprintf(err, n, "\"params\": a parameter name is 1..%d characters (got '%.40s')",
                     KN_NAME_MAX - 1, p->string);
            return -EINVAL;
        }
        if (!cJSON_IsNumber(p) || !isfinite(p->valuedouble)) {
            snprintf(err, n, "\"params\": %s must be a finite number", p->string);
            return -EINVAL;
        }
        if (o->npresets >= max) {
            snprintf(err, n, "\"params\": at most %d parameters", max);
            return -EINVAL;
        }
        snprintf(buf[o->npresets].name, KN_NAME_MAX, "%s", p->string);
        buf[o->npresets++].value = p->valuedouble;
    }
    return 0;
}

/* A deck nothing of which has run yet: presets cannot race a cartridge. */
static int fresh(const kn_deck *d) {
    return (d->hs == KN_HS_IDLE || d->hs == KN_HS_COMPILING) && d->cur.st == KN_PROC_NONE &&
           d->dying.st == KN_PROC_NONE && atomic_load(&d->ring->ctl.owner) == 0;
}

int kn_session_play_check(kn_conductor *c, kn_deck *d, const kn_play_opts *o, char *err, size_t n) {
    (void)c;
    if (o->npresets && d && !fresh(d)) {
        snprintf(err, n,
                 "deck %s already plays: \"params\" presets are for a new deck (set a playing "
                 "deck's parameters with `set`)",
                 d->name);
        return -EBUSY;
    }
    return 0;
}

/* Like the cartridge's kn_param_preset (cartridge/api.c): a slot the code
 * has not declared yet holds the value; declaring it keeps the value
 * (clamped to the declared range) and starts there, without a glide. */
static void preset(kn_param_seg *ps, const char *name, double value) {
    uint32_t count = atomic_load_explicit(&ps->count, memory_order_acquire);
    if (count > KN_MAX_PARAMS) count = KN_MAX_PARAMS;
    for (uint32_t i = 0; i < count; i++) {
        kn_param_slot *s = &ps->slot[i];
        if (strncmp(s->name, name, KN_NAME_MAX)) continue;
        atomic_store(&s->value, kn_dbits(value));
        atomic_store(&s->current, kn_dbits(value));
        return;
    }
    if (count >= KN_MAX_PARAMS) return; /* checked: at most KN_MAX_PARAMS presets */
    kn_param_slot *s = &ps->slot[count];
    memset(s->name, 0, sizeof s->name);
    memcpy(s->name, name, strnlen(name, KN_NAME_MAX - 1));
    atomic_store(&s->min, kn_dbits(-INFINITY));
    atomic_store(&s->max, kn_dbits(INFINITY));
    atomic_store(&s->def, kn_dbits(value));
    atomic_store(&s->value, kn_dbits(value));
    atomic_store(&s->current, kn_dbits(value));
    atomic_store(&s->ramp, kn_dbits(0));
    atomic_store(&s->seq, 0);
    atomic_store(&s->declared_by, 0);
    atomic_store_explicit(&ps->count, count + 1, memory_order_release);
}

void kn_session_play_presets(kn_deck *d, const kn_play_opts *o) {
    if (!fresh(d)) return;
    for (int i = 0; i < o->npresets; i++)
        preset(d->params, o->presets[i].name, o->presets[i].value);
}

void kn_session_play_done(kn_conductor *c, kn_deck *d, const kn_play_opts *o, uint32_t id) {
    (void)c;
    d->at_for = 0;
    if (o->has_start_beat) {
        d->at_for = id;
        d->at_beat = o->start_beat;
    }
    d->hold_for = 0;
    if (o->hold && d->next.id == id && (d->hs == KN_HS_COMPILING || d->hs == KN_HS_SWAPPING)) {
        d->hold_for = id;
        d->hold_ns = kn_mono_ns();
    }
}

/* ------------------------------------------------------ start, discard */

/* The decks a request names ("decks": [names]); 0, or an error reply. */
static cJSON *named_decks(kn_conductor *c, const cJSON *req, kn_deck **out, int *n, int strict) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, "decks"), *e;
    char m[200];
    *n = 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > KN_MAX_DECKS) {
        snprintf(m, sizeof m, "\"decks\" must be an array of 1..%d deck names", KN_MAX_DECKS);
        return reply_err(m);
    }
    cJSON_ArrayForEach(e, a) {
        const char *name = cJSON_GetStringValue(e);
        kn_deck *d = name ? kn_deck_find(c, name) : NULL;
        if (!d && strict) {
            snprintf(m, sizeof m, "no deck named '%.40s' (see `kanon status`)", name ? name : "");
            return reply_err(m);
        }
        for (int i = 0; d && i < *n; i++)
            if (out[i] == d) d = NULL; /* named twice */
        if (d) out[(*n)++] = d;
    }
    return NULL;
}

cJSON *kn_session_cmd_start(kn_conductor *c, const cJSON *req) {
    kn_deck *decks[KN_MAX_DECKS];
    int n;
    char m[300];
    cJSON *r = named_decks(c, req, decks, &n, 1);
    if (r) return r;
    for (int i = 0; i < n; i++) {
        kn_deck *d = decks[i];
        if (kn_handover_held(d)) continue;
        if (d->hold_for && d->hold_for == d->next.id && d->next.st == KN_PROC_COMPILING)
            snprintf(m, sizeof m,
                     "busy: deck %s is still compiling its held version; start once `result` "
                     "says held",
                     d->name);
        else
            snprintf(m, sizeof m, "deck %s has no held version (play it with \"hold\": true)",
                     d->name);
        return reply_err(m);
    }
    const cJSON *beat = cJSON_GetObjectItemCaseSensitive(req, "start_beat");
    const cJSON *lead_ms = cJSON_GetObjectItemCaseSensitive(req, "lead_ms");
    if (beat && (!cJSON_IsNumber(beat) || !(beat->valuedouble >= 0 && beat->valuedouble <= 1e12)))
        return reply_err("\"start_beat\" must be a beat number, 0..1e12");
    if (lead_ms &&
        (!cJSON_IsNumber(lead_ms) || !(lead_ms->valuedouble >= 0 && lead_ms->valuedouble <= 60000)))
        return reply_err("\"lead_ms\" must be a number of milliseconds, 0..60000");
    /* what no deck has rendered yet, and the time setup() and the handovers may take */
    uint64_t soon = kn_timeline_now(c) + c->target + (uint64_t)c->block;
    double ms = lead_ms ? lead_ms->valuedouble : LEAD_MS_BASE + LEAD_MS_DECK * n;
    uint64_t from = soon + (uint64_t)(ms * c->rate / 1000.0);
    double b;
    uint64_t at;
    if (beat) {
        b = beat->valuedouble;
        at = kn_tempo_beat_frame(&c->tempo, c->rate, b);
        if (at < soon) {
            snprintf(m, sizeof m,
                     "beat %.6g is too close (it plays at timeline frame %llu; the decks have "
                     "rendered up to about %llu): give a later beat, or none",
                     b, (unsigned long long)at, (unsigned long long)soon);
            return reply_err(m);
        }
    } else {
        double bar = kn_tempo_bar(&c->tempo, (double)from);
        at = kn_timeline_grid(c, from, bar);
        b = round(kn_timeline_beat(c, at) / bar) * bar; /* on the grid line, exactly */
        at = kn_tempo_beat_frame(&c->tempo, c->rate, b);
    }
    for (int i = 0; i < n; i++) {
        kn_deck *d = decks[i];
        d->at_for = d->next.id;
        d->at_beat = b;
        if (d->cur.st != KN_PROC_NONE) /* a new deck says where it starts once it is placed */
            kn_deck_event(c, d, "note",
                          "cartridge %u takes over on beat %.6g (timeline frame %llu)", d->next.id,
                          b, (unsigned long long)at);
        kn_handover_release(c, d);
    }
    r = reply_ok();
    cJSON_AddNumberToObject(r, "start_beat", b);
    cJSON_AddNumberToObject(r, "start_frame", (double)at);
    return r;
}

/* Drops the deck's held version (compiled or not); a deck left with
 * nothing to play (also one whose version was refused) goes away. 1 if
 * something was dropped. */
static int discard(kn_conductor *c, kn_deck *d, const char *why) {
    int held = d->hold_for && d->hold_for == d->next.id && d->next.st != KN_PROC_NONE;
    if (held) kn_handover_discard(c, d, why);
    if (d->cur.st == KN_PROC_NONE && d->next.st == KN_PROC_NONE && d->hs == KN_HS_IDLE) {
        char name[KN_NAME_MAX], err[256];
        snprintf(name, sizeof name, "%s", d->name);
        kn_deck_stop(c, name, err, sizeof err);
        return 1;
    }
    return held;
}

cJSON *kn_session_cmd_discard(kn_conductor *c, const cJSON *req) {
    kn_deck *decks[KN_MAX_DECKS];
    int n;
    cJSON *r = named_decks(c, req, decks, &n, 0);
    if (r) return r;
    r = reply_ok();
    cJSON *a = cJSON_AddArrayToObject(r, "discarded");
    for (int i = 0; i < n; i++) {
        char name[KN_NAME_MAX];
        snprintf(name, sizeof name, "%s", decks[i]->name);
        if (discard(c, decks[i], "its group did not start"))
            cJSON_AddItemToArray(a, cJSON_CreateString(name));
    }
    return r;
}

void kn_session_tick(kn_conductor *c) {
    uint64_t now = kn_mono_ns();
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (d->used && d->name[0] && kn_handover_held(d) &&
            now - d->hold_ns > HOLD_MAX_S * 1000000000ull)
            discard(c, d,
                    "held for 60 s, and its group did not start (the command that held it "
                    "went away?)");
    }
}

void kn_session_deck_json(kn_conductor *c, kn_deck *d, cJSON *o) {
    cJSON_AddBoolToObject(o, "held", kn_handover_held(d));
    if (!kn_timeline_deck_locked(c, d)) return;
    cJSON_AddBoolToObject(o, "start_late", d->start_late);
    if (d->start_late) cJSON_AddNumberToObject(o, "start_asked_beat", d->asked_beat);
}
