/*
 * commands.c - the commands that talk to a running conductor.
 */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void print_json(const cJSON *r) {
    char *s = cJSON_PrintUnformatted(r);
    puts(s);
    free(s);
}

/* A deck name from a file name: its stem, restricted to [A-Za-z0-9_-]. */
static void deck_from_path(const char *path, char *out, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t j = 0;
    for (size_t i = 0; base[i] && base[i] != '.' && j + 1 < n && j < 31; i++) {
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

/* Polls the conductor for a cartridge's compile outcome (up to 30 s). */
static int wait_result(const char *deck, double id, const char *display) {
    for (int i = 0; i < 15000; i++) {
        cJSON *q = kn_cmd("result");
        cJSON_AddStringToObject(q, "deck", deck);
        cJSON_AddNumberToObject(q, "id", id);
        cJSON *r = kn_request(q);
        int st = kn_reply_status(r, "play");
        if (st) {
            cJSON_Delete(r);
            return st;
        }
        const char *state = kn_jstr(r, "state");
        if (!strcmp(state, "running")) {
            printf("deck %s: playing %s (cartridge %.0f, compiled in %.2f ms)\n", deck, display,
                   id, kn_jnum(r, "compile_ms"));
            cJSON_Delete(r);
            return KN_EXIT_OK;
        }
        if (!strcmp(state, "error")) {
            fprintf(stderr, "%s\n", kn_jstr(r, "message"));
            cJSON_Delete(r);
            return KN_EXIT_ERR;
        }
        cJSON_Delete(r);
        sleep_ms(2);
    }
    fprintf(stderr, "kanon play: error: no result after 30 s; see `kanon status`\n");
    return KN_EXIT_ERR;
}

static void print_event(const cJSON *e) {
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
    printf("following deck %s (Ctrl-C to stop; the deck plays on)\n", deck);
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
    const char *deck = argc >= 2 && argv[1][0] != '-' ? argv[1] : NULL;
    cJSON *q = kn_cmd("log");
    if (deck) cJSON_AddStringToObject(q, "deck", deck);
    cJSON *r = kn_request(q);
    int st = kn_reply_status(r, "log");
    const cJSON *e;
    if (!st && kn_has_flag(argc, argv, "--json")) print_json(cJSON_GetObjectItem(r, "events"));
    else if (!st) cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "events")) print_event(e);
    cJSON_Delete(r);
    return st;
}

int cmd_history(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "kanon history: error: usage: kanon history DECK [--json]\n");
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("history");
    cJSON_AddStringToObject(q, "deck", argv[1]);
    cJSON *r = kn_request(q);
    int st = kn_reply_status(r, "history");
    if (!st && kn_has_flag(argc, argv, "--json")) print_json(r);
    else if (!st) {
        const cJSON *v;
        printf("deck %s: versions in %s/%s (playing v%.0f)\n", argv[1], kn_jstr(r, "dir"), argv[1],
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
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "kanon revert: error: usage: kanon revert DECK [VERSION]\n");
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("revert");
    cJSON_AddStringToObject(q, "deck", argv[1]);
    if (argc >= 3 && argv[2][0] != '-') cJSON_AddNumberToObject(q, "version", atof(argv[2]));
    cJSON *r = request_version(q);
    int st = kn_reply_status(r, "revert");
    double id = kn_jnum(r, "id");
    cJSON_Delete(r);
    return st ? st : wait_result(argv[1], id, "the earlier version");
}

