/*
 * session.h - `kanon session save|load`: the session file as the CLI holds
 * it after validation (session.c), and the routes part (session_routes.c),
 * kept apart because the conductor's routing commands (`routes`, `route`,
 * `unroute`) come from another branch.
 */
#ifndef KANON_CLI_SESSION_H
#define KANON_CLI_SESSION_H

#include "segment.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stddef.h>

#define KN_SESSION_VERSION 1
#define KN_SESSION_ROUTES  256
#define KN_PORT_MAX        64

typedef struct kn_sroute {
    char src[40], dst[KN_NAME_MAX], port[KN_PORT_MAX];
    double gain_db;
    int pre;
} kn_sroute;

/* Where a validation error points: "F: decks[2].file: ..." (F as given). */
typedef struct kn_swhere {
    const char *file;
} kn_swhere;

/* 1 if key is one of keys (NULL-terminated): a field a list item may have. */
int kn_session_known(const char *key, const char *const *keys);
/* Prints "kanon session: error: F: WHAT" and returns KN_EXIT_ERR. */
int kn_session_fail(const kn_swhere *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The session's "routes": validated against the session's deck names
 * (names[0..n)); src is a deck, "in", "in:N" or "in:N-M", dst a deck or
 * "master". 0 or KN_EXIT_ERR (said). */
int kn_sroutes_parse(const kn_swhere *w, const cJSON *routes, const char (*names)[KN_NAME_MAX],
                     int n, kn_sroute *out, int *nout);
/* Every deck to master at 0 dB, post-fader: what a conductor without
 * routing does, and a session without "routes" means. */
int kn_sroutes_default(const char (*names)[KN_NAME_MAX], int n, kn_sroute *out);
/* 1 if a and b hold the same routes (in any order). */
int kn_sroutes_same(const kn_sroute *a, int na, const kn_sroute *b, int nb);
/* The conductor's routes: 1 (into out) if it has routing, 0 if it does not
 * know the `routes` command, -1 if it could not be asked (said). */
int kn_sroutes_query(kn_sroute *out, int *nout);
/* Keeps the routes between the set's decks (and from the device input);
 * a route still waiting for a deck that does not play is not part of the
 * set. Returns how many are left. */
int kn_sroutes_keep(kn_sroute *r, int n, const char (*names)[KN_NAME_MAX], int ndecks);
/* JSON of routes for a session file. */
cJSON *kn_sroutes_json(const kn_sroute *r, int n);
/* Makes the conductor's routes among the session's decks (and the
 * master) exactly `want`: unroutes the others, routes (or updates) these.
 * 0, or KN_EXIT_ERR with the conductor's refusal said. */
int kn_sroutes_apply(const kn_sroute *want, int nwant, const char (*names)[KN_NAME_MAX], int n);

/* The session's "midi" (session_midi.c): MIDI routes {deck, from,
 * channel}. parse: 0 or KN_EXIT_ERR (said); query: the conductor's routes
 * (NULL: it has none to give); apply: asks for each (0, or the exit code
 * of the conductor's refusal, said). */
int kn_smidi_parse(const kn_swhere *w, const cJSON *midi);
cJSON *kn_smidi_query(void);
int kn_smidi_apply(const cJSON *midi);
/* The session's "learn": MIDI learn's bindings {deck, param, from,
 * channel, cc, log} (session_midi.c). */
int kn_slearn_parse(const kn_swhere *w, const cJSON *learn);
cJSON *kn_slearn_query(void);
int kn_slearn_apply(const cJSON *learn);

#endif
