/*
 * commands.c - the commands that act on decks and the conductor as a
 * whole: play, stop, revert, log, history, status, record.
 *
 * With --json each prints one JSON object (log: the array of events) on
 * stdout instead of prose; errors stay prose on stderr either way, so a
 * script can rely on the exit code and parse stdout only on success.
 */
#include "cli.h"
#include "segment.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A deck name from a file name: its stem, restricted to [A-Za-z0-9_-]. */
static void deck_from_path(const char *path, char *out, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t j = 0;
    for (size_t i = 0; base[i] && base[i] != '.' && j + 1 < n; i++) {
        char c = base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        out[j++] = ok ? c : '_';
    }
    if (!j) out[j++] = 'd';
    out[j] = 0;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static double print_events(const char *deck, double since);

/* Polls the conductor for a cartridge's compile outcome; the compile time
 * goes to *compile_ms once it runs. No limit of its own: the conductor
 * ends every compile within its --compile-timeout and says so. A long
 * compile (Faust can take seconds) shows how far it is: with `since`
 * (--follow) the deck's events as they come ("still compiling ... 2 s so
 * far"), else on a terminal a line counting the seconds. */
static int wait_result(const char *deck, double id, double *compile_ms, double *since) {
    int tty = !since && isatty(2), shown = 0;
    for (uint64_t i = 0;; i++) {
        cJSON *q = kn_cmd("result");
        cJSON_AddStringToObject(q, "deck", deck);
        cJSON_AddNumberToObject(q, "id", id);
        cJSON *r = kn_request(q);
        int st = kn_reply_status(r, "play");
        const char *state = st ? "" : kn_jstr(r, "state");
        double secs = kn_jnum(r, "seconds");
        if (since && (st || strcmp(state, "compiling") || i % 25 == 0)) {
            double s = print_events(deck, *since); /* the outcome's event too */
            if (s >= 0) *since = s;
        }
        if (shown && (st || strcmp(state, "compiling"))) fputs("\r\033[K", stderr);
        if (st) {
            cJSON_Delete(r);
            return st;
        }
        if (!strcmp(state, "running")) {
            *compile_ms = kn_jnum(r, "compile_ms");
            cJSON_Delete(r);
            return KN_EXIT_OK;
        }
        if (!strcmp(state, "error")) {
            if (!since) fprintf(stderr, "%s\n", kn_jstr(r, "message")); /* --follow: its event */
            cJSON_Delete(r);
            return KN_EXIT_ERR;
        }
        if (tty && secs >= 1 && (int)secs != shown) {
            shown = (int)secs;
            fprintf(stderr, "\rdeck %s: cartridge %.0f compiling, %d s so far", deck, id, shown);
            fflush(stderr);
        }
        cJSON_Delete(r);
        sleep_ms(2 + (i > 500) * 18); /* after a second, 20 ms is plenty */
    }
}

/* What play and revert print once the new cartridge runs. */
static void print_started(int json, const char *deck, double id, double compile_ms,
                          const char *display) {
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "deck", deck);
        cJSON_AddNumberToObject(o, "id", id);
        if (compile_ms >= 0) cJSON_AddNumberToObject(o, "compile_ms", compile_ms);
        kn_print_json(o);
        cJSON_Delete(o);
    } else if (compile_ms >= 0) {
        printf("deck %s: playing %s (cartridge %.0f, compiled in %.2f ms)\n", deck, display, id,
               compile_ms);
    } else {
        printf("deck %s: cartridge %.0f is compiling %s\n", deck, id, display);
    }
    fflush(stdout);
}

static void print_link(const cJSON *l);

/* `play --at BEAT`: where the deck starts (a new deck is placed when its
 * version runs, which play waited for), or that the version takes over on
 * the beat (the takeover itself comes later). */