int cmd_play(int argc, char **argv) {
    static const struct option lo[] = {{"deck", 1, 0, 'd'},     {"no-wait", 0, 0, 'n'},
                                       {"fade", 1, 0, 'f'},     {"follow", 0, 0, 'F'},
                                       {"no-watch", 0, 0, 'W'}, {0, 0, 0, 0}};
    const char *deck = NULL;
    int nowait = 0, c, follow_ = 0, watch = 1;
    double fade = 20;
    while ((c = getopt_long(argc, argv, "d:", lo, NULL)) != -1) {
        if (c == 'd') deck = optarg;
        else if (c == 'n') nowait = 1;
        else if (c == 'F') follow_ = 1;
        else if (c == 'W') watch = 0;
        else if (c == 'f') {
            char *end;
            fade = strtod(optarg, &end);
            if (end == optarg || *end || !(fade >= 0 && fade <= 1000)) {
                fprintf(stderr, "kanon play: error: --fade wants milliseconds, 0..1000\n");
                return KN_EXIT_ERR;
            }
        } else return KN_EXIT_ERR;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "kanon play: error: give one FILE.c (see `kanon play --help`)\n");
        return KN_EXIT_ERR;
    }
    const char *file = argv[optind];
    char abs[PATH_MAX], name[32];
    if (!realpath(file, abs)) {
        fprintf(stderr, "kanon play: error: %s: %m\n", file);
        return KN_EXIT_ERR;
    }
    if (deck) snprintf(name, sizeof name, "%s", deck);
    else deck_from_path(file, name, sizeof name);
    cJSON *q = kn_cmd("play");
    cJSON_AddStringToObject(q, "file", abs);
    cJSON_AddStringToObject(q, "display", file);
    cJSON_AddStringToObject(q, "deck", name);
    cJSON_AddNumberToObject(q, "fade_ms", fade);
    cJSON_AddBoolToObject(q, "watch", watch);
    double since = follow_ ? print_events(name, 1e18) : 0; /* only what comes next */
    cJSON *r = request_version(q);
    int st = kn_reply_status(r, "play");
    double id = kn_jnum(r, "id");
    int created = cJSON_IsTrue(cJSON_GetObjectItem(r, "created"));
    cJSON_Delete(r);
    if (st || nowait) return st;
    st = wait_result(name, id, file);
    if (st == KN_EXIT_ERR && created) { /* nothing played: don't leave an empty deck */
        cJSON *q2 = kn_cmd("stop");
        cJSON_AddStringToObject(q2, "deck", name);
        cJSON_Delete(kn_request(q2));
    }
    if (follow_ && st != KN_EXIT_NOCONDUCTOR) return follow(name, since);
    return st;
}

int cmd_stop(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "kanon stop: error: give one DECK (see `kanon status`)\n");
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("stop");
    cJSON_AddStringToObject(q, "deck", argv[1]);
    cJSON *r = kn_request(q);
    int st = kn_reply_status(r, "stop");
    if (!st) printf("deck %s: stopped\n", argv[1]);
    cJSON_Delete(r);
    return st;
}

static void print_status(const cJSON *r) {
    printf("conductor pid %.0f, instance %s: %s (%s), %.0f Hz, %.0f ch, block %.0f\n",
           kn_jnum(r, "pid"), kn_jstr(r, "instance"), kn_jstr(r, "backend"), kn_jstr(r, "device"),
           kn_jnum(r, "rate"), kn_jnum(r, "channels"), kn_jnum(r, "block"));
    printf("latency: device %.1f ms + ring %.1f ms; device underflows %.0f; limiter %s\n",
           kn_jnum(r, "device_latency_ms"), kn_jnum(r, "ring_target_ms"),
           kn_jnum(r, "device_underflows"),
           cJSON_IsTrue(cJSON_GetObjectItem(r, "limiter")) ? "on" : "off");
    const cJSON *rec = cJSON_GetObjectItem(r, "recording");
    if (cJSON_IsObject(rec))
        printf("recording: %s (%.1f s, %.0f frames dropped)\n", kn_jstr(rec, "path"),
               kn_jnum(rec, "frames") / kn_jnum(r, "rate"), kn_jnum(rec, "dropped"));
    const cJSON *decks = cJSON_GetObjectItem(r, "decks"), *d;
    if (!cJSON_GetArraySize(decks)) {
        printf("no decks; play one with `kanon play FILE.c`\n");
        return;
    }
    printf("%-12s %-24s %5s %-9s %6s %9s %6s  %s\n", "DECK", "FILE", "CART", "STATE", "LOAD",
           "UNDERRUNS", "NAN", "LAST EVENT");
    cJSON_ArrayForEach(d, decks) {
        const cJSON *cart = cJSON_GetObjectItem(d, "cartridge");
        printf("%-12s %-24s %5.0f %-9s %5.1f%% %9.0f %6.0f  %s\n", kn_jstr(d, "name"),
               kn_jstr(d, "file"), kn_jnum(cart, "id"), kn_jstr(cart, "state"),
               kn_jnum(d, "load"), kn_jnum(d, "underruns"), kn_jnum(d, "nonfinite"),
               kn_jstr(d, "last_event"));
    }
}

int cmd_status(int argc, char **argv) {
    cJSON *r = kn_request(kn_cmd("status"));
    int st = kn_reply_status(r, "status");
    if (!st) {
        if (kn_has_flag(argc, argv, "--json")) print_json(r);
        else print_status(r);
    }
    cJSON_Delete(r);
    return st;
}

