// link: nodes-c/sample.c -lsamplerate
/*
 * test_nodes_sample.c - the sample player: a 1 kHz sine written at
 * 44.1 kHz (mono) and a stereo file, loaded into kn_state regions at a
 * 48 kHz deck rate.
 *
 *   - resampling keeps the pitch: played at speed 1 the tone measures
 *     1000 Hz (+-0.05 Hz, zero crossings over 1 s), and the length scales
 *     by 48/44.1; the level is kept.
 *   - a second load of the same file into the same region keeps the data
 *     (no reload: setup() runs at every swap); a changed file reloads.
 *   - stereo keeps channels apart; outR NULL mixes to mono.
 *   - speed 2 plays an octave up; a one-shot ends in silence; a loop
 *     wraps; a missing file returns NULL.
 */
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../nodes-c/include/kanon/nodes.h"
#include "check.h"

/* kn_state stand-in: named regions; same name and size, same bytes. */
static struct {
    char name[32];
    size_t bytes;
    void *p;
} regions[8];
void *kn_state(kn_ctx *k, const char *name, size_t bytes) {
    (void)k;
    for (int i = 0; i < 8; i++) {
        if (regions[i].p && !strcmp(regions[i].name, name)) {
            if (regions[i].bytes != bytes) {
                regions[i].p = realloc(regions[i].p, bytes);
                if (bytes > regions[i].bytes)
                    memset((char *)regions[i].p + regions[i].bytes, 0, bytes - regions[i].bytes);
                regions[i].bytes = bytes;
            }
            return regions[i].p;
        }
        if (!regions[i].p) {
            snprintf(regions[i].name, sizeof regions[i].name, "%s", name);
            regions[i].bytes = bytes;
            return regions[i].p = calloc(1, bytes);
        }
    }
    return NULL;
}

static void write_wav(const char *path, int rate, int ch, int frames, double f, double amp) {
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    float *x = malloc(sizeof(float) * (size_t)(frames * ch));
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            x[i * ch + c] = (float)(amp * sin(2 * M_PI * f * (c + 1) * i / rate));
    sf_writef_float(sf, x, frames);
    sf_close(sf);
    free(x);
}

/* Frequency by interpolated positive-going zero crossings in x[from, to). */
static double freq_of(const float *x, int from, int to, double rate) {
    double first = -1, last = -1;
    int n = 0;
    for (int i = from + 1; i < to; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = i - 1 + x[i - 1] / (x[i - 1] - x[i]);
            if (first < 0) first = t;
            last = t, n++;
        }
    return n > 1 ? (n - 1) * rate / (last - first) : 0;
}

static float L[96000], R[96000];

int main(void) {
    char mono[64], stereo[64];
    snprintf(mono, sizeof mono, "/tmp/kn_test_mono_%d.wav", (int)getpid());
    snprintf(stereo, sizeof stereo, "/tmp/kn_test_stereo_%d.wav", (int)getpid());
    write_wav(mono, 44100, 1, 44100, 1000, 0.5);
    write_wav(stereo, 44100, 2, 44100, 500, 0.5); /* L 500 Hz, R 1000 Hz */
    kn_ctx k = {.rate = 48000, .channels = 2, .block = 64};

    kn_sample *s = kn_sample_load(&k, "tone", mono);
    CHECK(s != NULL);
    if (!s) return 1;
    printf("loaded %ld frames (source %.0f Hz -> %.0f Hz)\n", s->frames, s->source_rate, s->rate);
    CHECK(labs(s->frames - 48000) <= 2 && s->channels == 1);
    kn_player p;
    kn_player_init(&p, 0);
    kn_player_trigger(&p);
    for (int at = 0; at < 96000; at += 64) kn_player_run(&p, s, NULL, L + at, R + at, 64, 1, 1);
    double f = freq_of(L, 2000, 46000, 48000);
    printf("played at 48 kHz: %.4f Hz\n", f);
    CHECK(fabs(f - 1000) < 0.05);
    double peak = 0;
    for (int i = 2000; i < 46000; i++) peak = fmax(peak, fabs(L[i]));
    CHECK(fabs(peak - 0.5) < 0.005);
    CHECK(!memcmp(L, R, sizeof L));     /* mono to both */
    CHECK(L[50000] == 0 && !p.playing); /* one-shot ended */

    /* setup() again: same region, data kept without reloading */
    s->data[100] = 42;
    kn_sample *again = kn_sample_load(&k, "tone", mono);
    CHECK(again == s && again->data[100] == 42);
    sleep(1); /* a new mtime */
    write_wav(mono, 44100, 1, 44100, 1000, 0.5);
    again = kn_sample_load(&k, "tone", mono);
    CHECK(again && again->data[100] != 42);

    /* speed 2: an octave up; loop wraps */
    kn_player_init(&p, 1);
    kn_player_trigger(&p);
    for (int at = 0; at < 96000; at += 64) kn_player_run(&p, again, NULL, L + at, NULL, 64, 2, 1);
    CHECK(fabs(freq_of(L, 1000, 20000, 48000) - 2000) < 0.5);
    CHECK(fabs(L[90000]) > 0 && p.playing);

    /* stereo, trigger from a signal */
    kn_sample *st = kn_sample_load(&k, "stereo", stereo);
    CHECK(st && st->channels == 2);
    float trig[64] = {0};
    trig[10] = 1;
    kn_player_init(&p, 0);
    kn_player_run(&p, st, trig, L, R, 64, 1, 1);
    CHECK(L[9] == 0 && R[9] == 0);
    for (int at = 64; at < 48000; at += 64) kn_player_run(&p, st, NULL, L + at, R + at, 64, 1, 1);
    CHECK(fabs(freq_of(L, 1000, 40000, 48000) - 500) < 0.05);
    CHECK(fabs(freq_of(R, 1000, 40000, 48000) - 1000) < 0.05);

    CHECK(kn_sample_load(&k, "none", "/nonexistent/file.wav") == NULL);
    unlink(mono), unlink(stereo);
    for (int i = 0; i < 8; i++) free(regions[i].p);
    return check_report();
}
