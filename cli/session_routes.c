/*
 * session_routes.c - the routes of a session: validating them, asking the
 * conductor for its own and making them so.
 *
 * Coded against the routing commands as specified (conductor/routes.c,
 * another branch):
 *   {"cmd":"routes"}  ->  {"ok":true,"routes":[{"src","dst","port","gain_db","pre"}]}
 *   {"cmd":"route","src","dst","port","gain_db","pre"}   adds, or changes a route's gain/pre
 *   {"cmd":"unroute","src","dst","port"}
 * src is a deck, "in" or "in:N" / "in:N-M" (the device's inputs), dst a
 * deck or "master"; every deck routes to master until told otherwise. A
 * conductor that answers "unknown command" to `routes` has no routing:
 * every deck goes to master at 0 dB, which is what a session without
 * "routes" means, and the only routing such a conductor can load.
 */
#include "cli.h"
#include "session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const route_keys[] = {"src", "dst", "port", "gain_db", "pre", NULL};

static int is_deck(const char *s, const char (*names)[KN_NAME_MAX], int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return 1;
    return 0;
}

/* "in", "in:N" or "in:N-M" with 1 <= N <= M <= 64. */
static int is_input(const char *s) {
    if (strncmp(s, "in", 2)) return 0;
    if (!s[2]) return 1;
    if (s[2] != ':') return 0;
    char *end;
    if (s[3] < '0' || s[3] > '9') return 0; /* strtol would take " +1" too */
    long a = strtol(s + 3, &end, 10), b = a;
    if (a < 1 || a > 64) return 0;
    if (*end == '-') {
        const char *p = end + 1;
        if (*p < '0' || *p > '9') return 0;
        b = strtol(p, &end, 10);
        if (b < a || b > 64) return 0;
    }
    return *end == 0;
}

int kn_sroutes_parse(const kn_swhere *w, const cJSON *routes, const char (*names)[KN_NAME_MAX],
                     int n, kn_sroute *out, int *nout) {
    *nout = 0;
    if (!cJSON_IsArray(routes))
        return kn_session_fail(w, "routes: must be an array of {\"src\", \"dst\", ...}");
    const cJSON *r;
    int i = 0;
    cJSON_ArrayForEach(r, routes) {
        if (!cJSON_IsObject(r))
            return kn_session_fail(w, "routes[%d]: must be an object {\"src\", \"dst\", ...}", i);
        const cJSON *f;
        cJSON_ArrayForEach(
            f,
            r) if (!kn_session_known(f->string,
                                     route_keys)) return kn_session_fail(w,
                                                                         "routes[%d].%s: unknown "
                                                                         "field (a route has src, "
                                                                         "dst, port, gain_db, pre)",
                                                                         i, f->string);
        if (*nout >= KN_SESSION_ROUTES)
            return kn_session_fail(w, "routes: at most %d routes", KN_SESSION_ROUTES);
        kn_sroute *o = &out[*nout];
        memset(o, 0, sizeof *o);
        const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "src"));
        const char *dst = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "dst"));
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(r, "port");
        const cJSON *gain = cJSON_GetObjectItemCaseSensitive(r, "gain_db");
        const cJSON *pre = cJSON_GetObjectItemCaseSensitive(r, "pre");
        if (!src)
            return kn_session_fail(w, "routes[%d].src: missing (a deck, \"in\" or \"in:N\")", i);
        if (!is_deck(src, names, n) && !is_input(src))
            return kn_session_fail(w,
                                   "routes[%d].src: '%.40s' is not a deck of the session, nor "
                                   "\"in\", \"in:N\" or \"in:N-M\" (inputs 1..64)",
                                   i, src);
        if (!dst) return kn_session_fail(w, "routes[%d].dst: missing (a deck or \"master\")", i);
        if (strcmp(dst, "master") && !is_deck(dst, names, n))
            return kn_session_fail(w,
                                   "routes[%d].dst: '%.40s' is not a deck of the session, nor "
                                   "\"master\"",
                                   i, dst);
        if (!strcmp(src, dst))
            return kn_session_fail(w, "routes[%d]: deck %s routes to itself", i, src);
        if (port && (!cJSON_IsString(port) || strlen(port->valuestring) >= KN_PORT_MAX))
            return kn_session_fail(w, "routes[%d].port: must be a string of at most %d characters",
                                   i, KN_PORT_MAX - 1);
        if (gain &&
            (!cJSON_IsNumber(gain) || !(gain->valuedouble >= -120 && gain->valuedouble <= 24)))
            return kn_session_fail(w, "routes[%d].gain_db: must be a number of dB, -120..24", i);
        if (pre && !cJSON_IsBool(pre))
            return kn_session_fail(w, "routes[%d].pre: must be true or false", i);
        snprintf(o->src, sizeof o->src, "%s", src);
        snprintf(o->dst, sizeof o->dst, "%s", dst);
        snprintf(o->port, sizeof o->port, "%s", port ? port->valuestring : "");
        o->gain_db = gain ? gain->valuedouble : 0;
        o->pre = cJSON_IsTrue(pre);
        for (int k = 0; k < *nout; k++)
            if (!strcmp(out[k].src, o->src) && !strcmp(out[k].dst, o->dst) &&
                !strcmp(out[k].port, o->port))
                return kn_session_fail(w,
                                       "routes[%d]: routes %s to %s%s%s a second time (see "
                                       "routes[%d])",
                                       i, o->src, o->dst, o->port[0] ? " port " : "", o->port, k);
        (*nout)++;
        i++;
    }
    return 0;
}

