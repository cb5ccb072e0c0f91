/*
 * driver.c - a reference renderer for Faust code, compiled by gcc, that
 * reproduces kanon's Faust wrapper (cartridge/faust.c) without kanon, so
 * test_faust.sh can compare `kanon render FILE.dsp` against it.
 *
 * Build (KN_GEN is the output of `faust -lang c -cn kn_faust FILE.dsp`):
 *   gcc -O2 -DKN_GEN='"gen.c"' tests/e2e/faust/driver.c -o drv -lsndfile -lm
 * Run:
 *   drv render OUT.wav SECONDS [RATE [CHANNELS]] [NAME=VALUE]...
 *   drv params          one line per parameter: NAME MIN MAX DEFAULT (%.9g)
 *
 * What it reproduces, as the wrapper does it:
 *   - the DSP: classInit, then init at the rate (a fresh deck), zeroed memory;
 *   - parameters: every button, check button (0..1, default 0), slider and
 *     number entry, named by its label with every character outside
 *     [A-Za-z0-9_-] replaced by '_' (at most 31 characters, "p" if empty),
 *     min/max swapped if reversed, the default clamped into the range; a
 *     name declared twice is one parameter (the first declaration's range
 *     and default); at most 64. A DSP with inputs also gets `input` (0..1,
 *     default 1). NAME=VALUE presets a value, clamped into the range, as
 *     `kanon render --set` does; every block writes (float)value to each
 *     zone of the name;
 *   - the input test signal: an LCG (seed 22222, x = x * 1664525 +
 *     1013904223, advanced once per frame whether or not the input is on),
 *     n = (x >> 8) / 2^23 - 1, the sample 0.25 n during the first rate/20
 *     frames of every second of the absolute frame count (frame % rate),
 *     else 0, while `input` > 0.5; every Faust input gets the same signal;
 *   - blocks of 64 frames; output o goes to channel o (o < channels); a
 *     channel c >= the number of outputs copies channel c % outputs;
 *   - denormals flushed to zero (FTZ and DAZ), as in the cartridge;
 *   - whole blocks rendered, the file cut to SECONDS.
 */
#include <faust/gui/CInterface.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>

/* Faust's C calls these; kanon's prelude defines them the same way */
static inline int max(int a, int b) {
    return a > b ? a : b;
}
static inline int min(int a, int b) {
    return a < b ? a : b;
}

#include KN_GEN

#define BLOCK     64
#define MAXPARAMS 64

typedef struct {
    char name[32];
    double min, max, def, value;
    int nzones;
    FAUSTFLOAT *zones[8];
} param;

static param params[MAXPARAMS];
static int nparams;

static param *find(const char *name) {
    for (int i = 0; i < nparams; i++)
        if (!strcmp(params[i].name, name)) return &params[i];
    return NULL;
}

