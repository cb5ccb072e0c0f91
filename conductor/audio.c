/*
 * audio.c - the output device, through libsoundio.
 *
 * Backend choice: `auto` tries jack, pulseaudio, alsa, dummy in that order
 * and keeps a sentence per refusal (kn_audio_why), so `kanon up` can say
 * which it picked and why. A backend counts only if it connects, has a
 * default output device and opens a stream.
 *
 * Callbacks (libsoundio requires error_callback and on_backend_disconnect,
 * or it aborts the process on device loss):
 *   write_callback       audio thread: mix, limit, tap recorder, convert;
 *                        measures frames the device played without us.
 *   underflow_callback   audio thread: counts device underflows (the dummy
 *                        backend reports false ones below ~0.1 s latency).
 *   error_callback       any thread: flags the stream as lost.
 *   on_backend_disconnect  control thread (from soundio_flush_events):
 *                        flags the backend as lost.
 * kn_audio_poll (control thread) reacts to a flag by reopening on the dummy
 * backend, so the conductor keeps running with its decks intact.
 *
 * Priority (shm/priority.h): the thread that runs write_callback must outrank
 * every cartridge, or cartridges at SCHED_FIFO starve the mixer. On its
 * first callback it raises itself to SCHED_FIFO KN_AUDIO_RT_PRIO (system
 * calls paid once per stream; a JACK thread keeps JACK's priority) and
 * publishes what it got; the decks start cartridges at normal priority
 * when it got nothing better than theirs.
 */
#include "conductor.h"

#include "priority.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <soundio/soundio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

struct kn_audio {
    struct SoundIo *sio;
    struct SoundIoDevice *dev;
    struct SoundIoOutStream *os;
    kn_mix *mix;
    kn_recorder *rec;
    kn_capture *cap;              /* the input (capture.c), NULL without --inputs */
    _Atomic(kn_midi_jack *) midi; /* JACK MIDI (midi_jack.c), NULL: none */
    kn_audio_opts opts;
    float master[KN_MIX_CHUNK * KN_MAX_CHANNELS];
    char backend[32], device[256], why[1024];
    _Atomic int lost;
    _Atomic uint64_t underflows, frames, callbacks;
    uint32_t failovers;
    /* account_clock's state: audio thread, reset before each stream starts */
    uint64_t clk_t0, clk_prev, clk_made;
    double clk_base;
    int clk_max, clk_period;
    _Atomic uint64_t lost_frames;
    /* The audio thread's priority: wanted (0 = don't ask), the fallback
     * within RLIMIT_RTPRIO, and what it got (policy -1 until the stream's
     * first callback, which writes them once). */
    int rt_want, rt_fallback, rt_done, jack;
    _Atomic int rt_policy, rt_prio, rt_err;
    _Atomic int rt_tid; /* the audio thread (for rtkit, asked by the control thread) */
    const char *rt_via; /* "rlimit", "jack", "rtkit" or "none" */
};

/* Audio thread, at the start of each callback: counts frames the device
 * played without data from us. By now the device has played
 * (now - t0) * rate frames and we have made clk_made; the difference d
 * stays within a band one device buffer wide while callbacks come in time
 * (it falls as a callback fills the buffer and rises as the device drains
 * it). A late callback (the process stopped or starved) lets the buffer run
 * dry, and the device plays silence: d rises by those frames for good.
 * clk_base follows the band's floor and creeps up by 0.1% of the time (a
 * device clock a little slower than ours is not a loss); d above the floor
 * by more than two buffers counts as lost. So a healthy stream counts 0,
 * and a stall of T counts T minus up to two buffers: a lower bound. */
