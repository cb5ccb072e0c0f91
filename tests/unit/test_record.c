// link: conductor/record.c conductor/mixer.c
/*
 * test_record.c - the recorder's files, driven directly: this test plays
 * the audio thread (kn_rec_begin, the mixer, kn_rec_tap) and reads the
 * file as a crash would leave it, i.e. while the recorder still has it
 * open.
 *
 * Proves:
 *   - while recording, the file on disk is a valid WAV whose header follows
 *     the frames written (within HEADER_EVERY_NS): what `kill -9` leaves;
 *   - a small recording is a plain RIFF WAV (RF64 auto-downgrade) with the
 *     exact frame count after stop;
 *   - a write that fails (RLIMIT_FSIZE: EFBIG, as a full disk gives ENOSPC)
 *     is reported at once with its reason, logged once, and every frame
 *     from then on is counted as dropped; stop reports the failure;
 *   - `lost` is the growth of the device's counter since the start;
 *   - with KANON_BIG_TEST=1 (tests/big_file.sh: 4.4 GB of disk), past
 *     4 GiB the header is RF64 with the right frame count, while recording
 *     and after stop;
 *   - stems, through the real mixer (kn_mix.post_tap) with gains and pan:
 *     every file has the same length; the master equals the float sum of
 *     the stems in slot order, bit for bit; a stem at unity equals its
 *     deck's samples and one with gains equals them times the gains; a deck
 *     that appears later starts with silence up to the frame it joined; a
 *     stopped deck's file keeps its fade-out, then silence; a new deck in
 *     a reused slot gets its own file; a deck played again under a name
 *     continues that file; a deck whose file would overwrite a non-WAV is
 *     not recorded and is listed as skipped; a deck created after the last
 *     chunk still gets a file of the same length (all silence);
 *   - a deck recording holds exactly that deck's post-fader signal; an
 *     unknown deck is refused by name.
 */
#include "check.h"
#include "conductor.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int logged;
static char last_log[512];
void kn_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
    logged++;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Frames the file's header announces (-1: unreadable), and its first 4 bytes. */
static long long header_frames(const char *path, char magic[5]) {
    FILE *f = fopen(path, "rb");
    magic[0] = 0;
    if (f) {
        size_t n = fread(magic, 1, 4, f);
        magic[n] = 0;
        fclose(f);
    }
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) return -1;
    sf_close(sf);
    return (long long)info.frames;
}

/* Waits (up to 20 s: a loaded machine) until the header says `want` frames. */
static int header_reaches(const char *path, long long want) {
    char magic[5];
    for (int i = 0; i < 1000; i++) {
        if (header_frames(path, magic) >= want) return 1;
        sleep_ms(20);
    }
    return 0;
}

static int start_master(kn_recorder *r, const char *path, const _Atomic uint64_t *lost, char *err,
                        size_t n) {
    kn_rec_opts o = {.mode = KN_REC_MASTER, .path = path, .rate = 48000, .lost = lost};
    return kn_rec_start(r, &o, err, n);
}

static uint64_t written(kn_recorder *r) {
    char path[4096];
    kn_rec_stats st;
    return kn_rec_active(r, path, sizeof path, &st) ? st.frames : 0;
}

/* Taps `frames` frames, never more than half the ring ahead of the writer
 * (so nothing is dropped however slow the disk). */
static void tap(kn_recorder *r, uint64_t frames, uint64_t *tapped) {
    static float buf[4096 * 2];
    for (int i = 0; i < 4096 * 2; i++) buf[i] = 0.25f;
    for (uint64_t done = 0; done < frames;) {
        int n = frames - done < 4096 ? (int)(frames - done) : 4096;
        while (*tapped - written(r) > (1u << 18)) sleep_ms(1);
        kn_rec_begin(r, *tapped);
        kn_rec_tap(r, buf, n);
        done += (uint64_t)n;
        *tapped += (uint64_t)n;
    }
}

