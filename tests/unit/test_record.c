// link: conductor/record.c
/*
 * test_record.c - the recorder's file, driven directly: this test plays
 * the audio thread (kn_rec_tap) and reads the file as a crash would leave
 * it, i.e. while the recorder still has it open.
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
 *     and after stop.
 */
#include "check.h"
#include "conductor.h"

#include <errno.h>
#include <signal.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    CHECK(kn_rec_start(r, path, 48000, &lost, err, sizeof err) == 0);
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
    CHECK(kn_rec_start(r, path, 48000, NULL, err, sizeof err) == 0);
    static float buf[4096 * 2];
    kn_rec_stats st = {0};
    char p[4096];
    for (int i = 0; i < 1000 && !st.error[0]; i++) { /* until the writer hits the limit */
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
    for (int i = 0; i < 10; i++) kn_rec_tap(r, buf, 4096);
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
    CHECK(kn_rec_start(r, path, 48000, NULL, err, sizeof err) == 0);
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

int main(void) {
    char dir[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kanon-test-record.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return 1;
    header_follows(dir);
    write_failure(dir);
    const char *big = getenv("KANON_BIG_TEST");
    if (big && !strcmp(big, "1")) past_4gib(dir);
    rmdir(dir);
    return check_report();
}