static void print_placed(int json, const char *deck, double id, double compile_ms,
                         const char *display, double at, int created) {
    cJSON *r = kn_request(kn_cmd("status")), *o = NULL;
    const cJSON *d = NULL, *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "decks")) if (!strcmp(kn_jstr(e, "name"), deck))
        d = e;
    int placed = created && cJSON_GetObjectItem(d, "start_frame");
    int late = cJSON_IsTrue(cJSON_GetObjectItem(d, "start_late"));
    if (json) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "deck", deck);
        cJSON_AddNumberToObject(o, "id", id);
        cJSON_AddNumberToObject(o, "compile_ms", compile_ms);
        if (placed) {
            cJSON_AddNumberToObject(o, "start_beat", kn_jnum(d, "start_beat"));
            cJSON_AddNumberToObject(o, "start_frame", kn_jnum(d, "start_frame"));
            cJSON_AddBoolToObject(o, "start_late", late);
        }
        kn_print_json(o);
    } else if (placed) {
        printf("deck %s: playing %s (cartridge %.0f, compiled in %.2f ms); %s on beat %.6g "
               "(timeline frame %.0f)%s\n",
               deck, display, id, compile_ms, late ? "starts late," : "starts",
               kn_jnum(d, "start_beat"), kn_jnum(d, "start_frame"),
               late ? ": it was not ready for the beat asked for" : "");
    } else {
        printf("deck %s: playing %s (cartridge %.0f, compiled in %.2f ms) from beat %.6g\n", deck,
               display, id, compile_ms, at);
    }
    fflush(stdout);
    cJSON_Delete(o);
    cJSON_Delete(r);
}

static int json_events; /* --follow --json: events as JSON lines */

static void print_event(const cJSON *e) {
    if (json_events) {
        kn_print_json(e);
        return;
    }
    time_t t = (time_t)kn_jnum(e, "time");
    char ts[16];
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&t));
    const char *kind = kn_jstr(e, "kind");
    FILE *f = !strcmp(kind, "error") ? stderr : stdout;
    fprintf(f, "%s %s: %s\n", ts, kn_jstr(e, "deck"), kn_jstr(e, "text"));
    fflush(f);
}

/* Prints the deck's events after `since` (all decks if deck is NULL);
 * returns the last sequence number seen, or -1 if the conductor is gone. */
static double print_events(const char *deck, double since) {
    cJSON *q = kn_cmd("log");
    if (deck) cJSON_AddStringToObject(q, "deck", deck);
    cJSON_AddNumberToObject(q, "since", since);
    cJSON *r = kn_request_quiet(q, 2000);
    if (!r) return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "events")) print_event(e);
    double last = kn_jnum(r, "last");
    cJSON_Delete(r);
    return last;
}

/* --follow: prints each compile's result as it happens until Ctrl-C. */
static int follow(const char *deck, double since) {
    if (!json_events) printf("following deck %s (Ctrl-C to stop; the deck plays on)\n", deck);
    fflush(stdout);
    for (;;) {
        since = print_events(deck, since);
        if (since < 0) {
            fprintf(stderr, "kanon play: the conductor went away\n");
            return KN_EXIT_NOCONDUCTOR;
        }
        sleep_ms(50);
    }
}

int cmd_log(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 1);
    if (st) return st;
    cJSON *q = kn_cmd("log");
    if (a.npos) cJSON_AddStringToObject(q, "deck", a.pos[0]);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "log");
    const cJSON *e;
    /* An array, not an object: scripts (and the e2e tests) index it directly. */
    if (!st && a.json)
        kn_print_json(cJSON_GetObjectItem(r, "events"));
    else if (!st)
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "events")) print_event(e);
    cJSON_Delete(r);
    return st;
}

int cmd_history(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 1, 1);
    if (st) return st;
    const char *deck = a.pos[0];
    cJSON *q = kn_cmd("history");
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "history");
    if (!st && a.json)
        kn_print_json(r);
    else if (!st) {
        const cJSON *v;
        printf("deck %s: versions in %s/%s (playing v%.0f)\n", deck, kn_jstr(r, "dir"), deck,
               kn_jnum(r, "current"));
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(r, "versions"))
            printf("%s v%-4.0f %s  cartridge %-5.0f compile %6.2f ms  %s\n",
                   kn_jnum(v, "version") == kn_jnum(r, "current") ? "*" : " ",
                   kn_jnum(v, "version"), kn_jstr(v, "time"), kn_jnum(v, "cartridge"),
                   kn_jnum(v, "compile_ms"), kn_jstr(v, "origin"));
    }
    cJSON_Delete(r);
    return st;
}

/* Sends play/revert, retrying while the deck is mid-handover. */
static cJSON *request_version(cJSON *q) {
    for (int i = 0;; i++) {
        cJSON *r = kn_request(cJSON_Duplicate(q, 1));
        if (!r || i >= 500 || strncmp(kn_jstr(r, "error"), "busy:", 5)) {
            cJSON_Delete(q);
            return r;
        }
        cJSON_Delete(r);
        sleep_ms(2);
    }
}

