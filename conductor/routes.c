/*
 * routes.c - the route graph (shm/route.h): which deck feeds which deck's
 * port, or the master, and with what gain and delay. Control thread only.
 *
 * Routes are kept by name, so a route may name a deck that does not play
 * yet: it carries audio once that deck plays. Every deck routes to the
 * master unless `kanon unroute X master` said otherwise; an explicit
 * master route only changes its gain or tap. Whenever the graph, a deck's
 * slot or a deck's declared latency changes, routes_publish resolves the
 * names to slots, computes the latency compensation and publishes:
 *   - deck -> deck routes into the routes segment (cartridges read them);
 *   - deck -> master routes into the mixer (gain and delay per deck).
 *
 * The graph never has a cycle: a route that would close one is refused
 * with the cycle spelled out ("b -> c -> a -> b").
 *
 * Latency compensation. A deck's output lags its inputs by its declared
 * latency L. Going through the decks in dependency order, a deck's inputs
 * are aligned on the latest of them (D_in = max over its routes of the
 * source's A), and its output then arrives at A = D_in + L; a route's
 * delay is D_in(dst) - A(src). The master is one more summing point.
 */
#include "conductor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The deck playing under `name`, else one stopping under it (its routes
 * last until its fade is done), else -1. */
static int slot_named(kn_conductor *c, const char *name) {
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && !strcmp(c->deck[i].name, name)) return i;
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && !c->deck[i].name[0] && !strcmp(c->deck[i].gone, name)) return i;
    return -1;
}

/* The name a slot's routes go by (a stopping deck's old one), or NULL. */
static const char *slot_name(kn_conductor *c, int i) {
    kn_deck *d = &c->deck[i];
    return !d->used ? NULL : d->name[0] ? d->name : d->gone[0] ? d->gone : NULL;
}

/* Splits "deck:port" (port "in" if not given); "master" has no port. */
static int parse_dst(const char *s, char deck[KN_NAME_MAX], char port[KN_NAME_MAX], char *err,
                     size_t n) {
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    if (len >= KN_NAME_MAX) {
        snprintf(err, n, "destination '%.40s' is too long", s);
        return -1;
    }
    memcpy(deck, s, len);
    deck[len] = 0;
    snprintf(port, KN_NAME_MAX, "%s", colon ? colon + 1 : KN_PORT_IN);
    if (!strcmp(deck, "master")) {
        if (colon) {
            snprintf(err, n, "the master has no ports: route to 'master', not '%.40s'", s);
            return -1;
        }
        port[0] = 0;
        return 0;
    }
    char why[128];
    if (kn_deck_name_check(deck, why, sizeof why)) {
        snprintf(err, n, "destination '%.40s': %s", s, why);
        return -1;
    }
    if (kn_deck_name_check(port, why, sizeof why)) {
        snprintf(err, n, "port '%.40s' of %s: a port name is 1..31 of [A-Za-z0-9_-]", port, deck);
        return -1;
    }
    return 0;
}

static kn_route_def *find_route(kn_conductor *c, const char *src, const char *dst,
                                const char *port) {
    for (int i = 0; i < c->nroutes; i++) {
        kn_route_def *r = &c->routes[i];
        if (!strcmp(r->src, src) && !strcmp(r->dst, dst) && !strcmp(r->port, port)) return r;
    }
    return NULL;
}

static int master_off(kn_conductor *c, const char *deck) {
    for (int i = 0; i < c->nmaster_off; i++)
        if (!strcmp(c->master_off[i], deck)) return i;
    return -1;
}

/* Breadth-first over deck -> deck routes: is `to` reachable from `from`?
 * If so, path gets "from -> ... -> to". Each route is followed at most
 * once, so it is bounded by the route count. */
