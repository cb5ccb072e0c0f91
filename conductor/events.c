/*
 * events.c - what the conductor says: the log (stderr, which `kanon up`
 * points at the instance's log file), the event ring that `kanon log` and
 * status read, and each deck's recent outcomes (`kanon play --follow`).
 * Control thread only.
 */
#include "conductor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void kn_log(const char *fmt, ...) {
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
    fprintf(stderr, "%s ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

kn_log_entry *kn_event_add(kn_conductor *c, kn_deck *d, const char *kind, const char *text) {
    kn_log_entry *e = &c->events[c->nevents % KN_EVENTS];
    memset(e, 0, sizeof *e);
    e->seq = ++c->nevents;
    e->rt_ns = kn_real_ns();
    snprintf(e->deck, sizeof e->deck, "%s", d->name);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->text, sizeof e->text, "%s", text);
    e->version = d->version;
    snprintf(d->last_event, sizeof d->last_event, "%s", text);
    kn_log("deck %s: %s", d->name, text);
    return e;
}

void kn_deck_event(kn_conductor *c, kn_deck *d, const char *kind, const char *fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    kn_event_add(c, d, kind, text);
}

void kn_outcome_add(kn_deck *d, uint32_t id, int ok, double ms, const char *msg) {
    kn_outcome *o = &d->outcome[d->noutcome++ % KN_OUTCOMES];
    o->id = id;
    o->ok = ok;
    o->compile_ms = ms;
    snprintf(o->message, sizeof o->message, "%s", msg ? msg : "");
}

const kn_outcome *kn_deck_outcome(const kn_deck *d, uint32_t id) {
    for (int i = 0; i < KN_OUTCOMES; i++)
        if (d->outcome[i].id == id) return &d->outcome[i];
    return NULL;
}
