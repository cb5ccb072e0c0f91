/*
 * record.c - lossless taps of the mix, written off the audio thread.
 *
 * A recording writes one or more files ("tracks"), each fed by its own
 * private SPSC ring (the same protocol as the deck rings, in process
 * memory):
 *
 *   master  `record start F.wav`          track 0: the master, as sent to the device
 *   stems   `record start DIR --stems`    track 0: DIR/master.wav; one track per deck,
 *                                          DIR/<deck>.wav, its post-fader signal
 *   deck    `record start F.wav --deck X` track 0: deck X's post-fader signal
 *
 * "Post-fader" is what a deck adds to the master: the mixer hands each
 * deck's chunk, after its gain, mute/solo and pan, to kn_rec_post
 * (kn_mix.post_tap), which copies it into the deck's track's stage buffer;
 * a deck that is not mixed in a chunk is silent there. At the chunk's end
 * kn_rec_tap hands the chunk to every track's ring, or, if any ring lacks
 * room, to none (counted as dropped): so every file holds the same frames
 * of the timeline, and the master equals the sum of the stems sample for
 * sample wherever the master path is exact. Whether a chunk is recorded is
 * decided once, at its start (kn_rec_begin), so a chunk is never half in.
 *
 * Tracks and decks. The control thread maps each mixer slot to a track
 * (slot_track; -1: not recorded) when a recording starts and whenever a
 * deck is created (kn_rec_deck_new). Stems are kept by deck name: a deck
 * that appears during the recording gets a new file, <deck>.wav, that
 * starts with silence up to the frame it joined, so it starts on the same
 * timeline frame as the others; a deck that stops leaves silence (its
 * slot keeps feeding its file until a new deck takes the slot, so the
 * stop's fade-out is in it); a new deck in a reused slot gets its own
 * file, never the old deck's; a deck played again under a name already
 * recorded continues that name's file. A deck mode recording follows its
 * deck by name the same way.
 *
 * Memory: track 0's ring is allocated once with the recorder (a master
 * recording needs nothing more); a stems or deck recording allocates the
 * rest on the control thread as tracks appear and frees them at stop. The
 * audio thread never allocates, locks or blocks.
 *
 * A writer thread drains every ring into its float32 WAV (libsndfile),
 * first writing a late track's leading silence a piece at a time, so the
 * other files are drained meanwhile. Stop clears `on`, waits until the
 * audio thread has finished two callbacks (so no tap is in flight), then
 * lets the writer drain and close the files.
 *
 * What survives: the writer rewrites each header (data size) every
 * HEADER_EVERY_NS, so after a crash (kill -9) a file reads as a WAV that
 * lacks at most that much and the ring's contents. The files are RF64 with
 * libsndfile's auto-downgrade: a plain RIFF header while a file is under
 * 4 GiB (3.1 h of 48 kHz stereo), RF64's 64-bit sizes beyond; each header
 * update writes whichever fits, so a crash after 4 GiB leaves a valid RF64.
 *
 * What is counted: `dropped` frames reached the tap but not a file (the
 * rings were full, or writing failed: the writer then keeps draining and
 * counting, and reports why at once in `error`), the most any one file
 * misses; `lost` frames never reached the tap because the device played
 * without us (audio.c measures them; the recorder reports the growth since
 * its start).
 */
#include "conductor.h"
#include "input.h"
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
#define PAD_STEP        16384u     /* frames of a late track's leading silence per writer pass */
#define REC_SKIPS       8          /* decks not recorded that a recording names */

typedef struct rec_track {
    char name[KN_NAME_MAX]; /* "master" or the deck's name */
    float *data;            /* the ring's frames (track 0: the recorder's own) */
    float *stage; /* a deck's track: this chunk's post-fader frames (KN_MIX_CHUNK), else NULL */
    kn_spsc q;    /* frames of `channels` floats, audio thread -> writer */
    SNDFILE *sf;  /* control opens and closes it; the writer writes it */
    int stage_n;  /* audio: frames of `stage` filled in this chunk */
    _Atomic int started;                 /* audio (release), or control at stop: `pad` is set */
    _Atomic uint64_t pad;                /* frames of silence before its first chunk */
    uint64_t padded;                     /* writer: of them written */
    uint64_t header_at;                  /* writer: last header update */
    int stale;                           /* writer: frames written since */
    _Atomic int failed;                  /* writer: writing this file failed; it writes no more */
    _Atomic uint64_t written, unwritten; /* writer: frames in the file; frames that failed */
} rec_track;