static int reaches(kn_conductor *c, const char *from, const char *to, char *path, size_t n) {
    int queue[KN_ROUTES_MAX], parent[KN_ROUTES_MAX], used[KN_ROUTES_MAX] = {0}, head = 0, tail = 0;
    int found = -1;
    if (!strcmp(from, to)) {
        snprintf(path, n, "%s", to);
        return 1;
    }
    for (int i = 0; i < c->nroutes; i++) /* the routes out of `from` */
        if (!strcmp(c->routes[i].src, from) && strcmp(c->routes[i].dst, "master")) {
            used[i] = 1;
            parent[i] = -1;
            queue[tail++] = i;
        }
    while (head < tail && found < 0) {
        int e = queue[head++];
        if (!strcmp(c->routes[e].dst, to)) {
            found = e;
            break;
        }
        for (int i = 0; i < c->nroutes; i++)
            if (!used[i] && !strcmp(c->routes[i].src, c->routes[e].dst) &&
                strcmp(c->routes[i].dst, "master")) {
                used[i] = 1;
                parent[i] = e;
                queue[tail++] = i;
            }
    }
    if (found < 0) return 0;
    int chain[KN_ROUTES_MAX], k = 0;
    for (int e = found; e >= 0 && k < KN_ROUTES_MAX; e = parent[e]) chain[k++] = e;
    size_t len = (size_t)snprintf(path, n, "%s", from);
    while (k-- > 0 && len < n)
        len += (size_t)snprintf(path + len, n - len, " -> %s", c->routes[chain[k]].dst);
    return 1;
}

int kn_route_add(kn_conductor *c, const char *src, const char *dst_spec, double gain_db, int pre,
                 char *err, size_t n) {
    char dst[KN_NAME_MAX], port[KN_NAME_MAX], why[128];
    int first, count;
    if (!src || !dst_spec) {
        snprintf(err, n, "route needs a source and a destination: kanon route SRC DST[:PORT]");
        return -1;
    }
    if (parse_dst(dst_spec, dst, port, err, n)) return -1;
    int input = kn_route_parse_input(src, &first, &count);
    if (input && count < 0) {
        snprintf(err, n,
                 "source '%.40s': the device input is 'in', 'in:N' or 'in:N-M' (channels from 1)",
                 src);
        return -1;
    }
    if (input && !c->inputs) {
        snprintf(err, n,
                 "source '%.40s': this conductor has no audio input; start it with "
                 "`kanon up --inputs N`",
                 src);
        return -1;
    }
    if (input && first + count > c->inputs) {
        snprintf(err, n, "source '%.40s': the input has only %d channel%s", src, c->inputs,
                 c->inputs == 1 ? "" : "s");
        return -1;
    }
    if (input && !strcmp(dst, "master")) {
        snprintf(err, n,
                 "the device input is not a deck: it reaches the master through one; route it "
                 "into a deck (`kanon route %.40s DECK`), which plays on the master",
                 src);
        return -1;
    }
    if (!input && kn_deck_name_check(src, why, sizeof why)) {
        snprintf(err, n, "source '%.40s': %s", src, why);
        return -1;
    }
    if (!(gain_db >= -120 && gain_db <= 24)) {
        snprintf(err, n, "--gain must be a number of dB, -120..24");
        return -1;
    }
    if (strcmp(dst, "master")) {
        char path[1024];
        if (!strcmp(src, dst)) {
            snprintf(err, n,
                     "route %s -> %s would feed a deck into itself (a cycle); kanon's "
                     "routes must not loop",
                     src, dst_spec);
            return -1;
        }
        if (!input && reaches(c, dst, src, path, sizeof path)) {
            snprintf(err, n,
                     "route %s -> %s would close a cycle: %s -> %s; remove one of those routes "
                     "first (`kanon unroute`)",
                     src, dst_spec, path, dst);
            return -1;
        }
    }
    kn_route_def *r = find_route(c, src, dst, port);
    if (!r) {
        if (c->nroutes >= KN_ROUTES_MAX - KN_MAX_DECKS) {
            snprintf(err, n, "too many routes (at most %d besides the master's)",
                     KN_ROUTES_MAX - KN_MAX_DECKS);
            return -1;
        }
        r = &c->routes[c->nroutes++];
        memset(r, 0, sizeof *r);
        snprintf(r->src, sizeof r->src, "%s", src);
        snprintf(r->dst, sizeof r->dst, "%s", dst);
        snprintf(r->port, sizeof r->port, "%s", port);
    }
    r->gain_db = gain_db;
    r->pre = pre;
    r->input = input;
    r->in_first = input ? first : 0;
    r->in_count = input ? count : 0;
    int off = master_off(c, src);
    if (!strcmp(dst, "master") && off >= 0)
        memmove(c->master_off[off], c->master_off[off + 1],
                (size_t)(--c->nmaster_off - off) * KN_NAME_MAX);
    kn_routes_update(c);
    kn_log("route %s -> %s%s%s (%.4g dB%s)", src, dst, port[0] ? ":" : "", port, gain_db,
           pre ? ", pre-fader" : "");
    return 0;
}

