/*
 * midi.c - notes and MIDI routes: `kanon note` and `kanon midi`
 * (docs/midi.md).
 *
 *   kanon note DECK PITCH [VEL] [--dur BEATS] [--at BEAT | --quant N] [--json]
 *   kanon midi [--json]                                   the routes
 *   kanon midi DECK [--from PORT] [--channel N] [--json]  a route
 *   kanon midi DECK [--from PORT] [--channel N] --off     removes it (all of
 *                                                         the deck's without
 *                                                         --from/--channel)
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int usage_err(const char *cmd, const char *msg) {
    fprintf(stderr, "kanon %s: error: %s\nusage: %s\n", cmd, msg, kn_usage(cmd));
    return KN_EXIT_ERR;
}

/* getopt's refusal, naming the word it refused. */
static int bad_option(const char *cmd, char **argv) {
    char m[160];
    snprintf(m, sizeof m, "unknown option, or one without its value: '%.60s'", argv[optind - 1]);
    return usage_err(cmd, m);
}

int cmd_note(int argc, char **argv) {
    static const struct option lo[] = {{"dur", 1, 0, 'd'},     {"at", 1, 0, 'a'},
                                       {"quant", 1, 0, 'q'},   {"json", 0, 0, 'j'},
                                       {"channel", 1, 0, 'c'}, {0, 0, 0, 0}};
    double dur = 0, at = -1, quant = 0, pitch, vel = 100, ch = 1;
    int json = 0, o, st = 0;
    opterr = 0;
    optind = 1;
    while (!st && (o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'd': st = kn_parse_num("note", "--dur", optarg, 0, 1e6, 0, "beats", &dur); break;
        case 'a': st = kn_parse_num("note", "--at", optarg, 0, 1e12, 0, "beats", &at); break;
        case 'q': st = kn_parse_num("note", "--quant", optarg, 0, 1024, 0, "beats", &quant); break;
        case 'c': st = kn_parse_num("note", "--channel", optarg, 1, 16, 1, "", &ch); break;
        case 'j': json = 1; break;
        default: return bad_option("note", argv);
        }
    }
    if (st) return st;
    int npos = argc - optind;
    if (npos < 2 || npos > 3) return usage_err("note", "want DECK PITCH [VELOCITY]");
    if (at >= 0 && quant > 0) return usage_err("note", "give --at BEAT or --quant N, not both");
    if ((st = kn_parse_num("note", "PITCH", argv[optind + 1], 0, 127, 1, "", &pitch))) return st;
    if (npos == 3 && (st = kn_parse_num("note", "VELOCITY", argv[optind + 2], 0, 127, 1, "", &vel)))
        return st;
    if (vel == 0 && dur > 0) return usage_err("note", "a note off (velocity 0) takes no --dur");
    cJSON *q = kn_cmd("note");
    cJSON_AddStringToObject(q, "deck", argv[optind]);
    cJSON_AddNumberToObject(q, "pitch", pitch);
    cJSON_AddNumberToObject(q, "velocity", vel);
    cJSON_AddNumberToObject(q, "channel", ch - 1);
    if (dur > 0) cJSON_AddNumberToObject(q, "dur", dur);
    if (at >= 0) cJSON_AddNumberToObject(q, "at_beat", at);
    if (quant > 0) cJSON_AddNumberToObject(q, "quant", quant);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "note");
    if (!st && json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddNumberToObject(out, "frame", kn_jnum(r, "frame"));
        cJSON_AddNumberToObject(out, "beat", kn_jnum(r, "beat"));
        cJSON_AddBoolToObject(out, "late", cJSON_IsTrue(cJSON_GetObjectItem(r, "late")));
        kn_print_json(out);
        cJSON_Delete(out);
    } else if (!st) {
        printf("%s: note %g velocity %g on beat %.6g (timeline frame %.0f)%s\n", argv[optind],
               pitch, vel, kn_jnum(r, "beat"), kn_jnum(r, "frame"),
               cJSON_IsTrue(cJSON_GetObjectItem(r, "late"))
                   ? "; that beat had been played already: it sounds at once"
                   : "");
    }
    cJSON_Delete(r);
    return st;
}