static double clamp(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static void declare(const char *label, FAUSTFLOAT *zone, double def, double lo, double hi) {
    char name[32];
    int j = 0;
    for (int i = 0; label[i] && j < 31; i++) {
        char c = label[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        name[j++] = ok ? c : '_';
    }
    if (!j) name[j++] = 'p';
    name[j] = 0;
    if (lo > hi) {
        double t = lo;
        lo = hi, hi = t;
    }
    param *p = find(name);
    if (!p) {
        if (nparams == MAXPARAMS) return;
        p = &params[nparams++];
        snprintf(p->name, sizeof p->name, "%s", name);
        p->min = lo, p->max = hi, p->def = clamp(def, lo, hi), p->value = p->def;
    }
    if (zone && p->nzones < 8) p->zones[p->nzones++] = zone;
}

static void ui_box(void *u, const char *l) {
    (void)u, (void)l;
}
static void ui_close(void *u) {
    (void)u;
}
static void ui_button(void *u, const char *l, FAUSTFLOAT *z) {
    (void)u, declare(l, z, 0, 0, 1);
}
static void ui_slider(void *u, const char *l, FAUSTFLOAT *z, FAUSTFLOAT init, FAUSTFLOAT lo,
                      FAUSTFLOAT hi, FAUSTFLOAT step) {
    (void)u, (void)step;
    declare(l, z, init, lo, hi);
}
static void ui_bargraph(void *u, const char *l, FAUSTFLOAT *z, FAUSTFLOAT lo, FAUSTFLOAT hi) {
    (void)u, (void)l, (void)z, (void)lo, (void)hi;
}
static void ui_soundfile(void *u, const char *l, const char *f, struct Soundfile **s) {
    (void)u, (void)l, (void)f, (void)s;
}
static void ui_declare(void *u, FAUSTFLOAT *z, const char *k, const char *v) {
    (void)u, (void)z, (void)k, (void)v;
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "params") && (strcmp(argv[1], "render") || argc < 4))) {
        fprintf(stderr,
                "usage: %s render OUT.wav SECONDS [RATE [CHANNELS]] [NAME=VALUE]...\n"
                "       %s params\n",
                argv[0], argv[0]);
        return 2;
    }
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
    int a = 4, rate = 48000, channels = 2;
    if (argc > a && !strchr(argv[a], '=')) rate = atoi(argv[a++]);
    if (argc > a && !strchr(argv[a], '=')) channels = atoi(argv[a++]);

    kn_faust *dsp = calloc(1, sizeof *dsp);
    classInitkn_faust(rate);
    initkn_faust(dsp, rate);
    UIGlue ui = {0,           ui_box,      ui_box,       ui_box,    ui_close,
                 ui_button,   ui_button,   ui_slider,    ui_slider, ui_slider,
                 ui_bargraph, ui_bargraph, ui_soundfile, ui_declare};
    buildUserInterfacekn_faust(dsp, &ui);
    int ni = getNumInputskn_faust(dsp), no = getNumOutputskn_faust(dsp);
    if (ni > 0) declare("input", NULL, 1, 0, 1); /* a UI parameter named so keeps its own range */
    if (!strcmp(argv[1], "params")) {
        for (int i = 0; i < nparams; i++)
            printf("%s %.9g %.9g %.9g\n", params[i].name, params[i].min, params[i].max,
                   params[i].def);
        return 0;
    }
    for (; a < argc; a++) {
        char name[64];
        const char *eq = strchr(argv[a], '=');
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - argv[a]) : 0, argv[a]);
        param *p = eq ? find(name) : NULL;
        if (!p) {
            fprintf(stderr, "driver: no parameter '%s'\n", argv[a]);
            return 2;
        }
        p->value = clamp(strtod(eq + 1, NULL), p->min, p->max);
    }
    param *input = ni > 0 ? find("input") : NULL;

    double seconds = atof(argv[3]);
    long total = (long)(seconds * rate + 0.5);
    SF_INFO info = {
        .samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(argv[2], SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "driver: %s: %s\n", argv[2], sf_strerror(NULL));
        return 1;
    }
    static float in0[BLOCK], out[8][BLOCK], scratch[16][BLOCK], inter[BLOCK * 8];
    float *ins[16], *outs[16];
    unsigned seed = 22222u;
    for (long frame = 0; frame < total; frame += BLOCK) {
        for (int i = 0; i < nparams; i++)
            for (int z = 0; z < params[i].nzones; z++)
                *params[i].zones[z] = (FAUSTFLOAT)params[i].value;
        int on = input && input->value > 0.5;
        for (int i = 0; i < BLOCK; i++) {
            seed = seed * 1664525u + 1013904223u;
            unsigned long f = (unsigned long)(frame + i) % (unsigned long)rate;
            float n = (float)(seed >> 8) / 8388608.0f - 1.0f;
            in0[i] = on && f < (unsigned long)(rate / 20.0) ? 0.25f * n : 0.0f;
        }
        for (int i = 0; i < ni && i < 16; i++) ins[i] = in0;
        for (int c = 0; c < channels; c++) memset(out[c], 0, sizeof out[c]);
        for (int o = 0; o < no && o < 16; o++) outs[o] = o < channels ? out[o] : scratch[o];
        computekn_faust(dsp, BLOCK, ins, outs);
        for (int c = no; c < channels && no > 0; c++) memcpy(out[c], out[c % no], sizeof out[c]);
        int n = total - frame < BLOCK ? (int)(total - frame) : BLOCK;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < channels; c++) inter[i * channels + c] = out[c][i];
        sf_writef_float(sf, inter, n);
    }
    sf_close(sf);
    free(dsp);
    return 0;
}
