/*
 * params.c - a deck's parameters: `kanon set`, `kanon get`, `kanon params`.
 *
 * A parameter has a target (`value`, what set asked for, clamped to the
 * declared range) and `current`, where the cartridge's glide towards it
 * stands; the two differ only while a glide (`set --ramp`) is under way.
 * DECK may be left out while exactly one deck plays.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The longest glide the conductor accepts for a parameter: one hour. */
#define PARAM_RAMP_MAX_MS 3600000.0

int kn_only_deck(const char *cmd, char deck[32]) {
    cJSON *r = kn_request(kn_cmd("status"));
    int st = kn_reply_status(r, cmd);
    const cJSON *decks = cJSON_GetObjectItem(r, "decks");
    int n = cJSON_GetArraySize(decks);
    if (!st && n == 1) {
        snprintf(deck, 32, "%s", kn_jstr(cJSON_GetArrayItem(decks, 0), "name"));
    } else if (!st && n == 0) {
        fprintf(stderr, "kanon %s: error: no deck is playing; play one with `kanon play FILE.c`\n",
                cmd);
        st = KN_EXIT_ERR;
    } else if (!st) {
        fprintf(stderr,
                "kanon %s: error: %d decks are playing; name the deck (see `kanon status`)\n", cmd,
                n);
        st = KN_EXIT_ERR;
    }
    cJSON_Delete(r);
    return st;
}

/* Splits "deck.name" (or picks the only deck for a bare "name"). */
static int resolve_param(const char *cmd, const char *arg, char deck[32], char name[32]) {
    const char *dot = strchr(arg, '.');
    if (dot && (dot == arg || !dot[1] || dot - arg > 31 || strlen(dot + 1) > 31)) {
        fprintf(stderr, "kanon %s: error: '%s' is not DECK.NAME\n", cmd, arg);
        return KN_EXIT_ERR;
    }
    if (!dot && strlen(arg) > 31) {
        fprintf(stderr, "kanon %s: error: parameter names are at most 31 characters\n", cmd);
        return KN_EXIT_ERR;
    }
    if (dot) {
        snprintf(deck, 32, "%.*s", (int)(dot - arg), arg);
        snprintf(name, 32, "%s", dot + 1);
        return KN_EXIT_OK;
    }
    snprintf(name, 32, "%s", arg);
    return kn_only_deck(cmd, deck);
}

static int gliding(const cJSON *p) {
    return kn_jnum(p, "current") != kn_jnum(p, "value");
}

int cmd_set(int argc, char **argv) {
    kn_args a;
    char deck[32], name[32];
    double v, ramp;
    double quant, at = -1;
    int st =
        kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_RAMP | KN_OPT_QUANT | KN_OPT_AT, 2, 2);
    if (!st) st = kn_parse_ramp(&a, PARAM_RAMP_MAX_MS, &ramp);
    if (!st) st = kn_parse_quant(&a, &quant);
    if (!st && a.at) st = kn_parse_num("set", "--at", a.at, 0, 1e12, 0, "beats", &at);
    if (!st && a.at && a.quant) {
        fprintf(stderr, "kanon set: error: give --at BEAT or --quant N, not both\n");
        st = KN_EXIT_ERR;
    }
    /* The range is the parameter's own: the conductor clamps to it. */
    if (!st) st = kn_parse_num("set", "VALUE", a.pos[1], -INFINITY, INFINITY, 0, "", &v);
    if (!st) st = resolve_param("set", a.pos[0], deck, name);
    if (st) return st;
    cJSON *q = kn_cmd("set");
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON_AddStringToObject(q, "name", name);
    cJSON_AddNumberToObject(q, "value", v);
    if (ramp >= 0) cJSON_AddNumberToObject(q, "ramp_ms", ramp);
    if (at >= 0) cJSON_AddNumberToObject(q, "at_beat", at);
    if (quant > 0) cJSON_AddNumberToObject(q, "quant", quant);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "set");
    if (!st && (at >= 0 || quant > 0)) { /* timed: it lands later, on its frame */
        if (a.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "value", v);
            cJSON_AddNumberToObject(o, "beat", kn_jnum(r, "beat"));
            cJSON_AddNumberToObject(o, "frame", kn_jnum(r, "frame"));
            kn_print_json(o);
            cJSON_Delete(o);
        } else {
            printf("%s.%s = %g on beat %.6g (timeline frame %.0f)\n", deck, name, v,
                   kn_jnum(r, "beat"), kn_jnum(r, "frame"));
        }
        cJSON_Delete(r);
        return st;
    }
    const cJSON *p = cJSON_GetObjectItem(r, "param");
    if (!st && a.json) {
        kn_print_json(p);
    } else if (!st) {
        printf("%s.%s = %g", deck, name, kn_jnum(p, "value"));
        if (kn_jnum(p, "value") != v)
            printf(" (clamped to %g..%g)", kn_jnum(p, "min"), kn_jnum(p, "max"));
        if (ramp > 0 && gliding(p))
            printf(" (gliding from %g over %g ms)", kn_jnum(p, "current"), ramp);
        putchar('\n');
    }
    cJSON_Delete(r);
    return st;
}

int cmd_get(int argc, char **argv) {
    kn_args a;
    char deck[32], name[32];
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 1, 1);
    if (!st) st = resolve_param("get", a.pos[0], deck, name);
    if (st) return st;
    cJSON *q = kn_cmd("get");
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON_AddStringToObject(q, "name", name);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "get");
    const cJSON *p = cJSON_GetObjectItem(r, "param");
    if (!st && a.json) {
        kn_print_json(p);
    } else if (!st) {
        printf("%s.%s = %g", deck, name, kn_jnum(p, "value"));
        if (gliding(p)) printf(" (gliding, now %g)", kn_jnum(p, "current"));
        printf("  range %g..%g, default %g", kn_jnum(p, "min"), kn_jnum(p, "max"),
               kn_jnum(p, "default"));
        if (kn_jstr(p, "bind")[0]) printf(", on the surface's %s", kn_jstr(p, "bind"));
        printf("\n");
    }
    cJSON_Delete(r);
    return st;
}

int cmd_params(int argc, char **argv) {
    kn_args a;
    char deck[32];
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 1);
    if (!st && a.npos)
        snprintf(deck, sizeof deck, "%s", a.pos[0]);
    else if (!st)
        st = kn_only_deck("params", deck);
    if (st) return st;
    cJSON *q = kn_cmd("params");
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "params");
    const cJSON *ps = cJSON_GetObjectItem(r, "params"), *p;
    if (!st && a.json) {
        kn_print_json(ps);
    } else if (!st && !cJSON_GetArraySize(ps)) {
        printf("deck %s declares no parameters\n", deck);
    } else if (!st) {
        printf("%-16s %12s %12s %12s %12s %12s\n", "NAME", "VALUE", "CURRENT", "MIN", "MAX",
               "DEFAULT");
        cJSON_ArrayForEach(p, ps) {
            printf("%-16s %12g %12g %12g %12g %12g\n", kn_jstr(p, "name"), kn_jnum(p, "value"),
                   kn_jnum(p, "current"), kn_jnum(p, "min"), kn_jnum(p, "max"),
                   kn_jnum(p, "default"));
        }
    }
    cJSON_Delete(r);
    return st;
}