int kn_route_remove(kn_conductor *c, const char *src, const char *dst_spec, char *err, size_t n) {
    char dst[KN_NAME_MAX], port[KN_NAME_MAX];
    if (!src || !dst_spec) {
        snprintf(err, n, "unroute needs a source and a destination: kanon unroute SRC DST[:PORT]");
        return -1;
    }
    if (parse_dst(dst_spec, dst, port, err, n)) return -1;
    kn_route_def *r = find_route(c, src, dst, port);
    int master = !strcmp(dst, "master");
    int first, count;
    if (master && kn_route_parse_input(src, &first, &count)) {
        snprintf(err, n, "the device input is never on the master (only decks are)");
        return -1;
    }
    if (master) { /* the default route goes too */
        if (!r && master_off(c, src) >= 0) {
            snprintf(err, n, "%s is not routed to the master", src);
            return -1;
        }
        if (master_off(c, src) < 0 && c->nmaster_off < KN_ROUTES_MAX)
            snprintf(c->master_off[c->nmaster_off++], KN_NAME_MAX, "%s", src);
    } else if (!r) {
        snprintf(err, n, "there is no route %s -> %s:%s (see `kanon routes`)", src, dst, port);
        return -1;
    }
    if (r) *r = c->routes[--c->nroutes];
    kn_routes_update(c);
    kn_log("unroute %s -> %s%s%s", src, dst, port[0] ? ":" : "", port);
    return 0;
}

/* A deck's declared latency, clamped (its ring's control block: never
 * trusted past KN_LATENCY_MAX). */
static uint32_t deck_latency(kn_conductor *c, int slot) {
    kn_deck *d = &c->deck[slot];
    if (!d->used || !d->ring) return 0;
    uint32_t l = atomic_load_explicit(&d->ring->ctl.latency, memory_order_relaxed);
    return l > KN_LATENCY_MAX ? KN_LATENCY_MAX : l;
}

/* The source slot a route's name resolves to, or -1. */
static int src_slot(kn_conductor *c, const kn_route_def *r) {
    if (r->input) return c->inputs ? KN_SRC_IN : -1;
    return slot_named(c, r->src);
}