struct kn_recorder {
    int channels;
    float *data0; /* track 0's ring, allocated with the recorder */
    float *zeros; /* PAD_STEP frames of silence for the writer (made by the first stems) */
    rec_track trk[KN_REC_TRACKS];
    _Atomic int ntracks; /* control publishes a track (release) once it is ready */
    /* control -> audio: the track each slot's deck feeds (-1: none) */
    _Atomic int slot_track[KN_MAX_DECKS];
    int live;                /* audio: `on` as it was at this chunk's start */
    _Atomic uint64_t pushed; /* audio: frames handed to every ring */
    int held;                /* control: track memory a stop could not free yet */
    enum kn_rec_mode mode;   /* control: the latest recording's */
    char deck[KN_NAME_MAX];  /* KN_REC_DECK: the deck recorded */
    int force;
    struct {
        char deck[KN_NAME_MAX], why[512];
    } skip[REC_SKIPS];
    int nskip;
    _Atomic int on;
    _Atomic uint64_t dropped; /* audio: frames of chunks no ring took */
    _Atomic int draining, write_failed;
    char error[256];    /* why writing failed: set by the writer before write_failed (release) */
    int failure_logged; /* control thread */
    const _Atomic uint64_t *lost_count; /* the device's count of frames played without us */
    uint64_t lost0;                     /* ... when the recording started */
    pthread_t thread;
    int thread_live;
    char path[4096]; /* the file, or for stems the directory */
    int rate;
    _Atomic int tl_set;        /* audio: the files' first frame's timeline frame is known */
    _Atomic uint64_t tl_first; /* ... and it is this */
};

kn_recorder *kn_rec_new(int channels) {
    kn_recorder *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->channels = channels;
    r->data0 = calloc((size_t)REC_CAPACITY * (size_t)channels, sizeof(float));
    if (!r->data0) {
        free(r);
        return NULL;
    }
    for (int i = 0; i < KN_MAX_DECKS; i++) atomic_store(&r->slot_track[i], -1);
    return r;
}

/* Control thread, once the audio thread cannot touch the tracks. */
static void release_tracks(kn_recorder *r) {
    for (int t = 0; t < KN_REC_TRACKS; t++) {
        rec_track *k = &r->trk[t];
        if (k->data != r->data0) free(k->data);
        free(k->stage);
        k->data = k->stage = NULL;
    }
    r->held = 0;
}

void kn_rec_free(kn_recorder *r) {
    if (!r) return;
    release_tracks(r);
    free(r->data0);
    free(r->zeros);
    free(r);
}

/* ------------------------------------------------------- audio thread */

/* Real-time safe, like the rest of this section: atomics and bounded
 * copies only. */
void kn_rec_begin(kn_recorder *r, uint64_t tl) {
    r->live = atomic_load_explicit(&r->on, memory_order_acquire);
    if (!r->live || atomic_load_explicit(&r->tl_set, memory_order_relaxed)) return;
    atomic_store_explicit(&r->tl_first, tl, memory_order_relaxed);
    atomic_store_explicit(&r->tl_set, 1, memory_order_release);
}

void kn_rec_post(void *rec, int slot, const float *x, int n) {
    kn_recorder *r = rec;
    if (!r->live || n <= 0 || slot < 0 || slot >= KN_MAX_DECKS) return;
    int t = atomic_load_explicit(&r->slot_track[slot], memory_order_acquire);
    if (t < 0 || t >= KN_REC_TRACKS || !r->trk[t].stage) return;
    rec_track *k = &r->trk[t];
    int ch = r->channels, have = k->stage_n, m = n < KN_MIX_CHUNK ? n : KN_MIX_CHUNK;
    /* Two slots feed one file only while a deck stopped and played again
     * under its name still fades out in its old slot: they are summed. */
    int both = have < m ? have : m;
    for (int i = 0; i < both * ch; i++) k->stage[i] += x[i];
    if (m > have) {
        memcpy(k->stage + have * ch, x + have * ch,
               (size_t)(m - have) * (size_t)ch * sizeof(float));
        k->stage_n = m;
    }
}

