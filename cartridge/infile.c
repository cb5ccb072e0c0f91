/*
 * infile.c - `kanon render FILE --input IN.wav`: a sound file played into
 * the deck's port "in", as the device input would be live (`kanon up
 * --inputs N` and `kanon route in DECK`), so that what a deck does to live
 * input can be checked against a render, sample for sample.
 *
 * The file's frame i is the input of the render's frame i (the first
 * sample written); past its end the input is silent. It goes into the port
 * through kn_route_mix (shm/route.h) with the record a live route from the
 * input has (source KN_SRC_IN, gain 1, the input's unity fader, all its
 * channels), so the arithmetic is the live path's: a mono file feeds every
 * channel of the deck, as a 1-channel input (or `in:1`) does live; a file
 * of the deck's channel count feeds them one to one. Any other count is
 * refused, and so is a rate other than the render's: kanon does not
 * resample. (Live, a route made while the deck plays glides in over
 * KN_ROUTE_RAMP_MS; here the route is there from the first sample.)
 *
 * The file is opened before the sandbox (kn_infile_open), read block by
 * block as the render goes (the fill hook, kn_cart.fill).
 */
#include "cartridge.h"

#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kn_infile {
    SNDFILE *sf;
    int channels;          /* the file's */
    uint64_t frames, next; /* its length; the next frame read */
    kn_route_rec rec;
    kn_route_run run;
    int rendered;
    uint32_t ramp, fade;
    float *buf; /* a block of the file, interleaved */
};

/* kn_cart.fill: the file's frames of this block into the port "in". */
static void infile_fill(kn_cart *c, uint64_t now, int n) {
    kn_infile *f = c->fill_ctx;
    uint64_t at = now - (uint64_t)c->epoch; /* the render's frame */
    if (at != f->next &&
        sf_seek(f->sf, (sf_count_t)(at < f->frames ? at : f->frames), SEEK_SET) < 0)
        at = f->frames;
    sf_count_t got = at < f->frames ? sf_readf_float(f->sf, f->buf, n) : 0;
    if (got < 0) got = 0;
    memset(f->buf + (size_t)got * (size_t)f->channels, 0,
           (size_t)(n - got) * (size_t)f->channels * sizeof(float)); /* silence past its end */
    f->next = at + (uint64_t)got;
    int p = kn_port_find(c, KN_PORT_IN);
    static const float unity[3] = {1, 1, 1};
    kn_route_mix(&f->run, &f->rec, !f->rendered, f->buf, f->channels, n, n,
                 (float *const *)c->port_buf[p], c->ctx.channels, unity, 0, f->ramp, (int)f->fade);
    f->rendered = 1;
}

kn_infile *kn_infile_open(kn_cart *c, const char *path, char *err, size_t n) {
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        snprintf(err, n, "kanon render: error: --input %s: %s", path, sf_strerror(NULL));
        return NULL;
    }
    int rate = (int)c->ctx.rate, chs = c->ctx.channels;
    const char *why = NULL;
    char msg[256];
    if (info.samplerate != rate) {
        snprintf(msg, sizeof msg,
                 "it is %d Hz and the render %d Hz (kanon does not resample: render with "
                 "--rate %d, or convert the file)",
                 info.samplerate, rate, info.samplerate);
        why = msg;
    } else if (info.channels != 1 && info.channels != chs) {
        snprintf(msg, sizeof msg,
                 "it has %d channels and the render %d: give a mono file (it feeds every "
                 "channel) or one of %d channels",
                 info.channels, chs, chs);
        why = msg;
    }
    kn_infile *f = why ? NULL : calloc(1, sizeof *f);
    if (f) f->buf = calloc((size_t)c->ctx.block * (size_t)info.channels, sizeof(float));
    if (!f || !f->buf) {
        if (!why) why = "out of memory";
        snprintf(err, n, "kanon render: error: --input %s: %s", path, why);
        if (f) free(f);
        sf_close(sf);
        return NULL;
    }
    f->sf = sf;
    f->channels = info.channels;
    f->frames = (uint64_t)info.frames;
    /* the record of a live route `in` -> this deck's "in" (routes.c) */
    float one = 1;
    f->rec.src = KN_SRC_IN;
    memcpy(&f->rec.gain, &one, sizeof one);
    f->rec.in_first = 0;
    f->rec.in_count = (uint32_t)info.channels;
    snprintf(f->rec.port, sizeof f->rec.port, "%s", KN_PORT_IN);
    /* as live.c's */
    f->ramp = (uint32_t)(c->ctx.rate * KN_ROUTE_RAMP_MS / 1000);
    f->fade = (uint32_t)(c->ctx.rate / 1000) ? (uint32_t)(c->ctx.rate / 1000) : 1;
    c->fill = infile_fill;
    c->fill_ctx = f;
    return f;
}

uint64_t kn_infile_frames(const kn_infile *f) {
    return f ? f->frames : 0;
}

int kn_infile_channels(const kn_infile *f) {
    return f ? f->channels : 0;
}

void kn_infile_close(kn_infile *f) {
    if (!f) return;
    sf_close(f->sf);
    free(f->buf);
    free(f);
}
