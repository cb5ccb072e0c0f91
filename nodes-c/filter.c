/*
 * filter.c - one-pole, state-variable, biquad and ladder filters. See
 * kanon/filter.h.
 *
 * The one-pole, SVF and ladder are "topology-preserving" (trapezoidal
 * integrators, Zavalishin / Simper): equivalent to the bilinear transform
 * with the cutoff prewarped, so the response at the cutoff is exact and
 * the unit tests compare against the analytic bilinear response. tan() is
 * called once per block, never per sample.
 */
#include "knfilter.h"

/* ---- one-pole ---- */

void kn_onepole_init(kn_onepole *s, double rate) {
    *s = (kn_onepole){.rate = rate};
}

void kn_onepole_compute(kn_onepole *s, float *out, const float *in, int frames, float cutoff,
                        int mode) {
    double g = prewarp((float)s->rate, cutoff), G = g / (1 + g);
    double G0 = s->g > 0 ? s->g : G, dG = frames > 0 ? (G - G0) / frames : 0; /* glide */
    double st = s->s, hp = mode == KN_HP;
    for (int i = 0; i < frames; i++) {
        double x = in[i], v = (x - st) * (G0 + dG * (i + 1)), lp = v + st;
        st = lp + v;
        out[i] = (float)(hp ? x - lp : lp);
    }
    s->s = st;
    s->g = (float)G;
}

float kn_onepole_tick(kn_onepole *s, float x, float cutoff, int mode) {
    double g = prewarp((float)s->rate, cutoff), G = g / (1 + g);
    double v = (x - s->s) * G, lp = v + s->s;
    s->s = lp + v;
    s->g = (float)G;
    return (float)(mode == KN_HP ? x - lp : lp);
}

/* ---- state-variable filter: svf_coefs in knfilter.h ---- */

void kn_svf_init(kn_svf *s, double rate) {
    *s = (kn_svf){.rate = rate};
}

/* The per-sample loops, with every coefficient in a named local (an array
 * indexed in a loop would live in memory, and its ramp would put a store
 * and a reload on every sample's critical path). The matrix has m12 = -n1
 * and m21 = n1 (-2 a2 and 2 a2, also as stored floats), so four
 * coefficients ramp, not six. */
static void svf_loop(kn_svf *s, const float *in, float *out, int frames, const double *c0,
                     const double *dc) {
    double m11 = c0[0], n1 = c0[2], m22 = c0[4], n2 = c0[5];
    double o0 = c0[6], o1 = c0[7], o2 = c0[8], ic1 = s->ic1, ic2 = s->ic2;
    double dm11 = dc[0], dn1 = dc[2], dm22 = dc[4], dn2 = dc[5];
    double do0 = dc[6], do1 = dc[7], do2 = dc[8];
    for (int i = 0; i < frames; i++) {
        m11 += dm11, n1 += dn1, m22 += dm22, n2 += dn2;
        o0 += do0, o1 += do1, o2 += do2;
        double x = in[i];
        out[i] = (float)(o0 * x + o1 * ic1 + o2 * ic2);
        double next1 = n1 * (x - ic2) + m11 * ic1;
        ic2 = n2 * x + n1 * ic1 + m22 * ic2;
        ic1 = next1;
    }
    s->ic1 = ic1, s->ic2 = ic2;
}

/* Low-pass, when the last block's output row was the low-pass one too:
 * since ic2' = 2 v2 - ic2, the output v2 is (ic2 + ic2') / 2, with no row
 * to ramp or multiply. The same filter as svf_loop to rounding. */
static void svf_loop_lp(kn_svf *s, const float *in, float *out, int frames, const double *c0,
                        const double *dc) {
    double m11 = c0[0], n1 = c0[2], m22 = c0[4], n2 = c0[5], ic1 = s->ic1, ic2 = s->ic2;
    double dm11 = dc[0], dn1 = dc[2], dm22 = dc[4], dn2 = dc[5];
    for (int i = 0; i < frames; i++) {
        m11 += dm11, n1 += dn1, m22 += dm22, n2 += dn2;
        double x = in[i];
        double next1 = n1 * (x - ic2) + m11 * ic1;
        double next2 = n2 * x + n1 * ic1 + m22 * ic2;
        out[i] = (float)(0.5 * (ic2 + next2));
        ic1 = next1, ic2 = next2;
    }
    s->ic1 = ic1, s->ic2 = ic2;
}

void kn_svf_compute(kn_svf *s, float *out, const float *in, int frames, float cutoff, float q,
                    int mode) {
    double c0[9], dc[9];
    if (svf_block(s->c, s->rate, frames, cutoff, q, mode, c0, dc))
        svf_loop_lp(s, in, out, frames, c0, dc);
    else
        svf_loop(s, in, out, frames, c0, dc);
}