static void account_clock(kn_audio *a, uint64_t now, int frame_count_max) {
    double rate = a->os->sample_rate;
    if (frame_count_max > a->clk_max) a->clk_max = frame_count_max; /* the first: a whole buffer */
    if (!a->clk_t0) {
        a->clk_t0 = a->clk_prev = now;
        return;
    }
    double d = (double)(now - a->clk_t0) * rate / 1e9 - (double)a->clk_made;
    a->clk_base += (double)(now - a->clk_prev) * rate / 1e9 * 1e-3;
    a->clk_prev = now;
    double slack = 2.0 * (a->clk_max > a->clk_period ? a->clk_max : a->clk_period);
    if (d < a->clk_base) {
        a->clk_base = d;
    } else if (d > a->clk_base + slack) {
        atomic_store_explicit(&a->lost_frames,
                              atomic_load_explicit(&a->lost_frames, memory_order_relaxed) +
                                  (uint64_t)(d - a->clk_base - slack),
                              memory_order_relaxed);
        a->clk_base = d - slack;
    }
}

static int rt_outranks(int policy, int prio) {
    return (policy == SCHED_FIFO || policy == SCHED_RR) && prio > KN_CARTRIDGE_RT_PRIO;
}

/* Audio thread, first callback of a stream only (its system calls are paid
 * once): keep JACK's priority if it outranks the cartridges (JACK orders
 * its threads itself), else ask for SCHED_FIFO rt_want. */
static void rt_claim(kn_audio *a) {
    int policy = SCHED_OTHER, err = 0;
    struct sched_param sp = {0};
    pthread_t self = pthread_self();
    if (pthread_getschedparam(self, &policy, &sp)) policy = SCHED_OTHER, sp.sched_priority = 0;
    int keep =
        rt_outranks(policy, sp.sched_priority) && (a->jack || sp.sched_priority >= a->rt_want);
    if (!keep && a->rt_want) {
        int tries[2] = {a->rt_want, a->rt_fallback};
        err = EPERM;
        for (int i = 0; i < 2 && err && tries[i] > KN_CARTRIDGE_RT_PRIO; i++) {
            struct sched_param want = {.sched_priority = tries[i]};
            err = pthread_setschedparam(self, SCHED_FIFO, &want);
            if (!err) policy = SCHED_FIFO, sp = want;
        }
    }
    atomic_store_explicit(&a->rt_tid, (int)gettid(), memory_order_relaxed);
    atomic_store_explicit(&a->rt_err, err, memory_order_relaxed);
    atomic_store_explicit(&a->rt_prio, sp.sched_priority, memory_order_relaxed);
    atomic_store_explicit(&a->rt_policy, policy, memory_order_release);
}

/* One sample, converted and stored; each case is its own loop below, so
 * the format is chosen once per chunk, not per sample. */
static inline void put_s16(char *dst, float v) {
    int16_t s = (int16_t)lrintf(fminf(fmaxf(v, -1.0f), 1.0f) * 32767.0f);
    memcpy(dst, &s, sizeof s);
}
static inline void put_s32(char *dst, float v) {
    int32_t s = (int32_t)lrint(fmin(fmax((double)v, -1.0), 1.0) * 2147483647.0);
    memcpy(dst, &s, sizeof s);
}
static inline void put_f64(char *dst, float v) {
    double d = v;
    memcpy(dst, &d, sizeof d);
}
static inline void put_f32(char *dst, float v) {
    memcpy(dst, &v, sizeof v);
}

#define DEINTERLEAVE(put)                                                                          \
    for (int i = 0; i < k; i++)                                                                    \
        for (int c = 0; c < dch; c++) {                                                            \
            put(areas[c].ptr, master[i * ch + c % ch]);                                            \
            areas[c].ptr += areas[c].step;                                                         \
        }

/* Audio thread: k interleaved master frames (ch channels) into the
 * device's dch channel areas, advancing them. Real-time safe. */
static void write_frames(enum SoundIoFormat f, struct SoundIoChannelArea *areas, int dch,
                         const float *master, int ch, int k) {
    switch (f) {
    case SoundIoFormatS16NE: DEINTERLEAVE(put_s16) break;
    case SoundIoFormatS32NE: DEINTERLEAVE(put_s32) break;
    case SoundIoFormatFloat64NE: DEINTERLEAVE(put_f64) break;
    default: DEINTERLEAVE(put_f32) break;
    }
}
#undef DEINTERLEAVE

/* Audio thread. Real-time safe: the mixer and recorder are, and every loop
 * is bounded by frame_count_max. */
