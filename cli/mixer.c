/*
 * mixer.c - the conductor's mixer: `kanon mix` shows it; gain, mute,
 * unmute, solo, unsolo and pan change one setting of a deck (gain also of
 * the master). Every change goes through the conductor's `mixer` command,
 * which glides to the new setting over --ramp MS (its default is 10 ms, so
 * nothing clicks).
 *
 * The ranges are checked here too, although the conductor enforces them,
 * so that the error speaks of the command's arguments (DB, P, --ramp)
 * rather than of protocol fields.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define GAIN_MIN_DB  -120.0
#define GAIN_MAX_DB  24.0
#define MIX_RAMP_MAX 60000.0

/* "L0.50", "C", "R0.25": where a deck sits, readable at a glance. */
static const char *fmt_pan(double pan, char buf[16]) {
    if (pan == 0)
        snprintf(buf, 16, "C");
    else
        snprintf(buf, 16, "%c%.2f", pan < 0 ? 'L' : 'R', pan < 0 ? -pan : pan);
    return buf;
}

static int is_on(const cJSON *d, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItem(d, key));
}

static void print_deck_row(const cJSON *d) {
    char pan[16];
    printf("%-12s %+8.1f %5s %5s %6s\n", kn_jstr(d, "name"), kn_jnum(d, "gain_db"),
           is_on(d, "mute") ? "yes" : "-", is_on(d, "solo") ? "yes" : "-",
           fmt_pan(kn_jnum(d, "pan"), pan));
}

/* After a change: the deck's whole setting in one line. */
static void print_deck_line(const cJSON *d) {
    char pan[16];
    printf("deck %s: gain %+.1f dB, pan %s, %s, %s\n", kn_jstr(d, "name"), kn_jnum(d, "gain_db"),
           fmt_pan(kn_jnum(d, "pan"), pan), is_on(d, "mute") ? "muted" : "not muted",
           is_on(d, "solo") ? "solo" : "not solo");
}

static void print_mix(const cJSON *r) {
    const cJSON *m = cJSON_GetObjectItem(r, "master"), *d;
    const cJSON *decks = cJSON_GetObjectItem(r, "decks");
    printf("master: gain %+.1f dB, limiter %s\n", kn_jnum(m, "gain_db"),
           is_on(m, "limiter") ? "on" : "off");
    if (!cJSON_GetArraySize(decks)) {
        printf("no decks; play one with `kanon play FILE.c`\n");
        return;
    }
    printf("%-12s %8s %5s %5s %6s\n", "DECK", "GAIN dB", "MUTE", "SOLO", "PAN");
    cJSON_ArrayForEach(d, decks) print_deck_row(d);
}

int cmd_mix(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 0);
    if (st) return st;
    cJSON *r = kn_request(kn_cmd("mix"));
    st = kn_reply_status(r, "mix");
    if (!st && a.json)
        kn_print_json(r);
    else if (!st)
        print_mix(r);
    cJSON_Delete(r);
    return st;
}

/* Sends q (a `mixer` request for a.pos[0]) with --ramp, prints the result. */
static int send_mixer(const kn_args *a, cJSON *q) {
    double ramp;
    int st = kn_parse_ramp(a, MIX_RAMP_MAX, &ramp);
    if (st) {
        cJSON_Delete(q);
        return st;
    }
    int master = !strcmp(a->pos[0], "master");
    cJSON_AddStringToObject(q, "deck", a->pos[0]);
    if (ramp >= 0) cJSON_AddNumberToObject(q, "ramp_ms", ramp);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, a->cmd);
    /* The master answers with the whole mix, a deck with its own settings. */
    const cJSON *m = cJSON_GetObjectItem(r, "master"), *d = cJSON_GetObjectItem(r, "deck");
    if (!st && master) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", "master");
        cJSON_AddNumberToObject(o, "gain_db", kn_jnum(m, "gain_db"));
        cJSON_AddBoolToObject(o, "limiter", is_on(m, "limiter"));
        if (a->json)
            kn_print_json(o);
        else
            printf("master: gain %+.1f dB\n", kn_jnum(o, "gain_db"));
        cJSON_Delete(o);
    } else if (!st && a->json) {
        kn_print_json(d);
    } else if (!st) {
        print_deck_line(d);
    }
    cJSON_Delete(r);
    return st;
}

int cmd_gain(int argc, char **argv) {
    kn_args a;
    double db;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_RAMP, 2, 2);
    if (!st) st = kn_parse_num("gain", "DB", a.pos[1], GAIN_MIN_DB, GAIN_MAX_DB, 0, "dB", &db);
    if (st) return st;
    cJSON *q = kn_cmd("mixer");
    cJSON_AddNumberToObject(q, "gain_db", db);
    return send_mixer(&a, q);
}

int cmd_pan(int argc, char **argv) {
    kn_args a;
    double pan;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_RAMP, 2, 2);
    if (!st) st = kn_parse_num("pan", "P", a.pos[1], -1, 1, 0, "", &pan);
    if (st) return st;
    cJSON *q = kn_cmd("mixer");
    cJSON_AddNumberToObject(q, "pan", pan);
    return send_mixer(&a, q);
}

/* mute/unmute/solo/unsolo: one boolean setting of one deck. */
static int switch_deck(int argc, char **argv, const char *field, int on) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_RAMP, 1, 1);
    if (st) return st;
    cJSON *q = kn_cmd("mixer");
    cJSON_AddBoolToObject(q, field, on);
    return send_mixer(&a, q);
}

int cmd_mute(int argc, char **argv) {
    return switch_deck(argc, argv, "mute", 1);
}
int cmd_unmute(int argc, char **argv) {
    return switch_deck(argc, argv, "mute", 0);
}
int cmd_solo(int argc, char **argv) {
    return switch_deck(argc, argv, "solo", 1);
}
int cmd_unsolo(int argc, char **argv) {
    return switch_deck(argc, argv, "solo", 0);
}
