/*
 * events.c - `kanon render --events FILE`: timed events given by beat.
 *
 *   [{"beat": 1.01, "param": "v", "value": 0.3},
 *    {"beat": 2, "note": 60, "velocity": 100, "dur": 0.5},
 *    {"beat": 3, "trig": 1},
 *    {"beat": 4, "cc": 64, "value": 127}]
 *
 * Each entry has a "beat" (>= 0) and exactly one of:
 *   "param" NAME with "value" (and optionally "ramp", ms): a timed set;
 *   "note" 0..127 with optional "velocity" (0..127, default 100; 0 is a
 *     note off), "dur" (beats: a NOTE_OFF that many beats later) and
 *     "channel" (0..15, default 0);
 *   "trig" VALUE with optional "channel";
 *   "cc" 0..127 (the controller) with "value" (0..127, whole: MIDI's) and
 *     optional "channel": a KN_EV_CC, e.g. 64 the sustain pedal.
 * Anything else (an unknown key, a key of another kind, a missing or
 * out-of-range field) is an error naming the entry, and nothing is
 * rendered: a typo must not give a render that silently lacks an event.
 *
 * Beats become timeline frames with the render's tempo map, by the rule
 * every timed thing in kanon follows (timeline.h): the first frame at or
 * past the beat. The file is read and checked before the code is compiled
 * (the sandbox comes with the compile); parameter names are resolved once
 * setup() has declared them. The events then go through the cartridge's
 * event queue, exactly as a live deck's do (render.c).
 */
#include "cartridge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_FILE_MAX (16u << 20)

typedef struct pending {
    kn_ev_slot s;
    char name[KN_NAME_MAX]; /* PARAM: resolved to s.param by kn_events_bind */
    int entry;              /* 1-based, for messages */
    size_t order;           /* ties at one frame keep the file's order */
} pending;

struct kn_events {
    char path[1024];
    pending *ev;
    size_t n, cap;
    char **what; /* per entry: a short rendering, for messages */
    int entries;
    kn_ev_slot *slots; /* bound and sorted */
};

static int push(kn_events *e, const pending *p) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        pending *ev = realloc(e->ev, cap * sizeof *ev);
        if (!ev) return -1;
        e->ev = ev;
        e->cap = cap;
    }
    e->ev[e->n] = *p;
    e->ev[e->n].order = e->n;
    e->n++;
    return 0;
}

/* "entry 3 {"beat":-1,"trig":1}": the entry as the user wrote it, cut to
 * a line. */
static char *describe(const cJSON *item, int index) {
    char *json = cJSON_PrintUnformatted(item), *out = malloc(128);
    if (!out) {
        free(json);
        return NULL;
    }
    const char *j = json ? json : "";
    snprintf(out, 128, "entry %d %.60s%s", index, j, strlen(j) > 60 ? "..." : "");
    free(json);
    return out;
}

static int fail(char *err, size_t n, const char *path, const char *what, const char *why) {
    snprintf(err, n, "%s: error: %s%s%s", path, what ? what : "", what ? ": " : "", why);
    return -1;
}

/* A number field: 1 if present and a number in lo..hi (whole if asked),
 * 0 if absent; -1 with err filled otherwise. */
static int number(const cJSON *o, const char *key, double lo, double hi, int whole, double *v,
                  char *why, size_t n) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!f) return 0;
    *v = f->valuedouble;
    if (!cJSON_IsNumber(f) || !isfinite(*v) || *v < lo || *v > hi || (whole && *v != floor(*v))) {
        snprintf(why, n, "\"%s\" must be %s %g..%g%s", key, whole ? "a whole number" : "a number",
                 lo, hi, cJSON_IsNumber(f) ? "" : " (not a number)");
        return -1;
    }
    return 1;
}

static const char *const KEYS[] = {"beat",     "param", "value",   "ramp", "note",
                                   "velocity", "dur",   "channel", "trig", "cc"};

