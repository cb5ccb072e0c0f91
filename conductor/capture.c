/*
 * capture.c - the audio input (`kanon up --inputs N`): the device's
 * capture side, a routing source like a deck (shm/route.h, KN_SRC_IN).
 *
 * A libsoundio input stream on the output's backend writes what it
 * captures into the input's ring (made by routes.c, mapped read-only by
 * every cartridge). Its callback is the ring's only producer and nobody
 * consumes: decks read it with kn_ring_peek, which checks every frame
 * against write_pos, so the producer never waits and old frames are
 * simply written over (the ring holds seconds, far more than D and the
 * longest route delay a reader reaches back: D is kept below half of it).
 *
 * The timeline. Ring position p is timeline frame p + epoch
 * (src[KN_SRC_IN].epoch). A deck renders ahead of the device, so a frame
 * captured while the mixer is at timeline frame t can only be read by a
 * deck rendering t + D or later: the capture is stamped D frames ahead.
 * D is the least that lets every deck find its input in time (docs/input.md):
 *
 *   JACK    D = P + target + block. In cycle c the output stream mixes
 *           timeline frames [t, t+P) (so decks may render up to
 *           t + P + target + block - 2 before the next cycle), while the
 *           input stream may deliver this cycle's capture later in the
 *           same cycle: decks find only what earlier cycles captured,
 *           stamped up to t + D - 1. Both callbacks read the server's frame
 *           counter (jack_last_frame_time, jack.c): the output publishes
 *           timeline - frame time of its cycle, and the input stamps the
 *           first frame of cycle c at frame_time(c) + that offset + D. No
 *           clock is read, so a frame at kanon's capture port leaves its
 *           output port exactly D frames later (a JACK client in the
 *           graph measures D: tests/e2e/test_input.sh).
 *   other   the device clock (kn_mix_clock): the newest captured frame is
 *           stamped at the timeline frame being mixed now (extrapolated
 *           from the output's last callback) plus D = target + block +
 *           input period + output period (decks may render up to an output
 *           buffer past that frame, and the next capture comes an input
 *           period later) + half of those two periods again for the
 *           callbacks' jitter. Where the input's clock drifts from the
 *           output's by more than that half, it is stamped again.
 *
 * The target grows after underruns (decks.c): D follows it, and so does
 * every change of the stream (a failover): the input is stamped again
 * (counted in `restamps`), its generation odd meanwhile, so a reader
 * throws away a block that straddles the change. Latency then changes;
 * `kanon status` shows it.
 *
 * The input callback is real-time: no allocation, no lock, no blocking
 * call; loops are bounded by the frames delivered.
 */
#include "conductor.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <soundio/soundio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kn_capture {
    int channels;
    kn_mix *mix; /* the timeline (tl_pub) and the device clock */
    /* the stream: control thread */
    struct SoundIoDevice *dev;
    struct SoundIoInStream *is;
    int jack;                       /* this stream is on JACK */
    double rate;                    /* the stream's, = the output's */
    uint32_t in_period, out_period; /* frames */
    char device[256];
    char port[KN_MAX_CHANNELS][128]; /* JACK: the capture ports' full names */
    int nports;
    /* control -> input thread */
    _Atomic(kn_ring_seg *) ring; /* 0 until routes.c made it; then `bytes`, `src` are set */
    size_t bytes;
    kn_src_info *src;
    _Atomic uint32_t lead;  /* the decks' ring target and a block: how far they render ahead */
    _Atomic uint32_t extra; /* device clock: 1.5 (input period + output period) */
    /* output thread -> input thread (JACK): the output's timeline frame minus the
     * server's frame time in its cycle (mod 2^32); jack_out says whether
     * the output's client was found (OUT_*) */
    _Atomic uint32_t jack_off, jack_out;
    void *out_client; /* output thread: its JACK client (0: not found) */
    int out_probed;   /* looked for once per stream */
    /* input thread, private (one stream's thread at a time) */
    kn_ring_view v;
    int attached, probed, stamped;
    void *client; /* its JACK client (0: not found, or not JACK) */
    int64_t epoch;
    uint32_t d_used;
    int exact; /* stamped from JACK's frame counter */
    /* input thread -> control */
    _Atomic(void *) jclient; /* published after jport[] */
    void *jport[KN_MAX_CHANNELS];
    _Atomic uint64_t frames, restamps, overflows;
    _Atomic uint32_t latency, exact_pub, live, lost, hw_in, hw_out;
};

