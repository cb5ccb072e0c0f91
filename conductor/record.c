/*
 * record.c - a lossless tap of the master, written off the audio thread.
 *
 * The audio thread copies every master frame it sends to the device into a
 * private SPSC ring (the same protocol as the deck rings, in process memory)
 * while `on` is set, counting frames it had no room for as dropped. A
 * writer thread drains the ring into a float32 WAV with libsndfile. Stop
 * clears `on`, waits until the audio thread has finished two callbacks (so
 * no tap is in flight), then lets the writer drain and close the file.
 *
 * What survives: the writer rewrites the header (data size) every
 * HEADER_EVERY_NS, so after a crash (kill -9) the file reads as a WAV that
 * lacks at most that much and the ring's contents. The file is RF64 with
 * libsndfile's auto-downgrade: a plain RIFF header while the file is under
 * 4 GiB (3.1 h of 48 kHz stereo), RF64's 64-bit sizes beyond; each header
 * update writes whichever fits, so a crash after 4 GiB leaves a valid RF64.
 *
 * What is counted: `dropped` frames reached the tap but not the file (the
 * ring was full, or writing failed: the writer then keeps draining and
 * counting, and reports why at once in `error`); `lost` frames never
 * reached the tap because the device played without us (audio.c measures
 * them; the recorder reports the growth since its start).
 */
#include "conductor.h"
#include "spsc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REC_CAPACITY    (1u << 19) /* frames: ~10 s at 48 kHz of slack for a slow disk */
#define HEADER_EVERY_NS 500000000u /* 0.5 s; an update costs ~2 us (a pwrite of the header) */

struct kn_recorder {
    int channels;
    float *data;
    kn_spsc q; /* frames of `channels` floats, audio thread -> writer */
    _Atomic int on;
    _Atomic uint64_t dropped, written;
    _Atomic int draining, write_failed;
    char error[256];    /* why writing failed: set by the writer before write_failed (release) */
    int failure_logged; /* control thread */
    const _Atomic uint64_t *lost_count; /* the device's count of frames played without us */
    uint64_t lost0;                     /* ... when the recording started */
    SNDFILE *sf;
    pthread_t thread;
    int thread_live;
    char path[4096];
    _Atomic int tl_set;        /* audio: the file's first frame's timeline frame is known */
    _Atomic uint64_t tl_first; /* ... and it is this */
};

kn_recorder *kn_rec_new(int channels) {
    kn_recorder *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->channels = channels;
    r->data = calloc((size_t)REC_CAPACITY * (size_t)channels, sizeof(float));
    if (!r->data) {
        free(r);
        return NULL;
    }
    kn_spsc_init(&r->q, r->data, REC_CAPACITY, (uint32_t)channels * sizeof(float));
    return r;
}

void kn_rec_free(kn_recorder *r) {
    if (!r) return;
    free(r->data);
    free(r);
}

/* Audio thread. Real-time safe: two atomics and a bounded copy. */
void kn_rec_timeline(kn_recorder *r, uint64_t tl) {
    if (!atomic_load_explicit(&r->on, memory_order_acquire) ||
        atomic_load_explicit(&r->tl_set, memory_order_relaxed))
        return;
    atomic_store_explicit(&r->tl_first, tl, memory_order_relaxed);
    atomic_store_explicit(&r->tl_set, 1, memory_order_release);
}

void kn_rec_tap(kn_recorder *r, const float *frames, int n) {
    if (!atomic_load_explicit(&r->on, memory_order_acquire)) return;
    if (kn_spsc_push(&r->q, frames, (uint32_t)n))
        atomic_fetch_add_explicit(&r->dropped, (uint64_t)n, memory_order_relaxed);
}

/* Writer thread: the first write that fails ends writing for good (the
 * file would have a hole); the header is brought up to what was written. */