/* Checks one entry and appends its events. 0, or -1 with why[] filled. */
static int entry(kn_events *e, const cJSON *o, const kn_tempo_map *map, double rate, int index,
                 char *why, size_t n) {
    if (!cJSON_IsObject(o)) return snprintf(why, n, "not an object"), -1;
    for (const cJSON *f = o->child; f; f = f->next) {
        size_t k = 0;
        while (k < sizeof KEYS / sizeof *KEYS && strcmp(f->string, KEYS[k])) k++;
        if (k == sizeof KEYS / sizeof *KEYS)
            return snprintf(why, n,
                            "unknown key \"%.40s\" (known: beat, param, value, ramp, note, "
                            "velocity, dur, channel, trig, cc)",
                            f->string),
                   -1;
    }
    double beat, v;
    int r = number(o, "beat", 0, 1e12, 0, &beat, why, n);
    if (r < 0) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "beat");
        if (cJSON_IsNumber(b) && b->valuedouble < 0)
            snprintf(why, n, "negative \"beat\" (%g): beats count from 0", b->valuedouble);
        return -1;
    }
    if (!r) return snprintf(why, n, "no \"beat\""), -1;
    const cJSON *param = cJSON_GetObjectItemCaseSensitive(o, "param");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(o, "note");
    const cJSON *trig = cJSON_GetObjectItemCaseSensitive(o, "trig");
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(o, "cc");
    int kinds = !!param + !!note + !!trig + !!cc;
    if (kinds != 1)
        return snprintf(why, n, "%s",
                        kinds ? "has more than one of \"param\", \"note\", \"trig\" and \"cc\""
                              : "needs one of \"param\", \"note\", \"trig\" or \"cc\""),
               -1;
    /* keys that belong to another kind of event are mistakes too */
    static const char *const only_note[] = {"velocity", "dur"};
    for (int i = 0; i < 2; i++)
        if (!note && cJSON_GetObjectItemCaseSensitive(o, only_note[i]))
            return snprintf(why, n, "\"%s\" belongs to a \"note\" event", only_note[i]), -1;
    if (!param && cJSON_GetObjectItemCaseSensitive(o, "ramp"))
        return snprintf(why, n, "\"ramp\" belongs to a \"param\" event"), -1;
    if (!param && !cc && cJSON_GetObjectItemCaseSensitive(o, "value"))
        return snprintf(why, n, "\"value\" belongs to a \"param\" or \"cc\" event"), -1;
    if (param && cJSON_GetObjectItemCaseSensitive(o, "channel"))
        return snprintf(why, n, "\"channel\" belongs to a \"note\", \"trig\" or \"cc\" event"), -1;
    pending p = {.entry = index};
    p.s.frame = kn_tempo_beat_frame(map, rate, beat);
    double ch = 0;
    if (!param && number(o, "channel", 0, 15, 1, &ch, why, n) < 0) return -1;
    p.s.channel = (int32_t)ch;
    if (param) {
        const char *name = cJSON_GetStringValue(param);
        size_t len = name ? strlen(name) : 0;
        if (!len || len >= KN_NAME_MAX)
            return snprintf(why, n, "\"param\" must be a name of 1..%d characters",
                            KN_NAME_MAX - 1),
                   -1;
        memcpy(p.name, name, len + 1);
        if ((r = number(o, "value", -1e300, 1e300, 0, &v, why, n)) <= 0)
            return r ? -1 : (snprintf(why, n, "\"param\" needs a \"value\""), -1);
        double ramp = 0;
        if (number(o, "ramp", 0, 3600000, 0, &ramp, why, n) < 0) return -1;
        p.s.type = KN_EVQ_PARAM;
        p.s.value = v;
        p.s.ramp = ramp;
        return push(e, &p) ? (snprintf(why, n, "out of memory"), -1) : 0;
    }
    if (cc) {
        double control;
        if (number(o, "cc", 0, 127, 1, &control, why, n) <= 0) return -1;
        if ((r = number(o, "value", 0, 127, 1, &v, why, n)) <= 0)
            return r ? -1 : (snprintf(why, n, "\"cc\" needs a \"value\" (0..127)"), -1);
        p.s.type = KN_EVQ_CC;
        p.s.note = (int32_t)control; /* the queue keeps the controller in `note` */
        p.s.value = v;
        return push(e, &p) ? (snprintf(why, n, "out of memory"), -1) : 0;
    }
    if (trig) {
        if (number(o, "trig", -1e300, 1e300, 0, &v, why, n) <= 0) return -1;
        p.s.type = KN_EVQ_TRIG;
        p.s.value = v;
        return push(e, &p) ? (snprintf(why, n, "out of memory"), -1) : 0;
    }
    double nt, vel = 100, dur = 0;
    if (number(o, "note", 0, 127, 1, &nt, why, n) <= 0) return -1;
    if (number(o, "velocity", 0, 127, 1, &vel, why, n) < 0) return -1;
    if ((r = number(o, "dur", 0, 1e12, 0, &dur, why, n)) < 0) return -1;
    if (r && !(dur > 0)) return snprintf(why, n, "\"dur\" must be more than 0 beats"), -1;
    if (r && vel == 0) return snprintf(why, n, "a note off (velocity 0) takes no \"dur\""), -1;
    p.s.type = vel > 0 ? KN_EVQ_NOTE_ON : KN_EVQ_NOTE_OFF;
    p.s.note = (int32_t)nt;
    p.s.velocity = (int32_t)vel;
    if (push(e, &p)) return snprintf(why, n, "out of memory"), -1;
    if (!r) return 0;
    p.s.type = KN_EVQ_NOTE_OFF; /* right after its NOTE_ON: at a shared frame, off before on */
    p.s.velocity = 0;
    p.s.frame = kn_tempo_beat_frame(map, rate, beat + dur);
    return push(e, &p) ? (snprintf(why, n, "out of memory"), -1) : 0;
}