int kn_sroutes_default(const char (*names)[KN_NAME_MAX], int n, kn_sroute *out) {
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].src, sizeof out[i].src, "%s", names[i]);
        snprintf(out[i].dst, sizeof out[i].dst, "master");
    }
    return n;
}

static int same_route(const kn_sroute *a, const kn_sroute *b) {
    return !strcmp(a->src, b->src) && !strcmp(a->dst, b->dst) && !strcmp(a->port, b->port);
}

int kn_sroutes_same(const kn_sroute *a, int na, const kn_sroute *b, int nb) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int k = 0; k < nb && !found; k++)
            found = same_route(&a[i], &b[k]) && fabs(a[i].gain_db - b[k].gain_db) < 1e-9 &&
                    a[i].pre == b[k].pre;
        if (!found) return 0;
    }
    return 1;
}

int kn_sroutes_query(kn_sroute *out, int *nout) {
    *nout = 0;
    cJSON *r = kn_request(kn_cmd("routes"));
    if (!r) return -1;
    if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
        int unknown = !strncmp(kn_jstr(r, "error"), "unknown command", 15);
        if (!unknown) fprintf(stderr, "kanon session: error: routes: %s\n", kn_jstr(r, "error"));
        cJSON_Delete(r);
        return unknown ? 0 : -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "routes")) {
        if (*nout >= KN_SESSION_ROUTES) break;
        kn_sroute *o = &out[(*nout)++];
        memset(o, 0, sizeof *o);
        snprintf(o->src, sizeof o->src, "%s", kn_jstr(e, "src"));
        snprintf(o->dst, sizeof o->dst, "%s", kn_jstr(e, "dst"));
        snprintf(o->port, sizeof o->port, "%s", kn_jstr(e, "port"));
        o->gain_db = kn_jnum(e, "gain_db");
        o->pre = cJSON_IsTrue(cJSON_GetObjectItem(e, "pre"));
    }
    cJSON_Delete(r);
    return 1;
}

int kn_sroutes_keep(kn_sroute *r, int n, const char (*names)[KN_NAME_MAX], int ndecks) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if ((is_deck(r[i].src, names, ndecks) || is_input(r[i].src)) &&
            (!strcmp(r[i].dst, "master") || is_deck(r[i].dst, names, ndecks)))
            r[k++] = r[i];
    return k;
}

cJSON *kn_sroutes_json(const kn_sroute *r, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "src", r[i].src);
        cJSON_AddStringToObject(o, "dst", r[i].dst);
        cJSON_AddStringToObject(o, "port", r[i].port);
        cJSON_AddNumberToObject(o, "gain_db", r[i].gain_db);
        cJSON_AddBoolToObject(o, "pre", r[i].pre);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int send_route(const char *cmd, const kn_sroute *r) {
    cJSON *q = kn_cmd(cmd);
    cJSON_AddStringToObject(q, "src", r->src);
    cJSON_AddStringToObject(q, "dst", r->dst);
    cJSON_AddStringToObject(q, "port", r->port);
    if (!strcmp(cmd, "route")) {
        cJSON_AddNumberToObject(q, "gain_db", r->gain_db);
        cJSON_AddBoolToObject(q, "pre", r->pre);
    }
    cJSON *rep = kn_request(q);
    int st = rep ? 0 : KN_EXIT_NOCONDUCTOR;
    if (rep && !cJSON_IsTrue(cJSON_GetObjectItem(rep, "ok"))) {
        fprintf(stderr, "kanon session: error: %s %s -> %s%s%s: %s\n", cmd, r->src, r->dst,
                r->port[0] ? " port " : "", r->port, kn_jstr(rep, "error"));
        st = KN_EXIT_ERR;
    }
    cJSON_Delete(rep);
    return st;
}

int kn_sroutes_apply(const kn_sroute *want, int nwant, const char (*names)[KN_NAME_MAX], int n) {
    static kn_sroute have[KN_SESSION_ROUTES];
    int nhave, st = 0;
    int q = kn_sroutes_query(have, &nhave);
    if (q < 0) return KN_EXIT_ERR;
    if (q == 0) return 0; /* no routing: checked before anything changed (default routes) */
    /* the session's business: routes whose ends are its decks, its inputs or the master */
    for (int i = 0; i < nhave; i++) {
        const kn_sroute *h = &have[i];
        int ours = (is_deck(h->src, names, n) || is_input(h->src)) &&
                   (is_deck(h->dst, names, n) || !strcmp(h->dst, "master"));
        int wanted = 0;
        for (int k = 0; k < nwant && !wanted; k++) wanted = same_route(h, &want[k]);
        if (ours && !wanted && !st) st = send_route("unroute", h);
    }
    for (int k = 0; k < nwant && !st; k++) {
        int same = 0;
        for (int i = 0; i < nhave && !same; i++)
            same = same_route(&have[i], &want[k]) && have[i].gain_db == want[k].gain_db &&
                   have[i].pre == want[k].pre;
        if (!same) st = send_route("route", &want[k]);
    }
    return st;
}