float kn_svf_tick(kn_svf *s, float x, float cutoff, float q, int mode) {
    double c[9];
    svf_coefs(prewarp((float)s->rate, cutoff), q, mode, c);
    for (int j = 0; j < 9; j++) s->c[j] = (float)c[j];
    double y = c[6] * x + c[7] * s->ic1 + c[8] * s->ic2;
    double n1 = c[2] * x + c[0] * s->ic1 + c[1] * s->ic2;
    s->ic2 = c[5] * x + c[3] * s->ic1 + c[4] * s->ic2;
    s->ic1 = n1;
    return (float)y;
}

/* ---- biquad (Robert Bristow-Johnson's Audio EQ Cookbook) ---- */

void kn_biquad_init(kn_biquad *s, double rate) {
    *s = (kn_biquad){.b0 = 1, .rate = rate}; /* passes the input until set */
}

void kn_biquad_set(kn_biquad *s, int type, float freq, float q, float gain_db) {
    double f = freq < 1 ? 1 : freq > 0.49 * s->rate ? 0.49 * s->rate : freq;
    double w = KN_TWO_PI * f / s->rate, cw = __builtin_cos(w), sw = __builtin_sin(w);
    double alpha = sw / (2 * (q < 0.05f ? 0.05 : q));
    double A = __builtin_pow(10.0, gain_db / 40.0), sa = 2 * __builtin_sqrt(A) * alpha;
    double b0, b1, b2, a0, a1, a2;
    switch (type) {
    case KN_BQ_HP:
        b0 = (1 + cw) / 2, b1 = -(1 + cw), b2 = b0, a0 = 1 + alpha, a1 = -2 * cw, a2 = 1 - alpha;
        break;
    case KN_BQ_BP:
        b0 = alpha, b1 = 0, b2 = -alpha, a0 = 1 + alpha, a1 = -2 * cw, a2 = 1 - alpha;
        break;
    case KN_BQ_NOTCH:
        b0 = 1, b1 = -2 * cw, b2 = 1, a0 = 1 + alpha, a1 = -2 * cw, a2 = 1 - alpha;
        break;
    case KN_BQ_ALLPASS:
        b0 = 1 - alpha, b1 = -2 * cw, b2 = 1 + alpha, a0 = b2, a1 = b1, a2 = b0;
        break;
    case KN_BQ_PEAK:
        b0 = 1 + alpha * A, b1 = -2 * cw, b2 = 1 - alpha * A;
        a0 = 1 + alpha / A, a1 = -2 * cw, a2 = 1 - alpha / A;
        break;
    case KN_BQ_LOWSHELF:
        b0 = A * ((A + 1) - (A - 1) * cw + sa), b1 = 2 * A * ((A - 1) - (A + 1) * cw);
        b2 = A * ((A + 1) - (A - 1) * cw - sa), a0 = (A + 1) + (A - 1) * cw + sa;
        a1 = -2 * ((A - 1) + (A + 1) * cw), a2 = (A + 1) + (A - 1) * cw - sa;
        break;
    case KN_BQ_HIGHSHELF:
        b0 = A * ((A + 1) + (A - 1) * cw + sa), b1 = -2 * A * ((A - 1) + (A + 1) * cw);
        b2 = A * ((A + 1) + (A - 1) * cw - sa), a0 = (A + 1) - (A - 1) * cw + sa;
        a1 = 2 * ((A - 1) - (A + 1) * cw), a2 = (A + 1) - (A - 1) * cw - sa;
        break;
    default: /* KN_BQ_LP */
        b0 = (1 - cw) / 2, b1 = 1 - cw, b2 = b0, a0 = 1 + alpha, a1 = -2 * cw, a2 = 1 - alpha;
    }
    s->b0 = b0 / a0, s->b1 = b1 / a0, s->b2 = b2 / a0, s->a1 = a1 / a0, s->a2 = a2 / a0;
}

void kn_biquad_compute(kn_biquad *s, float *out, const float *in, int frames) {
    double b0 = s->b0, b1 = s->b1, b2 = s->b2, a1 = s->a1, a2 = s->a2, z1 = s->z1, z2 = s->z2;
    for (int i = 0; i < frames; i++) {
        double x = in[i], y = b0 * x + z1;
        z1 = b1 * x - a1 * y + z2;
        z2 = b2 * x - a2 * y;
        out[i] = (float)y;
    }
    s->z1 = z1, s->z2 = z2;
}

float kn_biquad_tick(kn_biquad *s, float x) {
    float y;
    kn_biquad_compute(s, &y, &x, 1);
    return y;
}

/* ---- ladder ----
 * Four TPT one-poles, y_i = G u_i + S_i with G = g/(1+g), S_i = (1-G) s_i.
 * The feedback u = x - k y4 is solved without a unit delay:
 *   y4 = (G^4 x + G^3 S1 + G^2 S2 + G S3 + S4) / (1 + k G^4).
 * The nonlinearity is applied to that solved input (u -> tanh(drive u) /
 * drive), the usual cheap approximation to the nonlinear loop: it limits
 * self-oscillation and is the identity for small signals. */
void kn_ladder_init(kn_ladder *s, double rate) {
    *s = (kn_ladder){.rate = rate};
}

/* What one sample needs from (G, k): the weights of the states in y4 (a =
 * G^3 H, b = G^2 H, c = G H, H = 1 - G), G^4 and 1/(1 + k G^4). Each is
 * computed as the block loop always did, so the samples do not change. */