int cmd_record(int argc, char **argv) {
    int json = kn_has_flag(argc, argv, "--json");
    if (argc >= 3 && !strcmp(argv[1], "start")) {
        char abs[PATH_MAX];
        if (argv[2][0] == '/') snprintf(abs, sizeof abs, "%s", argv[2]);
        else if (!getcwd(abs, sizeof abs) || strlen(abs) + strlen(argv[2]) + 2 > sizeof abs)
            return KN_EXIT_INTERNAL;
        else strcat(strcat(abs, "/"), argv[2]);
        cJSON *q = kn_cmd("record_start");
        cJSON_AddStringToObject(q, "path", abs);
        cJSON *r = kn_request(q);
        int st = kn_reply_status(r, "record");
        if (!st) json ? print_json(r) : (void)printf("recording to %s\n", argv[2]);
        cJSON_Delete(r);
        return st;
    }
    if (argc >= 2 && !strcmp(argv[1], "stop")) {
        cJSON *r = kn_request(kn_cmd("record_stop"));
        int st = kn_reply_status(r, "record");
        if (!st && json) print_json(r);
        else if (!st)
            printf("recorded %s: %.0f frames (%.2f s), %.0f dropped\n", kn_jstr(r, "path"),
                   kn_jnum(r, "frames"), kn_jnum(r, "seconds"), kn_jnum(r, "dropped"));
        cJSON_Delete(r);
        return st;
    }
    fprintf(stderr, "kanon record: error: use `kanon record start FILE.wav` or `kanon record stop`\n");
    return KN_EXIT_ERR;
}

/* Splits "deck.name" (or picks the only deck for a bare "name"). */
static int resolve_param(const char *arg, char *deck, char *name) {
    const char *dot = strchr(arg, '.');
    if (dot) {
        snprintf(deck, 32, "%.*s", (int)(dot - arg < 31 ? dot - arg : 31), arg);
        snprintf(name, 32, "%s", dot + 1);
        return 0;
    }
    snprintf(name, 32, "%s", arg);
    cJSON *r = kn_request(kn_cmd("status"));
    int st = kn_reply_status(r, "set");
    const cJSON *decks = cJSON_GetObjectItem(r, "decks");
    if (!st && cJSON_GetArraySize(decks) == 1)
        snprintf(deck, 32, "%s", kn_jstr(cJSON_GetArrayItem(decks, 0), "name"));
    else if (!st) {
        fprintf(stderr, "kanon: error: %d decks are playing; name the deck (see `kanon status`)\n",
                cJSON_GetArraySize(decks));
        st = KN_EXIT_ERR;
    }
    cJSON_Delete(r);
    return st;
}

int cmd_set(int argc, char **argv) {
    char deck[32], name[32], *end;
    if (argc < 3) {
        fprintf(stderr, "kanon set: error: usage: kanon set [DECK.]NAME VALUE\n");
        return KN_EXIT_ERR;
    }
    double v = strtod(argv[2], &end);
    if (end == argv[2] || *end) {
        fprintf(stderr, "kanon set: error: VALUE must be a number, got '%s'\n", argv[2]);
        return KN_EXIT_ERR;
    }
    int st = resolve_param(argv[1], deck, name);
    if (st) return st;
    cJSON *q = kn_cmd("set");
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON_AddStringToObject(q, "name", name);
    cJSON_AddNumberToObject(q, "value", v);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "set");
    if (!st) {
        const cJSON *p = cJSON_GetObjectItem(r, "param");
        if (kn_has_flag(argc, argv, "--json")) print_json(p);
        else printf("%s.%s = %g\n", deck, name, kn_jnum(p, "value"));
    }
    cJSON_Delete(r);
    return st;
}

int cmd_params(int argc, char **argv) {
    int json = kn_has_flag(argc, argv, "--json");
    const char *deck = argc >= 2 && argv[1][0] != '-' ? argv[1] : NULL;
    char d[32];
    if (!deck) {
        if (resolve_param("x", d, (char[32]){0})) return KN_EXIT_ERR;
        deck = d;
    }
    cJSON *q = kn_cmd("params");
    cJSON_AddStringToObject(q, "deck", deck);
    cJSON *r = kn_request(q);
    int st = kn_reply_status(r, "params");
    if (!st && json) print_json(cJSON_GetObjectItem(r, "params"));
    else if (!st) {
        const cJSON *p;
        printf("%-16s %12s %12s %12s %12s\n", "NAME", "VALUE", "MIN", "MAX", "DEFAULT");
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(r, "params")) {
            printf("%-16s %12g %12g %12g %12g\n", kn_jstr(p, "name"), kn_jnum(p, "value"),
                   kn_jnum(p, "min"), kn_jnum(p, "max"), kn_jnum(p, "default"));
        }
    }
    cJSON_Delete(r);
    return st;
}