static void write_failed(kn_recorder *r, int e) {
    char buf[200];
    snprintf(r->error, sizeof r->error, "%s",
             e ? strerror_r(e, buf, sizeof buf) : sf_strerror(r->sf));
    atomic_store_explicit(&r->write_failed, 1, memory_order_release);
    sf_command(r->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
}

/* Writes everything buffered (or, once writing failed, counts it as
 * dropped); returns frames taken from the ring. */
static uint64_t drain(kn_recorder *r) {
    uint64_t done = 0;
    void *span;
    for (uint32_t n; (n = kn_spsc_span(&r->q, &span)) > 0;) {
        sf_count_t k = 0;
        if (!atomic_load_explicit(&r->write_failed, memory_order_relaxed)) {
            errno = 0;
            k = sf_writef_float(r->sf, span, (sf_count_t)n);
            if (k < 0) k = 0;
            atomic_fetch_add(&r->written, (uint64_t)k);
            if ((uint64_t)k != n) write_failed(r, errno);
        }
        if ((uint64_t)k != n) atomic_fetch_add(&r->dropped, n - (uint64_t)k);
        done += n;
        kn_spsc_release(&r->q, n);
    }
    return done;
}

static void *writer_main(void *arg) {
    kn_recorder *r = arg;
    uint64_t header_at = kn_mono_ns();
    int stale = 0; /* frames written since the last header update */
    for (;;) {
        int last = atomic_load_explicit(&r->draining, memory_order_acquire);
        uint64_t got = drain(r);
        stale |= got != 0;
        uint64_t now = kn_mono_ns();
        if (stale && now - header_at >= HEADER_EVERY_NS &&
            !atomic_load_explicit(&r->write_failed, memory_order_relaxed)) {
            sf_command(r->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
            header_at = now;
            stale = 0;
        }
        if (!got) {
            if (last) break;
            struct timespec t = {0, 10000000};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

int kn_rec_start(kn_recorder *r, const char *path, int rate, const _Atomic uint64_t *lost,
                 char *err, size_t errlen) {
    if (r->thread_live) {
        snprintf(err, errlen, "already recording to %s; run `kanon record stop` first", r->path);
        return -EBUSY;
    }
    SF_INFO info = {
        .samplerate = rate, .channels = r->channels, .format = SF_FORMAT_RF64 | SF_FORMAT_FLOAT};
    /* O_CLOEXEC: cartridges spawned while recording must not inherit the file */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        return -e;
    }
    r->sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
    if (!r->sf) {
        close(fd);
        snprintf(err, errlen, "cannot write %s: %s", path, sf_strerror(NULL));
        return -EIO;
    }
    sf_command(r->sf, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
    snprintf(r->path, sizeof r->path, "%s", path);
    atomic_store(&r->dropped, 0);
    atomic_store(&r->tl_set, 0);
    atomic_store(&r->written, 0);
    atomic_store(&r->write_failed, 0);
    r->error[0] = 0;
    r->failure_logged = 0;
    r->lost_count = lost;
    r->lost0 = lost ? atomic_load(lost) : 0;
    atomic_store(&r->draining, 0);
    kn_spsc_clear(&r->q);
    int e = pthread_create(&r->thread, NULL, writer_main, r);
    if (e) {
        sf_close(r->sf);
        snprintf(err, errlen, "cannot start the writer thread: %s", strerror(e));
        return -e;
    }
    r->thread_live = 1;
    atomic_store_explicit(&r->on, 1, memory_order_release);
    return 0;
}

static void stats(kn_recorder *r, kn_rec_stats *st) {
    st->frames = atomic_load(&r->written);
    st->dropped = atomic_load(&r->dropped);
    st->lost = r->lost_count ? atomic_load(r->lost_count) - r->lost0 : 0;
    st->timeline_frame = atomic_load_explicit(&r->tl_set, memory_order_acquire)
                             ? (int64_t)atomic_load(&r->tl_first)
                             : -1;
    int failed = atomic_load_explicit(&r->write_failed, memory_order_acquire);
    snprintf(st->error, sizeof st->error, "%s", failed ? r->error : "");
}

int kn_rec_active(kn_recorder *r, char *path, size_t n, kn_rec_stats *st) {
    if (!r->thread_live) return 0;
    snprintf(path, n, "%s", r->path);
    stats(r, st);
    return 1;
}

void kn_rec_tick(kn_recorder *r) {
    if (!r->thread_live || r->failure_logged ||
        !atomic_load_explicit(&r->write_failed, memory_order_acquire))
        return;
    r->failure_logged = 1;
    kn_log("recording to %s: write failed: %s; frames are being dropped", r->path, r->error);
}

int kn_rec_stop(kn_recorder *r, _Atomic uint64_t *cb_counter, kn_rec_stats *st, char *err,
                size_t errlen) {
    if (!r->thread_live) {
        snprintf(err, errlen, "not recording; start with `kanon record start FILE.wav`");
        return -ENOENT;
    }
    atomic_store_explicit(&r->on, 0, memory_order_release);
    /* Let any callback that saw on=1 finish (bounded: 1 s if the device stalls). */
    uint64_t c0 = atomic_load(cb_counter);
    for (int i = 0; i < 1000 && atomic_load(cb_counter) < c0 + 2; i++) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    atomic_store_explicit(&r->draining, 1, memory_order_release);
    pthread_join(r->thread, NULL);
    kn_rec_tick(r); /* a failure not logged yet */
    r->thread_live = 0;
    stats(r, st);
    int closed = sf_close(r->sf) == 0;
    if (st->error[0] || !closed) {
        snprintf(err, errlen, "writing %s failed after %llu frames: %s; %llu frames dropped",
                 r->path, (unsigned long long)st->frames,
                 st->error[0] ? st->error : "closing the file failed",
                 (unsigned long long)st->dropped);
        return -EIO;
    }
    return 0;
}
