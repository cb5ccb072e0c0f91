/*
 * map.c - `kanon map load FILE`: bind a control surface's OSC addresses to
 * parameters and the mixer (see docs/control-surfaces.md).
 */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kanon map show: the map in force, as it was loaded */
static int map_show(const kn_args *a) {
    cJSON *r = kn_request(kn_cmd("map"));
    int st = kn_reply_status(r, "map");
    const cJSON *m = cJSON_GetObjectItem(r, "map");
    const char *name = kn_jstr(cJSON_GetObjectItem(m, "content"), "name");
    if (!st && a->json)
        kn_print_json(r);
    else if (!st && cJSON_IsObject(m) && name[0])
        printf("control surface map: %s (%s)\n", kn_jstr(m, "path"), name);
    else if (!st && cJSON_IsObject(m))
        printf("control surface map: %s\n", kn_jstr(m, "path"));
    else if (!st)
        printf("no control surface map is loaded (`kanon map load FILE.json` loads one); the\n"
               "built-in surface (/surface/knob/N, /surface/button/N, /surface/main, "
               "/surface/shift)\nplays the decks' kn_bind bindings\n");
    cJSON_Delete(r);
    return st;
}

int cmd_map(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 1, 2);
    if (st) return st;
    if (!strcmp(a.pos[0], "show") && a.npos == 1) return map_show(&a);
    if (strcmp(a.pos[0], "load") || a.npos != 2) {
        fprintf(stderr,
                "kanon map: error: use `kanon map load FILE.json` or `kanon map show`\nusage: %s\n",
                kn_usage("map"));
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