static void header_follows(const char *dir) {
    char path[4200], magic[5], err[4400];
    snprintf(path, sizeof path, "%s/live.wav", dir);
    kn_recorder *r = kn_rec_new(2);
    _Atomic uint64_t lost = 5;
    CHECK(start_master(r, path, &lost, err, sizeof err) == 0);
    uint64_t tapped = 0;
    tap(r, 48000, &tapped);
    CHECK(header_reaches(path, 48000)); /* the file as kill -9 would leave it */
    CHECK(header_frames(path, magic) == 48000);
    CHECK(!strcmp(magic, "RIFF"));
    tap(r, 24000, &tapped);
    CHECK(header_reaches(path, 72000));
    lost += 100;
    kn_rec_stats st;
    _Atomic uint64_t callbacks = 1000; /* no audio thread: nothing to wait for */
    CHECK(kn_rec_active(r, path, sizeof path, &st) && st.lost == 100 && !st.error[0]);
    CHECK(kn_rec_stop(r, &callbacks, &st, err, sizeof err) == 0);
    CHECK(st.frames == 72000 && st.dropped == 0 && st.lost == 100);
    CHECK(header_frames(path, magic) == 72000 && !strcmp(magic, "RIFF"));
    kn_rec_free(r);
    unlink(path);
}

static void write_failure(const char *dir) {
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/full.wav", dir);
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 64 * 1024; /* ~8000 frames, then EFBIG */
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    kn_recorder *r = kn_rec_new(2);
    CHECK(start_master(r, path, NULL, err, sizeof err) == 0);
    static float buf[4096 * 2];
    kn_rec_stats st = {0};
    char p[4096];
    for (int i = 0; i < 1000 && !st.error[0]; i++) { /* until the writer hits the limit */
        kn_rec_begin(r, 0);
        kn_rec_tap(r, buf, 4096);
        sleep_ms(10);
        kn_rec_active(r, p, sizeof p, &st);
    }
    CHECK(strstr(st.error, "File too large") != NULL);
    kn_rec_tick(r);
    kn_rec_tick(r);
    CHECK(logged == 1 &&
          strstr(last_log, "write failed: File too large; frames are being dropped"));
    /* everything tapped from now on is dropped, and counted */
    uint64_t before = st.dropped, frames = st.frames;
    for (int i = 0; i < 10; i++) {
        kn_rec_begin(r, 0);
        kn_rec_tap(r, buf, 4096);
    }
    for (int i = 0; i < 1000 && st.dropped < before + 40960; i++) {
        sleep_ms(10);
        kn_rec_active(r, p, sizeof p, &st);
    }
    CHECK(st.dropped >= before + 40960 && st.frames == frames);
    _Atomic uint64_t callbacks = 1000;
    CHECK(kn_rec_stop(r, &callbacks, &st, err, sizeof err) == -EIO);
    CHECK(strstr(err, "File too large") && strstr(err, "frames dropped"));
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    char magic[5];
    CHECK(header_frames(path, magic) == (long long)frames); /* what was written stays readable */
    kn_rec_free(r);
    unlink(path);
}

/* 4.4 GB through the recorder: RF64 past 4 GiB. */
static void past_4gib(const char *dir) {
    char path[4200], magic[5], err[4400];
    snprintf(path, sizeof path, "%s/big.wav", dir);
    kn_recorder *r = kn_rec_new(2);
    CHECK(start_master(r, path, NULL, err, sizeof err) == 0);
    uint64_t tapped = 0, total = 550000000; /* 4.4e9 bytes: past 2^32 */
    tap(r, total, &tapped);
    CHECK(header_reaches(path, (long long)total));
    CHECK(header_frames(path, magic) == (long long)total && !strcmp(magic, "RF64"));
    kn_rec_stats st;
    _Atomic uint64_t callbacks = 1000;
    CHECK(kn_rec_stop(r, &callbacks, &st, err, sizeof err) == 0 && st.dropped == 0);
    CHECK(header_frames(path, magic) == (long long)total && !strcmp(magic, "RF64"));
    printf("past 4 GiB: %llu frames, header %s\n", (unsigned long long)total, magic);
    kn_rec_free(r);
    unlink(path);
}

/* ------------------------------------------------ stems, through the mixer */

#define CH  2
#define CAP 8192u

typedef struct fake_deck {
    kn_ring_seg *seg;
    kn_ring_view w; /* producer view */
    float (*gen)(uint64_t);
} fake_deck;