typedef struct {
    double G, H, a, b, c, G4, k, inv;
} ladder_coefs;

static inline ladder_coefs ladder_at(double G, double k) {
    double G2 = G * G, H = 1 - G, G4 = G2 * G2;
    return (ladder_coefs){G, H, G2 * G * H, G2 * H, G * H, G4, k, 1.0 / (1 + k * G4)};
}

/* always_inline: called from two loops, and a call per sample would put
 * the state in memory. */
static inline __attribute__((always_inline)) double ladder_sample(double *st, const ladder_coefs *c,
                                                                  float x, float dr, float idr) {
    double sum = c->a * st[0] + c->b * st[1] + c->c * st[2] + c->H * st[3];
    double y4 = (c->G4 * x + sum) * c->inv;
    double u = kn_tanh_fast(dr * (float)(x - c->k * y4)) * idr;
    double v, y, G = c->G; /* the four stages written out: a loop here stays a loop */
    v = (u - st[0]) * G, y = v + st[0], st[0] = y + v;
    v = (y - st[1]) * G, y = v + st[1], st[1] = y + v;
    v = (y - st[2]) * G, y = v + st[2], st[2] = y + v;
    v = (y - st[3]) * G, y = v + st[3], st[3] = y + v;
    return y;
}

/* The coefficients of this block (and what the next one glides from). */
static ladder_coefs ladder_block(kn_ladder *s, float cutoff, float resonance) {
    double g = prewarp((float)s->rate, cutoff);
    return ladder_at(g / (1 + g), 4.0 * kn_clampf(resonance, 0.0f, 1.0f));
}

/* Samples with fixed coefficients: the old kn_ladder_run, and the end of
 * every compute. */
static void ladder_steady(kn_ladder *s, float *out, const float *in, int frames,
                          const ladder_coefs *c, float dr, float idr) {
    double st[4] = {s->s[0], s->s[1], s->s[2], s->s[3]};
    for (int i = 0; i < frames; i++) out[i] = (float)ladder_sample(st, c, in[i], dr, idr);
    s->s[0] = st[0], s->s[1] = st[1], s->s[2] = st[2], s->s[3] = st[3];
    s->G = c->G, s->k = c->k;
}

static float ladder_drive(float drive) {
    return drive < 0.1f ? 0.1f : drive;
}

/* A changed cutoff or resonance glides: sample i of n runs with G and k
 * (i + 1)/n of the way from the last block's to this block's, linearly,
 * like the one-pole; the last sample with this block's exactly, so one
 * sample (or tick) is the unglided filter. Drive switches per block. */
void kn_ladder_compute(kn_ladder *s, float *out, const float *in, int frames, float cutoff,
                       float resonance, float drive) {
    ladder_coefs c = ladder_block(s, cutoff, resonance);
    float dr = ladder_drive(drive), idr = 1.0f / dr;
    if (s->G > 0 && (s->G != c.G || s->k != c.k) && frames > 1) {
        double G0 = s->G, k0 = s->k, dG = (c.G - G0) / frames, dk = (c.k - k0) / frames;
        double st[4] = {s->s[0], s->s[1], s->s[2], s->s[3]};
        for (int i = 0; i < frames - 1; i++) {
            ladder_coefs ci = ladder_at(G0 + dG * (i + 1), k0 + dk * (i + 1));
            out[i] = (float)ladder_sample(st, &ci, in[i], dr, idr);
        }
        s->s[0] = st[0], s->s[1] = st[1], s->s[2] = st[2], s->s[3] = st[3];
        out += frames - 1, in += frames - 1, frames = 1;
    }
    ladder_steady(s, out, in, frames, &c, dr, idr);
}

float kn_ladder_tick(kn_ladder *s, float x, float cutoff, float resonance, float drive) {
    ladder_coefs c = ladder_block(s, cutoff, resonance);
    float dr = ladder_drive(drive), y;
    ladder_steady(s, &y, &x, 1, &c, dr, 1.0f / dr);
    return y;
}

/* ---- Old names (docs/nodes.md): the same functions, arguments in the old order ---- */

void kn_onepole_run(kn_onepole *s, const float *in, float *out, int frames, float cutoff,
                    int mode) {
    kn_onepole_compute(s, out, in, frames, cutoff, mode);
}
void kn_svf_run(kn_svf *s, const float *in, float *out, int frames, float cutoff, float q,
                int mode) {
    kn_svf_compute(s, out, in, frames, cutoff, q, mode);
}
void kn_biquad_run(kn_biquad *s, const float *in, float *out, int frames) {
    kn_biquad_compute(s, out, in, frames);
}
/* Without the glide: each block switches to its coefficients, as before. */
void kn_ladder_run(kn_ladder *s, const float *in, float *out, int frames, float cutoff,
                   float resonance, float drive) {
    ladder_coefs c = ladder_block(s, cutoff, resonance);
    float dr = ladder_drive(drive);
    ladder_steady(s, out, in, frames, &c, dr, 1.0f / dr);
}