enum { OUT_UNKNOWN = 0, OUT_FOUND = 1, OUT_NONE = 2 };

kn_capture *kn_capture_new(int channels, kn_mix *mix) {
    kn_capture *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->channels = channels;
    k->mix = mix;
    return k;
}

void kn_capture_free(kn_capture *k) {
    if (!k) return;
    kn_capture_close(k);
    free(k);
}

/* ------------------------------------------------------ the input thread */

/* One sample of the stream's format as a float. */
static inline float get_sample(enum SoundIoFormat f, const char *p) {
    switch (f) {
    case SoundIoFormatS16NE: {
        int16_t s;
        memcpy(&s, p, sizeof s);
        return (float)s / 32768.0f;
    }
    case SoundIoFormatS32NE: {
        int32_t s;
        memcpy(&s, p, sizeof s);
        return (float)((double)s / 2147483648.0);
    }
    case SoundIoFormatFloat64NE: {
        double d;
        memcpy(&d, p, sizeof d);
        return (float)d;
    }
    default: {
        float v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    }
}

/* n frames of the device's areas (NULL: a hole, silence) into the ring
 * at position `at`, interleaved; not yet published. */
static void put_frames(kn_capture *k, const struct SoundIoChannelArea *areas, enum SoundIoFormat f,
                       int n, uint64_t at) {
    uint32_t ch = k->v.channels;
    for (int i = 0; i < n; i++) {
        float *dst = k->v.data + (size_t)((at + (uint64_t)i) & k->v.mask) * ch;
        for (uint32_t c = 0; c < ch; c++)
            dst[c] = areas && c < (uint32_t)k->channels
                         ? get_sample(f, areas[c].ptr + (size_t)i * (size_t)areas[c].step)
                         : 0.0f;
    }
}

/* Ring position p is timeline frame p + epoch from now on: the first
 * stamp makes the source live; a new one is made under an odd generation
 * (route.h), and counted. */
static void publish_stamp(kn_capture *k, int64_t epoch, uint32_t d, int exact) {
    kn_src_info *si = k->src;
    if (k->stamped) {
        atomic_fetch_add_explicit(&si->gen, 1, memory_order_acq_rel); /* odd */
        atomic_store_explicit(&si->epoch, epoch, memory_order_relaxed);
        atomic_fetch_add_explicit(&si->gen, 1, memory_order_release); /* even */
        atomic_fetch_add_explicit(&k->restamps, 1, memory_order_relaxed);
    } else {
        atomic_store_explicit(&si->epoch, epoch, memory_order_relaxed);
        atomic_store_explicit(&si->live, 1, memory_order_release);
        atomic_store_explicit(&k->live, 1, memory_order_relaxed);
    }
    k->epoch = epoch;
    k->d_used = d;
    k->stamped = 1;
    k->exact = exact;
    atomic_store_explicit(&k->latency, d, memory_order_relaxed);
    atomic_store_explicit(&k->exact_pub, (uint32_t)exact, memory_order_relaxed);
}

/* Where the `total` frames from ring position w0 just captured belong on
 * the timeline (see the top of this file); stamps them again if that is
 * not where the current epoch puts them. `ft`: the JACK cycle's frame time
 * (with a client). */
static void stamp(kn_capture *k, uint64_t w0, int total, uint32_t ft) {
    uint32_t lead = atomic_load_explicit(&k->lead, memory_order_relaxed);
    if (!lead) return;                                      /* the decks' target is not known yet */
    if (lead > k->v.capacity / 4) lead = k->v.capacity / 4; /* never near the ring's size */
    uint32_t out = atomic_load_explicit(&k->jack_out, memory_order_acquire);
    if (k->client && out == OUT_UNKNOWN) return; /* the output's first cycle comes */
    if (k->client && out == OUT_FOUND) {
        uint32_t d = (uint32_t)total + lead;
        uint32_t want = ft + atomic_load_explicit(&k->jack_off, memory_order_relaxed) + d;
        /* the full timeline frame: the mixer's is within a few periods of it */
        uint64_t tl = atomic_load_explicit(&k->mix->tl_pub, memory_order_acquire);
        int64_t epoch =
            (int64_t)(tl + (uint64_t)(int64_t)(int32_t)(want - (uint32_t)tl)) - (int64_t)w0;
        if (!k->stamped || !k->exact || epoch != k->epoch || d != k->d_used)
            publish_stamp(k, epoch, d, 1);
        return;
    }
    uint64_t frame, ns;
    if (kn_mix_clock_read(k->mix, &frame, &ns)) return; /* no output callback yet */
    uint32_t extra = atomic_load_explicit(&k->extra, memory_order_relaxed);
    if (extra > k->v.capacity / 4) extra = k->v.capacity / 4; /* --latency 2000 */
    uint32_t d = extra + lead;
    uint64_t now = kn_mono_ns();
    double mixing = (double)frame + (now > ns ? (double)(now - ns) * k->rate / 1e9 : 0);
    int64_t epoch = (int64_t)llround(mixing) + (int64_t)d - (int64_t)(w0 + (uint64_t)total);
    int64_t off = epoch - k->epoch, tol = (int64_t)(extra / 3); /* half the two periods */
    if (!k->stamped || k->exact || d != k->d_used || off > tol || off < -tol)
        publish_stamp(k, epoch, d, 0);
}

static void on_read(struct SoundIoInStream *is, int frame_count_min, int frame_count_max) {
    (void)frame_count_min;
    kn_capture *k = is->userdata;
    if (!k->attached) {
        kn_ring_seg *r = atomic_load_explicit(&k->ring, memory_order_acquire);
        if (r && !kn_ring_view_init(&k->v, r, k->bytes)) {
            kn_ring_writer_attach(&k->v);
            k->attached = 1;
        }
    }
    uint64_t w0 = k->v.pos;
    int left = frame_count_max, total = 0;
    while (left > 0) {
        struct SoundIoChannelArea *areas;
        int n = left;
        if (soundio_instream_begin_read(is, &areas, &n) || n <= 0) {
            atomic_store(&k->lost, 1);
            break;
        }
        if (!k->probed && k->jack) { /* once per stream: its JACK client */
            k->probed = 1;
            k->client = areas ? kn_jack_probe_in(is, areas, n, k->jport, KN_MAX_CHANNELS) : NULL;
            double s;
            if (!soundio_instream_get_latency(is, &s))
                atomic_store_explicit(&k->hw_in, (uint32_t)lround(s * k->rate),
                                      memory_order_relaxed);
            if (k->client) atomic_store_explicit(&k->jclient, k->client, memory_order_release);
        }
        if (k->attached) put_frames(k, areas, is->format, n, w0 + (uint64_t)total);
        soundio_instream_end_read(is);
        total += n;
        left -= n;
    }
    atomic_fetch_add_explicit(&k->frames, (uint64_t)total, memory_order_relaxed);
    if (!k->attached || !total) return;
    stamp(k, w0, total, k->client ? kn_jack_frame_time(k->client) : 0);
    k->v.pos = w0 + (uint64_t)total;
    atomic_store_explicit(&k->v.seg->write_pos, k->v.pos, memory_order_release);
}

static void on_overflow(struct SoundIoInStream *is) {
    kn_capture *k = is->userdata;
    atomic_fetch_add_explicit(&k->overflows, 1, memory_order_relaxed);
}

static void on_error(struct SoundIoInStream *is, int err) {
    (void)err;
    kn_capture *k = is->userdata;
    atomic_store(&k->lost, 1);
}

/* ----------------------------------------------------- the output thread */

void kn_capture_output_cycle(kn_capture *k, struct SoundIoOutStream *os,
                             const struct SoundIoChannelArea *areas, int frames, uint64_t tl) {
    if (!k->out_probed) {
        k->out_probed = 1;
        k->out_client = kn_jack_probe_out(os, areas, frames);
        double s;
        if (!soundio_outstream_get_latency(os, &s))
            atomic_store_explicit(&k->hw_out, (uint32_t)lround(s * k->rate), memory_order_relaxed);
        if (!k->out_client) atomic_store_explicit(&k->jack_out, OUT_NONE, memory_order_release);
    }
    if (!k->out_client) return;
    atomic_store_explicit(&k->jack_off, (uint32_t)tl - kn_jack_frame_time(k->out_client),
                          memory_order_relaxed);
    atomic_store_explicit(&k->jack_out, OUT_FOUND, memory_order_release);
}

/* ------------------------------------------------------ the control thread */

static enum SoundIoFormat in_format(struct SoundIoDevice *dev) {
    static const enum SoundIoFormat pref[] = {SoundIoFormatFloat32NE, SoundIoFormatFloat64NE,
                                              SoundIoFormatS32NE, SoundIoFormatS16NE};
    for (size_t i = 0; i < sizeof pref / sizeof pref[0]; i++)
        if (soundio_device_supports_format(dev, pref[i])) return pref[i];
    return SoundIoFormatInvalid;
}

int kn_capture_open(kn_capture *k, struct SoundIo *sio, int jack, int rate, double latency_s,
                    char *why, size_t n) {
    int idx = soundio_default_input_device_index(sio);
    if (idx < 0) return snprintf(why, n, "no input device"), -1;
    k->dev = soundio_get_input_device(sio, idx);
    if (!k->dev || k->dev->probe_error) {
        snprintf(why, n, "input device: %s",
                 soundio_strerror(k->dev ? k->dev->probe_error : SoundIoErrorNoMem));
        kn_capture_close(k);
        return -1;
    }
    snprintf(k->device, sizeof k->device, "%s", k->dev->name ? k->dev->name : "?");
    struct SoundIoInStream *is = k->is = soundio_instream_create(k->dev);
    if (!is) return snprintf(why, n, "out of memory"), kn_capture_close(k), -1;
    /* On JACK the stream is a client of its own: named so, with no
     * client of that name yet, it is "kanon" (audio.c names the others). */
    is->name = "kanon";
    is->userdata = k;
    is->read_callback = on_read;
    is->overflow_callback = on_overflow;
    is->error_callback = on_error;
    is->format = in_format(k->dev);
    if (is->format == SoundIoFormatInvalid) {
        snprintf(why, n, "the input device has no float or integer sample format");
        kn_capture_close(k);
        return -1;
    }
    if (!soundio_device_supports_sample_rate(k->dev, rate)) {
        snprintf(why, n, "the input device cannot run at the output's %d Hz", rate);
        kn_capture_close(k);
        return -1;
    }
    is->sample_rate = rate;
    /* JACK makes a port per channel whatever its capture ports: a layout
     * of N channels is always taken there */
    const struct SoundIoChannelLayout *want = soundio_channel_layout_get_default(k->channels);
    if (!want || (!jack && !soundio_device_supports_layout(k->dev, want))) {
        snprintf(why, n, "the input device has no %d-channel layout", k->channels);
        kn_capture_close(k);
        return -1;
    }
    is->layout = *want;
    is->software_latency = latency_s;
    int e = soundio_instream_open(is);
    if (e) {
        snprintf(why, n, "input: %s", soundio_strerror(e));
        kn_capture_close(k);
        return -1;
    }
    k->jack = jack;
    k->rate = rate;
    k->in_period = (uint32_t)ceil(is->software_latency * rate);
    k->nports = 0;
    k->probed = k->out_probed = 0;
    k->client = k->out_client = NULL;
    atomic_store(&k->jclient, NULL);
    atomic_store(&k->jack_out, OUT_UNKNOWN);
    atomic_store(&k->lost, 0);
    return 0;
}

int kn_capture_start(kn_capture *k, uint32_t out_period, char *why, size_t n) {
    k->out_period = out_period;
    atomic_store(&k->extra, (k->in_period + out_period) * 3 / 2);
    int e = soundio_instream_start(k->is);
    if (e) return snprintf(why, n, "input: %s", soundio_strerror(e)), -1;
    return 0;
}

/* After the stream started (start-up, failover): on JACK, waits briefly
 * for the first callback to find the stream's client, and names its ports
 * in_1 .. in_N. */
void kn_capture_started(kn_capture *k) {
    if (!k->is) return;
    if (!k->jack) {
        kn_log("input: %d channel%s from %s", k->channels, k->channels == 1 ? "" : "s", k->device);
        return;
    }
    void *client = NULL;
    for (int i = 0; i < 1000 && !(client = atomic_load_explicit(&k->jclient, memory_order_acquire));
         i++)
        usleep(1000);
    if (!client) {
        kn_log("input: libsoundio's JACK client was not found: the ports keep libsoundio's "
               "names and the input is placed from the device clock, not JACK's frame counter");
        return;
    }
    k->nports = 0;
    for (int c = 0; c < k->channels; c++) {
        char name[16];
        snprintf(name, sizeof name, "in_%d", c + 1);
        if (kn_jack_rename_port(client, k->jport[c], name, k->port[c], sizeof k->port[c]))
            kn_log("input: cannot name JACK port %s %s", k->port[c], name);
        k->nports++;
    }
    kn_log("input: JACK client %s, ports %s .. %s, from %s", kn_jack_client_name(client),
           k->port[0], k->port[k->nports - 1], k->device);
}

void kn_capture_close(kn_capture *k) {
    if (k->is) soundio_instream_destroy(k->is);
    if (k->dev) soundio_device_unref(k->dev);
    k->is = NULL;
    k->dev = NULL;
    k->client = k->out_client = NULL;
    atomic_store(&k->jclient, NULL);
    atomic_store(&k->jack_out, OUT_UNKNOWN);
}

int kn_capture_lost(const kn_capture *k) {
    return atomic_load(&((kn_capture *)k)->lost) != 0;
}

void kn_capture_attach(kn_capture *k, kn_ring_seg *ring, size_t bytes, kn_src_info *src) {
    if (!k) return;
    k->bytes = bytes;
    k->src = src;
    atomic_store_explicit(&k->ring, ring, memory_order_release);
}

void kn_capture_wait_live(kn_capture *k, int ms) {
    for (int i = 0; k && k->is && i < ms && !atomic_load(&k->live); i++) usleep(1000);
}

void kn_capture_lead(kn_capture *k, uint32_t lead) {
    if (k) atomic_store_explicit(&k->lead, lead, memory_order_relaxed);
}

/* The frames from kanon's capture port to its output port: D from JACK's
 * frame counter (the output port gets a frame in the very cycle it is
 * mixed); from the device clock, D and the output device's buffer. Before
 * the first stamp: what it will be. */
static uint32_t latency_frames(const kn_capture *k, int *exact) {
    kn_capture *m = (kn_capture *)k;
    if (atomic_load(&m->live)) {
        *exact = atomic_load(&m->exact_pub) != 0;
        return atomic_load(&m->latency) + (*exact ? 0 : k->out_period);
    }
    *exact = k->jack && atomic_load(&m->jclient) && atomic_load(&m->jack_out) != OUT_NONE;
    uint32_t lead = atomic_load(&m->lead);
    return *exact ? k->out_period + lead : atomic_load(&m->extra) + lead + k->out_period;
}

cJSON *kn_capture_json(const kn_capture *k) {
    if (!k) return cJSON_CreateNull();
    kn_capture *m = (kn_capture *)k;
    cJSON *o = cJSON_CreateObject();
    int exact;
    uint32_t lat = latency_frames(k, &exact);
    double rate = k->rate > 0 ? k->rate : 48000;
    cJSON_AddNumberToObject(o, "channels", k->channels);
    cJSON_AddStringToObject(o, "device", k->device);
    cJSON *ports = cJSON_AddArrayToObject(o, "ports");
    for (int c = 0; c < k->nports; c++) cJSON_AddItemToArray(ports, cJSON_CreateString(k->port[c]));
    cJSON_AddBoolToObject(o, "live", atomic_load(&m->live) != 0);
    cJSON_AddNumberToObject(o, "latency_frames", lat);
    cJSON_AddNumberToObject(o, "latency_ms", lat * 1000.0 / rate);
    cJSON_AddStringToObject(o, "clock", exact ? "jack" : "device");
    if (exact) {
        /* what the hardware adds beyond kanon's ports: the capture and
         * playback latencies JACK reports for the ports they connect to */
        uint32_t hw = atomic_load(&m->hw_in) + atomic_load(&m->hw_out);
        cJSON_AddNumberToObject(o, "hardware_frames", hw);
        cJSON_AddNumberToObject(o, "round_trip_frames", lat + hw);
        cJSON_AddNumberToObject(o, "round_trip_ms", (lat + hw) * 1000.0 / rate);
    }
    cJSON_AddNumberToObject(o, "frames", (double)atomic_load(&m->frames));
    cJSON_AddNumberToObject(o, "restamps", (double)atomic_load(&m->restamps));
    cJSON_AddNumberToObject(o, "overflows", (double)atomic_load(&m->overflows));
    return o;
}