static float sine(uint64_t i) {
    return 0.3f * sinf(0.05f * (float)i);
}
static float quiet(uint64_t i) {
    return 0.1f * cosf(0.01f * (float)i);
}
static float ramp_up(uint64_t i) {
    return 0.05f + 1e-5f * (float)(i % 997);
}
static float silent(uint64_t i) {
    (void)i;
    return 0;
}

/* A deck in mixer slot i playing gen, started at once (prefill 1) at unity. */
static void deck_open(kn_mix *m, int i, fake_deck *f, float (*gen)(uint64_t)) {
    size_t bytes = kn_ring_bytes(CAP, CH, 0);
    f->seg = aligned_alloc(64, (bytes + 63) / 64 * 64);
    memset(f->seg, 0, bytes);
    kn_ring_format(f->seg, CAP, CH, 64, 512, 48000, 0);
    CHECK(kn_ring_view_init(&f->w, f->seg, bytes) == 0);
    kn_mix_deck *d = &m->deck[i];
    CHECK(kn_ring_view_init(&d->ring, f->seg, bytes) == 0);
    d->prefill = 1;
    d->playing = d->started = 0;
    for (int k = 0; k < 3; k++) {
        float one = 1;
        uint32_t bits;
        memcpy(&bits, &one, sizeof bits);
        atomic_store(&d->gain_target[k], bits);
    }
    f->gen = gen;
    atomic_store(&d->state, KN_MIX_PLAY);
}

static void gains(kn_mix *m, int i, float l, float r) {
    float g[3] = {l, r, 1};
    for (int k = 0; k < 3; k++) {
        uint32_t bits;
        memcpy(&bits, &g[k], sizeof bits);
        atomic_store(&m->deck[i].gain_target[k], bits);
    }
    atomic_store(&m->deck[i].ramp_frames, 1);
}

/* Keeps a deck's ring a few chunks ahead of the mixer. */
static void feed(fake_deck *f) {
    static float a[KN_MIX_CHUNK], b[KN_MIX_CHUNK];
    float *planar[CH] = {a, b};
    while (kn_ring_fill(&f->w) < 4 * KN_MIX_CHUNK) {
        for (int i = 0; i < KN_MIX_CHUNK; i++) a[i] = b[i] = f->gen(f->w.pos + (uint64_t)i);
        kn_ring_write_planar(&f->w, planar, KN_MIX_CHUNK);
    }
}

/* One device callback's worth, as audio.c runs it: chunks of 256. */
static uint64_t tl;
static void run(kn_mix *m, kn_recorder *r, fake_deck **decks, int chunks) {
    static float master[KN_MIX_CHUNK * CH];
    for (int c = 0; c < chunks; c++) {
        for (int i = 0; i < KN_MAX_DECKS; i++)
            if (decks[i] && atomic_load(&m->deck[i].state) == KN_MIX_PLAY) feed(decks[i]);
        kn_rec_begin(r, tl);
        kn_mix_run(m, master, KN_MIX_CHUNK);
        kn_rec_tap(r, master, KN_MIX_CHUNK);
        tl += KN_MIX_CHUNK;
    }
}

/* A float WAV into memory (frames * CH floats); NULL if unreadable. */
static float *read_wav(const char *path, long *frames) {
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf || info.channels != CH) {
        if (sf) sf_close(sf);
        return NULL;
    }
    float *x = malloc((size_t)(info.frames + 1) * CH * sizeof(float));
    *frames = (long)sf_readf_float(sf, x, info.frames);
    sf_close(sf);
    return x;
}

/* The first frame at or after `from` where any channel is not 0; n if none. */
static long first_sound(const float *x, long from, long n) {
    for (long i = from; i < n; i++)
        if (x[i * CH] != 0 || x[i * CH + 1] != 0) return i;
    return n;
}