int cmd_revert(int argc, char **argv) {
    kn_args a;
    double version = 0, compile_ms = -1;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 1, 2);
    if (!st && a.npos == 2)
        st = kn_parse_num("revert", "VERSION", a.pos[1], 1, 1e6, 1, "", &version);
    if (st) return st;
    const char *deck = a.pos[0];
    cJSON *q = kn_cmd("revert");
    cJSON_AddStringToObject(q, "deck", deck);
    if (version > 0) cJSON_AddNumberToObject(q, "version", version);
    cJSON *r = request_version(q);
    st = kn_reply_status(r, "revert");
    double id = kn_jnum(r, "id");
    cJSON_Delete(r);
    if (!st) st = wait_result(deck, id, &compile_ms, NULL);
    if (!st) print_started(a.json, deck, id, compile_ms, "the earlier version");
    return st;
}

int cmd_play(int argc, char **argv) {
    static const struct option lo[] = {{"deck", 1, 0, 'd'},
                                       {"no-wait", 0, 0, 'n'},
                                       {"fade", 1, 0, 'f'},
                                       {"follow", 0, 0, 'F'},
                                       {"no-watch", 0, 0, 'W'},
                                       {"json", 0, 0, 'j'},
                                       {"quant", 1, 0, 'q'},
                                       {"at", 1, 0, 'a'},
                                       {"tier", 1, 0, 't'},
                                       {"voices", 1, 0, 'v'},
                                       {0, 0, 0, 0}};
    const char *deck = NULL, *tier = NULL;
    double voices = -1;
    int nowait = 0, c, follow_ = 0, watch = 1, json = 0;
    double fade = 20, compile_ms = -1, quant = 0, at = -1;
    while ((c = getopt_long(argc, argv, "d:", lo, NULL)) != -1) {
        if (c == 'd')
            deck = optarg;
        else if (c == 'n')
            nowait = 1;
        else if (c == 'j')
            json = 1;
        else if (c == 'F')
            follow_ = 1;
        else if (c == 'W')
            watch = 0;
        else if (c == 'f') {
            if (kn_parse_num("play", "--fade", optarg, 0, 1000, 0, "ms", &fade)) return KN_EXIT_ERR;
        } else if (c == 'q') {
            if (kn_parse_num("play", "--quant", optarg, 0, 1024, 0, "beats", &quant))
                return KN_EXIT_ERR;
        } else if (c == 'a') {
            if (kn_parse_num("play", "--at", optarg, 0, 1e12, 0, "beats", &at)) return KN_EXIT_ERR;
        } else if (c == 't') {
            if (strcmp(optarg, "tcc") && strcmp(optarg, "auto")) {
                fprintf(stderr, "kanon play: error: --tier is tcc or auto, not '%s'\n", optarg);
                return KN_EXIT_ERR;
            }
            tier = optarg;
        } else if (c == 'v') {
            if (kn_parse_num("play", "--voices", optarg, 0, 32, 1, "", &voices)) return KN_EXIT_ERR;
        } else
            return KN_EXIT_ERR;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "kanon play: error: give one FILE.c (see `kanon play --help`)\n");
        return KN_EXIT_ERR;
    }
    if (at >= 0 && quant > 0) {
        fprintf(stderr, "kanon play: error: give --quant N or --at BEAT, not both\nusage: %s\n",
                kn_usage("play"));
        return KN_EXIT_ERR;
    }
    const char *file = argv[optind];
    char abs[PATH_MAX], name[256], bad[256]; /* a name is never cut: too long is refused */
    if (!realpath(file, abs)) {
        fprintf(stderr, "kanon play: error: %s: %m\n", file);
        return KN_EXIT_ERR;
    }
    if (deck)
        snprintf(name, sizeof name, "%s", deck);
    else
        deck_from_path(file, name, sizeof name);
    if (kn_deck_name_check(deck ? deck : name, bad, sizeof bad)) {
        fprintf(stderr, "kanon play: error: %s%s\n", bad,
                deck ? "" : " (it comes from the file's name: give one with --deck NAME)");
        return KN_EXIT_ERR;
    }
    json_events = json;
    cJSON *q = kn_cmd("play");
    cJSON_AddStringToObject(q, "file", abs);
    cJSON_AddStringToObject(q, "display", file);
    cJSON_AddStringToObject(q, "deck", name);
    cJSON_AddNumberToObject(q, "fade_ms", fade);
    cJSON_AddBoolToObject(q, "watch", watch);
    if (quant > 0) cJSON_AddNumberToObject(q, "quant", quant);
    if (at >= 0) cJSON_AddNumberToObject(q, "start_beat", at);
    if (tier) cJSON_AddStringToObject(q, "tier", tier);
    if (voices >= 0) cJSON_AddNumberToObject(q, "voices", voices);
    double since = follow_ ? print_events(name, 1e18) : 0; /* only what comes next */
    cJSON *r = request_version(q);
    int st = kn_reply_status(r, "play");
    double id = kn_jnum(r, "id");
    int created = cJSON_IsTrue(cJSON_GetObjectItem(r, "created"));
    cJSON_Delete(r);
    if (st) return st;
    if (nowait) {
        print_started(json, name, id, -1, file);
        return st;
    }
    st = wait_result(name, id, &compile_ms, follow_ ? &since : NULL);
    if (!st && at >= 0)
        print_placed(json, name, id, compile_ms, file, at, created);
    else if (!st)
        print_started(json, name, id, compile_ms, file);
    if (st == KN_EXIT_ERR && created) { /* nothing played: don't leave an empty deck */
        cJSON *q2 = kn_cmd("stop");
        cJSON_AddStringToObject(q2, "deck", name);
        cJSON_Delete(kn_request(q2));
    }
    if (follow_ && st != KN_EXIT_NOCONDUCTOR) return follow(name, since);
    return st;
}

