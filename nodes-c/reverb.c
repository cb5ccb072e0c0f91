/*
 * reverb.c - a Freeverb-class stereo reverb. See kanon/reverb.h.
 *
 * Structure (Jezar's Freeverb): the mono sum of the input feeds 8 parallel
 * damped feedback combs per channel; their sum goes through 4 series
 * allpasses. Delay lengths are Freeverb's (44.1 kHz) scaled to the rate,
 * the right channel's 23 samples longer, all in one pool addressed by
 * offsets.
 *
 * Decay: a comb of L samples with loop gain g decays 20*log10(g) dB every
 * L samples, so g = 10^(-3 L / (rate * RT60)) makes every comb (and so the
 * sum) fall 60 dB in RT60 seconds. Freeverb's fixed "room size" gives the
 * combs one g, which makes the short ones die first.
 *
 * Speed: each comb is independent and each allpass only needs the
 * previous one's output, so the block is processed line by line instead
 * of sample by sample (equivalent, even for lines shorter than the block).
 * The 8 combs of a channel run in lockstep, so their 8 damping filters
 * (the only serial dependencies) overlap in the CPU pipeline.
 */
#include "knmath.h"

#define CHUNK     64
#define SPREAD    23
#define IN_GAIN   0.015f /* Freeverb's fixedgain */
#define WET_SCALE 3.0f   /* Freeverb's scalewet */
#define AP_GAIN   0.5f

static const int tuning[12] = {1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617, /* combs */
                               556,  441,  341,  225};                         /* allpasses */

void kn_reverb_init(kn_reverb *s, double rate) {
    *s = (kn_reverb){.rate = rate};
    double scale = rate / 44100.0, total = 0;
    for (int j = 0; j < 12; j++) total += 2 * tuning[j] + SPREAD;
    if (total * scale > KN_REVERB_POOL) scale = KN_REVERB_POOL / total; /* very high rates */
    int off = 0;
    for (int ch = 0; ch < 2; ch++)
        for (int j = 0; j < 12; j++) {
            int line = j < 8 ? ch * 8 + j : 16 + ch * 4 + (j - 8);
            int len = (int)((tuning[j] + ch * SPREAD) * scale);
            s->len[line] = len < 1 ? 1 : len;
            s->off[line] = off;
            off += s->len[line];
        }
}

/* The 8 combs of one channel over n samples of x, summed into acc. */
static void combs(kn_reverb *s, int ch, const float *x, float *acc, int n, float damp) {
    float g[8], lp[8]; /* locals, not state: no aliasing with the pool, so registers */
    int *len = s->len + ch * 8, *off = s->off + ch * 8, *pos = s->pos + ch * 8;
    for (int c = 0; c < 8; c++) g[c] = s->g[ch * 8 + c], lp[c] = s->lp[ch * 8 + c];
    for (int i = 0; i < n; i++) acc[i] = 0;
    for (int done = 0; done < n;) {
        int seg = n - done; /* up to the first wrap of any comb */
        for (int c = 0; c < 8; c++)
            if (len[c] - pos[c] < seg) seg = len[c] - pos[c];
        float *b[8];
        for (int c = 0; c < 8; c++) b[c] = s->pool + off[c] + pos[c];
        for (int i = 0; i < seg; i++) {
            float in = x[done + i], sum = 0;
            for (int c = 0; c < 8; c++) {
                float y = b[c][i];
                lp[c] = y + damp * (lp[c] - y);
                b[c][i] = in + g[c] * lp[c];
                sum += y;
            }
            acc[done + i] += sum;
        }
        for (int c = 0; c < 8; c++) pos[c] = pos[c] + seg == len[c] ? 0 : pos[c] + seg;
        done += seg;
    }
    for (int c = 0; c < 8; c++) s->lp[ch * 8 + c] = lp[c];
}

/* Freeverb's allpass (y = buf - x, buf = x + g buf), in place over acc. */
static void allpasses(kn_reverb *s, int ch, float *acc, int n) {
    for (int a = 0; a < 4; a++) {
        int line = 16 + ch * 4 + a, len = s->len[line], p = s->pos[line];
        float *buf = s->pool + s->off[line];
        for (int i = 0; i < n; i++) {
            float bo = buf[p], x = acc[i];
            acc[i] = bo - x;
            buf[p] = x + AP_GAIN * bo;
            p = p + 1 == len ? 0 : p + 1;
        }
        s->pos[line] = p;
    }
}

void kn_reverb_compute_stereo(kn_reverb *s, float *outL, float *outR, const float *inL,
                              const float *inR, int frames, float rt60, float damp, float mix) {
    float t = rt60 < 0.05f ? 0.05f : rt60, d = kn_clampf(damp, 0.0f, 1.0f) * 0.4f;
    float wet = kn_clampf(mix, 0.0f, 1.0f), dry = 1.0f - wet;
    wet *= WET_SCALE;
    if (t != s->rt60) {
        float rate = (float)s->rate; /* rate * t in float, as the reverb always did */
        for (int c = 0; c < 16; c++)
            s->g[c] = (float)__builtin_pow(10.0, -3.0 * s->len[c] / (rate * t));
        s->rt60 = t;
    }
    for (int c = 0; c < frames; c += CHUNK) {
        int n = frames - c < CHUNK ? frames - c : CHUNK;
        float x[CHUNK], dl[CHUNK], dr[CHUNK], al[CHUNK], ar[CHUNK];
        for (int i = 0; i < n; i++) {
            dl[i] = inL[c + i];
            dr[i] = inR ? inR[c + i] : dl[i];
            x[i] = (dl[i] + dr[i]) * IN_GAIN;
        }
        combs(s, 0, x, al, n, d);
        combs(s, 1, x, ar, n, d);
        allpasses(s, 0, al, n);
        allpasses(s, 1, ar, n);
        for (int i = 0; i < n; i++) {
            outL[c + i] = dry * dl[i] + wet * al[i];
            outR[c + i] = dry * dr[i] + wet * ar[i];
        }
    }
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_reverb_run(kn_reverb *s, const float *inL, const float *inR, float *outL, float *outR,
                   int frames, float rt60, float damp, float mix) {
    kn_reverb_compute_stereo(s, outL, outR, inL, inR, frames, rt60, damp, mix);
}
