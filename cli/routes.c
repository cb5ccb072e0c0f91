/*
 * routes.c - `kanon route`, `kanon unroute` and `kanon routes`: which deck
 * feeds which deck's port, or the master (docs/routing.md). The conductor
 * checks everything (names, gains, cycles); this file only parses and
 * prints.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a -> fx:in  -6 dB  post" */
static void print_routes(const cJSON *routes) {
    const cJSON *r;
    if (!cJSON_GetArraySize(routes)) printf("no routes (no deck plays)\n");
    cJSON_ArrayForEach(r, routes) {
        const char *port = kn_jstr(r, "port");
        char dst[80]; /* "deck:port" as one column */
        snprintf(dst, sizeof dst, "%s%s%s", kn_jstr(r, "dst"), port[0] ? ":" : "", port);
        printf("%-12s -> %-20s %+7.2f dB  %s", kn_jstr(r, "src"), dst, kn_jnum(r, "gain_db"),
               cJSON_IsTrue(cJSON_GetObjectItem(r, "pre")) ? "pre" : "post");
        double delay = kn_jnum(r, "delay");
        if (delay > 0) printf("  (delayed %g frames to align)", delay);
        putchar('\n');
    }
}

static int usage_error(const char *cmd, const char *what) {
    fprintf(stderr, "kanon %s: error: %s\nusage: %s\n", cmd, what, kn_usage(cmd));
    return KN_EXIT_ERR;
}

/* kanon route SRC DST[:PORT] [--gain DB] [--pre] [--json] */
int cmd_route(int argc, char **argv) {
    static const struct option opts[] = {{"gain", required_argument, 0, 'g'},
                                         {"pre", no_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    double gain = 0;
    int pre = 0, json = 0, o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (o == 'g') {
            if (kn_parse_num("route", "--gain", optarg, -120, 24, 0, "dB", &gain))
                return KN_EXIT_ERR;
        } else if (o == 'p') {
            pre = 1;
        } else if (o == 'j') {
            json = 1;
        } else { /* name the culprit: getopt's own message is off (opterr) */
            char m[160];
            snprintf(m, sizeof m, o == ':' ? "%.60s needs a value" : "unknown option '%.60s'",
                     argv[optind - 1]);
            return usage_error("route", m);
        }
    }
    if (argc - optind != 2) return usage_error("route", "needs SRC and DST");
    cJSON *q = kn_cmd("route");
    cJSON_AddStringToObject(q, "src", argv[optind]);
    cJSON_AddStringToObject(q, "dst", argv[optind + 1]);
    cJSON_AddNumberToObject(q, "gain_db", gain);
    cJSON_AddBoolToObject(q, "pre", pre);
    cJSON *r = kn_request(q);
    int st = kn_reply_status(r, "route");
    if (!st && json) kn_print_json(cJSON_GetObjectItem(r, "routes"));
    cJSON_Delete(r);
    return st;
}

/* kanon unroute SRC DST[:PORT] [--json] */
int cmd_unroute(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 2, 2);
    if (st) return st;
    cJSON *q = kn_cmd("unroute");
    cJSON_AddStringToObject(q, "src", a.pos[0]);
    cJSON_AddStringToObject(q, "dst", a.pos[1]);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "unroute");
    if (!st && a.json) kn_print_json(cJSON_GetObjectItem(r, "routes"));
    cJSON_Delete(r);
    return st;
}

/* kanon routes [--json] */
int cmd_routes(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 0);
    if (st) return st;
    cJSON *r = kn_request(kn_cmd("routes"));
    st = kn_reply_status(r, "routes");
    if (!st && a.json)
        kn_print_json(cJSON_GetObjectItem(r, "routes"));
    else if (!st)
        print_routes(cJSON_GetObjectItem(r, "routes"));
    cJSON_Delete(r);
    return st;
}