static void on_write(struct SoundIoOutStream *os, int frame_count_min, int frame_count_max) {
    (void)frame_count_min;
    kn_audio *a = os->userdata;
    if (!a->rt_done) { /* once per stream: its thread may be a new one */
        a->rt_done = 1;
        rt_claim(a);
        kn_mix_thread_init();
    }
    int left = frame_count_max, ch = a->mix->channels, dch = os->layout.channel_count;
    uint64_t now = kn_mono_ns();
    account_clock(a, now, frame_count_max);
    kn_mix_clock(a->mix, now);
    while (left > 0) {
        struct SoundIoChannelArea *areas;
        int n = left;
        if (soundio_outstream_begin_write(os, &areas, &n) || n <= 0) {
            atomic_store(&a->lost, 1);
            break;
        }
        /* JACK: one write per cycle; the input is placed against it */
        if (a->cap && a->jack && left == frame_count_max)
            kn_capture_output_cycle(a->cap, os, areas, n, a->mix->tl);
        if (a->jack && left == frame_count_max) /* MIDI in and out, at this cycle's frames */
            kn_midi_jack_cycle(atomic_load_explicit(&a->midi, memory_order_acquire), os, areas, n,
                               a->mix);
        for (int done = 0; done < n;) {
            int k = n - done < KN_MIX_CHUNK ? n - done : KN_MIX_CHUNK;
            kn_rec_begin(a->rec, a->mix->tl); /* before the mixer: it taps the decks */
            kn_mix_run(a->mix, a->master, k);
            kn_rec_tap(a->rec, a->master, k);
            write_frames(os->format, areas, dch, a->master, ch, k);
            done += k;
        }
        if (soundio_outstream_end_write(os)) {
            atomic_store(&a->lost, 1);
            break;
        }
        atomic_fetch_add_explicit(&a->frames, (uint64_t)n, memory_order_relaxed);
        a->clk_made += (uint64_t)n;
        left -= n;
    }
    atomic_fetch_add_explicit(&a->callbacks, 1, memory_order_release);
}

static void on_underflow(struct SoundIoOutStream *os) {
    kn_audio *a = os->userdata;
    atomic_fetch_add_explicit(&a->underflows, 1, memory_order_relaxed);
}

static void on_stream_error(struct SoundIoOutStream *os, int err) {
    (void)err;
    kn_audio *a = os->userdata;
    atomic_store(&a->lost, 1);
}

static void on_disconnect(struct SoundIo *sio, int err) {
    (void)err;
    kn_audio *a = sio->userdata;
    atomic_store(&a->lost, 1);
}

static void close_stream(kn_audio *a) {
    if (a->cap) kn_capture_close(a->cap);
    if (a->os) soundio_outstream_destroy(a->os);
    kn_midi_jack_closed(atomic_load(&a->midi)); /* its ports went with the stream's client */
    if (a->dev) soundio_device_unref(a->dev);
    if (a->sio) soundio_destroy(a->sio);
    a->os = NULL;
    a->dev = NULL;
    a->sio = NULL;
}

static enum SoundIoFormat pick_format(struct SoundIoDevice *dev) {
    static const enum SoundIoFormat pref[] = {SoundIoFormatFloat32NE, SoundIoFormatFloat64NE,
                                              SoundIoFormatS32NE, SoundIoFormatS16NE};
    for (size_t i = 0; i < sizeof pref / sizeof pref[0]; i++)
        if (soundio_device_supports_format(dev, pref[i])) return pref[i];
    return SoundIoFormatInvalid;
}

static const struct {
    const char *name;
    enum SoundIoBackend b;
} backends[] = {{"jack", SoundIoBackendJack},
                {"pulseaudio", SoundIoBackendPulseAudio},
                {"alsa", SoundIoBackendAlsa},
                {"dummy", SoundIoBackendDummy}};