static void print_routes(const cJSON *routes) {
    const cJSON *rt;
    if (!cJSON_GetArraySize(routes)) {
        printf("no MIDI routes: the only deck playing hears every port and channel (with two "
               "decks or more, none does until routed)\n");
        return;
    }
    printf("%-16s %-12s %s\n", "DECK", "FROM", "CHANNEL");
    cJSON_ArrayForEach(rt, routes) {
        double ch = kn_jnum(rt, "channel");
        char chs[16];
        snprintf(chs, sizeof chs, "%d", (int)ch);
        printf("%-16s %-12s %s\n", kn_jstr(rt, "deck"), kn_jstr(rt, "from"), ch ? chs : "any");
    }
}

int cmd_midi(int argc, char **argv) {
    static const struct option lo[] = {{"from", 1, 0, 'f'},
                                       {"channel", 1, 0, 'c'},
                                       {"off", 0, 0, 'o'},
                                       {"json", 0, 0, 'j'},
                                       {0, 0, 0, 0}};
    const char *from = NULL;
    double ch = 0;
    int json = 0, off = 0, o, st = 0;
    opterr = 0;
    optind = 1;
    while (!st && (o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'f': from = optarg; break;
        case 'c': st = kn_parse_num("midi", "--channel", optarg, 1, 16, 1, "", &ch); break;
        case 'o': off = 1; break;
        case 'j': json = 1; break;
        default: return bad_option("midi", argv);
        }
    }
    if (st) return st;
    int npos = argc - optind;
    if (npos > 1) return usage_err("midi", "want at most one DECK");
    if (!npos && (from || ch || off))
        return usage_err("midi", "--from, --channel and --off need a DECK");
    cJSON *q = kn_cmd(npos ? "midi" : "midi_routes");
    if (npos) {
        cJSON_AddStringToObject(q, "deck", argv[optind]);
        if (from) cJSON_AddStringToObject(q, "from", from);
        if (ch) cJSON_AddNumberToObject(q, "channel", ch);
        if (off) cJSON_AddBoolToObject(q, "off", 1);
    }
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "midi");
    const cJSON *routes = cJSON_GetObjectItem(r, "routes");
    if (!st && json)
        kn_print_json(routes);
    else if (!st)
        print_routes(routes);
    cJSON_Delete(r);
    return st;
}

const char *kn_fmt_midi(const cJSON *m, char *buf, size_t n) {
    if (!cJSON_IsObject(m)) return NULL;
    const char *backend = kn_jstr(m, "backend");
    char ports[300] = "";
    const cJSON *p;
    size_t used = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(m, "ports")) {
        int k = snprintf(ports + used, sizeof ports - used, "%s%s", used ? ", " : "",
                         cJSON_GetStringValue(p) ? cJSON_GetStringValue(p) : "?");
        if (k < 0 || (size_t)k >= sizeof ports - used) break;
        used += (size_t)k;
    }
    if (!strcmp(backend, "jack"))
        snprintf(buf, n,
                 "JACK %s, out %s%s; latency %.0f frames (%.1f ms); %.0f received, %.0f late",
                 ports, kn_jstr(m, "out_port"),
                 cJSON_IsTrue(cJSON_GetObjectItem(m, "clock")) ? " (with clock)" : "",
                 kn_jnum(m, "latency_frames"), kn_jnum(m, "latency_ms"), kn_jnum(m, "received"),
                 kn_jnum(m, "late"));
    else if (!strcmp(backend, "alsa"))
        snprintf(buf, n,
                 "ALSA sequencer client %.0f (kanon:midi_in); latency %.0f frames (%.1f ms)",
                 kn_jnum(m, "alsa_client"), kn_jnum(m, "latency_frames"), kn_jnum(m, "latency_ms"));
    else
        snprintf(buf, n, "no MIDI input%s%s (kanon note and OSC notes still play)",
                 cJSON_GetObjectItem(m, "alsa") ? ": " : "", kn_jstr(m, "alsa"));
    return buf;
}
