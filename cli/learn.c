/*
 * learn.c - `kanon learn`: MIDI learn (docs/midi.md).
 *
 *   kanon learn DECK.PARAM [--timeout S] [--log]     the next CC drives it
 *   kanon learn DECK.PARAM --cc N [--channel C] [--from PORT] [--log]
 *   kanon learn --list | --forget DECK.PARAM | --cancel   [--json]
 *
 * Learning waits here, polling the conductor, until a control change is
 * bound or the timeout passes (the conductor ends the learning itself at
 * the timeout, so a CLI killed meanwhile leaves nothing armed for long).
 * Channels are 1..16 and ports are named as `kanon midi` names them
 * (midi_in, midi_in_N), here and in JSON.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage_error(const char *what) {
    fprintf(stderr, "kanon learn: error: %s\nusage: %s\n", what, kn_usage("learn"));
    return KN_EXIT_ERR;
}

static void print_bindings(const cJSON *learn) {
    const cJSON *b, *all = cJSON_GetObjectItem(learn, "bindings");
    if (!cJSON_GetArraySize(all)) printf("no MIDI bindings (kanon learn DECK.PARAM makes one)\n");
    cJSON_ArrayForEach(b, all) {
        printf("CC %-3d channel %-2d %-10s -> %s.%s%s\n", (int)kn_jnum(b, "cc"),
               (int)kn_jnum(b, "channel"), kn_jstr(b, "from"), kn_jstr(b, "deck"),
               kn_jstr(b, "param"), cJSON_IsTrue(cJSON_GetObjectItem(b, "log")) ? " (log)" : "");
    }
    const cJSON *w = cJSON_GetObjectItem(learn, "armed");
    if (cJSON_IsObject(w))
        printf("learning %s.%s: %.0f s left\n", kn_jstr(w, "deck"), kn_jstr(w, "param"),
               kn_jnum(w, "seconds_left"));
}

/* DECK.PARAM -> "deck" and "param" of q; 0, or an error printed. */
static int add_target(cJSON *q, const char *s) {
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || !dot[1]) return usage_error("name the parameter as DECK.PARAM");
    char deck[64];
    snprintf(deck, sizeof deck, "%.*s", (int)(dot - s) < 63 ? (int)(dot - s) : 63, s);
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON_AddStringToObject(q, "param", dot + 1);
    return 0;
}

/* Polls until learning ends: 0 and the binding printed, or an error. */
static int wait_learned(double before, int json) {
    for (;;) {
        struct timespec t = {0, 50 * 1000000L};
        nanosleep(&t, NULL);
        cJSON *r = kn_request(kn_cmd("learned"));
        int st = kn_reply_status(r, "learn");
        if (st) {
            cJSON_Delete(r);
            return st;
        }
        const cJSON *l = cJSON_GetObjectItem(r, "learn");
        if (kn_jnum(l, "learned") > before) {
            const cJSON *b = cJSON_GetObjectItem(l, "last");
            if (json)
                kn_print_json(b);
            else
                printf("CC %d on channel %d (%s) now drives %s.%s\n", (int)kn_jnum(b, "cc"),
                       (int)kn_jnum(b, "channel"), kn_jstr(b, "from"), kn_jstr(b, "deck"),
                       kn_jstr(b, "param"));
            cJSON_Delete(r);
            return 0;
        }
        int armed = cJSON_IsObject(cJSON_GetObjectItem(l, "armed"));
        cJSON_Delete(r);
        if (!armed) {
            fprintf(stderr, "kanon learn: error: no control change arrived before the timeout; "
                            "move the knob while `kanon learn` waits (or bind with --cc N)\n");
            return KN_EXIT_ERR;
        }
    }
}

int cmd_learn(int argc, char **argv) {
    static const struct option opts[] = {
        {"timeout", required_argument, 0, 't'}, {"log", no_argument, 0, 'l'},
        {"cc", required_argument, 0, 'c'},      {"channel", required_argument, 0, 'h'},
        {"from", required_argument, 0, 'p'},    {"list", no_argument, 0, 'L'},
        {"forget", no_argument, 0, 'f'},        {"cancel", no_argument, 0, 'x'},
        {"json", no_argument, 0, 'j'},          {0, 0, 0, 0}};
    double timeout = 10, cc = -1, channel = 1;
    const char *from = "midi_in";
    int log = 0, list = 0, forget = 0, cancel = 0, json = 0, o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case 't':
            bad = kn_parse_num("learn", "--timeout", optarg, 0.1, 600, 0, "s", &timeout);
            break;
        case 'c': bad = kn_parse_num("learn", "--cc", optarg, 0, 127, 1, "", &cc); break;
        case 'h': bad = kn_parse_num("learn", "--channel", optarg, 1, 16, 1, "", &channel); break;
        case 'p': from = optarg; break;
        case 'l': log = 1; break;
        case 'L': list = 1; break;
        case 'f': forget = 1; break;
        case 'x': cancel = 1; break;
        case 'j': json = 1; break;
        default: {
            char m[160];
            snprintf(m, sizeof m, o == ':' ? "%.60s needs a value" : "unknown option '%.60s'",
                     argv[optind - 1]);
            return usage_error(m);
        }
        }
        if (bad) return KN_EXIT_ERR;
    }
    int npos = argc - optind, st;
    if (list + forget + cancel > 1) return usage_error("--list, --forget and --cancel go alone");
    if ((list || cancel) ? npos != 0 : npos != 1)
        return usage_error(list || cancel ? "takes no DECK.PARAM" : "needs DECK.PARAM");
    cJSON *q = kn_cmd(list ? "learned" : forget ? "unlearn" : "learn");
    if (cancel) cJSON_AddBoolToObject(q, "cancel", 1);
    if (npos && add_target(q, argv[optind])) {
        cJSON_Delete(q);
        return KN_EXIT_ERR;
    }
    if (!list && !forget && !cancel) {
        cJSON_AddNumberToObject(q, "timeout", timeout);
        cJSON_AddBoolToObject(q, "log", log);
        if (cc >= 0) {
            cJSON_AddNumberToObject(q, "cc", cc);
            cJSON_AddNumberToObject(q, "channel", channel);
            cJSON_AddStringToObject(q, "from", from);
        }
    }
    double before = 0;
    if (!list && !forget && !cancel && cc < 0) { /* the count of bindings learned so far */
        cJSON *r = kn_request(kn_cmd("learned"));
        before = kn_jnum(cJSON_GetObjectItem(r, "learn"), "learned");
        cJSON_Delete(r);
    }
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "learn");
    if (!st && !list && !forget && !cancel && cc < 0) {
        cJSON_Delete(r);
        if (!json) {
            printf("move a knob on the controller now (%.0f s) ...\n", timeout);
            fflush(stdout);
        }
        return wait_learned(before, json);
    }
    if (!st && json)
        kn_print_json(cJSON_GetObjectItem(r, "learn"));
    else if (!st && (list || cc >= 0))
        print_bindings(cJSON_GetObjectItem(r, "learn"));
    cJSON_Delete(r);
    return st;
}