/* Tries one backend; 0 on success, else a reason in `why`. */
static int try_backend(kn_audio *a, enum SoundIoBackend b, int rate, char *why, size_t n) {
    a->sio = soundio_create();
    if (!a->sio) return snprintf(why, n, "out of memory"), -1;
    /* On JACK every stream is a client, and libsoundio opens one more that
     * only watches the ports, named app_name. With an input, the capture
     * client is to be "kanon" (ports kanon:in_1 ..), so the watcher takes
     * another name, and the capture stream opens before the output (which
     * JACK then calls kanon-01, as without an input). With MIDI and no
     * input the output's client is "kanon" (ports kanon:midi_in ..). */
    a->sio->app_name =
        b == SoundIoBackendJack && (a->cap || a->opts.midi) ? "kanon-devices" : "kanon";
    a->sio->userdata = a;
    a->sio->on_backend_disconnect = on_disconnect;
    int e = soundio_connect_backend(a->sio, b);
    if (e) goto fail;
    soundio_flush_events(a->sio);
    int idx = soundio_default_output_device_index(a->sio);
    if (idx < 0) {
        snprintf(why, n, "no output device");
        close_stream(a);
        return -ENODEV;
    }
    a->dev = soundio_get_output_device(a->sio, idx);
    if (!a->dev || a->dev->probe_error) {
        e = a->dev ? a->dev->probe_error : SoundIoErrorNoMem;
        goto fail;
    }
    /* Unset latency: 20 ms, but 100 ms on dummy, whose timer thread reports
     * false underflows below about 0.1 s. */
    double ms = a->opts.latency_ms > 0 ? a->opts.latency_ms : b == SoundIoBackendDummy ? 100 : 20;
    /* The input runs at the output's rate, on the same backend. */
    if (a->cap &&
        kn_capture_open(a->cap, a->sio, b == SoundIoBackendJack,
                        soundio_device_nearest_sample_rate(a->dev, rate), ms / 1000.0, why, n)) {
        close_stream(a);
        return -EIO;
    }
    a->os = soundio_outstream_create(a->dev);
    a->os->userdata = a;
    a->os->name = "kanon";
    a->os->write_callback = on_write;
    a->os->underflow_callback = on_underflow;
    a->os->error_callback = on_stream_error;
    a->os->format = pick_format(a->dev);
    if (a->os->format == SoundIoFormatInvalid) {
        snprintf(why, n, "no float or integer sample format");
        close_stream(a);
        return -ENOTSUP;
    }
    a->os->sample_rate = soundio_device_nearest_sample_rate(a->dev, rate);
    const struct SoundIoChannelLayout *want = soundio_channel_layout_get_default(a->mix->channels);
    if (want && soundio_device_supports_layout(a->dev, want)) a->os->layout = *want;
    a->os->software_latency = ms / 1000.0;
    if ((e = soundio_outstream_open(a->os))) goto fail;
    if (a->os->layout_error) {
        e = a->os->layout_error;
        goto fail;
    }
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i].b == b) snprintf(a->backend, sizeof a->backend, "%s", backends[i].name);
    snprintf(a->device, sizeof a->device, "%s", a->dev->name ? a->dev->name : "?");
    kn_mix_set_rate(a->mix, a->os->sample_rate); /* the audio thread isn't running yet */
    a->clk_t0 = a->clk_made = 0;
    a->clk_base = 0;
    a->clk_max = 0;
    a->clk_period = kn_audio_period(a);
    a->rt_done = 0; /* a new stream may run on a new thread */
    a->jack = b == SoundIoBackendJack;
    atomic_store(&a->rt_policy, -1);
    if ((e = soundio_outstream_start(a->os))) goto fail;
    if (a->cap && kn_capture_start(a->cap, (uint32_t)a->clk_period, why, n)) {
        close_stream(a);
        return -EIO;
    }
    return 0;
fail:
    snprintf(why, n, "%s", soundio_strerror(e));
    close_stream(a);
    return e == SoundIoErrorNoMem ? -ENOMEM : -EIO; /* libsoundio's code is in `why` */
}

