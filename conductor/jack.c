/*
 * jack.c - the JACK clients behind libsoundio's streams.
 *
 * On JACK, libsoundio opens one JACK client per stream (and one of its own
 * that only watches the ports), but its public API gives neither the
 * client nor the ports. kanon needs both for the audio input:
 *   - the server's frame counter (jack_last_frame_time) in each stream's
 *     process callback, so that the input is placed on the timeline from
 *     JACK's own counters, to the frame (capture.c);
 *   - the capture ports, to name them in_1 .. in_N (libsoundio names a
 *     port after its channel: "Front Left").
 *
 * So they are read from libsoundio's private stream data. Its layout is
 * not trusted: a stream's JACK data holds the channel areas that
 * begin_read / begin_write hand out, so the areas pointer libsoundio
 * returns must be exactly where this copy of the layout (libsoundio 2.0,
 * src/jack.h and src/soundio_private.h) puts them, and every port must
 * own exactly the buffer its area points at (jack_port_get_buffer).
 * Anything else (another libsoundio, another backend) finds no client,
 * and kanon goes on without it: ports keep libsoundio's names and the
 * input is placed from the device clock instead (capture.c).
 *
 * kn_jack_probe_* run in a process callback (real-time: pointer checks
 * and jack_port_get_buffer, which JACK allows there);
 * kn_jack_rename_port makes a server request: control thread only.
 */
#include "conductor.h"

#include <jack/jack.h>
#include <soundio/soundio.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* libsoundio 2.0's JACK stream data, as far as kanon reads it. */
struct sio_jack_out_port {
    jack_port_t *source_port;
    const char *dest_port_name;
    int dest_port_name_len;
};
struct sio_jack_out {
    jack_client_t *client;
    int period_size;
    int frames_left;
    double hardware_latency;
    struct sio_jack_out_port ports[SOUNDIO_MAX_CHANNELS];
    struct SoundIoChannelArea areas[SOUNDIO_MAX_CHANNELS];
};
struct sio_jack_in_port {
    jack_port_t *dest_port;
    const char *source_port_name;
    int source_port_name_len;
};
struct sio_jack_in {
    jack_client_t *client;
    int period_size;
    int frames_left;
    double hardware_latency;
    struct sio_jack_in_port ports[SOUNDIO_MAX_CHANNELS];
    struct SoundIoChannelArea areas[SOUNDIO_MAX_CHANNELS];
};
/* A stream is its public struct followed by a union of every backend's
 * data (pointers, doubles and 64-bit atomics on Linux: 8-byte aligned). */
struct sio_out_priv {
    struct SoundIoOutStream pub;
    union {
        struct sio_jack_out jack;
        double d;
        void *p;
    } backend;
};
struct sio_in_priv {
    struct SoundIoInStream pub;
    union {
        struct sio_jack_in jack;
        double d;
        void *p;
    } backend;
};

void *kn_jack_probe_out(struct SoundIoOutStream *os, const struct SoundIoChannelArea *areas,
                        int frames) {
    struct sio_out_priv *p = (struct sio_out_priv *)os;
    if (areas != p->backend.jack.areas) return NULL; /* not where this layout puts them */
    int n = os->layout.channel_count;
    if (n < 1 || n > SOUNDIO_MAX_CHANNELS) return NULL;
    for (int c = 0; c < n; c++)
        if (!p->backend.jack.ports[c].source_port ||
            jack_port_get_buffer(p->backend.jack.ports[c].source_port, (jack_nframes_t)frames) !=
                (void *)areas[c].ptr)
            return NULL;
    return p->backend.jack.client;
}

void *kn_jack_probe_in(struct SoundIoInStream *is, const struct SoundIoChannelArea *areas,
                       int frames, void **ports, int max) {
    struct sio_in_priv *p = (struct sio_in_priv *)is;
    if (areas != p->backend.jack.areas) return NULL;
    int n = is->layout.channel_count;
    if (n < 1 || n > SOUNDIO_MAX_CHANNELS || n > max) return NULL;
    for (int c = 0; c < n; c++)
        if (!p->backend.jack.ports[c].dest_port ||
            jack_port_get_buffer(p->backend.jack.ports[c].dest_port, (jack_nframes_t)frames) !=
                (void *)areas[c].ptr)
            return NULL;
    for (int c = 0; c < n; c++) ports[c] = p->backend.jack.ports[c].dest_port;
    return p->backend.jack.client;
}

uint32_t kn_jack_frame_time(void *client) {
    return jack_last_frame_time((jack_client_t *)client);
}

const char *kn_jack_client_name(void *client) {
    return jack_get_client_name((jack_client_t *)client);
}

int kn_jack_rename_port(void *client, void *port, const char *name, char *full, size_t n) {
    int rc = jack_port_rename((jack_client_t *)client, (jack_port_t *)port, name);
    snprintf(full, n, "%s", jack_port_name((jack_port_t *)port));
    return rc;
}