int cmd_stop(int argc, char **argv) {
    kn_args a;
    double quant;
    double at = -1;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_QUANT | KN_OPT_AT, 1, 1);
    if (!st) st = kn_parse_quant(&a, &quant);
    if (!st && a.at) st = kn_parse_num("stop", "--at", a.at, 0, 1e12, 0, "beats", &at);
    if (st) return st;
    if (at >= 0 && quant > 0) {
        fprintf(stderr, "kanon stop: error: give --quant N or --at BEAT, not both\nusage: %s\n",
                kn_usage("stop"));
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("stop");
    cJSON_AddStringToObject(q, "deck", a.pos[0]);
    if (quant > 0) cJSON_AddNumberToObject(q, "quant", quant);
    if (at >= 0) cJSON_AddNumberToObject(q, "at_beat", at);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "stop");
    const cJSON *sb = cJSON_GetObjectItem(r, "stop_beat"); /* a quantized stop, still to come */
    if (!st && a.json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "deck", a.pos[0]);
        cJSON_AddBoolToObject(o, "stopped", sb == NULL);
        if (sb) cJSON_AddNumberToObject(o, "stop_beat", sb->valuedouble);
        kn_print_json(o);
        cJSON_Delete(o);
    } else if (!st && sb) {
        printf("deck %s: stops on the grid, on beat %g\n", a.pos[0], sb->valuedouble);
    } else if (!st) {
        printf("deck %s: stopped\n", a.pos[0]);
    }
    cJSON_Delete(r);
    return st;
}

/* The master's meters, gain and limiter in one line. */
static void print_master(const cJSON *r) {
    const cJSON *m = cJSON_GetObjectItem(r, "master");
    char pk[16], rms[16];
    printf("master: peak %s dBFS, RMS %s dBFS, gain %+.1f dB; limiter %s, %.0f frames limited\n",
           kn_fmt_db(kn_jnum(m, "peak_db"), pk), kn_fmt_db(kn_jnum(m, "rms_db"), rms),
           kn_jnum(m, "gain_db"), cJSON_IsTrue(cJSON_GetObjectItem(r, "limiter")) ? "on" : "off",
           kn_jnum(r, "limited_frames"));
}

const char *kn_fmt_osc(const cJSON *r, char *buf, size_t n) {
    char udp[128];
    if (kn_jnum(r, "osc_port") > 0)
        snprintf(
            udp, sizeof udp, "udp %s:%.0f (%s)", kn_jstr(r, "osc_host"), kn_jnum(r, "osc_port"),
            cJSON_IsTrue(cJSON_GetObjectItem(r, "osc_trust_udp")) ? "all commands: --osc-trust-udp"
                                                                  : "control only");
    else
        snprintf(udp, sizeof udp, "udp off");
    const char *unix_path = kn_jstr(r, "osc_unix");
    snprintf(buf, n, "%s, %s%s%s", udp, unix_path[0] ? "unix " : "unix off", unix_path,
             unix_path[0] ? " (all commands)" : "");
    return buf;
}