static void stems(const char *dir) {
    char sd[4200], path[4400], err[4400];
    snprintf(sd, sizeof sd, "%s/stems", dir);
    CHECK(mkdir(sd, 0700) == 0);
    snprintf(path, sizeof path, "%s/e.wav", sd); /* deck e must not overwrite this */
    FILE *f = fopen(path, "w");
    fputs("notes, not audio\n", f);
    fclose(f);
    kn_mix m;
    CHECK(kn_mix_init(&m, CH, 48000) == 0);
    kn_recorder *r = kn_rec_new(CH);
    m.post_tap = kn_rec_post;
    m.post_ctx = r;
    fake_deck a, b, c, d, e, a2;
    fake_deck *decks[KN_MAX_DECKS] = {0};
    deck_open(&m, 0, &a, sine);
    deck_open(&m, 2, &c, quiet);
    decks[0] = &a, decks[2] = &c;
    gains(&m, 0, 0.25f, 0.75f); /* pan right, -6 dB or so: stem = sine * gains */
    run(&m, r, decks, 3);       /* before the recording: nothing of it is in the files */
    kn_rec_opts o = {.mode = KN_REC_STEMS, .path = sd, .rate = 48000, .slots = {"a", NULL, "c"}};
    CHECK(kn_rec_start(r, &o, err, sizeof err) == 0);
    uint64_t tl0 = tl;
    run(&m, r, decks, 10);
    /* deck b appears in slot 1; deck e's file would overwrite notes */
    long b_at = 10 * KN_MIX_CHUNK;
    kn_rec_deck_new(r, 1, "b");
    deck_open(&m, 1, &b, ramp_up);
    decks[1] = &b;
    kn_rec_deck_new(r, 3, "e");
    deck_open(&m, 3, &e, silent); /* silent, so the master is still the sum of the files */
    decks[3] = &e;
    const char *sk, *why;
    CHECK(kn_rec_skipped(r, 0, &sk, &why) && !strcmp(sk, "e") && strstr(why, "not a WAV"));
    run(&m, r, decks, 10);
    /* a stops (fades out over ~1 ms, then DONE); its slot goes to a new deck d */
    atomic_store(&m.deck[0].state, KN_MIX_STOPPING);
    run(&m, r, decks, 2);
    CHECK(atomic_load(&m.deck[0].state) == KN_MIX_DONE);
    long a_stop = 20 * KN_MIX_CHUNK, d_at = 22 * KN_MIX_CHUNK;
    atomic_store(&m.deck[0].state, KN_MIX_OFF);
    free(a.seg);
    kn_rec_deck_new(r, 0, "d");
    deck_open(&m, 0, &d, quiet);
    decks[0] = &d;
    run(&m, r, decks, 6);
    /* a is played again, in slot 4: it continues a.wav */
    long a2_at = 28 * KN_MIX_CHUNK;
    kn_rec_deck_new(r, 4, "a");
    deck_open(&m, 4, &a2, ramp_up);
    decks[4] = &a2;
    run(&m, r, decks, 4);
    long total = 32 * KN_MIX_CHUNK;
    kn_rec_deck_new(r, 5, "late"); /* no chunk left for it: silence, as long as the rest */
    kn_rec_stats st;
    _Atomic uint64_t callbacks = 1000; /* no audio thread: nothing to wait for */
    CHECK(kn_rec_stop(r, &callbacks, &st, err, sizeof err) == 0);
    CHECK(st.frames == (uint64_t)total && st.dropped == 0 && (uint64_t)st.timeline_frame == tl0);
    CHECK(atomic_load(&m.limited) == 0);

    /* the files: master, a, c (at the start, in slot order), then b, d, late */
    static const char *names[] = {"master", "a", "c", "b", "d", "late"};
    float *x[6];
    kn_rec_file fi;
    for (int i = 0; i < 6; i++) {
        CHECK(kn_rec_file_info(r, i, &fi) && !strcmp(fi.deck, names[i]));
        snprintf(path, sizeof path, "%s/%s.wav", sd, names[i]);
        CHECK(!strcmp(fi.path, path) && fi.frames == (uint64_t)total);
        long n = -1;
        x[i] = read_wav(path, &n);
        CHECK(x[i] && n == total);
        if (!x[i] || n != total) return; /* the comparisons below need whole files */
    }
    CHECK(!kn_rec_file_info(r, 6, &fi));
    float *M = x[0], *A = x[1], *C = x[2], *B = x[3], *D = x[4], *L = x[5];
    /* master = ((slot 0 + slot 1) + slot 2) + slot 4, float adds in slot order */
    long bad = 0;
    for (long i = 0; i < total; i++)
        for (int k = 0; k < CH; k++) {
            long j = i * CH + k;
            float s0 = i < d_at ? A[j] : D[j], s4 = i < d_at ? 0 : A[j];
            float want = 0.0f + s0;
            want += B[j];
            want += C[j];
            want += s4;
            bad += M[j] != want;
        }
    CHECK(bad == 0);
    /* c at unity: its samples, exactly, from the recording's first frame */
    bad = 0; /* (c played 3 chunks before the recording) */
    for (long i = 0; i < total; i++) {
        float want = quiet((uint64_t)i + 3 * KN_MIX_CHUNK);
        bad += C[i * CH] != want || C[i * CH + 1] != want;
    }
    CHECK(bad == 0);
    /* a: the sine times its gains (left 0.25, right 0.75) until its stop */
    bad = 0;
    for (long i = 0; i < a_stop; i++) {
        float v = sine((uint64_t)i + 3 * KN_MIX_CHUNK);
        bad += A[i * CH] != v * 0.25f || A[i * CH + 1] != v * 0.75f;
    }
    CHECK(bad == 0);
    /* then a fade-out of at most ~1 ms, silence, and from a2_at the deck
     * played again (at unity: ramp_up's samples) */
    long a_end = first_sound(A, a_stop + m.fade_frames, total);
    CHECK(a_end == a2_at);
    CHECK(first_sound(A, a_stop + m.fade_frames, a2_at) == a2_at);
    bad = 0;
    for (long i = a2_at; i < total; i++) bad += A[i * CH] != ramp_up((uint64_t)(i - a2_at));
    CHECK(bad == 0);
    /* b and d: silence until they joined, then their samples */
    CHECK(first_sound(B, 0, total) == b_at && first_sound(D, 0, total) == d_at);
    bad = 0;
    for (long i = b_at; i < total; i++) bad += B[i * CH + 1] != ramp_up((uint64_t)(i - b_at));
    /* (d's first frame still has a's gain: the slot's gain ramps to d's over a frame) */
    for (long i = d_at + 1; i < total; i++) bad += D[i * CH] != quiet((uint64_t)(i - d_at));
    CHECK(bad == 0);
    CHECK(first_sound(L, 0, total) == total);
    for (int i = 0; i < 6; i++) free(x[i]);
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s.wav", sd, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/e.wav", sd);
    unlink(path);
    rmdir(sd);

    /* --deck c: c's post-fader signal alone (gains applied), nothing else */
    snprintf(path, sizeof path, "%s/deck.wav", dir);
    kn_rec_opts od = {.mode = KN_REC_DECK,
                      .path = path,
                      .deck = "nope",
                      .rate = 48000,
                      .slots = {"d", "b", "c", "e", "a"}};
    CHECK(kn_rec_start(r, &od, err, sizeof err) == -ENOENT && strstr(err, "'nope'"));
    od.deck = "c";
    gains(&m, 2, 0.5f, 0.5f);
    run(&m, r, decks, 1); /* the gain settles before the recording */
    CHECK(kn_rec_start(r, &od, err, sizeof err) == 0);
    run(&m, r, decks, 8);
    kn_rec_deck_new(r, 6, "other"); /* not c: not recorded */
    CHECK(kn_rec_stop(r, &callbacks, &st, err, sizeof err) == 0 && st.frames == 8 * KN_MIX_CHUNK);
    CHECK(kn_rec_file_info(r, 0, &fi) && !strcmp(fi.deck, "c") && !kn_rec_file_info(r, 1, &fi));
    long n = -1;
    float *X = read_wav(path, &n);
    CHECK(X && n == 8 * KN_MIX_CHUNK);
    bad = 0;
    for (long i = 0; X && i < n; i++) {
        float want = quiet((uint64_t)(total + i) + 4 * KN_MIX_CHUNK) * 0.5f;
        bad += X[i * CH] != want || X[i * CH + 1] != want;
    }
    CHECK(bad == 0);
    free(X);
    unlink(path);
    kn_rec_free(r);
    kn_mix_free(&m);
    free(b.seg);
    free(c.seg);
    free(d.seg);
    free(e.seg);
    free(a2.seg);
}

int main(void) {
    char dir[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kanon-test-record.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return 1;
    header_follows(dir);
    write_failure(dir);
    stems(dir);
    const char *big = getenv("KANON_BIG_TEST");
    if (big && !strcmp(big, "1")) past_4gib(dir);
    rmdir(dir);
    return check_report();
}
