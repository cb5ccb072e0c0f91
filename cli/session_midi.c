/*
 * session_midi.c - the MIDI routes of a session (`kanon midi`): the
 * session file's "midi", an array of {"deck", "from", "channel"} as
 * `kanon midi --json` prints them (from: "any", "midi_in", "midi_in_N";
 * channel 1..16, 0 for every channel). Saved from the conductor's routes,
 * loaded by asking for each again: the conductor checks them (a port the
 * conductor does not have is refused with its reason).
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
    cJSON_ArrayForEach(k, r) {
        int known = 0;
        for (int j = 0; midi_keys[j]; j++) known |= !strcmp(k->string, midi_keys[j]);
        if (!known)
            return kn_session_fail(w,
                                   "midi[%d]: unknown key \"%.40s\" (a MIDI route has deck, "
                                   "from, channel)",
                                   i, k->string);
    }
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

int kn_smidi_parse(const kn_swhere *w, const cJSON *midi) {
    if (!cJSON_IsArray(midi))
        return kn_session_fail(w, "midi: must be an array of {\"deck\", \"from\", \"channel\"}");
    const cJSON *r;
    int i = 0;
    cJSON_ArrayForEach(r, midi) if (route_ok(w, r, i++)) return KN_EXIT_ERR;
    return 0;
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
        cJSON *rep = kn_request(q);
        int st = kn_reply_status(rep, "session");
        cJSON_Delete(rep);
        if (st) return st;
    }
    return 0;
}