const char *kn_fmt_input(const cJSON *in, char *buf, size_t n) {
    if (!cJSON_IsObject(in)) return NULL;
    const cJSON *ports = cJSON_GetObjectItem(in, "ports");
    int np = cJSON_GetArraySize(ports), jack = !strcmp(kn_jstr(in, "clock"), "jack");
    char where[300] = "";
    if (np)
        snprintf(where, sizeof where, " (%s%s%s)",
                 cJSON_GetStringValue(cJSON_GetArrayItem(ports, 0)), np > 1 ? " .. " : "",
                 np > 1 ? cJSON_GetStringValue(cJSON_GetArrayItem(ports, np - 1)) : "");
    char hw[96] = "";
    if (jack)
        snprintf(hw, sizeof hw, "; %.0f frames (%.1f ms) with the hardware's",
                 kn_jnum(in, "round_trip_frames"), kn_jnum(in, "round_trip_ms"));
    snprintf(buf, n, "%.0f ch from %s%s; latency %.0f frames (%.1f ms)%s%s%s",
             kn_jnum(in, "channels"), kn_jstr(in, "device"), where, kn_jnum(in, "latency_frames"),
             kn_jnum(in, "latency_ms"),
             jack ? " port to port, from JACK's frame counter" : ", from the device clock", hw,
             cJSON_IsTrue(cJSON_GetObjectItem(in, "live")) ? "" : "; not capturing yet");
    return buf;
}

/* Who outranks whom, the machine's load, and an OVERLOAD line while it is
 * overloaded. */
static void print_load(const cJSON *r) {
    const cJSON *rt = cJSON_GetObjectItem(r, "audio_rt"), *ov = cJSON_GetObjectItem(r, "overload");
    if (cJSON_IsObject(rt)) {
        const char *pol = kn_jstr(rt, "policy");
        if (!strcmp(pol, "fifo") || !strcmp(pol, "rr"))
            printf("priority: audio thread %s %.0f, cartridges %s %.0f\n", pol,
                   kn_jnum(rt, "priority"), kn_jstr(rt, "cartridge_policy"),
                   kn_jnum(rt, "cartridge_priority"));
        else
            printf("priority: audio thread and cartridges at normal priority (audio: %s)\n", pol);
    }
    if (!cJSON_IsObject(ov)) return;
    const cJSON *u = cJSON_GetObjectItem(ov, "underflows"), *sh;
    printf("cpu: %.0f%% of %.0f cores (cartridges %.0f%%, conductor %.0f%%); DSP load %.0f%%\n",
           kn_jnum(ov, "cpu_total"), kn_jnum(ov, "cores"), kn_jnum(ov, "cpu_cartridges"),
           kn_jnum(ov, "cpu_conductor"), kn_jnum(ov, "total_load"));
    if (!strcmp(kn_jstr(ov, "state"), "overloaded"))
        printf("OVERLOAD for %.1f s: %s; device underflows %.0f in the last %.0f s%s%s\n",
               kn_jnum(ov, "overloaded_s"), kn_jstr(ov, "why"), kn_jnum(u, "recent"),
               kn_jnum(u, "recent_s"),
               cJSON_IsTrue(cJSON_GetObjectItem(ov, "cartridges_demoted"))
                   ? "; cartridges at normal priority meanwhile"
                   : "",
               cJSON_IsTrue(cJSON_GetObjectItem(ov, "shedding"))
                   ? " (after 1.5 s the deck needing the most CPU is shed)"
                   : " (shedding is off)");
    cJSON_ArrayForEach(sh, cJSON_GetObjectItem(ov, "shed")) printf(
        "shed: deck %s (needed %.0f%% of a core)\n", kn_jstr(sh, "deck"), kn_jnum(sh, "cpu_need"));
}

/* What a recording writes, in words: "FILE", "deck X to FILE" or
 * "stems to DIR (master.wav, a.wav)". */
static const char *rec_what(const cJSON *rec, char *out, size_t n) {
    const char *mode = kn_jstr(rec, "mode"), *path = kn_jstr(rec, "path");
    if (!strcmp(mode, "deck")) {
        snprintf(out, n, "deck %s to %s", kn_jstr(rec, "deck"), path);
    } else if (!strcmp(mode, "stems")) {
        size_t k = (size_t)snprintf(out, n, "stems to %s (", path);
        const cJSON *f;
        int i = 0;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(rec, "files")) {
            const char *p = kn_jstr(f, "path"), *base = strrchr(p, '/');
            if (k < n)
                k += (size_t)snprintf(out + k, n - k, "%s%s", i++ ? ", " : "", base ? base + 1 : p);
        }
        if (k < n) snprintf(out + k, n - k, ")");
    } else {
        snprintf(out, n, "%s", path);
    }
    return out;
}