void kn_routes_update(kn_conductor *c) {
    if (!c->routes_seg) return;
    static kn_route_table t;
    int def_of[KN_ROUTES_MAX], to_master[KN_MAX_DECKS] = {0};
    uint32_t lat[KN_SRCS] = {0}, mdelay[KN_MAX_DECKS];
    memset(&t, 0, sizeof t);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        lat[i] = deck_latency(c, i);
        const char *name = slot_name(c, i);
        to_master[i] = name && master_off(c, name) < 0;
    }
    /* deck -> deck routes, in the order they were made */
    for (int i = 0; i < c->nroutes; i++) {
        kn_route_def *r = &c->routes[i];
        int s = src_slot(c, r), d = strcmp(r->dst, "master") ? slot_named(c, r->dst) : -1;
        r->delay = 0;
        if (s < 0 || d < 0) continue;
        def_of[t.count] = i;
        kn_route_rec *o = &t.route[t.count++];
        o->src = (uint32_t)s;
        o->dst = (uint32_t)d;
        o->pre = (uint32_t)r->pre;
        float g = (float)pow(10, r->gain_db / 20);
        memcpy(&o->gain, &g, sizeof g);
        o->in_first = (uint32_t)r->in_first;
        o->in_count = r->in_count ? (uint32_t)r->in_count : 1;
        if (s == KN_SRC_IN && !r->in_count) o->in_count = (uint32_t)c->inputs;
        snprintf(o->port, sizeof o->port, "%s", r->port);
    }
    c->master_latency = kn_route_compensate(&t, lat, to_master, mdelay);
    for (uint32_t i = 0; i < t.count; i++) c->routes[def_of[i]].delay = t.route[i].delay;
    kn_route_table_publish(c->routes_seg, &t);
    /* deck -> master: gain, tap and delay per deck, in the mixer */
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_mix_deck *m = &c->mix.deck[i];
        float g = 0;
        uint32_t pre = 0;
        if (to_master[i]) {
            kn_route_def *r = find_route(c, slot_name(c, i), "master", "");
            g = r ? (float)pow(10, r->gain_db / 20) : 1.0f;
            pre = r ? (uint32_t)r->pre : 0;
        }
        uint32_t bits;
        memcpy(&bits, &g, sizeof bits);
        atomic_store_explicit(&m->master_gain, bits, memory_order_relaxed);
        atomic_store_explicit(&m->master_pre, pre, memory_order_relaxed);
        atomic_store_explicit(&m->master_delay, mdelay[i], memory_order_relaxed);
        c->lat_seen[i] = lat[i];
    }
}

void kn_routes_tick(kn_conductor *c) {
    uint64_t frame, ns;
    if (c->routes_seg && !kn_mix_clock_read(&c->mix, &frame, &ns) &&
        frame != atomic_load_explicit(&c->routes_seg->clock_frame, memory_order_relaxed))
        kn_routes_clock_publish(c->routes_seg, frame, ns);
    if (c->routes_seg) /* the device period the ring target was chosen for (decks.c) */
        atomic_store_explicit(&c->routes_seg->period, c->ring_period, memory_order_relaxed);
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (deck_latency(c, i) != c->lat_seen[i]) {
            kn_routes_update(c);
            return;
        }
}

/* The routes segment and every slot's ring, made once (the first deck
 * needs them): a cartridge maps them all, read-only, so that any deck can
 * read any other. */