void kn_events_free(kn_events *e) {
    if (!e) return;
    for (int i = 0; i < e->entries; i++) free(e->what[i]);
    free(e->what);
    free(e->ev);
    free(e->slots);
    free(e);
}

/* The line of a byte offset, for a JSON syntax error. */
static int line_of(const char *text, const char *at) {
    int line = 1;
    for (const char *s = text; s < at && *s; s++) line += *s == '\n';
    return line;
}

kn_events *kn_events_load(const char *path, const kn_tempo_map *map, double rate, char *err,
                          size_t errlen) {
    kn_events *e = calloc(1, sizeof *e);
    if (!e) return fail(err, errlen, path, NULL, "out of memory"), NULL;
    snprintf(e->path, sizeof e->path, "%s", path);
    char why[256];
    FILE *f = fopen(path, "rb");
    char *text = f ? malloc(EVENTS_FILE_MAX + 1) : NULL;
    size_t len = text ? fread(text, 1, EVENTS_FILE_MAX + 1, f) : 0;
    int rerr = f && ferror(f);
    if (!f || !text || rerr || len > EVENTS_FILE_MAX) {
        if (!f || rerr)
            snprintf(why, sizeof why, "cannot read the events file: %s", strerror(errno));
        else
            snprintf(why, sizeof why, "%s",
                     text ? "the events file is larger than 16 MiB" : "out of memory");
        if (f) fclose(f);
        free(text);
        kn_events_free(e);
        fail(err, errlen, path, NULL, why);
        return NULL;
    }
    fclose(f);
    text[len] = 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = at && at >= text && at <= text + len ? line_of(text, at) : 0;
        snprintf(err, errlen, "%s:%d: error: not valid JSON (near \"%.20s\")", path, line,
                 at && line ? at : "");
        free(text);
        kn_events_free(e);
        return NULL;
    }
    free(text);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        kn_events_free(e);
        fail(err, errlen, path, NULL,
             "the events must be a JSON array of objects, e.g. "
             "[{\"beat\": 1, \"param\": \"cutoff\", \"value\": 800}]");
        return NULL;
    }
    int count = cJSON_GetArraySize(root), index = 0;
    e->what = calloc((size_t)count + 1, sizeof *e->what);
    if (!e->what) {
        cJSON_Delete(root);
        kn_events_free(e);
        fail(err, errlen, path, NULL, "out of memory");
        return NULL;
    }
    for (const cJSON *o = root->child; o; o = o->next) {
        e->what[index] = describe(o, index + 1);
        e->entries = ++index;
        if (entry(e, o, map, rate, index, why, sizeof why)) {
            fail(err, errlen, path, e->what[index - 1], why);
            cJSON_Delete(root);
            kn_events_free(e);
            return NULL;
        }
    }
    cJSON_Delete(root);
    return e;
}

static int by_frame(const void *a, const void *b) {
    const pending *x = a, *y = b;
    if (x->s.frame != y->s.frame) return x->s.frame < y->s.frame ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int kn_events_bind(kn_events *e, const kn_cart *c, char *err, size_t errlen) {
    for (size_t i = 0; i < e->n; i++) {
        pending *p = &e->ev[i];
        if (p->s.type != KN_EVQ_PARAM) continue;
        int found = -1;
        for (int k = 0; k < c->nlocal && found < 0; k++)
            if (!strncmp(c->params->slot[c->local[k].slot].name, p->name, KN_NAME_MAX))
                found = (int)c->local[k].slot;
        if (found >= 0) {
            p->s.param = (uint32_t)found;
            continue;
        }
        char why[600];
        int at = snprintf(why, sizeof why, "unknown param \"%s\" (", p->name);
        if (!c->nlocal) at += snprintf(why + at, sizeof why - (size_t)at, "the file declares none");
        for (int k = 0; k < c->nlocal && at < (int)sizeof why - 40; k++)
            at += snprintf(why + at, sizeof why - (size_t)at, "%s%.31s",
                           k ? ", " : "the file declares ", c->params->slot[c->local[k].slot].name);
        snprintf(why + at, sizeof why - (size_t)at, ")");
        return fail(err, errlen, e->path, e->what[p->entry - 1], why);
    }
    qsort(e->ev, e->n, sizeof *e->ev, by_frame);
    free(e->slots);
    e->slots = malloc((e->n ? e->n : 1) * sizeof *e->slots);
    if (!e->slots) return fail(err, errlen, e->path, NULL, "out of memory");
    for (size_t i = 0; i < e->n; i++) e->slots[i] = e->ev[i].s;
    return 0;
}

const kn_ev_slot *kn_events_slots(const kn_events *e, size_t *n) {
    *n = e ? e->n : 0;
    return e ? e->slots : NULL;
}