/* The decks a stems recording could not record, one line each. */
static void print_rec_skipped(const cJSON *rec) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(rec, "skipped"))
        printf("recording: deck %s not recorded: %s\n", kn_jstr(s, "deck"), kn_jstr(s, "why"));
}

static void print_status(const cJSON *r) {
    printf("conductor pid %.0f, instance %s: %s (%s), %.0f Hz, %.0f ch, block %.0f\n",
           kn_jnum(r, "pid"), kn_jstr(r, "instance"), kn_jstr(r, "backend"), kn_jstr(r, "device"),
           kn_jnum(r, "rate"), kn_jnum(r, "channels"), kn_jnum(r, "block"));
    printf("latency: device %.1f ms + ring %.1f ms; device underflows %.0f\n",
           kn_jnum(r, "device_latency_ms"), kn_jnum(r, "ring_target_ms"),
           kn_jnum(r, "device_underflows"));
    char in[700];
    if (kn_fmt_input(cJSON_GetObjectItem(r, "input"), in, sizeof in)) printf("input: %s\n", in);
    if (kn_fmt_midi(cJSON_GetObjectItem(r, "midi"), in, sizeof in)) printf("midi: %s\n", in);
    const cJSON *t = cJSON_GetObjectItem(r, "tempo");
    printf("tempo: %g bpm, %g beats per bar, beat %.3f; late events %.0f\n", kn_jnum(t, "bpm"),
           kn_jnum(t, "bar"), kn_jnum(t, "beat"), kn_jnum(r, "events_late"));
    const cJSON *l = cJSON_GetObjectItem(r, "link");
    if (cJSON_IsTrue(cJSON_GetObjectItem(l, "enabled"))) print_link(l);
    char osc[512];
    printf("osc: %s\n", kn_fmt_osc(r, osc, sizeof osc));
    print_load(r);
    print_master(r);
    const cJSON *rec = cJSON_GetObjectItem(r, "recording");
    if (cJSON_IsObject(rec)) {
        char what[4400];
        printf("recording: %s (%.1f s, %.0f frames dropped, %.0f lost)\n",
               rec_what(rec, what, sizeof what), kn_jnum(rec, "frames") / kn_jnum(r, "rate"),
               kn_jnum(rec, "dropped"), kn_jnum(rec, "lost"));
        print_rec_skipped(rec);
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "error"));
        if (e) printf("recording: WRITE FAILED: %s; frames are being dropped\n", e);
    }
    const cJSON *decks = cJSON_GetObjectItem(r, "decks"), *d;
    if (!cJSON_GetArraySize(decks)) {
        printf("no decks; play one with `kanon play FILE.c`\n");
        return;
    }
    printf("%-12s %-24s %5s %-9s %-4s %6s %5s %9s %6s %6s %6s  %s\n", "DECK", "FILE", "CART",
           "STATE", "TIER", "LOAD", "CPU", "UNDERRUNS", "NAN", "PEAK", "RMS", "LAST EVENT");
    cJSON_ArrayForEach(d, decks) {
        const cJSON *cart = cJSON_GetObjectItem(d, "cartridge");
        char pk[16], rms[16];
        int shed = cJSON_IsTrue(cJSON_GetObjectItem(d, "shed"));
        const char *state = kn_jstr(cart, "state"),
                   *stage = kn_jstr(cJSON_GetObjectItem(d, "next"), "stage");
        if (!strcmp(state, "none") && stage && stage[0]) state = stage; /* a first version */
        printf("%-12s %-24s %5.0f %-9s %-4s %5.1f%% %4.0f%% %9.0f %6.0f %6s %6s  %s\n",
               kn_jstr(d, "name"), kn_jstr(d, "file"), kn_jnum(cart, "id"), shed ? "shed" : state,
               kn_jstr(d, "tier"), kn_jnum(d, "load"), kn_jnum(d, "cpu"), kn_jnum(d, "underruns"),
               kn_jnum(d, "nonfinite"), kn_fmt_db(kn_jnum(d, "peak_db"), pk),
               kn_fmt_db(kn_jnum(d, "rms_db"), rms), kn_jstr(d, "last_event"));
    }
    cJSON_ArrayForEach(d, decks) { /* a compile under way, what waits for its beat */
        const cJSON *n = cJSON_GetObjectItem(d, "next");
        if (cJSON_GetObjectItem(n, "seconds"))
            printf("deck %s: cartridge %.0f %s %s for %.1f s (limit %g s)\n", kn_jstr(d, "name"),
                   kn_jnum(n, "id"), kn_jstr(n, "stage"), kn_jstr(d, "file"), kn_jnum(n, "seconds"),
                   kn_jnum(r, "compile_timeout_s"));
        if (cJSON_IsTrue(cJSON_GetObjectItem(d, "held")))
            printf("deck %s: cartridge %.0f compiled, held until its group starts (`kanon "
                   "session load`)\n",
                   kn_jstr(d, "name"), kn_jnum(n, "id"));
        const cJSON *p = cJSON_GetObjectItem(d, "pending");
        if (cJSON_GetObjectItem(p, "takeover_beat"))
            printf("deck %s: the next version takes over on beat %.6g\n", kn_jstr(d, "name"),
                   kn_jnum(p, "takeover_beat"));
        if (cJSON_GetObjectItem(p, "stop_beat"))
            printf("deck %s: stops on beat %.6g\n", kn_jstr(d, "name"), kn_jnum(p, "stop_beat"));
    }
}

