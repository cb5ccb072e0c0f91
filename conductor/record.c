/*
 * record.c - a lossless tap of the master, written off the audio thread.
 *
 * The audio thread copies every master frame it sends to the device into a
 * private SPSC ring (the same protocol as the deck rings, in process memory)
 * while `on` is set, counting frames it had no room for as dropped. A
 * writer thread drains the ring into a float32 WAV with libsndfile. Stop
 * clears `on`, waits until the audio thread has finished two callbacks (so
 * no tap is in flight), then lets the writer drain and close the file.
 */
#include "conductor.h"

#include <errno.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REC_CAPACITY (1u << 19) /* frames: ~10 s at 48 kHz of slack for a slow disk */

struct kn_recorder {
    int channels;
    float *data;
    _Atomic uint64_t wpos, rpos;
    _Atomic int on;
    _Atomic uint64_t dropped, written;
    _Atomic int draining, write_failed;
    SNDFILE *sf;
    pthread_t thread;
    int thread_live;
    char path[4096];
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
    return r;
}

void kn_rec_free(kn_recorder *r) {
    if (!r) return;
    free(r->data);
    free(r);
}

/* Audio thread. Real-time safe: two atomics and a bounded copy. */
void kn_rec_tap(kn_recorder *r, const float *frames, int n) {
    if (!atomic_load_explicit(&r->on, memory_order_acquire)) return;
    uint64_t w = atomic_load_explicit(&r->wpos, memory_order_relaxed);
    uint64_t rd = atomic_load_explicit(&r->rpos, memory_order_acquire);
    if (REC_CAPACITY - (w - rd) < (uint64_t)n) {
        atomic_fetch_add_explicit(&r->dropped, (uint64_t)n, memory_order_relaxed);
        return;
    }
    int ch = r->channels;
    for (int i = 0; i < n; i++)
        memcpy(r->data + ((w + (uint64_t)i) & (REC_CAPACITY - 1)) * (uint64_t)ch, frames + i * ch,
               (size_t)ch * sizeof(float));
    atomic_store_explicit(&r->wpos, w + (uint64_t)n, memory_order_release);
}

/* Writes everything buffered; returns frames written. */
static uint64_t drain(kn_recorder *r) {
    uint64_t w = atomic_load_explicit(&r->wpos, memory_order_acquire);
    uint64_t rd = atomic_load_explicit(&r->rpos, memory_order_relaxed), done = 0;
    while (rd < w) {
        uint64_t at = rd & (REC_CAPACITY - 1);
        uint64_t n = w - rd < REC_CAPACITY - at ? w - rd : REC_CAPACITY - at;
        if (!atomic_load(&r->write_failed) &&
            sf_writef_float(r->sf, r->data + at * (uint64_t)r->channels, (sf_count_t)n) !=
                (sf_count_t)n)
            atomic_store(&r->write_failed, 1);
        if (!atomic_load(&r->write_failed)) atomic_fetch_add(&r->written, n);
        rd += n;
        done += n;
        atomic_store_explicit(&r->rpos, rd, memory_order_release);
    }
    return done;
}

static void *writer_main(void *arg) {
    kn_recorder *r = arg;
    for (;;) {
        int last = atomic_load_explicit(&r->draining, memory_order_acquire);
        if (!drain(r)) {
            if (last) break;
            struct timespec t = {0, 10000000};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

int kn_rec_start(kn_recorder *r, const char *path, int rate, char *err, size_t errlen) {
    if (r->thread_live) {
        snprintf(err, errlen, "already recording to %s; run `kanon record stop` first", r->path);
        return -1;
    }
    SF_INFO info = {
        .samplerate = rate, .channels = r->channels, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    r->sf = sf_open(path, SFM_WRITE, &info);
    if (r->sf) sf_command(r->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE); /* samples only */
    if (!r->sf) {
        snprintf(err, errlen, "cannot write %s: %s", path, sf_strerror(NULL));
        return -1;
    }
    snprintf(r->path, sizeof r->path, "%s", path);
    atomic_store(&r->dropped, 0);
    atomic_store(&r->written, 0);
    atomic_store(&r->write_failed, 0);
    atomic_store(&r->draining, 0);
    atomic_store(&r->rpos, atomic_load(&r->wpos));
    if (pthread_create(&r->thread, NULL, writer_main, r)) {
        sf_close(r->sf);
        snprintf(err, errlen, "cannot start the writer thread");
        return -1;
    }
    r->thread_live = 1;
    atomic_store_explicit(&r->on, 1, memory_order_release);
    return 0;
}

int kn_rec_active(kn_recorder *r, char *path, size_t n, uint64_t *frames, uint64_t *dropped) {
    if (!r->thread_live) return 0;
    snprintf(path, n, "%s", r->path);
    *frames = atomic_load(&r->written);
    *dropped = atomic_load(&r->dropped);
    return 1;
}

int kn_rec_stop(kn_recorder *r, _Atomic uint64_t *cb_counter, uint64_t *frames, uint64_t *dropped,
                char *err, size_t errlen) {
    if (!r->thread_live) {
        snprintf(err, errlen, "not recording; start with `kanon record start FILE.wav`");
        return -1;
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
    r->thread_live = 0;
    int failed = atomic_load(&r->write_failed);
    if (sf_close(r->sf) != 0) failed = 1;
    *frames = atomic_load(&r->written);
    *dropped = atomic_load(&r->dropped);
    if (failed) {
        snprintf(err, errlen, "writing %s failed after %llu frames (disk full?)", r->path,
                 (unsigned long long)*frames);
        return -1;
    }
    return 0;
}