void kn_rec_tap(kn_recorder *r, const float *master, int n) {
    if (!r->live || n <= 0) return;
    int nt = atomic_load_explicit(&r->ntracks, memory_order_acquire), ch = r->channels;
    int room = 1;
    for (int t = 0; t < nt; t++) {
        rec_track *k = &r->trk[t];
        room &= kn_spsc_room(&k->q) >= (uint32_t)n && (!k->stage || n <= KN_MIX_CHUNK);
    }
    if (!room) { /* all files lose the chunk, so they stay aligned */
        for (int t = 0; t < nt; t++) r->trk[t].stage_n = 0;
        atomic_fetch_add_explicit(&r->dropped, (uint64_t)n, memory_order_relaxed);
        return;
    }
    uint64_t pushed = atomic_load_explicit(&r->pushed, memory_order_relaxed);
    for (int t = 0; t < nt; t++) {
        rec_track *k = &r->trk[t];
        if (!atomic_load_explicit(&k->started, memory_order_relaxed)) {
            /* a track new since the last chunk: silence up to here */
            atomic_store_explicit(&k->pad, pushed, memory_order_relaxed);
            atomic_store_explicit(&k->started, 1, memory_order_release);
        }
        const float *src = master;
        if (k->stage) {
            memset(k->stage + k->stage_n * ch, 0,
                   (size_t)(n - k->stage_n) * (size_t)ch * sizeof(float));
            src = k->stage;
            k->stage_n = 0;
        }
        kn_spsc_push(&k->q, src, (uint32_t)n); /* fits: room was checked, only we push */
    }
    atomic_store_explicit(&r->pushed, pushed + (uint64_t)n, memory_order_relaxed);
}

/* ------------------------------------------------------- writer thread */

/* The first write to a file that fails ends writing it for good (it would
 * have a hole); its header is brought up to what was written. The first
 * failure of the recording is its `error`. */