void kn_audio_rt_conductor(int threads_made) {
    const char *env = getenv("KANON_AUDIO_RT");
    struct sched_param sp = {.sched_priority = KN_CONDUCTOR_RT_PRIO};
    if (env && !strcmp(env, "0")) return;
    /* First the libraries' threads (the backend's, nng's) are created and
     * inherit it; then new threads and processes (the cartridges) start
     * at normal priority again (SCHED_RESET_ON_FORK). */
    if (!threads_made) {
        if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
            kn_log("control threads: SCHED_FIFO priority %d, above the cartridges' %d",
                   KN_CONDUCTOR_RT_PRIO, KN_CARTRIDGE_RT_PRIO);
    } else if (sched_getscheduler(0) == SCHED_FIFO) {
        sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
    }
}

/* Control thread, after a stream started (start-up, failover): waits
 * briefly for its first callback to report the thread's priority, and logs
 * it. Cartridges started before it reports run at normal priority. */
static void rt_report(kn_audio *a) {
    for (int i = 0; i < 500 && atomic_load(&a->rt_policy) < 0; i++) usleep(1000);
    int prio, policy = kn_audio_rt(a, &prio), err = atomic_load(&a->rt_err);
    a->rt_via = !rt_outranks(policy, prio) ? "none" : a->jack && !err ? "jack" : "rlimit";
    char why[200] = "";
    if (!rt_outranks(policy, prio) && a->rt_want && err == EPERM && policy >= 0) {
        /* not ours to take: rtkit may grant it (see rtkit.c) */
        int tid = atomic_load(&a->rt_tid);
        if (tid > 0 && kn_rtkit_realtime(getpid(), tid, a->rt_want, why, sizeof why) == 0) {
            atomic_store(&a->rt_err, 0);
            atomic_store(&a->rt_prio, a->rt_want);
            atomic_store(&a->rt_policy, SCHED_FIFO);
            policy = SCHED_FIFO, prio = a->rt_want, err = 0, a->rt_via = "rtkit";
        }
    }
    if (rt_outranks(policy, prio))
        kn_log("audio thread: %s priority %d, above the cartridges' %d",
               policy == SCHED_RR ? "SCHED_RR" : "SCHED_FIFO", prio, KN_CARTRIDGE_RT_PRIO);
    else
        kn_log("audio thread: normal priority (%s); cartridges run at normal priority too, so "
               "that none outranks it",
               policy < 0    ? "no callback yet"
               : !a->rt_want ? "real-time turned off by KANON_AUDIO_RT=0"
               : err         ? strerror(err)
                             : "not real-time");
    if (why[0]) kn_log("audio thread: %s", why);
}

const char *kn_audio_rt_via(const kn_audio *a) {
    return a->rt_via ? a->rt_via : "none";
}

static int open_by_name(kn_audio *a, const char *name, int rate) {
    int n = 0;
    a->why[0] = 0;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(name, "auto") && strcmp(name, backends[i].name)) continue;
        char reason[256];
        if (try_backend(a, backends[i].b, rate, reason, sizeof reason) == 0) {
            n = (int)strlen(a->why);
            snprintf(a->why + n, sizeof a->why - (size_t)n, "%s%s: ok", n ? "; " : "",
                     backends[i].name);
            return 0;
        }
        n = (int)strlen(a->why);
        snprintf(a->why + n, sizeof a->why - (size_t)n, "%s%s: %s", n ? "; " : "", backends[i].name,
                 reason);
    }
    return -ENODEV; /* a->why has each backend's reason */
}

