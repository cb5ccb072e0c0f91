/*
 * render.c - the block renderer, shared by live decks and offline render.
 *
 * Live and offline go through kn_render_block with the same block size, so
 * the same file and parameters give the same samples, bit for bit.
 * kn_render_block counts non-finite samples but leaves them: live, they go
 * to the ring so the conductor can fault the deck; offline, the file writer
 * replaces them by 0, as the conductor does.
 */
#include "cartridge.h"
#include "segment.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t kn_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int kn_cart_init(kn_cart *c, double rate, int channels, int block) {
    memset(c, 0, sizeof *c);
    c->ctx.rate = rate;
    c->ctx.channels = channels;
    c->ctx.block = block;
    c->ctx.internal = c;
    for (int ch = 0; ch < channels; ch++)
        if (!(c->out[ch] = calloc((size_t)block, sizeof(float)))) return -1;
    return 0;
}

void kn_cart_free(kn_cart *c) {
    for (int ch = 0; ch < KN_MAX_CHANNELS; ch++) free(c->out[ch]);
    free(c->priv_state);
    free(c->priv_params);
}

void kn_cart_bind(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t state_bytes,
                  kn_param_seg *params) {
    c->state = state;
    c->state_bytes = state_bytes;
    c->params = params;
    c->nlocal = 0; /* kn_param handles refer to slots of the bound segment */
    if (p->setup) p->setup(&c->ctx);
}

int kn_cart_bind_private(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t state_bytes,
                         kn_param_seg *params) {
    if (!c->priv_state) c->priv_state = calloc(1, state_bytes); /* pages touched lazily */
    if (!c->priv_params) c->priv_params = calloc(1, sizeof *c->priv_params);
    if (!c->priv_state || !c->priv_params) return -1;
    if (kn_state_valid(state, state_bytes)) /* else: a fresh state, as the takeover will */
        memcpy(c->priv_state, state, state->heap_offset + state->heap_used);
    else
        kn_state_format(c->priv_state, state_bytes, KN_SEG_STATE);
    memcpy(c->priv_params, params, sizeof *params);
    kn_cart_bind(c, p, c->priv_state, state_bytes, c->priv_params);
    return 0;
}

/* Real-time safe: no allocation, no locks, no syscalls (the clock read is a
 * vDSO call). The user's process() is the only unbounded part, which is
 * why it runs in a disposable process. */
uint64_t kn_render_block(kn_cart *c, const kn_program *p, uint64_t frame) {
    int n = c->ctx.block, chs = c->ctx.channels;
    for (int ch = 0; ch < chs; ch++) memset(c->out[ch], 0, (size_t)n * sizeof(float));
    kn_params_refresh(c);
    c->ctx.frame = frame;
    uint64_t t0 = kn_now_ns();
    p->process(&c->ctx, c->out, n);
    uint64_t dt = kn_now_ns() - t0;
    for (int ch = 0; ch < chs; ch++)
        for (int i = 0; i < n; i++)
            if (!isfinite(c->out[ch][i]) && !c->nonfinite++) c->first_bad = frame + (uint64_t)i + 1;
    return dt;
}

int kn_render_file(const kn_program *p, kn_cart *c, double seconds, const char *out_path) {
    SF_INFO info = {.samplerate = (int)c->ctx.rate,
                    .channels = c->ctx.channels,
                    .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(out_path, SFM_WRITE, &info);
    /* no PEAK chunk: it carries a time stamp, and renders must be reproducible */
    if (sf) sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    if (!sf) {
        fprintf(stderr, "kanon render: error: cannot write %s: %s\n", out_path, sf_strerror(NULL));
        return -1;
    }
    int block = c->ctx.block, chs = c->ctx.channels;
    uint64_t total = (uint64_t)llround(seconds * c->ctx.rate), done = 0;
    float *inter = malloc((size_t)block * (size_t)chs * sizeof(float));
    uint64_t busy = 0, t0 = kn_now_ns();
    int rc = inter ? 0 : -1;
    while (!rc && done < total) {
        busy += kn_render_block(c, p, done);
        uint64_t n = total - done < (uint64_t)block ? total - done : (uint64_t)block;
        for (uint64_t i = 0; i < n; i++)
            for (int ch = 0; ch < chs; ch++) {
                float x = c->out[ch][i]; /* as the conductor does: NaN/Inf become 0 */
                inter[i * (uint64_t)chs + (uint64_t)ch] = isfinite(x) ? x : 0.0f;
            }
        if (sf_writef_float(sf, inter, (sf_count_t)n) != (sf_count_t)n) {
            fprintf(stderr, "kanon render: error: writing %s failed: %s (disk full?)\n", out_path,
                    sf_strerror(sf));
            rc = -1;
        }
        done += n;
    }
    free(inter);
    if (sf_close(sf) != 0 && !rc) {
        fprintf(stderr, "kanon render: error: closing %s failed\n", out_path);
        rc = -1;
    }
    double wall = (double)(kn_now_ns() - t0) / 1e9;
    if (!rc)
        fprintf(stderr,
                "rendered %s: %.3f s, %d Hz, %d ch, compile %.2f ms, %.0fx real time "
                "(process %.0fx)%s\n",
                out_path, seconds, (int)c->ctx.rate, chs, p->compile_ms,
                wall > 0 ? seconds / wall : 0, busy ? seconds / ((double)busy / 1e9) : 0,
                c->nonfinite ? ", NaN/Inf samples replaced by 0" : "");
    return rc;
}