static void track_failed(kn_recorder *r, rec_track *k, int e) {
    atomic_store_explicit(&k->failed, 1, memory_order_relaxed);
    sf_command(k->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
    if (atomic_load_explicit(&r->write_failed, memory_order_relaxed)) return;
    char buf[200], name[64] = "";
    if (r->mode == KN_REC_STEMS) snprintf(name, sizeof name, "%s.wav: ", k->name);
    snprintf(r->error, sizeof r->error, "%s%s", name,
             e ? strerror_r(e, buf, sizeof buf) : sf_strerror(k->sf));
    atomic_store_explicit(&r->write_failed, 1, memory_order_release);
}

/* n frames into k's file, or counted as unwritten once writing failed. */
static void put(kn_recorder *r, rec_track *k, const float *x, uint64_t n) {
    sf_count_t w = 0;
    if (!atomic_load_explicit(&k->failed, memory_order_relaxed)) {
        errno = 0;
        w = sf_writef_float(k->sf, x, (sf_count_t)n);
        if (w < 0) w = 0;
        atomic_fetch_add(&k->written, (uint64_t)w);
        if ((uint64_t)w != n) track_failed(r, k, errno);
    }
    if ((uint64_t)w != n) atomic_fetch_add(&k->unwritten, n - (uint64_t)w);
    k->stale |= w > 0;
}

/* Writes what k has buffered (after its leading silence); returns frames
 * handled. */
static uint64_t drain(kn_recorder *r, rec_track *k) {
    if (!atomic_load_explicit(&k->started, memory_order_acquire)) return 0;
    uint64_t pad = atomic_load_explicit(&k->pad, memory_order_relaxed);
    if (k->padded < pad) { /* a piece of it per pass: the other files wait less */
        uint64_t m = pad - k->padded < PAD_STEP ? pad - k->padded : PAD_STEP;
        put(r, k, r->zeros, m);
        k->padded += m;
        return m;
    }
    uint64_t done = 0;
    void *span;
    for (uint32_t n; (n = kn_spsc_span(&k->q, &span)) > 0;) {
        put(r, k, span, n);
        done += n;
        kn_spsc_release(&k->q, n);
    }
    return done;
}

static void *writer_main(void *arg) {
    kn_recorder *r = arg;
    for (;;) {
        int last = atomic_load_explicit(&r->draining, memory_order_acquire);
        int nt = atomic_load_explicit(&r->ntracks, memory_order_acquire);
        uint64_t got = 0, now = kn_mono_ns();
        for (int t = 0; t < nt; t++) {
            rec_track *k = &r->trk[t];
            got += drain(r, k);
            if (k->stale && now - k->header_at >= HEADER_EVERY_NS &&
                !atomic_load_explicit(&k->failed, memory_order_relaxed)) {
                sf_command(k->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
                k->header_at = now;
                k->stale = 0;
            }
        }
        if (!got) {
            if (last) break;
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ------------------------------------------------------ control thread */

static void track_path(const kn_recorder *r, const rec_track *k, char *out, size_t n) {
    if (r->mode == KN_REC_STEMS)
        snprintf(out, n, "%s/%s.wav", r->path, k->name);
    else
        snprintf(out, n, "%s", r->path);
}

static SNDFILE *open_wav(const char *path, int rate, int channels, char *err, size_t errlen) {
    SF_INFO info = {
        .samplerate = rate, .channels = channels, .format = SF_FORMAT_RF64 | SF_FORMAT_FLOAT};
    /* O_CLOEXEC: cartridges spawned while recording must not inherit the file */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        return NULL;
    }
    SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
    if (!sf) {
        close(fd);
        snprintf(err, errlen, "cannot write %s: %s", path, sf_strerror(NULL));
        return NULL;
    }
    sf_command(sf, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
    return sf;
}

/* Makes track ntracks (a deck's if `deck`; its ring is track 0's if t is
 * 0) and publishes it to the audio thread and the writer. */
static int add_track(kn_recorder *r, const char *name, int deck, char *err, size_t errlen) {
    int t = atomic_load_explicit(&r->ntracks, memory_order_relaxed), ch = r->channels;
    if (t >= KN_REC_TRACKS) {
        snprintf(err, errlen, "a recording writes at most %d files", KN_REC_TRACKS);
        return -ENOSPC;
    }
    rec_track *k = &r->trk[t];
    char path[4200];
    memset(k->name, 0, sizeof k->name);
    snprintf(k->name, sizeof k->name, "%s", name);
    track_path(r, k, path, sizeof path);
    if (t && r->mode == KN_REC_STEMS && !r->force) {
        const char *why = kn_overwrite_refusal(path);
        if (why) {
            snprintf(err, errlen, "%s %s; not overwriting it (record with --force to)", path, why);
            return -EEXIST;
        }
    }
    k->data = t ? calloc((size_t)REC_CAPACITY * (size_t)ch, sizeof(float)) : r->data0;
    k->stage = deck ? calloc((size_t)KN_MIX_CHUNK * (size_t)ch, sizeof(float)) : NULL;
    r->held = 1;
    int rc = !k->data || (deck && !k->stage) ? -ENOMEM : 0;
    if (rc)
        snprintf(err, errlen, "out of memory for the recording of %s", name);
    else if (!(k->sf = open_wav(path, r->rate, ch, err, errlen)))
        rc = -EIO;
    if (rc) { /* the slot is free for the next deck again */
        if (k->data != r->data0) free(k->data);
        free(k->stage);
        k->data = k->stage = NULL;
        return rc;
    }
    kn_spsc_init(&k->q, k->data, REC_CAPACITY, (uint32_t)ch * sizeof(float));
    k->stage_n = 0;
    k->padded = 0;
    k->header_at = kn_mono_ns();
    k->stale = 0;
    atomic_store(&k->started, 0);
    atomic_store(&k->pad, 0);
    atomic_store(&k->failed, 0);
    atomic_store(&k->written, 0);
    atomic_store(&k->unwritten, 0);
    atomic_store_explicit(&r->ntracks, t + 1, memory_order_release);
    return t;
}

static void skip(kn_recorder *r, const char *deck, const char *why) {
    for (int i = 0; i < r->nskip; i++)
        if (!strcmp(r->skip[i].deck, deck)) return; /* said already */
    kn_log("recording: deck %s is not recorded: %s", deck, why);
    if (r->nskip >= REC_SKIPS) return;
    snprintf(r->skip[r->nskip].deck, sizeof r->skip[0].deck, "%s", deck);
    snprintf(r->skip[r->nskip].why, sizeof r->skip[0].why, "%.*s", (int)sizeof r->skip[0].why - 1,
             why); /* a long path may be cut */
    r->nskip++;
}

/* The stem track of deck `name`: its own if the recording has one, else a
 * new one; -1 (and the reason in err) if it cannot have one. */
static int stem_track(kn_recorder *r, const char *name, char *err, size_t errlen) {
    int nt = atomic_load_explicit(&r->ntracks, memory_order_relaxed);
    for (int t = 1; t < nt; t++)
        if (!strcmp(r->trk[t].name, name)) return t;
    for (int i = 0; i < r->nskip; i++)
        if (!strcmp(r->skip[i].deck, name)) {
            snprintf(err, errlen, "%s", r->skip[i].why);
            return -1;
        }
    int t = add_track(r, name, 1, err, errlen);
    return t < 0 ? -1 : t;
}

void kn_rec_deck_new(kn_recorder *r, int slot, const char *name) {
    if (!r || !r->thread_live || r->mode == KN_REC_MASTER || slot < 0 || slot >= KN_MAX_DECKS)
        return;
    int t = -1;
    if (r->mode == KN_REC_DECK) {
        t = strcmp(name, r->deck) ? -1 : 0;
    } else {
        char err[4400];
        int had = atomic_load_explicit(&r->ntracks, memory_order_relaxed);
        t = stem_track(r, name, err, sizeof err);
        if (t < 0 && had == atomic_load(&r->ntracks))
            skip(r, name, err);
        else if (t >= had)
            kn_log("recording deck %s to %s/%s.wav, from the recording's first frame", name,
                   r->path, name);
    }
    /* A slot a new deck took over stops feeding its old deck's file. */
    atomic_store_explicit(&r->slot_track[slot], t, memory_order_release);
}

/* Closes every file; 0, or -1 if closing one failed. */
static int close_tracks(kn_recorder *r) {
    int bad = 0, nt = atomic_load(&r->ntracks);
    for (int t = 0; t < nt; t++) {
        if (r->trk[t].sf && sf_close(r->trk[t].sf)) bad = -1;
        r->trk[t].sf = NULL;
    }
    return bad;
}

int kn_rec_start(kn_recorder *r, const kn_rec_opts *o, char *err, size_t errlen) {
    if (r->thread_live) {
        snprintf(err, errlen, "already recording to %s; run `kanon record stop` first", r->path);
        return -EBUSY;
    }
    if (r->held) release_tracks(r); /* a stop that could not wait for the audio thread */
    if (o->mode != KN_REC_MASTER && !r->zeros &&
        !(r->zeros = calloc((size_t)PAD_STEP * (size_t)r->channels, sizeof(float)))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    atomic_store(&r->ntracks, 0);
    for (int i = 0; i < KN_MAX_DECKS; i++) atomic_store(&r->slot_track[i], -1);
    r->mode = o->mode;
    r->rate = o->rate;
    r->force = o->force;
    r->nskip = 0;
    snprintf(r->deck, sizeof r->deck, "%s", o->mode == KN_REC_DECK && o->deck ? o->deck : "");
    snprintf(r->path, sizeof r->path, "%s", o->path);
    atomic_store(&r->dropped, 0);
    atomic_store(&r->pushed, 0);
    atomic_store(&r->tl_set, 0);
    atomic_store(&r->write_failed, 0);
    r->error[0] = 0;
    r->failure_logged = 0;
    r->lost_count = o->lost;
    r->lost0 = o->lost ? atomic_load(o->lost) : 0;
    atomic_store(&r->draining, 0);
    int rc = 0, found = 0;
    if (o->mode == KN_REC_DECK) {
        for (int i = 0; i < KN_MAX_DECKS; i++)
            found |= o->slots[i] && !strcmp(o->slots[i], r->deck);
        if (!found) {
            snprintf(err, errlen, "no deck named '%s' (see `kanon status`)", r->deck);
            return -ENOENT;
        }
    }
    rc = add_track(r, o->mode == KN_REC_DECK ? r->deck : "master", o->mode == KN_REC_DECK, err,
                   errlen);
    for (int i = 0; rc >= 0 && i < KN_MAX_DECKS; i++) {
        const char *name = o->slots[i];
        if (!name || !name[0] || o->mode == KN_REC_MASTER) continue;
        if (o->mode == KN_REC_DECK)
            rc = strcmp(name, r->deck) ? -1 : 0;
        else if ((rc = stem_track(r, name, err, errlen)) < 0)
            break; /* refused at the start: nothing is recorded */
        atomic_store(&r->slot_track[i], rc);
        rc = 0;
    }
    int e = rc < 0 ? 0 : pthread_create(&r->thread, NULL, writer_main, r);
    if (rc < 0 || e) {
        if (e) snprintf(err, errlen, "cannot start the writer thread: %s", strerror(e));
        close_tracks(r);
        release_tracks(r);
        atomic_store(&r->ntracks, 0);
        return rc < 0 ? rc : -e;
    }
    r->thread_live = 1;
    atomic_store_explicit(&r->on, 1, memory_order_release);
    return 0;
}

static void stats(kn_recorder *r, kn_rec_stats *st) {
    int nt = atomic_load(&r->ntracks);
    uint64_t worst = 0;
    for (int t = 0; t < nt; t++) {
        uint64_t u = atomic_load(&r->trk[t].unwritten);
        if (u > worst) worst = u;
    }
    st->frames = nt ? atomic_load(&r->trk[0].written) : 0;
    st->dropped = atomic_load(&r->dropped) + worst;
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

enum kn_rec_mode kn_rec_mode(const kn_recorder *r, const char **deck) {
    if (deck) *deck = r->deck;
    return r->mode;
}

int kn_rec_file_info(kn_recorder *r, int i, kn_rec_file *f) {
    if (i < 0 || i >= atomic_load(&r->ntracks)) return 0;
    rec_track *k = &r->trk[i];
    snprintf(f->deck, sizeof f->deck, "%s", k->name);
    track_path(r, k, f->path, sizeof f->path);
    f->frames = atomic_load(&k->written);
    return 1;
}

int kn_rec_skipped(const kn_recorder *r, int i, const char **deck, const char **why) {
    if (i < 0 || i >= r->nskip) return 0;
    *deck = r->skip[i].deck;
    *why = r->skip[i].why;
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
    int let_go = 0;
    for (int i = 0; i < 1000 && !(let_go = atomic_load(cb_counter) >= c0 + 2); i++) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    /* A deck that came too late for any chunk: silence for the whole
     * recording, so its file is as long as the others. */
    int nt = atomic_load(&r->ntracks);
    for (int t = 0; t < nt; t++)
        if (!atomic_load(&r->trk[t].started)) {
            atomic_store(&r->trk[t].pad, atomic_load(&r->pushed));
            atomic_store_explicit(&r->trk[t].started, 1, memory_order_release);
        }
    atomic_store_explicit(&r->draining, 1, memory_order_release);
    pthread_join(r->thread, NULL);
    kn_rec_tick(r); /* a failure not logged yet */
    r->thread_live = 0;
    stats(r, st);
    int closed = close_tracks(r) == 0;
    /* The rings go now, unless a stalled callback may still be in one
     * (then the next start frees them). */
    if (let_go) release_tracks(r);
    if (st->error[0] || !closed) {
        snprintf(err, errlen, "writing %s failed after %llu frames: %s; %llu frames dropped",
                 r->path, (unsigned long long)st->frames,
                 st->error[0] ? st->error : "closing the file failed",
                 (unsigned long long)st->dropped);
        return -EIO;
    }
    return 0;
}