int kn_routes_init(kn_conductor *c, uint32_t cap, uint32_t lane, char *err, size_t n) {
    if (c->routes_seg) return 0;
    for (int i = 0; i < KN_SRCS; i++) c->slot_ring_fd[i] = c->slot_ring_ro[i] = -1;
    c->slot_cap = cap;
    c->slot_lane = lane;
    size_t bytes = sizeof(kn_routes_seg);
    int rc = kn_seg_create("kanon.routes", bytes, (void **)&c->routes_seg, &c->routes_fd);
    if (!rc) {
        c->routes_seg->hdr = (kn_seg_header){KN_MAGIC, KN_LAYOUT_VERSION, KN_SEG_ROUTES, bytes};
        c->routes_ro = kn_seg_reopen_ro(c->routes_fd);
        if (c->routes_ro < 0) rc = c->routes_ro;
    }
    for (int i = 0; !rc && i < KN_MAX_DECKS; i++) {
        c->slot_ring_bytes = kn_ring_bytes(cap, (uint32_t)c->channels, lane);
        rc = kn_seg_create("kanon.ring", c->slot_ring_bytes, (void **)&c->slot_ring[i],
                           &c->slot_ring_fd[i]);
        if (!rc) {
            kn_ring_format(c->slot_ring[i], cap, (uint32_t)c->channels, (uint32_t)c->block,
                           c->target, c->rate, lane);
            c->slot_ring_ro[i] = kn_seg_reopen_ro(c->slot_ring_fd[i]);
            if (c->slot_ring_ro[i] < 0) rc = c->slot_ring_ro[i];
        }
    }
    /* The input's ring: frames stamped D ahead of the device (capture.c),
     * read up to KN_ROUTE_DELAY_MAX behind; two seconds of room besides. */
    uint32_t in_cap = 4096;
    while (c->inputs && in_cap < 2 * (uint32_t)c->rate + 2 * KN_ROUTE_DELAY_MAX) in_cap <<= 1;
    if (!rc && c->inputs) {
        c->in_ring_bytes = kn_ring_bytes(in_cap, (uint32_t)c->inputs, 0);
        rc = kn_seg_create("kanon.input", c->in_ring_bytes, (void **)&c->slot_ring[KN_SRC_IN],
                           &c->slot_ring_fd[KN_SRC_IN]);
        if (!rc) {
            kn_ring_format(c->slot_ring[KN_SRC_IN], in_cap, (uint32_t)c->inputs, (uint32_t)c->block,
                           0, c->rate, 0);
            c->slot_ring_ro[KN_SRC_IN] = kn_seg_reopen_ro(c->slot_ring_fd[KN_SRC_IN]);
            if (c->slot_ring_ro[KN_SRC_IN] < 0) rc = c->slot_ring_ro[KN_SRC_IN];
        }
    }
    if (rc) {
        snprintf(err, n, "cannot create the shared memory for routing: %s", strerror(-rc));
        return rc;
    }
    for (int i = 0; i < KN_SRCS; i++)
        atomic_store(&c->routes_seg->src[i].channels, (uint32_t)c->channels);
    if (c->inputs) {
        /* the input has no fader: a post-fader route takes it at unity */
        kn_src_info *si = &c->routes_seg->src[KN_SRC_IN];
        float one = 1;
        uint32_t bits;
        memcpy(&bits, &one, sizeof bits);
        for (int k = 0; k < 3; k++) atomic_store(&si->fader[k], bits);
        atomic_store(&si->channels, (uint32_t)c->inputs);
    }
    kn_routes_update(c);
    return 0;
}

/* ------------------------------------------------------------- listing */

static cJSON *route_json(const char *src, const char *dst, const char *port, double gain_db,
                         int pre, uint32_t delay) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "src", src);
    cJSON_AddStringToObject(o, "dst", dst);
    cJSON_AddStringToObject(o, "port", port);
    cJSON_AddNumberToObject(o, "gain_db", gain_db);
    cJSON_AddBoolToObject(o, "pre", pre);
    cJSON_AddNumberToObject(o, "delay", delay);
    return o;
}

cJSON *kn_routes_json(kn_conductor *c) {
    cJSON *a = cJSON_CreateArray();
    /* the master routes: every deck's, unless unrouted */
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0] || master_off(c, d->name) >= 0) continue;
        if (find_route(c, d->name, "master", "")) continue;
        cJSON_AddItemToArray(
            a, route_json(d->name, "master", "", 0, 0, atomic_load(&c->mix.deck[i].master_delay)));
    }
    for (int i = 0; i < c->nroutes; i++) {
        const kn_route_def *r = &c->routes[i];
        uint32_t delay = r->delay;
        int s = src_slot(c, r);
        if (!strcmp(r->dst, "master") && s >= 0 && s < KN_MAX_DECKS)
            delay = atomic_load(&c->mix.deck[s].master_delay);
        cJSON_AddItemToArray(a, route_json(r->src, r->dst, r->port, r->gain_db, r->pre, delay));
    }
    return a;
}