kn_audio *kn_audio_open(const kn_audio_opts *o, kn_mix *mix, kn_recorder *rec, char *err,
                        size_t errlen) {
    kn_audio *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->opts = *o;
    a->mix = mix;
    a->rec = rec;
    const char *env = getenv("KANON_AUDIO_RT"); /* 0: stay at normal priority (benchmarks) */
    a->rt_want = env && !strcmp(env, "0") ? 0 : KN_AUDIO_RT_PRIO;
    struct rlimit rl; /* without CAP_SYS_NICE, RLIMIT_RTPRIO bounds what we may ask for */
    if (a->rt_want && !getrlimit(RLIMIT_RTPRIO, &rl) && rl.rlim_cur < (rlim_t)a->rt_want)
        a->rt_fallback = (int)rl.rlim_cur;
    atomic_store(&a->rt_policy, -1);
    if (o->inputs > 0 && !(a->cap = kn_capture_new(o->inputs, mix))) {
        snprintf(err, errlen, "out of memory");
        free(a);
        return NULL;
    }
    int known = !strcmp(o->backend, "auto");
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        known |= !strcmp(o->backend, backends[i].name);
    if (!known) {
        snprintf(err, errlen, "unknown backend '%s' (use auto, jack, pulseaudio, alsa or dummy)",
                 o->backend);
        kn_capture_free(a->cap);
        free(a);
        return NULL;
    }
    if (open_by_name(a, o->backend, o->rate)) {
        snprintf(err, errlen, "no audio %s could be opened (%s)",
                 a->cap ? "output and input" : "output", a->why);
        kn_capture_free(a->cap);
        free(a);
        return NULL;
    }
    rt_report(a);
    if (a->cap) kn_capture_started(a->cap);
    return a;
}

void kn_audio_close(kn_audio *a) {
    if (!a) return;
    close_stream(a);
    kn_capture_free(a->cap);
    free(a);
}

void kn_audio_set_midi(kn_audio *a, kn_midi_jack *j) {
    atomic_store_explicit(&a->midi, j, memory_order_release);
}

kn_capture *kn_audio_capture(kn_audio *a) {
    return a ? a->cap : NULL;
}

int kn_audio_poll(kn_audio *a) {
    if (a->sio) soundio_flush_events(a->sio);
    if (!atomic_load(&a->lost) && !(a->cap && kn_capture_lost(a->cap))) return 0;
    char old[32];
    snprintf(old, sizeof old, "%s", a->backend);
    if (a->os) a->opts.rate = a->os->sample_rate; /* the decks' rings run at this rate */
    close_stream(a);
    atomic_store(&a->lost, 0);
    a->failovers++;
    if (open_by_name(a, "dummy", a->opts.rate) == 0) {
        kn_log("audio device lost on %s; failed over to dummy", old);
        rt_report(a);
        if (a->cap) kn_capture_started(a->cap);
    } else
        kn_log("audio device lost on %s and the dummy backend failed: %s", old, a->why);
    return 1;
}

const char *kn_audio_backend(const kn_audio *a) {
    return a->backend;
}
const char *kn_audio_device(const kn_audio *a) {
    return a->device;
}
const char *kn_audio_why(const kn_audio *a) {
    return a->why;
}
int kn_audio_rate(const kn_audio *a) {
    return a->os ? a->os->sample_rate : a->opts.rate;
}
double kn_audio_latency(const kn_audio *a) {
    return a->os ? a->os->software_latency : 0;
}
int kn_audio_period(const kn_audio *a) {
    double l = kn_audio_latency(a) * kn_audio_rate(a);
    return l > 1 ? (int)ceil(l) : a->opts.block;
}
uint64_t kn_audio_underflows(const kn_audio *a) {
    return atomic_load(&a->underflows);
}
uint64_t kn_audio_frames(const kn_audio *a) {
    return atomic_load(&a->frames);
}
_Atomic uint64_t *kn_audio_callbacks(kn_audio *a) {
    return &a->callbacks;
}
const _Atomic uint64_t *kn_audio_lost(kn_audio *a) {
    return &a->lost_frames;
}
uint32_t kn_audio_failovers(const kn_audio *a) {
    return a->failovers;
}

int kn_audio_streaming(const kn_audio *a) {
    return a->os != NULL;
}

int kn_audio_rt(const kn_audio *a, int *prio) {
    int policy = atomic_load_explicit(&a->rt_policy, memory_order_acquire);
    *prio = policy < 0 ? 0 : atomic_load_explicit(&a->rt_prio, memory_order_relaxed);
    return policy;
}
int kn_audio_outranks_cartridges(const kn_audio *a) {
    int prio = 0, policy = a ? kn_audio_rt(a, &prio) : -1;
    return rt_outranks(policy, prio);
}
