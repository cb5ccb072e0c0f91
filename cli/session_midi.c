/*
 * session_midi.c - the MIDI part of a session:
 *   "midi"   the MIDI routes (`kanon midi`), an array of {"deck", "from",
 *            "channel"} as `kanon midi --json` prints them (from: "any",
 *            "midi_in", "midi_in_N"; channel 1..16, 0 for every channel);
 *   "learn"  the MIDI learn bindings (`kanon learn`), an array of {"deck",
 *            "param", "from", "channel", "cc", "log"} as `kanon learn
 *            --list --json` prints them.
 * Saved from the conductor's, loaded by asking for each again: the
 * conductor checks them (a port the conductor does not have is refused
 * with its reason).
 */
#include "cli.h"
#include "session.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const midi_keys[] = {"deck", "from", "channel", NULL};

static int route_ok(const kn_swhere *w, const cJSON *r, int i) {
    const cJSON *k;
    if (!cJSON_IsObject(r)) return kn_session_fail(w, "midi[%d]: must be {\"deck\", ...}", i);
    cJSON_ArrayForEach(k, r) if (!kn_session_known(k->string, midi_keys)) return kn_session_fail(
        w, "midi[%d]: unknown key \"%.40s\" (a MIDI route has deck, from, channel)", i, k->string);
    const cJSON *deck = cJSON_GetObjectItemCaseSensitive(r, "deck");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(r, "from");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(r, "channel");
    if (!cJSON_IsString(deck) || !deck->valuestring[0] || strlen(deck->valuestring) >= KN_NAME_MAX)
        return kn_session_fail(w, "midi[%d].deck: must be a deck's name (1..%d characters)", i,
                               KN_NAME_MAX - 1);
    if (from && (!cJSON_IsString(from) || strlen(from->valuestring) > 16))
        return kn_session_fail(w, "midi[%d].from: must be \"any\", \"midi_in\" or \"midi_in_N\"",
                               i);
    if (ch && (!cJSON_IsNumber(ch) || !(ch->valuedouble >= 0 && ch->valuedouble <= 16) ||
               ch->valuedouble != floor(ch->valuedouble)))
        return kn_session_fail(w, "midi[%d].channel: must be 1..16, or 0 for every channel", i);
    return 0;
}

/* A session's list `key`: an array whose every item passes item_ok (which
 * names the first that does not). */
static int each_ok(const kn_swhere *w, const cJSON *list, const char *key, const char *shape,
                   int (*item_ok)(const kn_swhere *, const cJSON *, int)) {
    if (!cJSON_IsArray(list)) return kn_session_fail(w, "%s: must be an array of %s", key, shape);
    const cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, list) if (item_ok(w, x, i++)) return KN_EXIT_ERR;
    return 0;
}

int kn_smidi_parse(const kn_swhere *w, const cJSON *midi) {
    return each_ok(w, midi, "midi", "{\"deck\", \"from\", \"channel\"}", route_ok);
}

cJSON *kn_smidi_query(void) {
    cJSON *r = kn_request(kn_cmd("midi_routes"));
    cJSON *routes =
        cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")) ? cJSON_DetachItemFromObject(r, "routes") : NULL;
    cJSON_Delete(r);
    return routes;
}

int kn_smidi_apply(const cJSON *midi) {
    const cJSON *r;
    cJSON_ArrayForEach(r, midi) {
        cJSON *q = kn_cmd("midi");
        const char *from = cJSON_GetStringValue(cJSON_GetObjectItem(r, "from"));
        cJSON_AddStringToObject(q, "deck", kn_jstr(r, "deck"));
        if (from && strcmp(from, "any")) cJSON_AddStringToObject(q, "from", from);
        cJSON_AddNumberToObject(q, "channel", kn_jnum(r, "channel"));
        int st = kn_request_status(q, "session");
        if (st) return st;
    }
    return 0;
}

/* ------------------------------------------------------------- learn */

static const char *const learn_keys[] = {"deck", "param", "from", "channel", "cc", "log", NULL};

static int whole(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
           v->valuedouble == floor(v->valuedouble);
}

static int binding_ok(const kn_swhere *w, const cJSON *b, int i) {
    const cJSON *k;
    if (!cJSON_IsObject(b)) return kn_session_fail(w, "learn[%d]: must be {\"deck\", ...}", i);
    cJSON_ArrayForEach(k, b) if (!kn_session_known(k->string, learn_keys)) return kn_session_fail(
        w, "learn[%d]: unknown key \"%.40s\" (a binding has deck, param, from, channel, cc, log)",
        i, k->string);
    static const char *const names[] = {"deck", "param"};
    for (int j = 0; j < 2; j++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, names[j]);
        if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= KN_NAME_MAX)
            return kn_session_fail(w, "learn[%d].%s: must be a name (1..%d characters)", i,
                                   names[j], KN_NAME_MAX - 1);
    }
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(b, "from");
    if (from && (!cJSON_IsString(from) || strlen(from->valuestring) > 16))
        return kn_session_fail(w, "learn[%d].from: must be \"midi_in\" or \"midi_in_N\"", i);
    if (!whole(cJSON_GetObjectItemCaseSensitive(b, "channel"), 1, 16))
        return kn_session_fail(w, "learn[%d].channel: must be 1..16", i);
    if (!whole(cJSON_GetObjectItemCaseSensitive(b, "cc"), 0, 127))
        return kn_session_fail(w, "learn[%d].cc: must be 0..127", i);
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(b, "log");
    if (log && !cJSON_IsBool(log)) return kn_session_fail(w, "learn[%d].log: true or false", i);
    return 0;
}

int kn_slearn_parse(const kn_swhere *w, const cJSON *learn) {
    return each_ok(w, learn, "learn", "{\"deck\", \"param\", \"cc\", ...}", binding_ok);
}

cJSON *kn_slearn_query(void) {
    cJSON *r = kn_request(kn_cmd("learned"));
    cJSON *l = cJSON_GetObjectItem(r, "learn");
    cJSON *b = cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")) && l
                   ? cJSON_DetachItemFromObject(l, "bindings")
                   : NULL;
    cJSON_Delete(r);
    return b;
}

int kn_slearn_apply(const cJSON *learn) {
    const cJSON *b;
    cJSON_ArrayForEach(b, learn) {
        cJSON *q = kn_cmd("learn");
        const char *from = cJSON_GetStringValue(cJSON_GetObjectItem(b, "from"));
        cJSON_AddStringToObject(q, "deck", kn_jstr(b, "deck"));
        cJSON_AddStringToObject(q, "param", kn_jstr(b, "param"));
        if (from) cJSON_AddStringToObject(q, "from", from);
        cJSON_AddNumberToObject(q, "channel", kn_jnum(b, "channel"));
        cJSON_AddNumberToObject(q, "cc", kn_jnum(b, "cc"));
        cJSON_AddBoolToObject(q, "log", cJSON_IsTrue(cJSON_GetObjectItem(b, "log")));
        int st = kn_request_status(q, "session");
        if (st) return st;
    }
    return 0;
}