int cmd_status(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 0);
    if (st) return st;
    cJSON *r = kn_request(kn_cmd("status"));
    st = kn_reply_status(r, "status");
    if (!st && a.json)
        kn_print_json(r);
    else if (!st)
        print_status(r);
    cJSON_Delete(r);
    return st;
}

/* The recorder is the conductor's, so it needs an absolute path. */
static int absolute(const char *path, char out[PATH_MAX]) {
    if (path[0] == '/') return snprintf(out, PATH_MAX, "%s", path) >= PATH_MAX ? -1 : 0;
    if (!getcwd(out, PATH_MAX) || strlen(out) + strlen(path) + 2 > PATH_MAX) return -1;
    strcat(strcat(out, "/"), path);
    return 0;
}

static int record_start(const kn_args *a) {
    char abs[PATH_MAX];
    if (absolute(a->pos[1], abs)) {
        fprintf(stderr, "kanon record: error: %s: path too long or no working directory\n",
                a->pos[1]);
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("record_start");
    cJSON_AddStringToObject(q, "path", abs);
    cJSON_AddStringToObject(q, "display", a->pos[1]);
    if (a->force) cJSON_AddBoolToObject(q, "force", 1);
    if (a->stems) cJSON_AddBoolToObject(q, "stems", 1);
    if (a->deck) cJSON_AddStringToObject(q, "deck", a->deck);
    cJSON *r = kn_request(q);
    int st = kn_reply_status(r, "record");
    char what[4400];
    if (!st && a->json)
        kn_print_json(r);
    else if (!st && !a->stems && !a->deck)
        printf("recording to %s\n", a->pos[1]);
    else if (!st)
        printf("recording %s\n", rec_what(r, what, sizeof what));
    cJSON_Delete(r);
    return st;
}

static int record_stop(const kn_args *a) {
    cJSON *r = kn_request(kn_cmd("record_stop"));
    int st = kn_reply_status(r, "record");
    char what[4400];
    if (!st && a->json) {
        kn_print_json(r);
    } else if (!st) {
        printf("recorded %s: %.0f frames (%.2f s), %.0f dropped, %.0f lost\n",
               rec_what(r, what, sizeof what), kn_jnum(r, "frames"), kn_jnum(r, "seconds"),
               kn_jnum(r, "dropped"), kn_jnum(r, "lost"));
        print_rec_skipped(r);
    }
    cJSON_Delete(r);
    return st;
}

int cmd_record(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_FORCE | KN_OPT_STEMS | KN_OPT_DECK,
                           1, 2);
    if (st) return st;
    int start = !strcmp(a.pos[0], "start") && a.npos == 2;
    if (start && a.stems && a.deck) {
        fprintf(stderr, "kanon record: error: --stems records every deck and --deck one; give "
                        "one or the other\n");
        return KN_EXIT_ERR;
    }
    if (start) return record_start(&a);
    if (!strcmp(a.pos[0], "stop") && a.npos == 1 && !a.stems && !a.deck) return record_stop(&a);
    fprintf(stderr, "kanon record: error: use `kanon record start FILE.wav [--deck DECK]`, "
                    "`kanon record start DIR --stems` or `kanon record stop`\n");
    return KN_EXIT_ERR;
}

