/*
 * osc.h - OSC control (osc.c) and control surfaces (surface.c): the only
 * conductor files that see liblo.
 */
#ifndef KANON_OSC_H
#define KANON_OSC_H

#include "conductor.h"

#include <lo/lo.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>

/* OSC aligns arguments to 4 bytes only, and lo_arg is a union that wants
 * 8: read every argument by copy, never through a member access. */
static inline float kn_arg_f(const lo_arg *a) {
    float v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}
static inline int32_t kn_arg_i(const lo_arg *a) {
    int32_t v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}
static inline double kn_arg_d(const lo_arg *a) {
    double v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}
static inline int64_t kn_arg_h(const lo_arg *a) {
    int64_t v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}

/* Opens the owner-only unix socket (c->osc_unix, "" if it cannot) and,
 * unless c->osc_port is 0, the UDP socket; fails only for UDP. */
int kn_osc_open(kn_conductor *c, char *err, size_t errlen);
/* The sockets to poll: up to 2. */
int kn_osc_pollfds(struct pollfd out[2]);
void kn_osc_handle(kn_conductor *c);
/* Dispatches a packet as if it came over UDP from `from`. */
void kn_osc_dispatch(const void *data, size_t n, const struct sockaddr_in *from);
void kn_osc_tick(kn_conductor *c);
void kn_osc_close(void);
/* Sends (and frees) one message from the OSC socket. */
int kn_osc_send(const struct sockaddr_in *to, const char *path, lo_message m);
/* Sets a parameter or a mixer field (gain, pan, mute, solo) of a deck or
 * "master", reporting refusals to the current OSC sender. */
void kn_osc_set(const char *deck, const char *name, double v);
/* The same, landing on timeline frame `frame` (0: at once). */
void kn_osc_set_at(const char *deck, const char *name, double v, uint64_t frame);

int kn_surface_load(kn_conductor *c, const char *path, char *err, size_t n);
/* The same, remembering the map as loaded from `origin` (the file the
 * user named: path may be a copy of it); check_only: only says whether it
 * would load. */
int kn_surface_load_as(kn_conductor *c, const char *path, const char *origin, int check_only,
                       char *err, size_t n);
/* The map in force: {"path", "content"} as loaded, or JSON null. */
cJSON *kn_surface_json(void);
/* A MIDI message (status, data bytes) from input port `port`: moves the
 * map's controls that are this controller's (surface.c); 1 if any. */
int kn_surface_midi(kn_conductor *c, int port, int status, int d1, int d2);
/* 1 if the address belongs to the loaded map (and was handled). */
int kn_surface_handle(kn_conductor *c, const char *path, const char *types, lo_arg **argv,
                      int argc);
void kn_surface_tick(kn_conductor *c);
/* kn_bind's words for a parameter slot's `bind` ("shift knob 3 log"; ""
 * when it names no control). */
void kn_surface_bind_name(uint32_t code, char *out, size_t n);

#endif
