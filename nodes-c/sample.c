/*
 * sample.c - load a sound file into kn_state at the deck rate, and play
 * it. See kanon/sample.h.
 *
 * Loading (setup time only): libsndfile reads the file, libsamplerate
 * converts it to the deck rate (sinc, medium quality: 97 dB SNR), and the
 * result goes into the named region after a small header. setup() runs up
 * to three times per cartridge and again at every swap, so the header
 * keeps a key (path, size, mtime, rate): when it matches, the frames
 * already in the region are used as they are and the file is not read.
 */
#define _POSIX_C_SOURCE 200809L /* st_mtim */

#include "knmath.h"

#include <errno.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* FNV-1a over the path, then the file's identity and the target rate. */
static unsigned long sample_key(const char *path, const struct stat *st, double rate) {
    unsigned long h = 1469598103934665603ul;
    for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ul;
    unsigned long parts[4] = {(unsigned long)st->st_size, (unsigned long)st->st_mtim.tv_sec,
                              (unsigned long)st->st_mtim.tv_nsec, (unsigned long)rate};
    for (int i = 0; i < 4; i++) h = (h ^ parts[i]) * 1099511628211ul;
    return h;
}

/* Decode and resample into dst (capacity cap frames); returns the frames
 * written or -1. */
static long decode(SNDFILE *sf, const SF_INFO *info, double rate, float *dst, long cap,
                   const char *path) {
    long n = (long)info->frames, ch = info->channels;
    float *raw = malloc((size_t)(n > 0 ? n : 1) * (size_t)ch * sizeof(float));
    if (!raw) return -1;
    long got = (long)sf_readf_float(sf, raw, n);
    long out = -1;
    if (info->samplerate == (int)rate && rate == (int)rate) {
        out = got < cap ? got : cap;
        memcpy(dst, raw, (size_t)(out * ch) * sizeof(float));
    } else {
        SRC_DATA d = {.data_in = raw,
                      .data_out = dst,
                      .input_frames = got,
                      .output_frames = cap,
                      .src_ratio = rate / info->samplerate};
        int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, (int)ch);
        if (err)
            fprintf(stderr, "kn_sample_load: %s: resampling failed: %s\n", path, src_strerror(err));
        else
            out = d.output_frames_gen;
    }
    free(raw);
    return out;
}

kn_sample *kn_sample_load(kn_ctx *k, const char *name, const char *path) {
    struct stat st;
    SF_INFO info = {0};
    if (stat(path, &st)) {
        fprintf(stderr, "kn_sample_load(\"%s\"): cannot read %s: %s\n", name, path,
                strerror(errno));
        return NULL;
    }
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        fprintf(stderr, "kn_sample_load(\"%s\"): cannot read %s: %s\n", name, path,
                sf_strerror(NULL));
        return NULL;
    }
    long cap = (long)ceil((double)info.frames * k->rate / info.samplerate) + 1;
    size_t bytes = sizeof(kn_sample) + (size_t)cap * (size_t)info.channels * sizeof(float);
    kn_sample *s = kn_state(k, name, bytes);
    unsigned long key = sample_key(path, &st, k->rate);
    if (s->magic == KN_SAMPLE_MAGIC && s->key == key && s->channels == info.channels) {
        sf_close(sf); /* loaded by an earlier setup(): keep it */
        return s;
    }
    s->magic = 0; /* half-written data never looks loaded */
    long got = decode(sf, &info, k->rate, s->data, cap, path);
    sf_close(sf);
    if (got < 0) return NULL;
    memset(s->data + got * info.channels, 0, (size_t)((cap - got) * info.channels) * sizeof(float));
    s->channels = info.channels, s->frames = got, s->rate = k->rate;
    s->source_rate = info.samplerate, s->key = key;
    s->magic = KN_SAMPLE_MAGIC;
    return s;
}

/* ---- player ---- */

/* (name): the function, not the header's macro for the old form */
void(kn_player_init)(kn_player *s, double rate, int loop) {
    *s = (kn_player){.rate = rate, .loop = loop != 0};
}
void kn_player_trigger(kn_player *s) {
    s->pending = 1;
}

/* Frame j of channel c, wrapped when looping, else 0 outside. */
static inline float frame_at(const kn_sample *smp, long j, int c, int loop) {
    long n = smp->frames;
    if (loop)
        j = ((j % n) + n) % n;
    else if (j < 0 || j >= n)
        return 0.0f;
    return smp->data[j * smp->channels + c];
}

/* Cubic Hermite at fractional position pos. Away from the ends (nearly
 * always) the four points are read directly, without the wrap logic. */
static inline float interp(const kn_sample *smp, double pos, int c, int loop) {
    long j = (long)kn_floor(pos);
    float t = (float)(pos - (double)j), a, b, d, e;
    if (j >= 1 && j + 2 < smp->frames) {
        const float *f = smp->data + (j - 1) * smp->channels + c;
        int ch = smp->channels;
        a = f[0], b = f[ch], d = f[2 * ch], e = f[3 * ch];
    } else {
        a = frame_at(smp, j - 1, c, loop), b = frame_at(smp, j, c, loop);
        d = frame_at(smp, j + 1, c, loop), e = frame_at(smp, j + 2, c, loop);
    }
    float c1 = 0.5f * (d - a), c2 = a - 2.5f * b + 2.0f * d - 0.5f * e;
    float c3 = 0.5f * (e - a) + 1.5f * (b - d);
    return ((c3 * t + c2) * t + c1) * t + b;
}

/* Both computes: outR NULL mixes a stereo file down into outL. */
static void play(kn_player *s, float *outL, float *outR, const float *in, const kn_sample *smp,
                 int frames, float speed, float gain) {
    int ok = smp && smp->magic == KN_SAMPLE_MAGIC && smp->frames > 0;
    int right = ok && smp->channels > 1;
    if (!in && s->pending) s->playing = 0, s->last = 0; /* a trigger at the block start */
    for (int i = 0; i < frames; i++) {
        float g = in ? in[i] : (i == 0 && s->pending ? 1.0f : 0.0f);
        if (g > 0 && !(s->last > 0) && ok) {
            s->pos = speed >= 0 ? 0.0 : (double)smp->frames - 1;
            s->playing = 1;
        }
        s->last = in ? g : 0.0f;
        float l = 0, r = 0;
        if (s->playing && ok) {
            l = gain * interp(smp, s->pos, 0, s->loop);
            r = right ? gain * interp(smp, s->pos, 1, s->loop) : l;
            s->pos += speed;
            if (s->pos >= smp->frames || s->pos < 0) {
                if (s->loop)
                    s->pos -= kn_floor(s->pos / smp->frames) * smp->frames;
                else
                    s->playing = 0;
            }
        }
        if (outR)
            outL[i] = l, outR[i] = r;
        else
            outL[i] = right ? 0.5f * (l + r) : l;
    }
    s->pending = 0;
}

void kn_player_compute(kn_player *s, float *out, const float *in, const kn_sample *smp, int frames,
                       float speed, float gain) {
    play(s, out, NULL, in, smp, frames, speed, gain);
}

void kn_player_compute_stereo(kn_player *s, float *outL, float *outR, const float *in,
                              const kn_sample *smp, int frames, float speed, float gain) {
    play(s, outL, outR, in, smp, frames, speed, gain);
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_player_run(kn_player *s, const kn_sample *smp, const float *in, float *outL, float *outR,
                   int frames, float speed, float gain) {
    play(s, outL, outR, in, smp, frames, speed, gain);
}