/* kanon quant DECK N */
int cmd_quant(int argc, char **argv) {
    kn_args a;
    double quant;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 2, 2);
    if (!st) st = kn_parse_num("quant", "N", a.pos[1], 0, 1024, 0, "beats", &quant);
    if (st) return st;
    cJSON *q = kn_cmd("quant");
    cJSON_AddStringToObject(q, "deck", a.pos[0]);
    cJSON_AddNumberToObject(q, "quant", quant);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "quant");
    if (!st && a.json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "deck", a.pos[0]);
        cJSON_AddNumberToObject(o, "quant", quant);
        kn_print_json(o);
        cJSON_Delete(o);
    } else if (!st && quant > 0) {
        printf("deck %s: saves and reverts take over on the next multiple of %g beats\n", a.pos[0],
               quant);
    } else if (!st) {
        printf("deck %s: saves and reverts take over at once\n", a.pos[0]);
    }
    cJSON_Delete(r);
    return st;
}

/* kanon tempo [BPM] [--bar N] [--ramp BEATS] */
int cmd_tempo(int argc, char **argv) {
    kn_args a;
    double bpm = 0, bar = 0, ramp = 0;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_RAMP | KN_OPT_BAR, 0, 1);
    if (!st && a.npos) st = kn_parse_num("tempo", "BPM", a.pos[0], 1, 1000, 0, "bpm", &bpm);
    if (!st && a.bar) st = kn_parse_num("tempo", "--bar", a.bar, 1, 64, 1, "beats", &bar);
    if (!st && a.ramp) st = kn_parse_num("tempo", "--ramp", a.ramp, 0, 1e6, 0, "beats", &ramp);
    if (st) return st;
    if (!a.npos && a.ramp) {
        fprintf(stderr, "kanon tempo: error: --ramp needs a BPM to glide to\nusage: %s\n",
                kn_usage("tempo"));
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("tempo");
    if (a.npos) cJSON_AddNumberToObject(q, "bpm", bpm);
    if (bar) cJSON_AddNumberToObject(q, "bar", bar);
    if (ramp > 0) cJSON_AddNumberToObject(q, "ramp_beats", ramp);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "tempo");
    const cJSON *t = cJSON_GetObjectItem(r, "tempo");
    if (!st && a.json) {
        kn_print_json(t);
    } else if (!st) {
        printf("%g bpm, %g beats per bar, beat %.3f", kn_jnum(t, "bpm"), kn_jnum(t, "bar"),
               kn_jnum(t, "beat"));
        if (ramp > 0) printf(" (gliding to %g bpm over %g beats)", bpm, ramp);
        putchar('\n');
    }
    cJSON_Delete(r);
    return st;
}

/* "on, 1 peer, quantum 4, stopped" */
static void print_link(const cJSON *l) {
    if (!cJSON_IsTrue(cJSON_GetObjectItem(l, "enabled"))) {
        const char *e = kn_jstr(l, "error");
        printf("link: off%s%s\n", e[0] ? ": " : "", e);
        return;
    }
    double peers = kn_jnum(l, "peers");
    printf("link: on, %g peer%s, quantum %g, %s\n", peers, peers == 1 ? "" : "s",
           kn_jnum(l, "quantum"),
           cJSON_IsTrue(cJSON_GetObjectItem(l, "playing")) ? "playing" : "stopped");
}

/* kanon link [on|off|start|stop] */
int cmd_link(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 1);
    if (st) return st;
    const char *w = a.npos ? a.pos[0] : "";
    cJSON *q = kn_cmd("link");
    if (!strcmp(w, "on") || !strcmp(w, "off")) {
        cJSON_AddBoolToObject(q, "on", !strcmp(w, "on"));
    } else if (!strcmp(w, "start") || !strcmp(w, "stop")) {
        cJSON_AddBoolToObject(q, "playing", !strcmp(w, "start"));
    } else if (a.npos) {
        cJSON_Delete(q);
        fprintf(stderr, "kanon link: error: '%s': use on, off, start or stop\nusage: %s\n", w,
                kn_usage("link"));
        return KN_EXIT_ERR;
    }
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "link");
    const cJSON *l = cJSON_GetObjectItem(r, "link");
    if (!st && a.json) {
        kn_print_json(l);
    } else if (!st) {
        print_link(l);
        if (!strcmp(w, "start") || !strcmp(w, "stop"))
            printf("link: asked the session to %s on the next bar\n", w);
    }
    cJSON_Delete(r);
    return st;
}
