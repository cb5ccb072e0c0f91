/*
 * map.c - `kanon map load FILE`: bind a control surface's OSC addresses to
 * parameters and the mixer (see docs/control-surfaces.md).
 */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_map(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 2, 2);
    if (st) return st;
    if (strcmp(a.pos[0], "load")) {
        fprintf(stderr, "kanon map: error: unknown action '%s'; use `kanon map load FILE`\n",
                a.pos[0]);
        return KN_EXIT_ERR;
    }
    char abs[PATH_MAX];
    if (!realpath(a.pos[1], abs)) {
        fprintf(stderr, "kanon map: error: %s: %m\n", a.pos[1]);
        return KN_EXIT_ERR;
    }
    cJSON *q = kn_cmd("map_load");
    cJSON_AddStringToObject(q, "path", abs);
    cJSON *r = kn_request(q);
    st = kn_reply_status(r, "map");
    if (!st && a.json) {
        char *s = cJSON_PrintUnformatted(r);
        puts(s);
        free(s);
    } else if (!st) {
        printf("control surface map loaded: %s\n", a.pos[1]);
    }
    cJSON_Delete(r);
    return st;
}
